package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/store"
)

// Endpoint input limits.
const (
	MaxEndpointURLLen  = 2048
	MaxDescriptionLen  = 1024
	releaseBatch       = 100 // held deliveries released per store read
	endingScanPageSize = 100
)

// PutUserEndpoint registers or replaces one of a user's endpoints. created tells which (201 or 200).
func (s *Service) PutUserEndpoint(ctx context.Context, setName, userID, name string, req EndpointRequest) (Endpoint, bool, error) {
	set, err := s.userEndpointSet(setName, userID, name, func(string) error {
		return invalid("invalid_endpoint_name",
			"endpoint name must match [a-z0-9][a-z0-9._-]* and be at most %d characters", config.MaxNameLength)
	})
	if err != nil {
		return Endpoint{}, false, err
	}
	if _, static := set.Endpoint(name); static {
		return Endpoint{}, false, &Error{Kind: ErrConflict, Code: "endpoint_name_taken",
			Message: fmt.Sprintf("%q is the name of a static endpoint of set %q", name, set.Name)}
	}
	if err := checkEndpointURL(req.URL, set.UserEndpoints.AllowPrivateNetwork); err != nil {
		return Endpoint{}, false, err
	}
	types := req.EventTypes
	if len(types) == 0 {
		types = []string{"*"}
	}
	if msg := config.EventTypesError(types); msg != "" {
		return Endpoint{}, false, invalid("invalid_event_types", "eventTypes%s", eventTypesMessage(msg))
	}
	if !utf8.ValidString(req.Description) || utf8.RuneCountInString(req.Description) > MaxDescriptionLen {
		return Endpoint{}, false, invalid("invalid_description", "description must be UTF-8 text of at most %d characters",
			MaxDescriptionLen)
	}
	now := msTime(s.now())
	ep := store.Endpoint{EndpointRef: store.EndpointRef{Set: set.Name, UserID: userID, Name: name}, URL: req.URL,
		EventTypes: types, Description: req.Description, CreatedAt: now, UpdatedAt: now}
	stored, created, err := s.store.PutEndpoint(ctx, ep, set.UserEndpoints.MaxPerUser)
	if errors.Is(err, store.ErrLimit) {
		return Endpoint{}, false, &Error{Kind: ErrConflict, Code: "too_many_endpoints",
			Message: fmt.Sprintf("user %q already has the %d endpoints set %q allows", userID, set.UserEndpoints.MaxPerUser, set.Name)}
	}
	if err != nil {
		return Endpoint{}, false, fmt.Errorf("put endpoint: %w", err)
	}
	s.states.put(stored.EndpointRef, cachedState{ep: stored, found: true, at: s.now()})
	return viewUserEndpoint(stored), created, nil
}

func eventTypesMessage(msg string) string {
	if len(msg) > 0 && msg[0] == '[' {
		return msg
	}
	return " " + msg
}

// checkEndpointURL is the registration check of a user endpoint's URL: https (http too, with
// allowPrivateNetwork), a host, no credentials, and not a literal address or localhost name the egress guard
// refuses. Names that resolve to refused addresses are refused when the delivery connects.
func checkEndpointURL(raw string, allowPrivate bool) error {
	bad := func(format string, args ...any) error { return invalid("invalid_url", "url "+format, args...) }
	if raw == "" {
		return bad("is required")
	}
	if len(raw) > MaxEndpointURLLen {
		return bad("must be at most %d characters", MaxEndpointURLLen)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a valid URL")
	case u.Scheme != "https" && !(allowPrivate && u.Scheme == "http"):
		if allowPrivate {
			return bad("must be an absolute http or https URL")
		}
		return bad("must be an absolute https URL")
	case u.Host == "" || u.Hostname() == "":
		return bad("must have a host")
	case u.User != nil:
		return bad("must not contain credentials")
	case u.Fragment != "":
		return bad("must not have a fragment")
	case u.Port() != "":
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return bad("port %s is not a TCP port (1 to 65535)", u.Port())
		}
	}
	if !allowPrivate {
		if err := egress.CheckURL(raw); err != nil {
			return bad("is refused: %v", err)
		}
	}
	return nil
}

