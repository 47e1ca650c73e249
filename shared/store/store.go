// Package store declares the event-log port: where events and their delivery attempts are kept.
//
// Adapters (SQLite for the local server, DynamoDB on AWS) implement Store and prove it by running the
// conformance suite in package storetest. They translate backend errors into the sentinels below.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors returned by every Store implementation.
var (
	// ErrNotFound: the event (or what the call refers to) does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a conditional write lost, e.g. an attempt with the same number was already recorded.
	ErrConflict = errors.New("store: conflict")
	// ErrDuplicate: CreateEvent found an event with the same set and idempotency key. The existing
	// event is returned alongside it.
	ErrDuplicate = errors.New("store: duplicate idempotency key")
	// ErrInvalidCursor: ListEvents was given a cursor this adapter did not produce.
	ErrInvalidCursor = errors.New("store: invalid cursor")
)

// Event is one accepted send: the payload and the deliveries planned for it, one per endpoint.
type Event struct {
	ID      string          // whevt_..., time-sortable
	Set     string          // webhook set name
	Type    string          // event type, e.g. "invoice.paid"
	Payload json.RawMessage // the JSON payload as sent
	UserID  string          // optional: whose managed secret signs the deliveries

	// IdempotencyKey and RequestHash are set when the sender gave an Idempotency-Key. A second
	// CreateEvent with the same Set and IdempotencyKey returns the first event and ErrDuplicate.
	IdempotencyKey string
	RequestHash    string

	Deliveries []Delivery // one per endpoint, in config order
	CreatedAt  time.Time
	ExpiresAt  time.Time // retention: the adapter may drop the event and its attempts after this
}

// Delivery is the plan for one endpoint of an event: which endpoint, where, and the id of its first attempt.
type Delivery struct {
	Endpoint       string
	URL            string
	FirstAttemptID string // whatt_... returned by send
}

// Outcome of one attempt; the latest attempt of a delivery gives the delivery its status.
type Outcome string

const (
	OutcomeSucceeded Outcome = "succeeded" // 2xx received; the delivery is delivered
	OutcomeRetrying  Outcome = "retrying"  // failed; another attempt is scheduled at NextAttemptAt
	OutcomeFailed    Outcome = "failed"    // failed and no attempt is left; the delivery is failed
)

// Attempt is one POST of one delivery. Attempts are immutable once written.
type Attempt struct {
	Set      string // the event's set: adapters may key attempts by it
	EventID  string
	Endpoint string
	ID       string // whatt_...
	Number   int    // 1-based, unique per (EventID, Endpoint)

	StartedAt      time.Time
	Duration       time.Duration
	RequestHeaders map[string]string // headers sent, signatures included (signatures are not secrets)
	ResponseStatus int               // 0 when no response was received
	ResponseBody   string            // a snippet, truncated by the domain
	Error          string            // transport error, if any

	Outcome       Outcome
	NextAttemptAt time.Time // set when Outcome is OutcomeRetrying
	NextAttemptID string    // set when Outcome is OutcomeRetrying

	ExpiresAt time.Time // retention: the event's ExpiresAt; the adapter may drop the attempt after this
}

// Record is an event with every attempt recorded so far, ordered by (Endpoint order in Event.Deliveries, Number).
type Record struct {
	Event    Event
	Attempts []Attempt
}

// ListOptions selects a page of events of one set, newest first.
type ListOptions struct {
	Limit  int    // 1..100, validated by the caller
	Cursor string // opaque, from a previous Page.NextCursor; empty for the first page
}

// Page is one page of ListEvents.
type Page struct {
	Records    []Record
	NextCursor string // empty on the last page
}

// Store is the event-log port.
type Store interface {
	// CreateEvent stores ev and its planned deliveries atomically. If ev.IdempotencyKey is set and an event
	// of the same set already holds that key, it stores nothing and returns the existing event and ErrDuplicate.
	CreateEvent(ctx context.Context, ev Event) (Event, error)

	// GetEvent returns the event with all its attempts, or ErrNotFound (also for an event of another set).
	// It reads its own writes: an event created or an attempt put just before is returned (strongly consistent).
	GetEvent(ctx context.Context, set, id string) (Record, error)

	// ListEvents pages the events of a set, newest first (by ID, which is time-sortable).
	ListEvents(ctx context.Context, set string, opts ListOptions) (Page, error)

	// PutAttempt records an attempt. It returns ErrConflict if an attempt with the same
	// (EventID, Endpoint, Number) exists. It need not check that the event exists: the domain has just read it.
	PutAttempt(ctx context.Context, a Attempt) error
}
