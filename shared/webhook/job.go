package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/store"
)

// A delivery's life, one queue message at a time. Every message is a job: "make attempt Attempt of the
// delivery of EventID to Endpoint, not before DueAt" (or, a release message, "release the next page of an
// endpoint's held deliveries": releaseJob). A delivery job is made in one of four ways, all in this file:
//
//   - firstJob: send queues attempt 1 of every delivery of a new event;
//   - recoveryJob: an idempotent replay queues attempt 1 again for the deliveries the first call may not have
//     queued (it died after reserving its key, before writing its event);
//   - resendJob: resend starts a new round (a fresh retry budget) at the next attempt number;
//   - nextJob: schedule, after an attempt that failed with attempts left, queues the next one.
//
// Process turns a job into an attempt record; schedule decides what comes next from that record (nothing:
// the delivery ended; or the next job); duplicate is the one check that a job's attempt is already recorded,
// for every kind of message. A placeholder record (store.OutcomeScheduled, same number and id as the job)
// says that a job is queued: a resend writes one before queueing, to claim the next attempt number, so that
// a second resend finds the delivery in progress. (An idempotent send needs none: it writes its event after
// queueing, so a replay that finds the event knows its messages are queued; see Send.)

// jobVersion is the version of the job's wire format, written in every message as "v". Messages without it
// (v 0) were written before the field existed and have the same fields: queues of deployed stacks still hold
// them, so they are read as version 1. Version 2 added "user": only the jobs of deliveries to endpoints that
// users registered are written as version 2 (code that reads only version 1 refuses them rather than look
// for a static endpoint of that name); every other job stays version 1, which that code still reads.
// Version 3 added release messages ("release": true, no event): code that reads only version 2 keeps them
// (errNewerJob) rather than drop them as malformed.
const jobVersion = 3

// wire is j as written to a message: version 1 unless it needs version 2's user field or is a release.
func (j job) wire() job {
	j.V = 1
	switch {
	case j.Release:
		j.V = 3
	case j.User != "":
		j.V = 2
	}
	return j
}

// job is a queue message: make attempt Attempt of one delivery, not before DueAt.
type job struct {
	V         int       `json:"v"`
	Set       string    `json:"set"`
	EventID   string    `json:"eventId"`
	Endpoint  string    `json:"endpoint"`
	User      string    `json:"user,omitempty"` // the user whose registered endpoint this is; "" for a static one
	Attempt   int       `json:"attempt"`        // attempt number, 1-based over the delivery's life
	AttemptID string    `json:"attemptId"`      // id the attempt will be recorded under
	Round     int       `json:"round"`          // attempt number that started this round: 1, or the first resent attempt
	DueAt     time.Time `json:"dueAt"`
	// Event is the event itself when its payload is small, so that an attempt needs no read of the store.
	// A job without it reads the event, and with it the attempts recorded, before attempting.
	Event *jobEvent `json:"event,omitempty"`
	// Registered is the createdAt of the user endpoint the send found: a delivery whose endpoint was deleted
	// and registered again under the same name since then ends failed instead of going to the new one. Zero
	// (static endpoints, resends, jobs written before the field): not checked.
	Registered time.Time `json:"registered,omitzero"`
	// Release marks a release message (releaseJob): release the next page of the endpoint's held deliveries.
	Release bool `json:"release,omitempty"`
}

