package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outhook/outhook/shared/store"
)

// List limits.
const (
	defaultListLimit = 50
	// MaxListLimit is the largest page of the events list.
	MaxListLimit = 100
	// MaxCursorLen bounds a list cursor: the cursors the service makes are a few hundred characters.
	MaxCursorLen = 1024
)

// ListEvents returns a page of the set's events, newest first, each with its deliveries and attempts.
func (s *Service) ListEvents(ctx context.Context, setName string, q ListQuery) (EventList, error) {
	set, err := s.set(setName)
	if err != nil {
		return EventList{}, err
	}
	if q.Direction != "" && q.Direction != "outbound" {
		return EventList{}, invalid("invalid_direction", "direction must be \"outbound\"")
	}
	if q.Limit == 0 {
		q.Limit = defaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return EventList{}, invalid("invalid_limit", "limit must be between 1 and %d", MaxListLimit)
	}
	var storeCursor string
	if q.Cursor != "" {
		if storeCursor, err = s.openCursor(set.Name, q.Cursor); err != nil {
			return EventList{}, err
		}
	}
	page, err := s.store.ListEvents(ctx, set.Name, store.ListOptions{Limit: q.Limit, Cursor: storeCursor})
	if errors.Is(err, store.ErrInvalidCursor) {
		return EventList{}, invalid("invalid_cursor", "cursor is not valid for this list")
	}
	if err != nil {
		return EventList{}, fmt.Errorf("list events: %w", err)
	}
	out := EventList{Events: make([]Event, 0, len(page.Records))}
	for _, rec := range page.Records {
		out.Events = append(out.Events, view(rec))
	}
	if page.NextCursor != "" {
		out.NextCursor = s.sealCursor(set.Name, page.NextCursor)
	}
	return out, nil
}

// GetEvent returns one event with its deliveries and every attempt.
func (s *Service) GetEvent(ctx context.Context, setName, id string) (Event, error) {
	rec, err := s.record(ctx, setName, id)
	if err != nil {
		return Event{}, err
	}
	return view(rec), nil
}

func (s *Service) record(ctx context.Context, setName, id string) (store.Record, error) {
	set, err := s.set(setName)
	if err != nil {
		return store.Record{}, err
	}
	notFound := &Error{Kind: ErrNotFound, Code: "event_not_found", Message: fmt.Sprintf("event %q does not exist in set %q", id, set.Name)}
	if !validID(eventPrefix, id) {
		return store.Record{}, notFound
	}
	rec, err := s.store.GetEvent(ctx, set.Name, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Record{}, notFound
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("get event: %w", err)
	}
	return rec, nil
}

// Resend queues a new round of attempts (with a fresh retry budget) for one endpoint of an event, or,
// with endpoint "", for every failed delivery of the event. A delivery still queued or retrying cannot be
// resent.
func (s *Service) Resend(ctx context.Context, setName, id, endpoint string) (SendResult, error) {
	rec, err := s.record(ctx, setName, id)
	if err != nil {
		return SendResult{}, err
	}
	ev := view(rec)
	now := msTime(s.now())
	res := SendResult{EventID: ev.ID, Deliveries: []QueuedDelivery{}}
	var jobs []job
	for _, d := range ev.Deliveries {
		switch {
		case endpoint != "" && d.Endpoint != endpoint:
			continue
		case endpoint == "" && d.Status != StatusFailed:
			continue
		case d.Status == StatusQueued || d.Status == StatusRetrying:
			return SendResult{}, &Error{Kind: ErrConflict, Code: "delivery_in_progress",
				Message: fmt.Sprintf("the delivery to %q is still %s", d.Endpoint, d.Status)}
		}
		attemptID, err := s.ids.next(attemptPrefix, now)
		if err != nil {
			return SendResult{}, err
		}
		jobs = append(jobs, resendJob(rec.Event, d.Endpoint, len(d.Attempts)+1, attemptID, now))
		res.Deliveries = append(res.Deliveries, QueuedDelivery{Endpoint: d.Endpoint, Status: StatusQueued, AttemptID: attemptID})
	}
	if len(jobs) == 0 {
		if endpoint != "" {
			return SendResult{}, invalid("unknown_endpoint", "event %q has no delivery to endpoint %q", ev.ID, endpoint)
		}
		return SendResult{}, &Error{Kind: ErrConflict, Code: "nothing_to_resend", Message: "the event has no failed delivery; name an endpoint to resend a delivered one"}
	}
	if err := s.enqueue(ctx, jobs...); err != nil {
		return SendResult{}, fmt.Errorf("queue resend of %s: %w", ev.ID, err)
	}
	return res, nil
}

// view derives the client's view of an event: each delivery's status comes from its latest attempt.
func view(rec store.Record) Event {
	ev := rec.Event
	out := Event{ID: ev.ID, Set: ev.Set, Type: ev.Type, Payload: ev.Payload, UserID: ev.UserID,
		CreatedAt: ev.CreatedAt.UTC(), UpdatedAt: ev.CreatedAt.UTC(), Deliveries: make([]Delivery, 0, len(ev.Deliveries))}
	pending, failed := false, false
	for _, d := range ev.Deliveries {
		dv := Delivery{Endpoint: d.Endpoint, URL: d.URL, Status: StatusQueued, Attempts: []Attempt{}}
		for _, a := range attemptsOf(rec.Attempts, d.Endpoint) {
			dv.Attempts = append(dv.Attempts, Attempt{ID: a.ID, Number: a.Number, StartedAt: a.StartedAt.UTC(),
				DurationMs: a.Duration.Milliseconds(), RequestHeaders: a.RequestHeaders, ResponseStatus: a.ResponseStatus,
				ResponseBody: a.ResponseBody, Error: a.Error})
			dv.Status, dv.NextAttemptAt = statusOf(a)
			if end := a.StartedAt.Add(a.Duration).UTC(); end.After(out.UpdatedAt) {
				out.UpdatedAt = end
			}
		}
		switch dv.Status {
		case StatusQueued, StatusRetrying:
			pending = true
		case StatusFailed:
			failed = true
		}
		out.Deliveries = append(out.Deliveries, dv)
	}
	switch {
	case pending:
		out.Status = StatusPending
	case failed:
		out.Status = StatusFailed
	default:
		out.Status = StatusDelivered
	}
	return out
}

func statusOf(a store.Attempt) (string, *time.Time) {
	switch a.Outcome {
	case store.OutcomeSucceeded:
		return StatusDelivered, nil
	case store.OutcomeRetrying:
		next := a.NextAttemptAt.UTC()
		return StatusRetrying, &next
	default:
		return StatusFailed, nil
	}
}