// userEndpointSet returns the set if its users may register endpoints and userID is valid. A name that is
// not valid (name is "" where the request names no endpoint) is answered by badName. The request's own
// faults come before the set's 409, whatever the set allows (a 409 for a malformed request misleads).
func (s *Service) userEndpointSet(setName, userID, name string, badName func(set string) error) (*config.ResolvedSet, error) {
	set, err := s.set(setName)
	if err != nil {
		return nil, err
	}
	if !ValidUserID(userID) {
		return nil, invalidUserID()
	}
	if badName != nil && !config.ValidName(name) {
		return nil, badName(set.Name)
	}
	if set.UserEndpoints == nil {
		return nil, &Error{Kind: ErrConflict, Code: "user_endpoints_disabled",
			Message: fmt.Sprintf("set %q does not let users register endpoints (userEndpoints.enabled)", set.Name)}
	}
	return set, nil
}

// notFoundIn answers a malformed endpoint name as an endpoint that does not exist, which it cannot.
func notFoundIn(userID, name string) func(set string) error {
	return func(set string) error { return endpointNotFound(set, userID, name) }
}

func endpointNotFound(set, userID, name string) error {
	msg := fmt.Sprintf("set %q has no endpoint %q", set, name)
	if userID != "" {
		msg = fmt.Sprintf("user %q of set %q has no endpoint %q", userID, set, name)
	}
	return &Error{Kind: ErrNotFound, Code: "endpoint_not_found", Message: msg}
}

// GetUserEndpoint returns one of a user's endpoints.
func (s *Service) GetUserEndpoint(ctx context.Context, setName, userID, name string) (Endpoint, error) {
	set, err := s.userEndpointSet(setName, userID, name, notFoundIn(userID, name))
	if err != nil {
		return Endpoint{}, err
	}
	ep, err := s.store.GetEndpoint(ctx, store.EndpointRef{Set: set.Name, UserID: userID, Name: name})
	if errors.Is(err, store.ErrNotFound) {
		return Endpoint{}, endpointNotFound(set.Name, userID, name)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("get endpoint: %w", err)
	}
	return viewUserEndpoint(ep), nil
}

// ListUserEndpoints returns a user's endpoints, by name.
func (s *Service) ListUserEndpoints(ctx context.Context, setName, userID string) (EndpointList, error) {
	set, err := s.userEndpointSet(setName, userID, "", nil)
	if err != nil {
		return EndpointList{}, err
	}
	eps, err := s.store.ListEndpoints(ctx, set.Name, userID)
	if err != nil {
		return EndpointList{}, fmt.Errorf("list endpoints: %w", err)
	}
	out := EndpointList{Endpoints: make([]Endpoint, 0, len(eps))}
	for _, ep := range eps {
		out.Endpoints = append(out.Endpoints, viewUserEndpoint(ep))
	}
	return out, nil
}

// ListStaticEndpoints returns the set's endpoints from the config, in config order, with their state.
func (s *Service) ListStaticEndpoints(ctx context.Context, setName string) (EndpointList, error) {
	set, err := s.set(setName)
	if err != nil {
		return EndpointList{}, err
	}
	states, err := s.store.ListEndpoints(ctx, set.Name, "")
	if err != nil {
		return EndpointList{}, fmt.Errorf("list endpoint states: %w", err)
	}
	out := EndpointList{Endpoints: make([]Endpoint, 0, len(set.Endpoints))}
	for _, ep := range set.Endpoints {
		state := store.Endpoint{Status: store.EndpointEnabled}
		for _, st := range states {
			if st.Name == ep.Name {
				state = st
			}
		}
		out.Endpoints = append(out.Endpoints, viewStaticEndpoint(ep, state))
	}
	return out, nil
}

// DeleteUserEndpoint deletes one of a user's endpoints. Its deliveries that had not ended end failed, with
// the reason recorded: the held ones at once, the queued and retrying ones found among the user's events
// within the set's retention (and any the scan misses when their message is next received).
func (s *Service) DeleteUserEndpoint(ctx context.Context, setName, userID, name string) error {
	set, err := s.userEndpointSet(setName, userID, name, notFoundIn(userID, name))
	if err != nil {
		return err
	}
	ref := store.EndpointRef{Set: set.Name, UserID: userID, Name: name}
	if err := s.store.DeleteEndpoint(ctx, ref); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return endpointNotFound(set.Name, userID, name)
		}
		return fmt.Errorf("delete endpoint: %w", err)
	}
	s.states.put(ref, cachedState{ep: store.Endpoint{EndpointRef: ref}, at: s.now()})
	if _, err := s.endHolds(ctx, ref, reasonEndpointDeleted); err != nil {
		return err
	}
	return s.endPending(ctx, set, ref)
}

