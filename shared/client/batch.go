package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// MaxBatchEvents is the most events one SendBatch takes.
const MaxBatchEvents = 100

// BatchEvent is one event of a batch send.
type BatchEvent struct {
	Type string
	// Payload is encoded with encoding/json (a json.RawMessage is sent as is).
	Payload any
	// UserID, when set, signs the event's deliveries with that user's managed secret, as WithUserID.
	UserID string
	// IdempotencyKey makes the event idempotent under that key, as WithIdempotencyKey. Empty: SendBatch
	// generates one, so that its own retries of the request never create an event twice.
	IdempotencyKey string
}

// BatchResult is one event's answer in a batch send: Err is nil and EventID set when the event is stored and
// its deliveries queued; otherwise Err is an *APIError saying why this event (alone) was refused or failed.
type BatchResult struct {
	EventID    string
	Deliveries []QueuedDelivery
	// Replayed is true when the event's idempotency key was already used with the same request: this is
	// the first result.
	Replayed bool
	Err      *APIError
}

// SendBatch sends 1 to MaxBatchEvents events to the set in one request (at most 1 MiB) and answers one
// result per event, in order. An event refused for its own input fails alone; the error is for the request
// as a whole (e.g. an unknown set, a transport error). Retrying a batch after an error is safe: every event
// carries an idempotency key.
func (s *Set) SendBatch(ctx context.Context, events []BatchEvent) ([]BatchResult, error) {
	type wireEvent struct {
		Type           string          `json:"type"`
		Payload        json.RawMessage `json:"payload"`
		UserID         string          `json:"userId,omitempty"`
		IdempotencyKey string          `json:"idempotencyKey"`
	}
	wire := make([]wireEvent, len(events))
	for i, ev := range events {
		data, err := marshal(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("encode the payload of event %d: %w", i, err)
		}
		key := ev.IdempotencyKey
		if key == "" {
			if key, err = randomKey(); err != nil {
				return nil, err
			}
		}
		wire[i] = wireEvent{Type: ev.Type, Payload: data, UserID: ev.UserID, IdempotencyKey: key}
	}
	body, err := marshal(struct {
		Events []wireEvent `json:"events"`
	}{wire})
	if err != nil {
		return nil, fmt.Errorf("encode batch request: %w", err)
	}
	var res struct {
		Results []struct {
			EventID    string           `json:"eventId"`
			Deliveries []QueuedDelivery `json:"deliveries"`
			Replayed   bool             `json:"replayed"`
			Error      *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := s.c.do(ctx, call{method: http.MethodPost, path: s.path("events", "batch"), body: body, send: true}, &res); err != nil {
		return nil, fmt.Errorf("send a batch of %d events to %s: %w", len(events), s.name, err)
	}
	if len(res.Results) != len(events) {
		return nil, fmt.Errorf("send a batch of %d events to %s: the answer holds %d results", len(events), s.name, len(res.Results))
	}
	out := make([]BatchResult, len(events))
	for i, r := range res.Results {
		out[i] = BatchResult{EventID: r.EventID, Deliveries: r.Deliveries, Replayed: r.Replayed}
		if r.Error != nil {
			out[i].Err = &APIError{Status: http.StatusAccepted, Code: r.Error.Code, Message: r.Error.Message}
		}
	}
	return out, nil
}
