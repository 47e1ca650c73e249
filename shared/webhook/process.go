package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/retry"
	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/store"
)

// Limits of what an attempt records.
const (
	responseSnippetBytes = 1024     // response body kept in the attempt log
	responseDrainBytes   = 64 << 10 // read (and dropped) beyond the snippet so the connection can be reused
	userAgent            = "outhook/1"
)

// Process handles one queue message: it makes one delivery attempt, records it, and schedules what comes
// next. It returns nil when the message can be acknowledged (including attempts that failed and were
// rescheduled) and an error when the message must be delivered again because outhook itself could not
// finish (store or queue unavailable, malformed message).
//
// Every step is safe to repeat: an attempt is recorded under a conditional write, and a message whose
// attempt is already recorded only makes sure that what comes next is queued (duplicate). A message that
// carries its event (small payloads) is attempted without reading the store, and meets the duplicate check
// only when its write conflicts; a message without its event reads the event and its attempts first, and
// meets the same check before attempting.
func (s *Service) Process(ctx context.Context, body []byte) error {
	j, err := decodeJob(body)
	if err != nil {
		return err
	}
	if j.Release {
		return s.processRelease(ctx, j)
	}
	if j.DueAt.Sub(s.now()) > time.Second {
		// Longer than the queue can delay at once: hop.
		if err := s.enqueue(ctx, j); err != nil {
			return fmt.Errorf("re-queue delivery not yet due: %w", err)
		}
		return nil
	}
	set, t, gone, err := s.jobTarget(ctx, j)
	if err != nil {
		return err
	}
	var ev store.Event
	if j.Event != nil {
		ev = j.event()
	} else {
		rec, found, err := s.storedEvent(ctx, j)
		if !found {
			return err
		}
		if done, err := s.duplicate(ctx, rec, j); done || err != nil {
			return err
		}
		ev = rec.Event
	}
	if gone != "" {
		// The set or endpoint is gone: the delivery ends failed, with the reason, and is not attempted.
		s.jobLog(j).Warn("ending delivery without attempting it: "+gone, attrSet(j.Set))
		_, err := s.put(ctx, j, notAttempted(j, ev.ExpiresAt, s.now(), gone))
		return err
	}
	if held, err := s.holdIfNotEnabled(ctx, j, ev, &t); held || err != nil {
		return err
	}

	// The signing keys are read before the attempt: a secret store that fails (an outage, throttling) is
	// outhook's fault, not the endpoint's, so the message is retried later and no attempt is spent. A secret
	// that does not exist or is not a key is a configuration error: it fails the attempt.
	keys, keysErr := s.signingKeys(ctx, set, &t.ep, ev)
	var bad *badSecretError
	if keysErr != nil && !errors.As(keysErr, &bad) {
		return fmt.Errorf("read the signing secret, the attempt not made: %w", keysErr)
	}
	a := s.attempt(ctx, &t.ep, ev, j, keys, keysErr)
	if a.Outcome == store.OutcomeRetrying {
		if a.NextAttemptID, err = s.ids.next(attemptPrefix, s.now()); err != nil {
			return err
		}
	}
	if written, err := s.put(ctx, j, a); !written || err != nil {
		return err
	}
	s.logAttempt(ctx, j, a)
	s.recordHealth(ctx, set, t, a)
	s.recordAttempt(set, j, a)
	return s.schedule(ctx, j, a)
}

