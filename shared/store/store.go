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
	// ErrDuplicate: ReserveKey found the idempotency key reserved by an earlier call (its Reservation is
	// returned alongside), or CreateEvent found the event of a reserved key written already (the stored event
	// is returned alongside).
	ErrDuplicate = errors.New("store: duplicate idempotency key")
	// ErrInvalidCursor: ListEvents was given a cursor this adapter did not produce.
	ErrInvalidCursor = errors.New("store: invalid cursor")
	// ErrLimit: PutEndpoint would create more endpoints for one user than allowed.
	ErrLimit = errors.New("store: too many endpoints")
)

// Event is one accepted send: the payload and the deliveries planned for it, one per endpoint.
type Event struct {
	ID      string          // whevt_..., time-sortable
	Set     string          // webhook set name
	Type    string          // event type, e.g. "invoice.paid"
	Payload json.RawMessage // the JSON payload as sent
	UserID  string          // optional: whose managed secret signs the deliveries

	// IdempotencyKey and RequestHash are set when the sender gave an Idempotency-Key: the key is reserved for
	// the event (ReserveKey) before its messages are queued and the event is written.
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
	UserID         string // set when the endpoint is one the event's user registered
}

// Outcome of one attempt; the latest attempt of a delivery gives the delivery its status.
type Outcome string

const (
	OutcomeSucceeded Outcome = "succeeded" // 2xx received; the delivery is delivered
	OutcomeRetrying  Outcome = "retrying"  // failed; another attempt is scheduled at NextAttemptAt
	OutcomeFailed    Outcome = "failed"    // failed and no attempt is left; the delivery is failed
	// OutcomeScheduled is not an attempt made but a placeholder: the attempt's queue message was sent, and the
	// attempt, when made, replaces it (same Number and ID). The domain writes one to claim the next number
	// (a resend), or to note that the messages a replay of a key reserved by an earlier version of outhook
	// queued again were queued. NextAttemptAt is when the attempt is due.
	OutcomeScheduled Outcome = "scheduled"
)

// Attempt is one POST of one delivery, or the placeholder of one (OutcomeScheduled). Attempts are immutable
// once written; a placeholder is replaced by its attempt.
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

// Record is an event with every attempt recorded so far, ordered by (Endpoint order in Event.Deliveries, Number),
// and the marks of the deliveries that were held while their endpoint was paused or disabled.
type Record struct {
	Event    Event
	Attempts []Attempt
	Holds    []HoldMark // ordered by (Endpoint, Number)
}

// ListOptions selects a page of events of one set, newest first.
type ListOptions struct {
	Limit  int    // 1..100, validated by the caller
	Cursor string // opaque, from a previous Page.NextCursor; empty for the first page

	// UserID keeps only that user's events; adapters read in proportion to the user's events, not the set's.
	UserID string
	// SinceID and UntilID keep the events with SinceID <= ID < UntilID (ids are time-sortable, so the caller
	// turns a time window into ids); empty means unbounded.
	SinceID, UntilID string
	// Match, if set, keeps only the records it accepts (the caller's type, status and endpoint filters). Pages
	// still hold Limit records when enough match: the adapter reads on.
	Match func(Record) bool
	// Size, if set with MaxBytes, measures a record as the caller will answer it: a page ends before the
	// record that would take the sum of its records' sizes past MaxBytes (the first record always fits),
	// and NextCursor continues from there.
	Size     func(Record) int
	MaxBytes int
}

// PageOf cuts records (newest first, up to limit+1: one more than the page tells that another follows) into
// the page of opts: at most limit records, within its MaxBytes (at least one), and, when records remain, the
// cursor that cursorAfter makes from the id of the page's last record. Every adapter's ListEvents ends with it.
func PageOf(records []Record, limit int, opts ListOptions, cursorAfter func(lastID string) string) Page {
	n := fitting(records[:min(limit, len(records))], opts)
	page := Page{Records: records[:n]}
	if len(records) > n {
		page.NextCursor = cursorAfter(records[n-1].Event.ID)
	}
	return page
}

// fitting returns how many of records, in order, a page of opts holds within its MaxBytes (all of them
// when opts sets no size bound; at least one).
func fitting(records []Record, opts ListOptions) int {
	if opts.Size == nil || opts.MaxBytes <= 0 {
		return len(records)
	}
	total := 0
	for i, rec := range records {
		total += opts.Size(rec)
		if total > opts.MaxBytes && i > 0 {
			return i
		}
	}
	return len(records)
}

// Page is one page of ListEvents.
type Page struct {
	Records    []Record
	NextCursor string // empty on the last page
}

// Reservation is an idempotency key of a set held for the event of the send that reserved it.
type Reservation struct {
	EventID string
	// RequestHash and CreatedAt are the reserving send's; both are empty for a key reserved by a version of
	// outhook that kept them only in the event (written before its messages were queued).
	RequestHash string
	CreatedAt   time.Time
}

