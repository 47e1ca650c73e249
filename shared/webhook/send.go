package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/store"
)

// Input limits.
const (
	maxTypeLen = 256
	// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted.
	MaxIdempotencyKeyLen = 255
)

// userIDPattern is the user id rule: the characters Secrets Manager allows in a secret name, so that a
// user's secret can be named after the user id.
var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.@+=-]{1,128}$`)

// ValidUserID reports whether id is an acceptable user id.
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }

// invalidUserID is the answer to a userId that is not ValidUserID.
func invalidUserID() error {
	return invalid("invalid_user_id", "userId must be 1-128 characters of A-Z a-z 0-9 _ . @ + = -")
}

// Send stores an event and queues one delivery per endpoint of the set. It answers only after both the
// event and its queue messages are durable, so a returned result is never lost. With an idempotency key,
// repeating the call returns the first result (Replayed) and the same key with another request is a
// conflict.
//
// A send without a key writes its event, then queues its messages. A send with a key reserves the key first,
// then queues its messages, then writes its event: the event is the mark that the messages are queued. A
// replay that finds the event answers it and queues nothing; one that finds the key reserved and no event
// (the first call died, or is still running, before writing it) queues the deliveries again and writes the
// event under the reserved id (admit).
func (s *Service) Send(ctx context.Context, setName string, req SendRequest) (SendResult, error) {
	set, err := s.set(setName)
	if err != nil {
		return SendResult{}, err
	}
	ev, regs, err := s.prepare(ctx, set, req)
	if err != nil {
		return SendResult{}, err
	}
	a, err := s.admit(ctx, ev, regs, s.outbox != nil)
	if err != nil || a.answer != nil {
		return a.answered(), err
	}
	if a.write && s.outbox != nil {
		// The event and its messages in one write.
		msgs, err := s.messages(a.jobs)
		if err != nil {
			return SendResult{}, err
		}
		stored, err := s.outbox.CreateEventQueued(ctx, a.ev, msgs)
		return s.written(ctx, a, stored, err)
	}
	if err := s.enqueue(ctx, a.jobs...); err != nil {
		return SendResult{}, fmt.Errorf("queue deliveries of %s: %w", a.ev.ID, err)
	}
	return s.settle(ctx, a)
}

// admission is a send checked against the store, before its messages are queued: answered already (a
// replay of a send whose event is written: answer), or the event and the jobs to queue.
type admission struct {
	answer   *SendResult
	ev       store.Event
	jobs     []job
	write    bool // the event is still to be written: with its messages, or after them
	replayed bool // an earlier call reserved the key
}

func (a admission) answered() SendResult {
	if a.answer == nil {
		return SendResult{}
	}
	return *a.answer
}

// admit makes the writes of a send that come before its messages are queued: the event of a send without a
// key, unless together (the caller writes it with its messages, Options.EventQueue); the key's reservation of
// a send with one. A key reserved already is a replay (readmit).
func (s *Service) admit(ctx context.Context, ev store.Event, regs registrations, together bool) (admission, error) {
	switch {
	case ev.IdempotencyKey == "" && together:
		return admission{ev: ev, jobs: firstJobs(ev, regs), write: true}, nil
	case ev.IdempotencyKey == "":
		stored, err := s.store.CreateEvent(ctx, ev)
		if err != nil {
			return admission{}, fmt.Errorf("store event: %w", err)
		}
		return admission{ev: stored, jobs: firstJobs(stored, regs)}, nil
	}
	r, err := s.store.ReserveKey(ctx, ev)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return s.readmit(ctx, ev, regs, r)
	case err != nil:
		return admission{}, fmt.Errorf("reserve idempotency key: %w", err)
	}
	return admission{ev: ev, jobs: firstJobs(ev, regs), write: true}, nil
}

// readmit admits a send whose key an earlier call reserved (r). Its event written means its messages were
// queued: the replay is answered and queues nothing. No event means that call died, or is still running,
// between reserving the key and writing the event: the deliveries are queued again and the event written
// under the reserved id, as that call planned it (reissue). The jobs queued again do not carry the event:
// they read the store first, so a delivery that the first call's message made already is not made again.
func (s *Service) readmit(ctx context.Context, ev store.Event, regs registrations, r store.Reservation) (admission, error) {
	if r.RequestHash != "" && r.RequestHash != ev.RequestHash {
		return admission{}, keyReused()
	}
	rec, err := s.store.GetEvent(ctx, ev.Set, r.EventID)
	switch {
	case err == nil && r.RequestHash == "":
		return s.legacyReplay(ctx, rec, ev.RequestHash)
	case err == nil:
		res := resultOf(rec.Event, true)
		return admission{answer: &res}, nil
	case !errors.Is(err, store.ErrNotFound):
		return admission{}, fmt.Errorf("read event %s for idempotent replay: %w", r.EventID, err)
	}
	ev = reissue(ev, r)
	now := msTime(s.now())
	jobs := make([]job, 0, len(ev.Deliveries))
	for _, d := range ev.Deliveries {
		// Due now, not at the event's createdAt: deliver waits for an event this young to be written.
		j := recoveryJob(ev, d, now)
		if d.UserID != "" {
			j.Registered = regs[d.Endpoint]
		}
		jobs = append(jobs, j)
	}
	return admission{ev: ev, jobs: jobs, write: true, replayed: true}, nil
}

// reissue is ev planned under the id that reservation r holds and, when r tells it, the createdAt of the call
// that reserved it (and so its retention and first attempt ids).
func reissue(ev store.Event, r store.Reservation) store.Event {
	if !r.CreatedAt.IsZero() {
		ev.ExpiresAt = r.CreatedAt.Add(ev.ExpiresAt.Sub(ev.CreatedAt))
		ev.CreatedAt = r.CreatedAt
	}
	ev.ID = r.EventID
	ev.Deliveries = slices.Clone(ev.Deliveries)
	for i := range ev.Deliveries {
		d := &ev.Deliveries[i]
		d.FirstAttemptID = firstAttemptID(ev.ID, ev.CreatedAt, d.UserID, d.Endpoint)
	}
	return ev
}

// settle ends an admitted send whose messages are queued: one whose event is still to be written (a send with
// a key) writes it now.
func (s *Service) settle(ctx context.Context, a admission) (SendResult, error) {
	if !a.write {
		return s.accepted(ctx, a), nil
	}
	stored, err := s.store.CreateEvent(ctx, a.ev)
	return s.written(ctx, a, stored, err)
}

// written ends a send by the outcome of its event write (stored, err). If another call with the key wrote the
// event first, that event is the answer.
func (s *Service) written(ctx context.Context, a admission, stored store.Event, err error) (SendResult, error) {
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return resultOf(stored, true), nil
	case err != nil && a.ev.IdempotencyKey != "" && s.outbox == nil:
		// The messages are queued: the deliveries will be made. The client's retry writes the event.
		return SendResult{}, fmt.Errorf("store event %s after queueing its deliveries: %w", a.ev.ID, err)
	case err != nil:
		return SendResult{}, fmt.Errorf("store event %s: %w", a.ev.ID, err)
	}
	a.ev = stored
	return s.accepted(ctx, a), nil
}

// accepted answers a send whose event and messages are written.
func (s *Service) accepted(ctx context.Context, a admission) SendResult {
	s.metrics.EventAccepted(a.ev.Set)
	s.log.LogAttrs(ctx, levelDebug, "event accepted", attrEvent(a.ev.ID), attrSet(a.ev.Set))
	return resultOf(a.ev, a.replayed)
}

// keyReused is the answer to an idempotency key used again with another request.
func keyReused() error {
	return &Error{Kind: ErrConflict, Code: "idempotency_key_reused",
		Message: "this Idempotency-Key was already used with a different request"}
}

// registrations are the createdAt of the user endpoints a send found, by name (job.Registered).
type registrations map[string]time.Time

// prepare validates a send and plans its event: ids, and one delivery per endpoint that takes its type.
func (s *Service) prepare(ctx context.Context, set *config.ResolvedSet, req SendRequest) (store.Event, registrations, error) {
	payload, err := validateSend(req)
	if err != nil {
		return store.Event{}, nil, err
	}
	now := msTime(s.now())
	ev := store.Event{
		Set:            set.Name,
		Type:           req.Type,
		Payload:        payload,
		UserID:         req.UserID,
		IdempotencyKey: req.IdempotencyKey,
		CreatedAt:      now,
		ExpiresAt:      msTime(now.Add(set.Retention)), // as stored: the jobs carry it
	}
	if req.IdempotencyKey != "" {
		ev.RequestHash = requestHash(req.Type, req.UserID, payload)
	}
	if ev.ID, err = s.ids.next(eventPrefix, now); err != nil {
		return store.Event{}, nil, err
	}
	for _, ep := range set.Endpoints {
		if !ep.Accepts(req.Type) {
			continue
		}
		if ep.NeedsUser() && req.UserID == "" {
			return store.Event{}, nil, invalid("missing_user_id", "endpoint %q of set %q is signed with the user's "+
				"secret (signing.userSecret): the send must give a userId", ep.Name, set.Name)
		}
		ev.Deliveries = append(ev.Deliveries, store.Delivery{Endpoint: ep.Name, URL: ep.URL,
			FirstAttemptID: firstAttemptID(ev.ID, now, "", ep.Name)})
	}
	var regs registrations
	if set.UserEndpoints != nil && req.UserID != "" {
		// The one read a send with a user makes: the user's endpoints, strongly consistent.
		eps, err := s.store.ListEndpoints(ctx, set.Name, req.UserID)
		if err != nil {
			return store.Event{}, nil, fmt.Errorf("read the endpoints of user %s: %w", req.UserID, err)
		}
		for _, ep := range eps {
			if !config.MatchEventTypes(ep.EventTypes, req.Type) {
				continue
			}
			ev.Deliveries = append(ev.Deliveries, store.Delivery{Endpoint: ep.Name, URL: ep.URL,
				FirstAttemptID: firstAttemptID(ev.ID, now, req.UserID, ep.Name), UserID: req.UserID})
			if regs == nil {
				regs = registrations{}
			}
			regs[ep.Name] = ep.CreatedAt
		}
	}
	return ev, regs, nil
}

// firstJobs are the jobs of the first attempts of a new event's deliveries; regs, of its user endpoints.
func firstJobs(ev store.Event, regs registrations) []job {
	jobs := make([]job, 0, len(ev.Deliveries))
	for _, d := range ev.Deliveries {
		var registered time.Time
		if d.UserID != "" {
			registered = regs[d.Endpoint]
		}
		jobs = append(jobs, firstJob(ev, d, registered))
	}
	return jobs
}

// legacyReplay answers a replay of a send whose key was reserved with its event, before its messages were
// queued (by an earlier version of outhook; SQLite keys migrated from it). Such a send noted its messages
// queued after queueing them (a placeholder per delivery): the deliveries with neither a placeholder nor an
// attempt may never have been queued, and are queued again, and noted.
func (s *Service) legacyReplay(ctx context.Context, rec store.Record, hash string) (admission, error) {
	first := rec.Event
	if first.RequestHash != hash {
		return admission{}, keyReused()
	}
	var jobs []job
	now := msTime(s.now())
	for _, d := range first.Deliveries {
		if len(attemptsOf(rec.Attempts, d.Endpoint)) == 0 {
			jobs = append(jobs, recoveryJob(first, d, now))
		}
	}
	if len(jobs) > 0 {
		if err := s.enqueue(ctx, jobs...); err != nil {
			return admission{}, fmt.Errorf("queue deliveries of %s again: %w", first.ID, err)
		}
		if err := s.markQueued(ctx, jobs, first.ExpiresAt); err != nil {
			s.log.WarnContext(ctx, "could not note the deliveries an idempotent replay queued", attrEvent(first.ID),
				slog.Any("error", err))
		}
	}
	res := resultOf(first, true)
	return admission{answer: &res}, nil
}

func validateSend(req SendRequest) (json.RawMessage, error) {
	if req.Type == "" {
		return nil, invalid("missing_type", "type is required")
	}
	// Characters, as the OpenAPI maxLength counts them (Unicode code points), not bytes.
	if !utf8.ValidString(req.Type) || utf8.RuneCountInString(req.Type) > maxTypeLen {
		return nil, invalid("invalid_type", "type must be UTF-8 text of at most %d characters", maxTypeLen)
	}
	if req.UserID != "" && !ValidUserID(req.UserID) {
		return nil, invalidUserID()
	}
	// Characters too, as the OpenAPI maxLength counts them; and UTF-8, which a DynamoDB string must be.
	if !utf8.ValidString(req.IdempotencyKey) || utf8.RuneCountInString(req.IdempotencyKey) > MaxIdempotencyKeyLen {
		return nil, invalid("invalid_idempotency_key", "Idempotency-Key must be UTF-8 text of at most %d characters",
			MaxIdempotencyKeyLen)
	}
	return validatePayload(req.Payload)
}

// validatePayload checks one event payload (any JSON value, UTF-8, at most MaxPayloadBytes) and returns it
// compacted, as stored and delivered. Every way of sending an event checks its payload with it.
func validatePayload(payload json.RawMessage) (json.RawMessage, error) {
	if len(payload) == 0 {
		return nil, invalid("missing_payload", "payload is required (any JSON value)")
	}
	if len(payload) > MaxPayloadBytes {
		return nil, &Error{Kind: ErrTooLarge, Code: "payload_too_large",
			Message: fmt.Sprintf("payload is %d bytes; the limit is %d", len(payload), MaxPayloadBytes)}
	}
	// encoding/json passes invalid UTF-8 inside strings through a RawMessage untouched; stored, it would make
	// every list page that holds the event invalid JSON (RFC 8259 §8.1: JSON text is UTF-8).
	if !utf8.Valid(payload) {
		return nil, invalid("invalid_payload", "payload is not valid UTF-8 (JSON text must be UTF-8)")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil {
		return nil, invalid("invalid_payload", "payload is not valid JSON")
	}
	return compact.Bytes(), nil
}

// requestHash identifies a send request for idempotency checks.
func requestHash(typ, userID string, payload []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(typ), []byte(userID), payload} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func resultOf(ev store.Event, replayed bool) SendResult {
	res := SendResult{EventID: ev.ID, Deliveries: make([]QueuedDelivery, 0, len(ev.Deliveries)), Replayed: replayed}
	for _, d := range ev.Deliveries {
		res.Deliveries = append(res.Deliveries, QueuedDelivery{Endpoint: d.Endpoint, UserID: d.UserID, Status: StatusQueued,
			AttemptID: d.FirstAttemptID})
	}
	return res
}