// logAttempt writes the attempt's log line: a failed one (retrying or failed) at WARN, so that an operator
// sees every failure and retry at the default level; a successful one at Options.SucceededLogLevel.
func (s *Service) logAttempt(ctx context.Context, j job, a store.Attempt) {
	level := slog.LevelWarn
	if a.Outcome == store.OutcomeSucceeded {
		level = s.okLevel
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	// The job's attributes first, as jobLog would write them: the line reads the same without the cost of a
	// derived logger for every delivery.
	attrs := []slog.Attr{attrEvent(j.EventID), slog.String("endpoint", j.Endpoint), slog.Int("attempt", j.Attempt),
		slog.String("outcome", string(a.Outcome)), slog.Int("status", a.ResponseStatus),
		slog.Duration("duration", a.Duration)}
	if a.Error != "" {
		// Why no response came (the attempt's recorded error: it names secrets, never their values).
		attrs = append(attrs, slog.String("error", a.Error))
	}
	s.log.LogAttrs(ctx, level, "delivery attempt", attrs...)
}

// jobLog is the logger of job j's lines: each names its event, endpoint and attempt.
func (s *Service) jobLog(j job) *slog.Logger {
	return s.log.With(attrEvent(j.EventID), slog.String("endpoint", j.Endpoint), slog.Int("attempt", j.Attempt))
}

// jobTarget resolves the set and endpoint of a job. gone, when not empty, says which of them no longer
// exists: the set or a static endpoint left the config, or a user endpoint was deleted (also when one of
// the same name was registered since: job.Registered).
func (s *Service) jobTarget(ctx context.Context, j job) (*config.ResolvedSet, target, string, error) {
	set, ok := s.cfg.Set(j.Set)
	if !ok {
		return nil, target{}, fmt.Sprintf("the webhook set %q is no longer configured", j.Set), nil
	}
	t, err := s.targetOf(ctx, set, j, false)
	if j.User != "" && (errors.Is(err, errEndpointGone) || err == nil && !j.registeredAs(t.state)) {
		// The state may come from the cache, older than the registration the job was made for: read it again
		// before ending the delivery.
		t, err = s.targetOf(ctx, set, j, true)
	}
	switch {
	case errors.Is(err, errEndpointGone) && j.User != "":
		return nil, target{}, reasonEndpointDeleted, nil
	case errors.Is(err, errEndpointGone):
		return nil, target{}, reasonNotConfigured(j.Set, j.Endpoint), nil
	case err != nil:
		return nil, target{}, "", err
	case j.User != "" && !j.registeredAs(t.state):
		// Deleted and registered again under the same name since the send: not the endpoint it was for.
		return nil, target{}, reasonEndpointDeleted, nil
	}
	return set, t, "", nil
}

// put writes the record a of job j's attempt and reports whether this call wrote it. A record written before
// (by a duplicate of the message, or by a run that died before scheduling) wins: the duplicate check then
// makes sure what comes after it is queued.
func (s *Service) put(ctx context.Context, j job, a store.Attempt) (bool, error) {
	switch err := s.store.PutAttempt(ctx, a); {
	case errors.Is(err, store.ErrConflict):
		s.jobLog(j).Info("attempt already recorded; checking what comes next is queued")
		rec, err := s.store.GetEvent(ctx, j.Set, j.EventID)
		if errors.Is(err, store.ErrNotFound) {
			// Recorded before its event was written (a keyed send), or the event is gone: what comes next
			// is checked once the event is there, by the job again, which reads the store first.
			j.Event = nil
			return false, s.eventMissing(ctx, j)
		}
		if err != nil {
			return false, fmt.Errorf("read event %s: %w", j.EventID, err)
		}
		_, err = s.duplicate(ctx, rec, j)
		return false, err
	case err != nil:
		return false, fmt.Errorf("record attempt: %w", err)
	}
	return true, nil
}

// storedEvent reads the job's event from the store. found is false when it could not: with an error, or
// with none when the event is not there (eventMissing: the job waits for it, or is dropped).
func (s *Service) storedEvent(ctx context.Context, j job) (rec store.Record, found bool, err error) {
	rec, err = s.store.GetEvent(ctx, j.Set, j.EventID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Record{}, false, s.eventMissing(ctx, j)
	}
	if err != nil {
		return store.Record{}, false, fmt.Errorf("read event %s: %w", j.EventID, err)
	}
	return rec, true, nil
}

// Waiting for an event that is not written yet. A keyed send queues its messages before it writes its event,
// within its deadline (10 s on AWS; milliseconds locally), so a job may run before its event exists.
const (
	// eventWait is how long after a job was due its event may still come: the send's deadline, with a wide
	// margin.
	eventWait = 2 * time.Minute
	// eventRetry is how soon a job whose event may still come runs again.
	eventRetry = 5 * time.Second
)

// eventMissing handles a job (that reads the store first) whose event is not in the store. While the job is
// young (eventWait after it was due) its send may not have written the event yet: the job is queued again to
// run in eventRetry, and no attempt is spent. Older, the event is gone: its retention ended, or its send died
// before writing it and was never retried (so never answered); the job is dropped with a warning.
func (s *Service) eventMissing(ctx context.Context, j job) error {
	log := s.jobLog(j)
	if s.now().Sub(j.DueAt) < eventWait {
		log.Info("the event is not written yet: trying again shortly")
		if err := s.enqueueIn(ctx, eventRetry, j); err != nil {
			return fmt.Errorf("re-queue delivery whose event is not written yet: %w", err)
		}
		return nil
	}
	log.Warn("dropping delivery: the event does not exist (its retention ended, or its send was never answered)")
	return nil
}

// Abandon ends the delivery of a message that failed too many times to be processed (its queue is about to
// dead-letter it, or the local worker gives it up): it records the job's attempt as failed without making it,
// with cause as the reason, so the delivery does not stay queued and can be resent. If the attempt is recorded
// already, it makes sure what comes next is queued, as a duplicate would. It returns nil when the message can
// be deleted; an error when the delivery could not be ended (the message should then be kept, in a
// dead-letter queue). A message that is not a job has no delivery to end: it is dropped.
func (s *Service) Abandon(ctx context.Context, body []byte, receives int, cause error) error {
	j, err := decodeJob(body)
	switch {
	case errors.Is(err, errNewerJob):
		return err // written by a newer version of outhook: keep it for that version
	case err != nil:
		s.log.ErrorContext(ctx, "dropping a delivery message that is not a job", slog.Any("error", err))
		return nil
	}
	if j.Release {
		// Not a delivery: the held deliveries it was to release stay held, in the store, and the next resume
		// (or delete) of the endpoint releases them. The message is dropped rather than kept failing.
		s.log.ErrorContext(ctx, "giving up releasing held deliveries: they stay held; resume the endpoint again",
			attrSet(j.Set), slog.String("endpoint", j.Endpoint), slog.String("userId", j.User),
			slog.Int("receives", receives), slog.Any("error", cause))
		return nil
	}
	var expires time.Time
	if j.Event != nil {
		expires = j.Event.ExpiresAt
	} else {
		rec, found, err := s.storedEvent(ctx, j)
		if !found {
			return err
		}
		expires = rec.Event.ExpiresAt
	}
	reason := fmt.Sprintf("its queue message failed %d times: %v", receives, cause)
	s.jobLog(j).Error("ending delivery without attempting it: "+reason, attrSet(j.Set))
	_, err = s.put(ctx, j, notAttempted(j, expires, s.now(), reason))
	return err
}

// attempt signs the delivery with keys and POSTs it, and returns the attempt record with its outcome decided.
// keysErr, if not nil, says why the delivery cannot be signed: the attempt fails with it, without a POST.
func (s *Service) attempt(ctx context.Context, ep *config.ResolvedEndpoint, ev store.Event, j job, keys [][]byte, keysErr error) store.Attempt {
	start := s.now()
	a := store.Attempt{Set: ev.Set, EventID: ev.ID, Endpoint: ep.Name, ID: j.AttemptID, Number: j.Attempt,
		StartedAt: msTime(start), RequestHeaders: map[string]string{}, ExpiresAt: ev.ExpiresAt}
	body := deliveredBody(ev)
	reqCtx, cancel := context.WithTimeout(ctx, ep.Timeout)
	defer cancel()
	req, err := s.request(reqCtx, ep, ev, body, start, keys, keysErr)
	var retryAfter time.Duration
	if err == nil {
		a.RequestHeaders = flatHeaders(req.Header)
		var resp *http.Response
		resp, err = s.http.Do(req, ep.AllowPrivateNetwork)
		if err == nil {
			a.ResponseStatus = resp.StatusCode
			a.ResponseBody = readSnippet(resp.Body)
			resp.Body.Close()
			retryAfter = retry.ParseRetryAfter(resp.Header.Get("Retry-After"), s.now())
		}
	}
	end := s.now()
	a.Duration = end.Sub(start).Truncate(time.Millisecond)
	if err != nil {
		a.Error = err.Error()
	}
	if err == nil && a.ResponseStatus >= 200 && a.ResponseStatus < 300 {
		a.Outcome = store.OutcomeSucceeded
		return a
	}
	var refused *egress.PrivateAddressError
	if errors.As(err, &refused) {
		// Permanent: every later attempt would be refused the same way, so the delivery fails now.
		a.Error = refused.Error() + " (not retried: the endpoint does not set allowPrivateNetwork)"
		a.Outcome = store.OutcomeFailed
		return a
	}
	policy := retry.FromConfig(ep.Retry)
	delay, again := policy.Delay(j.Attempt-j.Round+1, retryAfter, s.jitter)
	if !again {
		a.Outcome = store.OutcomeFailed
		return a
	}
	a.Outcome = store.OutcomeRetrying
	a.NextAttemptAt = msTime(end.Add(delay))
	return a
}

// deliveredBody is the Standard Webhooks body: the same bytes on every attempt and endpoint, those json.Marshal
// writes for {id, type, timestamp, data} (written by hand: it is made for every attempt).
func deliveredBody(ev store.Event) []byte {
	b := make([]byte, 0, 96+len(ev.ID)+len(ev.Type)+len(ev.Payload))
	b = append(b, `{"id":`...)
	b = appendString(b, ev.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, ev.Type)
	b = append(b, `,"timestamp":"`...)
	b = ev.CreatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b, err := appendRaw(append(b, `","data":`...), ev.Payload)
	if err != nil {
		return nil // not JSON: send refused it
	}
	return append(b, '}')
}

// request builds the POST signed with keys (none: unsigned); keysErr, the reason the keys could not be
// read, fails it.
func (s *Service) request(ctx context.Context, ep *config.ResolvedEndpoint, ev store.Event, body []byte, now time.Time, keys [][]byte, keysErr error) (*http.Request, error) {
	if keysErr != nil {
		return nil, keysErr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("webhook-id", ev.ID)
	if len(keys) > 0 {
		scheme, err := ep.Signing.Scheme()
		if err != nil {
			return nil, err
		}
		for name, values := range signing.Sign(scheme, ev.ID, now, body, keys) {
			req.Header[name] = values
		}
	}
	return req, nil
}

// badSecretError is a signing secret that cannot sign: missing, not a key, or not configured. Unlike a
// secret store that fails, it fails the attempt (with this message, which names no value).
type badSecretError struct{ err error }

func (e *badSecretError) Error() string { return e.err.Error() }
func (e *badSecretError) Unwrap() error { return e.err }

// badSecret marks err as a badSecretError when it is the store's ErrNotFound or when bad says so.
func badSecret(err error, bad bool) error {
	if bad || errors.Is(err, secret.ErrNotFound) {
		return &badSecretError{err: err}
	}
	return err
}

// signingKeys returns the HMAC keys a delivery is signed with: the endpoint's named secret; else the
// user's managed secret (the current value and every previous one within its rotation window); else none
// (unsigned), unless the endpoint requires the user's secret.
func (s *Service) signingKeys(ctx context.Context, set *config.ResolvedSet, ep *config.ResolvedEndpoint, ev store.Event) ([][]byte, error) {
	if ep.Signing != nil && ep.Signing.Secret != "" {
		if s.named == nil {
			return nil, badSecret(fmt.Errorf("signing secret %q: no named-secret source configured", ep.Signing.Secret), true)
		}
		value, err := s.named.Named(ctx, ep.Signing.Secret)
		if err != nil {
			return nil, badSecret(fmt.Errorf("signing secret %q: %w", ep.Signing.Secret, err), false)
		}
		key, err := signing.Key(value)
		if err != nil {
			return nil, badSecret(fmt.Errorf("signing secret %q: %w", ep.Signing.Secret, err), true)
		}
		return [][]byte{key}, nil
	}
	if ev.UserID == "" {
		if ep.NeedsUser() {
			// Send refuses this; an event sent before the endpoint's config said so is not sent unsigned.
			return nil, badSecret(errors.New("the endpoint is signed with the user's secret (signing.userSecret) and the event has no userId"), true)
		}
		return nil, nil
	}
	us, err := s.userSecret(ctx, set, ev.UserID)
	if err != nil {
		return nil, fmt.Errorf("secret of user %q: %w", ev.UserID, err)
	}
	values := []string{us.Current.Value}
	for _, p := range us.Previous {
		values = append(values, p.Value)
	}
	keys := make([][]byte, 0, len(values))
	for _, v := range values {
		key, err := signing.Key(v)
		if err != nil {
			return nil, badSecret(fmt.Errorf("secret of user %q: %w", ev.UserID, err), true)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func flatHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		out[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	return out
}

// snippetBuffers hold the start of a response body while readSnippet reads it.
var snippetBuffers = sync.Pool{New: func() any { return new([responseSnippetBytes]byte) }}

// readSnippet keeps the start of a response body and drains a bounded rest.
func readSnippet(r io.Reader) string {
	buf := snippetBuffers.Get().(*[responseSnippetBytes]byte)
	defer snippetBuffers.Put(buf)
	n, _ := io.ReadFull(r, buf[:])
	_, _ = io.Copy(io.Discard, io.LimitReader(r, responseDrainBytes))
	return strings.ToValidUTF8(string(buf[:n]), "\uFFFD")
}
