package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/store"
)

// List limits.
const (
	defaultListLimit = 50
	// MaxListLimit is the largest page of the events list.
	MaxListLimit = 100
	// MaxPageBytes bounds a page of the events list: a page ends early, with a nextCursor, before the event
	// that would take it past this size as the query function answers it (Lambda refuses responses over
	// 6 MB). Measured as the events' JSON escaped once more as the string body of the Lambda response.
	MaxPageBytes = 5 << 20
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
	opts, err := listOptions(q)
	if err != nil {
		return EventList{}, err
	}
	if q.Cursor != "" {
		if opts.Cursor, err = s.openCursor(set.Name, q.Cursor); err != nil {
			return EventList{}, err
		}
	}
	opts.Size, opts.MaxBytes = answerSize, MaxPageBytes
	page, err := s.store.ListEvents(ctx, set.Name, opts)
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

// answerSize is the bytes an event takes in a list answer returned by a Lambda function: its JSON, as the
// escaped JSON string the function's response carries it in (quotes, backslashes and escapes grow).
func answerSize(rec store.Record) int {
	b, err := json.Marshal(view(rec))
	if err != nil { // a view is plain data: this does not happen; count it as filling a page
		return MaxPageBytes
	}
	if b, err = json.Marshal(string(b)); err != nil {
		return MaxPageBytes
	}
	return len(b) + 1 // and a comma
}

// listOptions checks the list filters and turns them into the store's: the user and the time window (as id
// bounds: ids are time-sortable) are read through indexes, type, status and endpoint by matching.
func listOptions(q ListQuery) (store.ListOptions, error) {
	opts := store.ListOptions{Limit: q.Limit, UserID: q.UserID}
	if q.Type != "" {
		if msg := config.CheckEventTypePattern(q.Type); msg != "" {
			return opts, invalid("invalid_type", "type: %s", msg)
		}
	}
	switch q.Status {
	case "", StatusPending, StatusDelivered, StatusFailed:
	default:
		return opts, invalid("invalid_status", "status must be pending, delivered or failed")
	}
	if q.UserID != "" && !ValidUserID(q.UserID) {
		return opts, invalidUserID()
	}
	if q.Endpoint != "" && !config.ValidName(q.Endpoint) {
		return opts, invalid("invalid_endpoint", "endpoint must be an endpoint name ([a-z0-9][a-z0-9._-]*, at most 64 characters)")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return opts, invalid("invalid_window", "since must be before until")
	}
	if !q.Since.IsZero() {
		opts.SinceID = idFloor(eventPrefix, q.Since)
	}
	if !q.Until.IsZero() {
		opts.UntilID = idFloor(eventPrefix, q.Until)
	}
	if q.Type != "" || q.Status != "" || q.Endpoint != "" {
		patterns := []string{q.Type}
		if q.Type == "" {
			patterns = nil
		}
		opts.Match = func(rec store.Record) bool {
			if !config.MatchEventTypes(patterns, rec.Event.Type) {
				return false
			}
			ev := view(rec)
			if q.Status != "" && ev.Status != q.Status {
				return false
			}
			if q.Endpoint == "" {
				return true
			}
			for _, d := range ev.Deliveries {
				if d.Endpoint == q.Endpoint {
					return true
				}
			}
			return false
		}
	}
	return opts, nil
}

// ListSets returns the configured webhook sets, in config order.
func (s *Service) ListSets() SetList {
	out := SetList{Sets: make([]SetInfo, 0, len(s.cfg.Sets))}
	for _, set := range s.cfg.Sets {
		info := SetInfo{Name: set.Name, Endpoints: make([]string, 0, len(set.Endpoints)), UserEndpoints: set.UserEndpoints != nil}
		for _, e := range set.Endpoints {
			info.Endpoints = append(info.Endpoints, e.Name)
		}
		out.Sets = append(out.Sets, info)
	}
	return out
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
// resent (delivery_in_progress).
//
// Before queueing, a resend claims the delivery's next attempt number with a placeholder record: of two
// resends at once, only one claims it and the other answers delivery_in_progress, so every attempt id a
// resend answers is the id its attempt is recorded under. If queueing fails, the claims are ended as failed
// attempts that were not made, so the delivery can be resent again.
func (s *Service) Resend(ctx context.Context, setName, id, endpoint string) (SendResult, error) {
	rec, err := s.record(ctx, setName, id)
	if err != nil {
		return SendResult{}, err
	}
	ev := rec.Event
	now := msTime(s.now())
	res := SendResult{EventID: ev.ID, Deliveries: []QueuedDelivery{}}
	inProgress := func(endpoint, status string) error {
		return &Error{Kind: ErrConflict, Code: "delivery_in_progress",
			Message: fmt.Sprintf("the delivery to %q is still %s", endpoint, status)}
	}
	var jobs []job
	for _, sd := range ev.Deliveries {
		d := deliveryView(rec, sd)
		switch {
		case endpoint != "" && d.Endpoint != endpoint:
			continue
		case endpoint == "" && d.Status != StatusFailed:
			continue
		case d.Status == StatusQueued || d.Status == StatusRetrying || d.Status == StatusPaused:
			return SendResult{}, inProgress(d.Endpoint, d.Status)
		}
		attemptID, err := s.ids.next(attemptPrefix, now)
		if err != nil {
			return SendResult{}, err
		}
		j := resendJob(rec.Event, store.Delivery{Endpoint: d.Endpoint, UserID: d.UserID}, d.lastNumber+1, attemptID, now)
		switch err := s.store.PutAttempt(ctx, placeholder(j, rec.Event.ExpiresAt, now)); {
		case errors.Is(err, store.ErrConflict) && endpoint == "":
			continue // another resend claimed it: it is in progress
		case errors.Is(err, store.ErrConflict):
			return SendResult{}, inProgress(d.Endpoint, StatusQueued)
		case err != nil:
			return SendResult{}, errors.Join(fmt.Errorf("claim attempt %d to %s: %w", j.Attempt, d.Endpoint, err),
				s.unclaim(ctx, jobs, rec.Event.ExpiresAt, "the resend failed"))
		}
		jobs = append(jobs, j)
		res.Deliveries = append(res.Deliveries, QueuedDelivery{Endpoint: d.Endpoint, UserID: d.UserID, Status: StatusQueued,
			AttemptID: attemptID})
	}
	if len(jobs) == 0 {
		if endpoint != "" {
			return SendResult{}, invalid("unknown_endpoint", "event %q has no delivery to endpoint %q", ev.ID, endpoint)
		}
		return SendResult{}, &Error{Kind: ErrConflict, Code: "nothing_to_resend", Message: "the event has no failed delivery; name an endpoint to resend a delivered one"}
	}
	if err := s.enqueue(ctx, jobs...); err != nil {
		return SendResult{}, errors.Join(fmt.Errorf("queue resend of %s: %w", ev.ID, err),
			s.unclaim(ctx, jobs, rec.Event.ExpiresAt, "the resend could not be queued"))
	}
	return res, nil
}

// unclaim ends the placeholders of resend jobs that will not be queued.
func (s *Service) unclaim(ctx context.Context, jobs []job, expiresAt time.Time, reason string) error {
	var errs []error
	for _, j := range jobs {
		if err := s.store.PutAttempt(ctx, notAttempted(j, expiresAt, s.now(), reason)); err != nil {
			errs = append(errs, fmt.Errorf("end the claim of attempt %d to %s: %w", j.Attempt, j.Endpoint, err))
		}
	}
	return errors.Join(errs...)
}

// view derives the client's view of an event: each delivery's status comes from its latest record, or from
// a hold mark newer than that record (paused while the hold is not released, queued once it is).
func view(rec store.Record) Event {
	ev := rec.Event
	out := Event{ID: ev.ID, Set: ev.Set, Type: ev.Type, Payload: ev.Payload, UserID: ev.UserID,
		CreatedAt: ev.CreatedAt.UTC(), UpdatedAt: ev.CreatedAt.UTC(), Deliveries: make([]Delivery, 0, len(ev.Deliveries))}
	pending, failed := false, false
	for _, d := range ev.Deliveries {
		dv := deliveryView(rec, d)
		if end := dv.lastEnd; end.After(out.UpdatedAt) {
			out.UpdatedAt = end
		}
		switch dv.Status {
		case StatusQueued, StatusRetrying, StatusPaused:
			pending = true
		case StatusFailed:
			failed = true
		}
		out.Deliveries = append(out.Deliveries, dv.Delivery)
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

// deliveryState is a delivery's view with what the service needs beside it.
type deliveryState struct {
	Delivery
	lastNumber    int       // the number of the latest attempt made or ended (not a placeholder); 0 if none
	lastEnd       time.Time // when the latest attempt ended
	nextAttemptID string    // the id the next attempt is queued under, when known
}

// deliveryView is one delivery's view. A placeholder record is not an attempt: it shows the delivery queued,
// with the id and time of its next attempt.
func deliveryView(rec store.Record, d store.Delivery) deliveryState {
	dv := deliveryState{Delivery: Delivery{Endpoint: d.Endpoint, UserID: d.UserID, URL: d.URL, Status: StatusQueued,
		Attempts: []Attempt{}}, nextAttemptID: d.FirstAttemptID}
	for _, a := range attemptsOf(rec.Attempts, d.Endpoint) {
		dv.Status, dv.NextAttemptAt, dv.nextAttemptID, dv.Reason = statusOf(a)
		if a.Outcome == store.OutcomeScheduled {
			continue
		}
		headers := a.RequestHeaders
		if headers == nil {
			headers = map[string]string{} // no request was built
		}
		dv.Attempts = append(dv.Attempts, Attempt{ID: a.ID, Number: a.Number, StartedAt: a.StartedAt.UTC(),
			DurationMs: a.Duration.Milliseconds(), RequestHeaders: headers, ResponseStatus: a.ResponseStatus,
			ResponseBody: a.ResponseBody, Error: a.Error})
		dv.lastNumber = a.Number
		if end := a.StartedAt.Add(a.Duration).UTC(); end.After(dv.lastEnd) {
			dv.lastEnd = end
		}
	}
	for _, h := range rec.Holds {
		if h.Endpoint == d.Endpoint && h.Number > dv.lastNumber {
			dv.Status, dv.NextAttemptAt, dv.nextAttemptID, dv.Reason = StatusQueued, nil, "", ""
			if !h.Released {
				dv.Status = StatusPaused
			}
		}
	}
	if dv.Status == StatusQueued || dv.Status == StatusRetrying {
		dv.NextAttemptID = dv.nextAttemptID
	}
	return dv
}

// statusOf is what a delivery's latest record says: its status, the time and id of its next attempt while
// one is due, and why it failed once it has.
func statusOf(a store.Attempt) (status string, nextAt *time.Time, nextID, reason string) {
	switch a.Outcome {
	case store.OutcomeSucceeded:
		return StatusDelivered, nil, "", ""
	case store.OutcomeRetrying:
		next := a.NextAttemptAt.UTC()
		return StatusRetrying, &next, a.NextAttemptID, ""
	case store.OutcomeScheduled:
		next := a.NextAttemptAt.UTC()
		return StatusQueued, &next, a.ID, ""
	}
	switch {
	case strings.HasPrefix(a.Error, notAttemptedPrefix):
		reason = a.Error
	case a.Error != "":
		reason = "the last attempt failed: " + a.Error
	default:
		reason = fmt.Sprintf("the last attempt got HTTP %d", a.ResponseStatus)
	}
	return StatusFailed, nil, "", reason
}