// Events is the event log: events, their attempts and their hold marks.
type Events interface {
	// ReserveKey reserves ev.IdempotencyKey in ev.Set for ev.ID, with ev.RequestHash and ev.CreatedAt, until
	// ev.ExpiresAt, and returns that reservation. If an earlier call holds the key (and its reservation has
	// not expired), it writes nothing and returns that call's Reservation and ErrDuplicate. The event itself
	// is written later, by CreateEvent, under the reserved id.
	ReserveKey(ctx context.Context, ev Event) (Reservation, error)

	// CreateEvent stores ev and its planned deliveries atomically and returns the event stored. An event
	// with an IdempotencyKey must have the key reserved for its ID (ReserveKey); if an event with that key is
	// stored under that ID already (another call with the key wrote it first), CreateEvent returns that event
	// and ErrDuplicate (an identical write may instead succeed). An ID taken otherwise is ErrConflict.
	CreateEvent(ctx context.Context, ev Event) (Event, error)

	// GetEvent returns the event with all its attempts, or ErrNotFound (also for an event of another set).
	// It reads its own writes: an event created or an attempt put just before is returned (strongly consistent).
	GetEvent(ctx context.Context, set, id string) (Record, error)

	// ListEvents pages the events of a set, newest first (by ID, which is time-sortable).
	ListEvents(ctx context.Context, set string, opts ListOptions) (Page, error)

	// PutAttempt records an attempt. It returns ErrConflict if an attempt with the same
	// (EventID, Endpoint, Number) exists, unless that one is a placeholder (OutcomeScheduled) with the same ID,
	// which a is then written over. It does not check that the event exists: the first attempt of a keyed
	// send may be recorded before its event is written, or without it when the send died in between.
	// GetEvent and ListEvents never return the attempts of an event that is not stored.
	PutAttempt(ctx context.Context, a Attempt) error
}

// Endpoints keeps the user endpoints, the state and health of every endpoint, and the held deliveries.
type Endpoints interface {
	// PutEndpoint creates a user endpoint (Status enabled, Version 1) or replaces the URL, EventTypes,
	// Description and UpdatedAt of an existing one, keeping its state. Creating more than maxPerUser endpoints
	// for one user returns ErrLimit. created tells which happened; the stored endpoint is returned.
	PutEndpoint(ctx context.Context, ep Endpoint, maxPerUser int) (stored Endpoint, created bool, err error)

	// GetEndpoint returns the stored endpoint (strongly consistent), or ErrNotFound.
	GetEndpoint(ctx context.Context, ref EndpointRef) (Endpoint, error)

	// ListEndpoints returns the stored endpoints of one user of a set (userID "": the state records of the
	// static endpoints), ordered by name, strongly consistent, in one read where the backend allows.
	ListEndpoints(ctx context.Context, set, userID string) ([]Endpoint, error)

	// DeleteEndpoint removes a stored endpoint; ErrNotFound if there is none.
	DeleteEndpoint(ctx context.Context, ref EndpointRef) error

	// UpdateEndpoint writes ep's status, disabled fields, health and UpdatedAt if the stored version is still
	// ep.Version (0: nothing stored, which creates a static endpoint's state record), and returns the
	// endpoint with its new version. ErrConflict if the version moved; ErrNotFound if a user endpoint is gone.
	UpdateEndpoint(ctx context.Context, ep Endpoint) (Endpoint, error)

	// HoldDelivery stores h and its mark in the event, atomically and only if the endpoint is still at
	// version endpointVersion with a status other than enabled; ErrConflict otherwise. Holding the same
	// (event, endpoint, number) twice is not an error.
	HoldDelivery(ctx context.Context, h Hold, endpointVersion int64) error

	// ListHolds returns up to limit held deliveries of an endpoint, oldest event first.
	ListHolds(ctx context.Context, ref EndpointRef, limit int) ([]Hold, error)

	// DeleteHolds removes held deliveries (released or ended) and marks their hold marks released; removing
	// one already gone is not an error.
	DeleteHolds(ctx context.Context, holds []Hold) error
}

// EndpointRef names an endpoint: a static endpoint of the config has no UserID.
type EndpointRef struct {
	Set    string
	UserID string
	Name   string
}

// EndpointStatus is whether an endpoint receives its deliveries.
type EndpointStatus string

const (
	EndpointEnabled  EndpointStatus = "enabled"
	EndpointPaused   EndpointStatus = "paused"   // deliveries are held until resumed
	EndpointDisabled EndpointStatus = "disabled" // by auto-disable; deliveries are held until resumed
)

// Endpoint is what is stored about an endpoint: for a user endpoint its definition and state, for a static
// endpoint (whose definition is in the config) only its state. A static endpoint with no stored record is
// enabled with no health recorded.
type Endpoint struct {
	EndpointRef
	URL         string   // user endpoints only
	EventTypes  []string // user endpoints only
	Description string   // user endpoints only

	Status         EndpointStatus
	DisabledReason string
	DisabledAt     time.Time

	Health Health

	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is the stored version: UpdateEndpoint and HoldDelivery write only if it is unchanged. 0: nothing
	// stored yet.
	Version int64
}

// Health is an endpoint's recent record, written only when it changes (never on every success).
type Health struct {
	LastSuccessAt time.Time
	LastFailureAt time.Time
	// ConsecutiveFailed counts the deliveries that ended failed since the last delivered one; FailingSince is
	// when the first of them ended.
	ConsecutiveFailed int
	FailingSince      time.Time
}

// HoldMark records, in the event, that attempt Number of the delivery to Endpoint was held, and whether the
// hold was released (DeleteHolds) since.
type HoldMark struct {
	Endpoint string
	Number   int
	HeldAt   time.Time
	Released bool
}

// Hold is a delivery held while its endpoint is paused or disabled: the queue message to send again when the
// endpoint is resumed. Holds never expire.
type Hold struct {
	Endpoint EndpointRef
	EventID  string
	Number   int    // the attempt number the message makes
	Job      []byte // the queue message
	HeldAt   time.Time
	// EventExpiresAt is the event's retention, which the hold mark in the event shares.
	EventExpiresAt time.Time
}

// Store is the event-log port.
type Store interface {
	Events
	Endpoints
}
