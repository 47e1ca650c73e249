// Package webhook is the domain service of outhook: it accepts events, fans them out to the endpoints of a
// webhook set, makes and records delivery attempts with signing and retries, and manages per-user secrets.
// It depends only on the ports in packages store, queue and secret, so the same service runs on SQLite
// locally and on DynamoDB, SQS and Secrets Manager on AWS.
package webhook

import (
	"encoding/json"
	"errors"
	"time"
)

// MaxPayloadBytes is the largest payload send accepts (the JSON value of "payload").
const MaxPayloadBytes = 256 << 10

// Error kinds. Every error the Service returns for bad input or a missing thing wraps one of these,
// inside an *Error that carries a stable machine code and a human message.
var (
	ErrInvalid  = errors.New("invalid request")   // 400
	ErrNotFound = errors.New("not found")         // 404
	ErrConflict = errors.New("conflict")          // 409
	ErrTooLarge = errors.New("payload too large") // 413
)

// Error is a client-facing error: Kind is one of the sentinels above, Code a stable snake_case string
// (e.g. "invalid_type", "unknown_set", "event_not_found", "idempotency_key_reused"), Message says what to fix.
type Error struct {
	Kind    error
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// SendRequest is the body of POST /v1/webhooks/{set}/events plus the Idempotency-Key header.
type SendRequest struct {
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	UserID         string          `json:"userId,omitempty"`
	IdempotencyKey string          `json:"-"`
}

// SendResult is what send answers (HTTP 202).
type SendResult struct {
	EventID    string           `json:"eventId"`
	Deliveries []QueuedDelivery `json:"deliveries"`
	// Replayed is true when an idempotent send was repeated and this is the first call's result.
	Replayed bool `json:"-"`
}

// QueuedDelivery is one endpoint's entry in a SendResult.
type QueuedDelivery struct {
	Endpoint  string `json:"endpoint"`
	UserID    string `json:"userId,omitempty"` // set for an endpoint the event's user registered
	Status    string `json:"status"`           // "queued"
	AttemptID string `json:"attemptId"`
}

// Delivery and event statuses.
const (
	StatusQueued    = "queued"    // no attempt finished yet
	StatusRetrying  = "retrying"  // an attempt failed, another is scheduled
	StatusDelivered = "delivered" // a 2xx was received
	StatusFailed    = "failed"    // every attempt failed, or the endpoint was deleted
	StatusPaused    = "paused"    // held while the endpoint is paused or disabled; released by resume
	// StatusPending is an event status: some deliveries are still queued, retrying or paused.
	StatusPending = "pending"
)

// Event is the event log's view of one event (GET .../events/{id} and the items of a list).
type Event struct {
	ID         string          `json:"id"`
	Set        string          `json:"set"`
	Type       string          `json:"type"`
	Payload    json.RawMessage `json:"payload"`
	UserID     string          `json:"userId,omitempty"`
	Status     string          `json:"status"` // pending | delivered | failed
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	Deliveries []Delivery      `json:"deliveries"`
}

// Delivery is one endpoint's deliveries of an event.
type Delivery struct {
	Endpoint      string     `json:"endpoint"`
	UserID        string     `json:"userId,omitempty"` // set for an endpoint the event's user registered
	URL           string     `json:"url"`
	Status        string     `json:"status"` // queued | retrying | paused | delivered | failed
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	// NextAttemptID is the id the next attempt will be recorded under, while the delivery is queued or
	// retrying: the attemptId that send or resend answered, until that attempt is made.
	NextAttemptID string `json:"nextAttemptId,omitempty"`
	// Reason says why a failed delivery failed: its last attempt's error or status, or why it was not
	// attempted (its endpoint or set is no longer configured, its message kept failing).
	Reason   string    `json:"reason,omitempty"`
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one POST.
type Attempt struct {
	ID             string            `json:"id"`
	Number         int               `json:"number"`
	StartedAt      time.Time         `json:"startedAt"`
	DurationMs     int64             `json:"durationMs"`
	RequestHeaders map[string]string `json:"requestHeaders"`
	ResponseStatus int               `json:"responseStatus,omitempty"`
	ResponseBody   string            `json:"responseBody,omitempty"`
	Error          string            `json:"error,omitempty"`
}

// ListQuery is GET /v1/webhooks/{set}/events's query string.
type ListQuery struct {
	Direction string // must be "outbound" (empty means outbound)
	Limit     int    // 1..100; 0 means the default, 50
	Cursor    string
	Type      string    // an exact type, or a prefix ending in `*`
	Status    string    // pending | delivered | failed
	UserID    string    // only this user's events
	Endpoint  string    // only events with a delivery to this endpoint
	Since     time.Time // events created at or after
	Until     time.Time // events created before
}

// EventList is one page of events, newest first.
type EventList struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"nextCursor,omitempty"`
}

// SecretVersion is one value of a user's managed secret.
type SecretVersion struct {
	Value     string     `json:"value"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"` // set on previous values: the end of its rotation window
}

// UserSecret is GET .../users/{userId}/secret and what rotate answers. Deliveries are signed with the current
// value and every value in Previous and Older, so a receiver holding any of them verifies.
type UserSecret struct {
	Current SecretVersion `json:"current"`
	// Previous is the value the current one replaced, while its rotation window lasts.
	Previous *SecretVersion `json:"previous,omitempty"`
	// Older are the values replaced before Previous whose windows have not ended yet (after several
	// rotations within one window), newest first.
	Older []SecretVersion `json:"older,omitempty"`
}

// EndpointRequest is the body of PUT .../users/{userId}/endpoints/{name}.
type EndpointRequest struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"eventTypes,omitempty"`
	Description string   `json:"description,omitempty"`
}

// Endpoint statuses.
const (
	EndpointEnabled  = "enabled"
	EndpointPaused   = "paused"
	EndpointDisabled = "disabled"
)

// Endpoint is the endpoint object: a static endpoint of the config or one a user registered.
type Endpoint struct {
	Name           string         `json:"name"`
	URL            string         `json:"url"`
	EventTypes     []string       `json:"eventTypes"`
	Description    string         `json:"description,omitempty"`
	UserID         string         `json:"userId,omitempty"`
	Status         string         `json:"status"` // enabled | paused | disabled
	DisabledReason string         `json:"disabledReason,omitempty"`
	CreatedAt      *time.Time     `json:"createdAt,omitempty"` // static endpoints: when its state was first written
	UpdatedAt      *time.Time     `json:"updatedAt,omitempty"`
	Health         EndpointHealth `json:"health"`
}

// EndpointHealth is an endpoint's recent record.
type EndpointHealth struct {
	LastSuccessAt               *time.Time `json:"lastSuccessAt,omitempty"`
	LastFailureAt               *time.Time `json:"lastFailureAt,omitempty"`
	ConsecutiveFailedDeliveries int        `json:"consecutiveFailedDeliveries"`
}

// EndpointList is GET .../endpoints.
type EndpointList struct {
	Endpoints []Endpoint `json:"endpoints"`
}

// RecoverRequest is the body of POST .../endpoints/{name}/recover.
type RecoverRequest struct {
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until,omitempty"`
}

// RecoverResult is what recover answers (HTTP 202).
type RecoverResult struct {
	Requeued int `json:"requeued"`
}

// SetInfo is one webhook set of GET /v1/webhooks.
type SetInfo struct {
	Name string `json:"name"`
	// Endpoints names the set's static endpoints, in config order.
	Endpoints []string `json:"endpoints"`
	// UserEndpoints is true when the set's users may register endpoints.
	UserEndpoints bool `json:"userEndpoints"`
}

// SetList is GET /v1/webhooks.
type SetList struct {
	Sets []SetInfo `json:"sets"`
}