// jobEvent is what an attempt needs of its event.
type jobEvent struct {
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	UserID    string          `json:"userId,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	ExpiresAt time.Time       `json:"expiresAt"`
}

// inlinePayloadMax is the largest payload carried in queue messages: the message then stays within one
// 64 KiB SQS billing unit. Larger payloads are read from the store by each attempt.
const inlinePayloadMax = 48 << 10

func inline(ev store.Event) *jobEvent {
	if len(ev.Payload) > inlinePayloadMax {
		return nil
	}
	return &jobEvent{Type: ev.Type, Payload: ev.Payload, UserID: ev.UserID, CreatedAt: ev.CreatedAt, ExpiresAt: ev.ExpiresAt}
}

// registeredAs reports whether ep is the registration j's send found (true when j does not say).
func (j job) registeredAs(ep store.Endpoint) bool {
	return j.Registered.IsZero() || j.Registered.Equal(ep.CreatedAt)
}

// event rebuilds the store's event from a job that carries it.
func (j job) event() store.Event {
	return store.Event{ID: j.EventID, Set: j.Set, Type: j.Event.Type, Payload: j.Event.Payload, UserID: j.Event.UserID,
		CreatedAt: j.Event.CreatedAt, ExpiresAt: j.Event.ExpiresAt}
}

// Errors of decodeJob: a message that is not a job, or a job of a version newer than this code (written
// by a newer outhook, e.g. during a rollback). Neither is processed.
var (
	errMalformedJob = errors.New("malformed delivery message")
	errNewerJob     = errors.New("delivery message of a newer version")
)

// decodeJob reads a message body.
func decodeJob(body []byte) (job, error) {
	j, ok := parseJob(body)
	if !ok {
		j = job{}
		if err := json.Unmarshal(body, &j); err != nil {
			return job{}, fmt.Errorf("%w (%d bytes): %w", errMalformedJob, len(body), err)
		}
	}
	switch {
	case j.V > jobVersion:
		return job{}, fmt.Errorf("%w: version %d is newer than this code's %d", errNewerJob, j.V, jobVersion)
	case j.Release:
		if j.Set == "" || j.Endpoint == "" {
			return job{}, fmt.Errorf("%w (%d bytes): a field is missing", errMalformedJob, len(body))
		}
		j.V = jobVersion
		return j, nil
	case j.Set == "" || j.EventID == "" || j.Endpoint == "" || j.Attempt < 1 || j.AttemptID == "":
		return job{}, fmt.Errorf("%w (%d bytes): a field is missing", errMalformedJob, len(body))
	}
	j.V = jobVersion
	if j.Round < 1 || j.Round > j.Attempt {
		j.Round = 1
	}
	return j, nil
}

func firstJob(ev store.Event, d store.Delivery, registered time.Time) job {
	return job{V: jobVersion, Set: ev.Set, EventID: ev.ID, Endpoint: d.Endpoint, User: d.UserID, Attempt: 1,
		AttemptID: d.FirstAttemptID, Round: 1, DueAt: ev.CreatedAt, Event: inline(ev), Registered: registered}
}

// recoveryJob is firstJob without the event, due at due: it reads the store before attempting, so that it
// does nothing when the first call's own message was queued after all and made the attempt.
func recoveryJob(ev store.Event, d store.Delivery, due time.Time) job {
	j := firstJob(ev, d, time.Time{})
	j.Event, j.DueAt = nil, due
	return j
}

// resendJob starts a new round at attempt number, due now.
func resendJob(ev store.Event, d store.Delivery, number int, attemptID string, now time.Time) job {
	return job{V: jobVersion, Set: ev.Set, EventID: ev.ID, Endpoint: d.Endpoint, User: d.UserID, Attempt: number,
		AttemptID: attemptID, Round: number, DueAt: now, Event: inline(ev)}
}

// releaseJob releases the next page of the held deliveries of endpoint ref, now.
func releaseJob(ref store.EndpointRef, now time.Time) job {
	return job{V: jobVersion, Set: ref.Set, Endpoint: ref.Name, User: ref.UserID, DueAt: now, Release: true}
}

// nextJob is the job of the attempt after a, which failed with attempts left.
func nextJob(j job, a store.Attempt) job {
	return job{V: jobVersion, Set: j.Set, EventID: j.EventID, Endpoint: j.Endpoint, User: j.User, Attempt: j.Attempt + 1,
		AttemptID: a.NextAttemptID, Round: j.Round, DueAt: a.NextAttemptAt, Event: j.Event, Registered: j.Registered}
}

// schedule queues what comes after the recorded attempt a of job j: the next attempt when a failed with
// attempts left, nothing when the delivery ended.
func (s *Service) schedule(ctx context.Context, j job, a store.Attempt) error {
	if a.Outcome != store.OutcomeRetrying {
		return nil
	}
	if err := s.enqueue(ctx, nextJob(j, a)); err != nil {
		return fmt.Errorf("queue attempt %d: %w", j.Attempt+1, err)
	}
	return nil
}

// duplicate is the one check that a job was already carried out, for every kind of message (a redelivered
// message, a replay's recovery job, a message whose attempt write conflicted). It reports true when the
// job's attempt is recorded in rec, and then makes sure that what comes after it is queued: the run that
// recorded it may have died before scheduling.
func (s *Service) duplicate(ctx context.Context, rec store.Record, j job) (bool, error) {
	attempts := attemptsOf(rec.Attempts, j.Endpoint)
	var this *store.Attempt
	for i := range attempts {
		if attempts[i].Number == j.Attempt {
			this = &attempts[i]
		}
	}
	switch {
	case this == nil:
		return false, nil
	case this.Outcome == store.OutcomeScheduled:
		// The placeholder of this job (not done yet), or of another job that claimed the number (this one
		// is stale).
		return this.ID != j.AttemptID, nil
	case this.Number != attempts[len(attempts)-1].Number:
		return true, nil // a later attempt exists: its own job took over
	}
	return true, s.schedule(ctx, j, *this)
}

// placeholder is the record that stands for j's attempt while j is queued.
func placeholder(j job, expiresAt, now time.Time) store.Attempt {
	return store.Attempt{Set: j.Set, EventID: j.EventID, Endpoint: j.Endpoint, ID: j.AttemptID, Number: j.Attempt,
		StartedAt: msTime(now), Outcome: store.OutcomeScheduled, NextAttemptAt: msTime(j.DueAt), ExpiresAt: expiresAt}
}

// notAttemptedPrefix begins the error of an attempt record written for an attempt that was never made.
const notAttemptedPrefix = "not attempted: "

// notAttempted is the record that ends j's delivery as failed without making its attempt, with the reason.
// It takes the place of the attempt (and of its placeholder), so the delivery can be resent.
func notAttempted(j job, expiresAt, now time.Time, reason string) store.Attempt {
	return store.Attempt{Set: j.Set, EventID: j.EventID, Endpoint: j.Endpoint, ID: j.AttemptID, Number: j.Attempt,
		StartedAt: msTime(now), RequestHeaders: map[string]string{}, Error: notAttemptedPrefix + reason,
		Outcome: store.OutcomeFailed, ExpiresAt: expiresAt}
}

// markQueued writes the placeholders of jobs just queued. An attempt recorded in the meantime stays: its job
// ran already.
func (s *Service) markQueued(ctx context.Context, jobs []job, expiresAt time.Time) error {
	now := s.now()
	var errs []error
	for _, j := range jobs {
		if err := s.store.PutAttempt(ctx, placeholder(j, expiresAt, now)); err != nil && !errors.Is(err, store.ErrConflict) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("note %d queued jobs: %w", len(jobs), err)
	}
	return nil
}

// enqueue sends jobs, each delayed until its DueAt (at most the queue's MaxDelay: longer waits hop).
func (s *Service) enqueue(ctx context.Context, jobs ...job) error {
	msgs, err := s.messages(jobs)
	if err != nil {
		return err
	}
	return s.sendMessages(ctx, msgs)
}

// enqueueIn sends j delayed by d, whatever its DueAt.
func (s *Service) enqueueIn(ctx context.Context, d time.Duration, j job) error {
	msgs, err := s.messages([]job{j})
	if err != nil {
		return err
	}
	msgs[0].Delay = min(d, s.queue.MaxDelay())
	return s.sendMessages(ctx, msgs)
}

// sendMessages sends msgs as they are (none: no request).
func (s *Service) sendMessages(ctx context.Context, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := s.queue.Send(ctx, msgs...); err != nil {
		return fmt.Errorf("send %d queue messages: %w", len(msgs), err)
	}
	return nil
}

// messages are the queue messages of jobs, each delayed until its DueAt (at most the queue's MaxDelay).
func (s *Service) messages(jobs []job) ([]queue.Message, error) {
	now := s.now()
	msgs := make([]queue.Message, 0, len(jobs))
	for _, j := range jobs {
		body, err := encodeJob(j)
		if err != nil {
			return nil, fmt.Errorf("encode job: %w", err)
		}
		delay := max(j.DueAt.Sub(now), 0)
		msgs = append(msgs, queue.Message{Body: body, Delay: min(delay, s.queue.MaxDelay())})
	}
	return msgs, nil
}

// attemptsOf returns the attempts of one endpoint, in number order (the store returns them ordered).
func attemptsOf(all []store.Attempt, endpoint string) []store.Attempt {
	var out []store.Attempt
	for _, a := range all {
		if a.Endpoint == endpoint {
			out = append(out, a)
		}
	}
	return out
}
