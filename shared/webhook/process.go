package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/retry"
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
	if j.DueAt.Sub(s.now()) > time.Second {
		// Longer than the queue can delay at once: hop.
		if err := s.enqueue(ctx, j); err != nil {
			return fmt.Errorf("re-queue delivery not yet due: %w", err)
		}
		return nil
	}
	log := s.log.With(attrEvent(j.EventID), slog.String("endpoint", j.Endpoint), slog.Int("attempt", j.Attempt))
	set, ok := s.cfg.Set(j.Set)
	if !ok {
		log.Warn("dropping delivery: its webhook set is no longer configured", attrSet(j.Set))
		return nil
	}
	t, err := s.targetOf(ctx, set, j)
	gone := errors.Is(err, errEndpointGone)
	switch {
	case gone && j.User == "":
		log.Warn("dropping delivery: its endpoint is no longer configured", attrSet(j.Set))
		return nil
	case err != nil && !gone:
		return err
	}
	var ev store.Event
	if j.Event != nil {
		ev = j.event()
	} else {
		rec, err := s.store.GetEvent(ctx, j.Set, j.EventID)
		if errors.Is(err, store.ErrNotFound) {
			log.Warn("dropping delivery: the event no longer exists (retention)")
			return nil
		}
		if err != nil {
			return fmt.Errorf("read event %s: %w", j.EventID, err)
		}
		if done, err := s.duplicate(ctx, rec, j); done || err != nil {
			return err
		}
		ev = rec.Event
	}
	if gone {
		// A user endpoint deleted since: the delivery ends failed, with the reason, and is not attempted.
		return s.endDeleted(ctx, ev, j)
	}
	if held, err := s.holdIfNotEnabled(ctx, j, ev, &t); held || err != nil {
		return err
	}

	a := s.attempt(ctx, set, &t.ep, ev, j)
	if a.Outcome == store.OutcomeRetrying {
		if a.NextAttemptID, err = s.ids.next(attemptPrefix, s.now()); err != nil {
			return err
		}
	}
	switch err := s.store.PutAttempt(ctx, a); {
	case errors.Is(err, store.ErrConflict):
		// Recorded before: by a concurrent duplicate of this message, or by a run that died before
		// scheduling what comes next.
		log.Info("attempt already recorded; checking what comes next is queued")
		rec, err := s.store.GetEvent(ctx, j.Set, j.EventID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read event %s: %w", j.EventID, err)
		}
		_, err = s.duplicate(ctx, rec, j)
		return err
	case err != nil:
		return fmt.Errorf("record attempt: %w", err)
	}
	attrs := []slog.Attr{slog.String("outcome", string(a.Outcome)), slog.Int("status", a.ResponseStatus),
		slog.Duration("duration", a.Duration)}
	if a.Error != "" {
		// Why no response came (the attempt's recorded error: it names secrets, never their values).
		attrs = append(attrs, slog.String("error", a.Error))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "delivery attempt", attrs...)
	s.recordHealth(ctx, set, t, a)
	return s.schedule(ctx, j, a)
}

// endDeleted records the job's attempt as failed, not made, because its endpoint was deleted. An attempt
// recorded already (a duplicate message) is left as it is.
func (s *Service) endDeleted(ctx context.Context, ev store.Event, j job) error {
	a := store.Attempt{Set: ev.Set, EventID: ev.ID, Endpoint: j.Endpoint, ID: j.AttemptID, Number: j.Attempt,
		StartedAt: msTime(s.now()), Error: reasonEndpointDeleted, Outcome: store.OutcomeFailed, ExpiresAt: ev.ExpiresAt}
	if err := s.store.PutAttempt(ctx, a); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("record the end of a delivery to a deleted endpoint: %w", err)
	}
	return nil
}

// attempt signs and POSTs the delivery and returns the attempt record with its outcome decided.
func (s *Service) attempt(ctx context.Context, set *config.ResolvedSet, ep *config.ResolvedEndpoint, ev store.Event, j job) store.Attempt {
	start := s.now()
	a := store.Attempt{Set: ev.Set, EventID: ev.ID, Endpoint: ep.Name, ID: j.AttemptID, Number: j.Attempt,
		StartedAt: msTime(start), ExpiresAt: ev.ExpiresAt}
	body := deliveredBody(ev)
	req, err := s.request(ctx, set, ep, ev, body, start)
	var retryAfter time.Duration
	if err == nil {
		a.RequestHeaders = flatHeaders(req.Header)
		reqCtx, cancel := context.WithTimeout(ctx, ep.Timeout)
		var resp *http.Response
		resp, err = s.http.Do(req.WithContext(reqCtx), ep.AllowPrivateNetwork)
		if err == nil {
			a.ResponseStatus = resp.StatusCode
			a.ResponseBody = readSnippet(resp.Body)
			resp.Body.Close()
			retryAfter = retry.ParseRetryAfter(resp.Header.Get("Retry-After"), s.now())
		}
		cancel()
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

// deliveredBody is the Standard Webhooks body: the same bytes on every attempt and endpoint.
func deliveredBody(ev store.Event) []byte {
	body, _ := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{ev.ID, ev.Type, ev.CreatedAt.UTC().Format(time.RFC3339Nano), ev.Payload})
	return body
}

// request builds the signed POST. Its error (a signing secret that cannot be read) fails the attempt.
func (s *Service) request(ctx context.Context, set *config.ResolvedSet, ep *config.ResolvedEndpoint, ev store.Event, body []byte, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("webhook-id", ev.ID)
	keys, err := s.signingKeys(ctx, set, ep, ev)
	if err != nil {
		return nil, err
	}
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

// signingKeys returns the HMAC keys a delivery is signed with: the endpoint's named secret; else the
// user's managed secret (the current value and every previous one within its rotation window); else none
// (unsigned), unless the endpoint requires the user's secret.
func (s *Service) signingKeys(ctx context.Context, set *config.ResolvedSet, ep *config.ResolvedEndpoint, ev store.Event) ([][]byte, error) {
	if ep.Signing != nil && ep.Signing.Secret != "" {
		if s.named == nil {
			return nil, fmt.Errorf("signing secret %q: no named-secret source configured", ep.Signing.Secret)
		}
		value, err := s.named.Named(ctx, ep.Signing.Secret)
		if err != nil {
			return nil, fmt.Errorf("signing secret %q: %w", ep.Signing.Secret, err)
		}
		key, err := signing.Key(value)
		if err != nil {
			return nil, fmt.Errorf("signing secret %q: %w", ep.Signing.Secret, err)
		}
		return [][]byte{key}, nil
	}
	if ev.UserID == "" {
		if ep.NeedsUser() {
			// Send refuses this; an event sent before the endpoint's config said so is not sent unsigned.
			return nil, errors.New("the endpoint is signed with the user's secret (signing.userSecret) and the event has no userId")
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
			return nil, fmt.Errorf("secret of user %q: %w", ev.UserID, err)
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

// readSnippet keeps the start of a response body and drains a bounded rest.
func readSnippet(r io.Reader) string {
	buf := make([]byte, responseSnippetBytes)
	n, _ := io.ReadFull(r, buf)
	_, _ = io.Copy(io.Discard, io.LimitReader(r, responseDrainBytes))
	return strings.ToValidUTF8(string(buf[:n]), "\uFFFD")
}
