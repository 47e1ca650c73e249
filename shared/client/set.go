package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SendResult is what send and resend answer: the event id and one queued delivery per endpoint.
type SendResult struct {
	EventID    string           `json:"eventId"`
	Deliveries []QueuedDelivery `json:"deliveries"`
	// Replayed is true when the send repeated an earlier one with the same idempotency key: this is the
	// first call's result (the Idempotent-Replayed answer header).
	Replayed bool `json:"-"`
}

// QueuedDelivery is one endpoint's entry in a SendResult.
type QueuedDelivery struct {
	Endpoint  string `json:"endpoint"`
	UserID    string `json:"userId,omitempty"` // set for an endpoint the event's user registered
	Status    string `json:"status"`
	AttemptID string `json:"attemptId"`
}

// Event is one event of the log with its deliveries and their attempts.
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

// Delivery is the deliveries of an event to one endpoint.
type Delivery struct {
	Endpoint      string     `json:"endpoint"`
	UserID        string     `json:"userId,omitempty"` // set for an endpoint the event's user registered
	URL           string     `json:"url"`
	Status        string     `json:"status"` // queued | retrying | paused | delivered | failed
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	// NextAttemptID is the id of the next attempt while queued or retrying (the attemptId send or resend
	// answered, until that attempt is made).
	NextAttemptID string `json:"nextAttemptId,omitempty"`
	// Reason says why a failed delivery failed, or why it was not attempted ("not attempted: ...").
	Reason   string    `json:"reason,omitempty"`
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one POST to an endpoint.
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

// EventList is one page of events, newest first; NextCursor is empty on the last page.
type EventList struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"nextCursor,omitempty"`
}

// SecretVersion is one value of a user's managed secret.
type SecretVersion struct {
	Value     string     `json:"value"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// UserSecret is a user's managed signing secret: the current value and, during a rotation window, the
// previous one. After several rotations within one window, Older holds the values replaced before Previous
// that are still valid until their ExpiresAt, newest first. Deliveries are signed with every one of them.
type UserSecret struct {
	Current  SecretVersion   `json:"current"`
	Previous *SecretVersion  `json:"previous,omitempty"`
	Older    []SecretVersion `json:"older,omitempty"`
}

// Set is one webhook set of the API, as returned by Client.Set.
type Set struct {
	c    *Client
	name string
	// Events lists and reads the set's outbound events.
	Events *Events
	// Secrets reads and rotates the set's per-user managed secrets.
	Secrets *Secrets
}

// Set returns the webhook set with that name. It makes no call: an unknown set shows on the first call.
func (c *Client) Set(name string) *Set {
	s := &Set{c: c, name: name}
	s.Events = &Events{set: s}
	s.Secrets = &Secrets{set: s}
	return s
}

// Name is the set's name.
func (s *Set) Name() string { return s.name }

func (s *Set) path(parts ...string) []string {
	return append([]string{"v1", "webhooks", s.name}, parts...)
}

// SendOption is an option of Set.Send.
type SendOption func(*sendOptions)

type sendOptions struct {
	userID         string
	idempotencyKey string
}

// WithUserID signs the deliveries with that user's managed secret (created on first use) on endpoints
// that have no signing secret of their own.
func WithUserID(id string) SendOption { return func(o *sendOptions) { o.userID = id } }

// WithIdempotencyKey makes the send idempotent under that key: repeating it returns the first result, and
// reusing the key with another body is a 409 APIError.
func WithIdempotencyKey(key string) SendOption {
	return func(o *sendOptions) { o.idempotencyKey = key }
}

// Send stores an event of type eventType and queues one delivery per endpoint of the set. payload is
// encoded with encoding/json (pass a json.RawMessage to send JSON as is).
//
// Without WithIdempotencyKey, Send generates a random idempotency key for this call, so that the client's
// own retries of it (after a network error, a 5xx or a 429) never create a second event; pass your own key
// to make retries across calls or processes safe too.
func (s *Set) Send(ctx context.Context, eventType string, payload any, opts ...SendOption) (*SendResult, error) {
	o := sendOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	data, err := marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	body, err := marshal(struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
		UserID  string          `json:"userId,omitempty"`
	}{eventType, data, o.userID})
	if err != nil {
		return nil, fmt.Errorf("encode send request: %w", err)
	}
	if o.idempotencyKey == "" {
		if o.idempotencyKey, err = randomKey(); err != nil {
			return nil, err
		}
	}
	h := http.Header{"Idempotency-Key": {o.idempotencyKey}}
	var res SendResult
	replayed := func(_ int, h http.Header) { res.Replayed = h.Get("Idempotent-Replayed") == "true" }
	if err := s.c.do(ctx, call{method: http.MethodPost, path: s.path("events"), header: h, body: body, onSuccess: replayed, send: true}, &res); err != nil {
		return nil, fmt.Errorf("send %s to %s: %w", eventType, s.name, err)
	}
	return &res, nil
}