// endHolds ends up to one page of the held deliveries of an endpoint that is gone as failed, with reason,
// and returns how many. When there may be more, it queues a release message: released, they end the same
// way when processed (Process finds the endpoint gone), so that the call does a bounded amount of work.
func (s *Service) endHolds(ctx context.Context, ref store.EndpointRef, reason string) (int, error) {
	holds, err := s.store.ListHolds(ctx, ref, releaseBatch)
	if err != nil {
		return 0, fmt.Errorf("list held deliveries: %w", err)
	}
	if len(holds) == 0 {
		return 0, nil
	}
	for _, h := range holds {
		var j job
		if err := json.Unmarshal(h.Job, &j); err != nil {
			return 0, fmt.Errorf("decode held delivery of event %s: %w", h.EventID, err)
		}
		a := store.Attempt{Set: ref.Set, EventID: h.EventID, Endpoint: ref.Name, ID: j.AttemptID, Number: h.Number,
			StartedAt: msTime(s.now()), RequestHeaders: map[string]string{}, Error: notAttemptedPrefix + reason, Outcome: store.OutcomeFailed, ExpiresAt: h.EventExpiresAt}
		if err := s.store.PutAttempt(ctx, a); err != nil && !errors.Is(err, store.ErrConflict) {
			return 0, fmt.Errorf("end held delivery of event %s: %w", h.EventID, err)
		}
	}
	if err := s.store.DeleteHolds(ctx, holds); err != nil {
		return 0, fmt.Errorf("remove ended held deliveries: %w", err)
	}
	if len(holds) == releaseBatch {
		if err := s.enqueue(ctx, releaseJob(ref, s.now())); err != nil {
			return len(holds), fmt.Errorf("queue the end of the remaining held deliveries: %w", err)
		}
	}
	return len(holds), nil
}

// endRemovedStatic answers a resume of a static endpoint that is not (or no longer) in the config: its held
// deliveries, if it was paused or disabled when it left the config, end failed with the reason, as queued
// ones do when their message is received; the answer is endpoint_not_found, saying so when there were some.
func (s *Service) endRemovedStatic(ctx context.Context, set *config.ResolvedSet, name string) error {
	reason := reasonNotConfigured(set.Name, name)
	n, err := s.endHolds(ctx, store.EndpointRef{Set: set.Name, Name: name}, reason)
	if err != nil {
		return fmt.Errorf("end the held deliveries of removed endpoint %s: %w", name, err)
	}
	nf := endpointNotFound(set.Name, "", name)
	if n > 0 {
		var e *Error
		if errors.As(nf, &e) {
			e.Message += "; its held deliveries end failed: " + reason
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "held deliveries of a removed endpoint ended failed", attrSet(set.Name),
			slog.String("endpoint", name), slog.Int("ended", n))
	}
	return nf
}

// reasonNotConfigured is why a delivery to a static endpoint that left the config ends failed.
func reasonNotConfigured(set, name string) string {
	return fmt.Sprintf("the endpoint %q is no longer configured in set %q", name, set)
}

