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
// conflict. An idempotent send notes, after queueing, that its messages are queued (a placeholder per
// delivery), so that a replay queues nothing again while they wait; a replay queues again only the
// deliveries with neither a placeholder nor an attempt (the first call died between storing and noting).
func (s *Service) Send(ctx context.Context, setName string, req SendRequest) (SendResult, error) {
	set, err := s.set(setName)
	if err != nil {
		return SendResult{}, err
	}
	ev, regs, err := s.prepare(ctx, set, req)
	if err != nil {
		return SendResult{}, err
	}
	stored, jobs, err := s.storeAndQueue(ctx, ev, regs)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return s.replay(ctx, stored, ev.RequestHash)
	case err != nil:
		return SendResult{}, err
	}
	s.accepted(ctx, stored, jobs)
	return resultOf(stored, false), nil
}

// storeAndQueue stores a new event and queues the first attempt of each of its deliveries: in one write when
// the store keeps the queue (Options.EventQueue), else the event, then its messages. It returns the event
// stored (with store.ErrDuplicate: the event that holds the idempotency key) and the jobs queued.
func (s *Service) storeAndQueue(ctx context.Context, ev store.Event, regs registrations) (store.Event, []job, error) {
	if s.outbox != nil {
		jobs := firstJobs(ev, regs)
		msgs, err := s.messages(jobs)
		if err != nil {
			return store.Event{}, nil, err
		}
		stored, err := s.outbox.CreateEventQueued(ctx, ev, msgs)
		if err != nil {
			return stored, nil, fmt.Errorf("store event and queue its deliveries: %w", err)
		}
		return stored, jobs, nil
	}
	stored, err := s.store.CreateEvent(ctx, ev)
	if err != nil {
		return stored, nil, fmt.Errorf("store event: %w", err)
	}
	// Its id may be the one an earlier call with the key reserved.
	jobs := firstJobs(stored, regs)
	if err := s.enqueue(ctx, jobs...); err != nil {
		return store.Event{}, nil, fmt.Errorf("queue deliveries of %s: %w", stored.ID, err)
	}
	return stored, jobs, nil
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
		id, err := s.ids.next(attemptPrefix, now)
		if err != nil {
			return store.Event{}, nil, err
		}
		ev.Deliveries = append(ev.Deliveries, store.Delivery{Endpoint: ep.Name, URL: ep.URL, FirstAttemptID: id})
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
			id, err := s.ids.next(attemptPrefix, now)
			if err != nil {
				return store.Event{}, nil, err
			}
			ev.Deliveries = append(ev.Deliveries, store.Delivery{Endpoint: ep.Name, URL: ep.URL, FirstAttemptID: id,
				UserID: req.UserID})
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

// accepted ends the send of a new event whose jobs are queued: an idempotent one notes them queued.
func (s *Service) accepted(ctx context.Context, ev store.Event, jobs []job) {
	if ev.IdempotencyKey != "" {
		if err := s.markQueued(ctx, jobs, ev.ExpiresAt); err != nil {
			// The messages are queued: the send stands. A replay may queue some of them again.
			s.log.WarnContext(ctx, "could not note the queued deliveries of an idempotent send", attrEvent(ev.ID),
				slog.Any("error", err))
		}
	}
	s.metrics.EventAccepted(ev.Set)
	s.log.LogAttrs(ctx, levelDebug, "event accepted", attrEvent(ev.ID), attrSet(ev.Set))
}

// replay answers a repeated idempotent send.
func (s *Service) replay(ctx context.Context, first store.Event, hash string) (SendResult, error) {
	if first.RequestHash != hash {
		return SendResult{}, &Error{Kind: ErrConflict, Code: "idempotency_key_reused",
			Message: "this Idempotency-Key was already used with a different request"}
	}
	rec, err := s.store.GetEvent(ctx, first.Set, first.ID)
	if err != nil {
		return SendResult{}, fmt.Errorf("read event %s for idempotent replay: %w", first.ID, err)
	}
	var jobs []job
	for _, d := range rec.Event.Deliveries {
		if len(attemptsOf(rec.Attempts, d.Endpoint)) == 0 {
			jobs = append(jobs, recoveryJob(rec.Event, d))
		}
	}
	if len(jobs) > 0 {
		if err := s.enqueue(ctx, jobs...); err != nil {
			return SendResult{}, fmt.Errorf("queue deliveries of %s again: %w", first.ID, err)
		}
		if err := s.markQueued(ctx, jobs, rec.Event.ExpiresAt); err != nil {
			s.log.WarnContext(ctx, "could not note the deliveries an idempotent replay queued", attrEvent(first.ID),
				slog.Any("error", err))
		}
	}
	return resultOf(rec.Event, true), nil
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