// Resend queues a new delivery of an existing event: to the named endpoint, or, with endpoint "", to every
// endpoint whose delivery failed. Like Rotate it is retried only after a 429, never after an answer that
// may hide a resend already queued.
func (s *Set) Resend(ctx context.Context, eventID, endpoint string) (*SendResult, error) {
	body, err := json.Marshal(struct {
		Endpoint string `json:"endpoint,omitempty"`
	}{endpoint})
	if err != nil {
		return nil, fmt.Errorf("encode resend request: %w", err)
	}
	var res SendResult
	if err := s.c.do(ctx, call{method: http.MethodPost, path: s.path("events", eventID, "retry"), body: body, unsafe: true}, &res); err != nil {
		return nil, fmt.Errorf("resend %s: %w", eventID, err)
	}
	return &res, nil
}

// Events reads a set's event log.
type Events struct{ set *Set }

// ListParams pages through the events: Limit 1..100 (0: the server's default, 50) and the NextCursor of
// the previous page, and filters the list (zero values: no filter).
type ListParams struct {
	Limit  int
	Cursor string
	// Type is an exact event type, or a prefix ending in `*` (`invoice.*`).
	Type string
	// Status is pending, delivered or failed.
	Status string
	// UserID lists one user's events (cheaply: through an index).
	UserID string
	// Endpoint keeps the events with a delivery to that endpoint.
	Endpoint string
	// Since and Until keep the events created in [Since, Until).
	Since, Until time.Time
}

// List returns one page of the set's outbound events, newest first.
func (e *Events) List(ctx context.Context, p ListParams) (*EventList, error) {
	q := url.Values{"direction": {"outbound"}}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	for name, v := range map[string]string{"cursor": p.Cursor, "type": p.Type, "status": p.Status, "userId": p.UserID,
		"endpoint": p.Endpoint} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if !p.Since.IsZero() {
		q.Set("since", p.Since.UTC().Format(time.RFC3339Nano))
	}
	if !p.Until.IsZero() {
		q.Set("until", p.Until.UTC().Format(time.RFC3339Nano))
	}
	var res EventList
	if err := e.set.c.do(ctx, call{method: http.MethodGet, path: e.set.path("events"), query: q}, &res); err != nil {
		return nil, fmt.Errorf("list events of %s: %w", e.set.name, err)
	}
	return &res, nil
}

// Get returns one event with its payload, deliveries and every attempt.
func (e *Events) Get(ctx context.Context, id string) (*Event, error) {
	var res Event
	if err := e.set.c.do(ctx, call{method: http.MethodGet, path: e.set.path("events", id)}, &res); err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return &res, nil
}

// Secrets reads and rotates per-user managed secrets.
type Secrets struct{ set *Set }

// Get returns the user's managed secret, creating it on first use.
func (s *Secrets) Get(ctx context.Context, userID string) (*UserSecret, error) {
	var res UserSecret
	if err := s.set.c.do(ctx, call{method: http.MethodGet, path: s.set.path("users", userID, "secret")}, &res); err != nil {
		return nil, fmt.Errorf("get secret of user %s: %w", userID, err)
	}
	return &res, nil
}

// Rotate makes a new current secret for the user; the previous one keeps signing for the set's rotation
// window, and values replaced by earlier rotations keep their own windows (UserSecret.Older). It is retried
// only after a 429: a retried rotation would make one more secret than asked for.
func (s *Secrets) Rotate(ctx context.Context, userID string) (*UserSecret, error) {
	var res UserSecret
	if err := s.set.c.do(ctx, call{method: http.MethodPost, path: s.set.path("users", userID, "secret", "rotate"), unsafe: true}, &res); err != nil {
		return nil, fmt.Errorf("rotate secret of user %s: %w", userID, err)
	}
	return &res, nil
}

func randomKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate idempotency key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// marshal encodes v as JSON without escaping <, > and & as \u003c, \u003e and \u0026 (json.Marshal does, for
// HTML): the payload reaches the event log and the receivers as its sender wrote it.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