// endPending ends the queued and retrying deliveries of a deleted endpoint: each gets its next attempt
// recorded as failed, so that the message carrying that attempt finds it done.
func (s *Service) endPending(ctx context.Context, set *config.ResolvedSet, ref store.EndpointRef) error {
	opts := store.ListOptions{Limit: endingScanPageSize, UserID: ref.UserID,
		SinceID: idFloor(eventPrefix, s.now().Add(-set.Retention)),
		Match: func(rec store.Record) bool {
			d, ok := deliveryTo(rec, ref)
			return ok && (d.Status == StatusQueued || d.Status == StatusRetrying)
		}}
	for {
		page, err := s.store.ListEvents(ctx, set.Name, opts)
		if err != nil {
			return fmt.Errorf("find the pending deliveries of a deleted endpoint: %w", err)
		}
		for _, rec := range page.Records {
			d, _ := deliveryTo(rec, ref)
			id := d.nextAttemptID
			if id == "" {
				if id, err = s.ids.next(attemptPrefix, s.now()); err != nil {
					return err
				}
			}
			a := store.Attempt{Set: ref.Set, EventID: rec.Event.ID, Endpoint: ref.Name, ID: id, Number: d.lastNumber + 1,
				StartedAt: msTime(s.now()), RequestHeaders: map[string]string{}, Error: notAttemptedPrefix + reasonEndpointDeleted, Outcome: store.OutcomeFailed,
				ExpiresAt: rec.Event.ExpiresAt}
			if err := s.store.PutAttempt(ctx, a); err != nil && !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("end pending delivery of event %s: %w", rec.Event.ID, err)
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		opts.Cursor = page.NextCursor
	}
}

// deliveryTo finds the event's delivery to the endpoint ref.
func deliveryTo(rec store.Record, ref store.EndpointRef) (deliveryState, bool) {
	for _, d := range rec.Event.Deliveries {
		if d.Endpoint == ref.Name && d.UserID == ref.UserID {
			return deliveryView(rec, d), true
		}
	}
	return deliveryState{}, false
}

// resolveEndpoint finds a static endpoint (userID "") or a user's endpoint, with its current state.
func (s *Service) resolveEndpoint(ctx context.Context, setName, userID, name string) (*config.ResolvedSet, target, error) {
	var (
		set *config.ResolvedSet
		err error
	)
	if userID == "" {
		set, err = s.set(setName)
	} else {
		set, err = s.userEndpointSet(setName, userID, name, notFoundIn(userID, name))
	}
	if err != nil {
		return nil, target{}, err
	}
	if !config.ValidName(name) {
		return nil, target{}, endpointNotFound(set.Name, userID, name)
	}
	t, err := s.targetOf(ctx, set, job{Set: set.Name, User: userID, Endpoint: name}, false)
	if errors.Is(err, errEndpointGone) {
		return nil, target{}, endpointNotFound(set.Name, userID, name)
	}
	if err != nil {
		return nil, target{}, err
	}
	t.state, err = s.endpointState(ctx, t.ref(), true)
	if errors.Is(err, errEndpointGone) {
		return nil, target{}, endpointNotFound(set.Name, userID, name)
	}
	return set, t, err
}

// setStatus moves an endpoint to status with a fresh read-modify-write, and returns it.
func (s *Service) setStatus(ctx context.Context, t target, status store.EndpointStatus) (store.Endpoint, error) {
	st := t.state
	for try := 1; ; try++ {
		next := st
		next.Status, next.UpdatedAt = status, msTime(s.now())
		if status == store.EndpointEnabled {
			if st.Status == store.EndpointDisabled {
				// Re-enabled: the failures that disabled it no longer count towards the next disable.
				next.Health.ConsecutiveFailed, next.Health.FailingSince = 0, time.Time{}
			}
			next.DisabledReason, next.DisabledAt = "", time.Time{}
		}
		updated, err := s.store.UpdateEndpoint(ctx, next)
		if err == nil {
			s.states.put(updated.EndpointRef, cachedState{ep: updated, found: true, at: s.now()})
			return updated, nil
		}
		if !errors.Is(err, store.ErrConflict) || try == maxStateTries {
			return store.Endpoint{}, fmt.Errorf("set endpoint %s %s: %w", st.Name, status, err)
		}
		if st, err = s.endpointState(ctx, t.ref(), true); err != nil {
			return store.Endpoint{}, err
		}
	}
}

// PauseEndpoint pauses an endpoint (userID "": a static one): its deliveries are held, not attempted, until
// it is resumed.
func (s *Service) PauseEndpoint(ctx context.Context, setName, userID, name string) (Endpoint, error) {
	set, t, err := s.resolveEndpoint(ctx, setName, userID, name)
	if err != nil {
		return Endpoint{}, err
	}
	updated, err := s.setStatus(ctx, t, store.EndpointPaused)
	if err != nil {
		return Endpoint{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "endpoint paused", attrSet(set.Name), slog.String("endpoint", name))
	return s.viewTarget(t, updated), nil
}

// ResumeEndpoint enables a paused or disabled endpoint and releases its held deliveries, oldest event first.
// A static endpoint that left the config has its held deliveries ended instead (endRemovedStatic).
func (s *Service) ResumeEndpoint(ctx context.Context, setName, userID, name string) (Endpoint, error) {
	if set, ok := s.cfg.Set(setName); ok && userID == "" && config.ValidName(name) {
		if _, configured := set.Endpoint(name); !configured {
			return Endpoint{}, s.endRemovedStatic(ctx, set, name)
		}
	}
	set, t, err := s.resolveEndpoint(ctx, setName, userID, name)
	if err != nil {
		return Endpoint{}, err
	}
	updated, err := s.setStatus(ctx, t, store.EndpointEnabled)
	if err != nil {
		return Endpoint{}, err
	}
	n, err := s.release(ctx, t.ref())
	if err != nil {
		return Endpoint{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "endpoint resumed", attrSet(set.Name), slog.String("endpoint", name),
		slog.Int("released", n))
	return s.viewTarget(t, updated), nil
}

// release releases the first page of the endpoint's held deliveries and, when there may be more, queues a
// release message for the rest (Process releases one page per message, and queues the next): the call does
// a bounded amount of work however many deliveries are held, so that an API function answers in time.
func (s *Service) release(ctx context.Context, ref store.EndpointRef) (int, error) {
	n, more, err := s.releasePage(ctx, ref)
	if err != nil || !more {
		return n, err
	}
	if err := s.enqueue(ctx, releaseJob(ref, s.now())); err != nil {
		return n, fmt.Errorf("queue the release of the remaining held deliveries: %w", err)
	}
	return n, nil
}

// releasePage queues up to releaseBatch of the endpoint's held deliveries again (oldest event first), due
// now, then removes them from the store; more reports that the page was full. A crash between the two
// queues them again at the next release: the duplicate check absorbs it.
func (s *Service) releasePage(ctx context.Context, ref store.EndpointRef) (n int, more bool, err error) {
	holds, err := s.store.ListHolds(ctx, ref, releaseBatch)
	if err != nil {
		return 0, false, fmt.Errorf("list held deliveries: %w", err)
	}
	if len(holds) == 0 {
		return 0, false, nil
	}
	jobs := make([]job, 0, len(holds))
	now := s.now()
	for _, h := range holds {
		j, err := decodeJob(h.Job)
		if err != nil {
			return 0, false, fmt.Errorf("held delivery of event %s: %w", h.EventID, err)
		}
		j.DueAt = now
		jobs = append(jobs, j)
	}
	if err := s.enqueue(ctx, jobs...); err != nil {
		return 0, false, fmt.Errorf("queue held deliveries: %w", err)
	}
	if err := s.store.DeleteHolds(ctx, holds); err != nil {
		return 0, false, fmt.Errorf("remove released deliveries: %w", err)
	}
	return len(holds), len(holds) == releaseBatch, nil
}

// processRelease handles a release message: while the endpoint is enabled, it releases the next page of
// its held deliveries and queues a release message for the page after. An endpoint paused again keeps the
// rest held, for its next resume. A gone endpoint's (deleted, or no longer configured) are released too:
// each then ends failed, with the reason, when processed.
func (s *Service) processRelease(ctx context.Context, j job) error {
	ref := store.EndpointRef{Set: j.Set, UserID: j.User, Name: j.Endpoint}
	set, ok := s.cfg.Set(j.Set)
	gone := !ok
	switch {
	case ok && j.User == "":
		_, configured := set.Endpoint(j.Endpoint)
		gone = !configured
	case ok:
		gone = set.UserEndpoints == nil
	}
	if !gone {
		st, err := s.endpointState(ctx, ref, true)
		switch {
		case errors.Is(err, errEndpointGone):
		case err != nil:
			return err
		case st.Status != store.EndpointEnabled:
			return nil
		}
	}
	n, err := s.release(ctx, ref)
	if err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "held deliveries released", attrSet(j.Set), slog.String("endpoint", j.Endpoint),
		slog.Int("released", n))
	return nil
}

// RecoverEndpoint queues again, each with a fresh retry budget, every failed delivery to the endpoint of
// the events created in [since, until) (until zero: now). It returns how many.
func (s *Service) RecoverEndpoint(ctx context.Context, setName, userID, name string, req RecoverRequest) (RecoverResult, error) {
	set, t, err := s.resolveEndpoint(ctx, setName, userID, name)
	if err != nil {
		return RecoverResult{}, err
	}
	until := s.now()
	if req.Until != nil {
		until = *req.Until
	}
	switch {
	case req.Since.IsZero():
		return RecoverResult{}, invalid("missing_since", "since is required (RFC 3339)")
	case !req.Since.Before(until):
		return RecoverResult{}, invalid("invalid_window", "since must be before until")
	}
	ref := t.ref()
	opts := store.ListOptions{Limit: endingScanPageSize, UserID: userID, SinceID: idFloor(eventPrefix, req.Since),
		UntilID: idFloor(eventPrefix, until),
		Match: func(rec store.Record) bool {
			d, ok := deliveryTo(rec, ref)
			return ok && d.Status == StatusFailed
		}}
	res := RecoverResult{}
	for {
		page, err := s.store.ListEvents(ctx, set.Name, opts)
		if err != nil {
			return res, fmt.Errorf("find failed deliveries: %w", err)
		}
		var jobs []job
		var expires []time.Time // of each job's event
		unclaim := func(reason string) error {
			var errs []error
			for i := range jobs {
				errs = append(errs, s.unclaim(ctx, jobs[i:i+1], expires[i], reason))
			}
			return errors.Join(errs...)
		}
		for _, rec := range page.Records {
			d, _ := deliveryTo(rec, ref)
			now := msTime(s.now())
			id, err := s.ids.next(attemptPrefix, now)
			if err != nil {
				return res, err
			}
			j := resendJob(rec.Event, store.Delivery{Endpoint: d.Endpoint, UserID: d.UserID}, d.lastNumber+1, id, now)
			// Claimed as a resend claims it: of two recovers (or a recover and a resend) at once, one queues it.
			switch err := s.store.PutAttempt(ctx, placeholder(j, rec.Event.ExpiresAt, now)); {
			case errors.Is(err, store.ErrConflict):
				continue
			case err != nil:
				return res, errors.Join(fmt.Errorf("claim attempt %d of event %s: %w", j.Attempt, rec.Event.ID, err),
					unclaim("the recover failed"))
			}
			jobs, expires = append(jobs, j), append(expires, rec.Event.ExpiresAt)
		}
		if err := s.enqueue(ctx, jobs...); err != nil {
			return res, errors.Join(fmt.Errorf("queue recovered deliveries: %w", err),
				unclaim("the recover could not be queued"))
		}
		res.Requeued += len(jobs)
		if page.NextCursor == "" {
			s.log.LogAttrs(ctx, slog.LevelInfo, "endpoint recovered", attrSet(set.Name), slog.String("endpoint", name),
				slog.Int("requeued", res.Requeued))
			return res, nil
		}
		opts.Cursor = page.NextCursor
	}
}

func (s *Service) viewTarget(t target, state store.Endpoint) Endpoint {
	if state.UserID != "" {
		return viewUserEndpoint(state)
	}
	return viewStaticEndpoint(t.ep, state)
}

func viewUserEndpoint(ep store.Endpoint) Endpoint {
	out := viewState(ep)
	out.URL, out.EventTypes, out.Description, out.UserID = ep.URL, slices.Clone(ep.EventTypes), ep.Description, ep.UserID
	if len(out.EventTypes) == 0 {
		out.EventTypes = []string{"*"}
	}
	return out
}

func viewStaticEndpoint(ep config.ResolvedEndpoint, state store.Endpoint) Endpoint {
	out := viewState(state)
	out.Name, out.URL, out.EventTypes = ep.Name, ep.URL, slices.Clone(ep.EventTypes)
	if len(out.EventTypes) == 0 {
		out.EventTypes = []string{"*"}
	}
	return out
}

func viewState(ep store.Endpoint) Endpoint {
	out := Endpoint{Name: ep.Name, Status: string(ep.Status), DisabledReason: ep.DisabledReason,
		Health: EndpointHealth{LastSuccessAt: timePtr(ep.Health.LastSuccessAt), LastFailureAt: timePtr(ep.Health.LastFailureAt),
			ConsecutiveFailedDeliveries: ep.Health.ConsecutiveFailed},
		CreatedAt: timePtr(ep.CreatedAt), UpdatedAt: timePtr(ep.UpdatedAt)}
	if out.Status == "" {
		out.Status = EndpointEnabled
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
