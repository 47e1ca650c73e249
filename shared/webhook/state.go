package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/store"
)

// An endpoint's state (enabled, paused, disabled) and health decide what a delivery does before it POSTs:
// a delivery to an endpoint that is not enabled is held (store.HoldDelivery) instead of attempted, and a
// delivery that ends updates the endpoint's health, which may disable it.

// healthResolution is how stale lastSuccessAt may get: a success writes the endpoint's health only when the
// endpoint had failures, or its recorded last success is older than this. Most successes write nothing.
const healthResolution = 5 * time.Minute

// maxStateTries bounds the read-modify-write rounds on an endpoint's state when concurrent writers move it.
const maxStateTries = 5

// stateCacheMax bounds the cached endpoint states; the cache is emptied when it is full.
const stateCacheMax = 10000

// reasonEndpointDeleted is why a delivery whose user endpoint was deleted ended without being attempted.
const reasonEndpointDeleted = "the endpoint was deleted"

// stateCache keeps endpoint states read from the store for up to ttl, so that a busy delivery worker reads
// each endpoint's state once per ttl rather than once per delivery. ttl 0 reads every time. Concurrent
// deliveries that miss the same endpoint share one read (loading), and while one of them records a success
// the others do not record the same (refreshing): a batch of ten deliveries to one endpoint on a fresh
// worker makes one read and at most one health write, not ten of each.
type stateCache struct {
	ttl        time.Duration
	mu         sync.Mutex
	m          map[store.EndpointRef]cachedState
	loading    map[store.EndpointRef]*stateLoad
	refreshing map[store.EndpointRef]bool
}

// stateLoad is a read of an endpoint's state in flight; done is closed when e and err are set.
type stateLoad struct {
	done chan struct{}
	e    cachedState
	err  error
}

type cachedState struct {
	ep    store.Endpoint
	found bool
	at    time.Time
}

func (c *stateCache) get(ref store.EndpointRef, now time.Time) (cachedState, bool) {
	if c.ttl <= 0 {
		return cachedState{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[ref]
	if !ok || now.Sub(e.at) >= c.ttl {
		return cachedState{}, false
	}
	return e, true
}

func (c *stateCache) put(ref store.EndpointRef, e cachedState) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= stateCacheMax {
		c.m = make(map[store.EndpointRef]cachedState)
	}
	c.m[ref] = e
}

// errEndpointGone: the delivery's endpoint no longer exists (a static one left the config, a user one was
// deleted).
var errEndpointGone = errors.New("endpoint no longer exists")

// endpointState reads an endpoint's stored state, from the cache unless fresh. A static endpoint with no
// stored state is enabled at version 0; a user endpoint with none is gone (errEndpointGone).
func (s *Service) endpointState(ctx context.Context, ref store.EndpointRef, fresh bool) (store.Endpoint, error) {
	now := s.now()
	e, ok := s.states.get(ref, now)
	if !ok || fresh {
		var err error
		if e, err = s.loadState(ctx, ref, now, fresh); err != nil {
			return store.Endpoint{}, err
		}
	}
	if !e.found && ref.UserID != "" {
		return store.Endpoint{}, errEndpointGone
	}
	return e.ep, nil
}

// loadState reads an endpoint's state from the store and caches it. Unless fresh (a write conflicted: the
// caller needs a read made after it), a read already in flight for ref is waited for instead of made again.
func (s *Service) loadState(ctx context.Context, ref store.EndpointRef, now time.Time, fresh bool) (cachedState, error) {
	c := s.states
	var l *stateLoad
	if !fresh && c.ttl > 0 {
		c.mu.Lock()
		if inflight := c.loading[ref]; inflight != nil {
			c.mu.Unlock()
			select {
			case <-inflight.done:
				return inflight.e, inflight.err
			case <-ctx.Done():
				return cachedState{}, fmt.Errorf("read the state of endpoint %s: %w", ref.Name, ctx.Err())
			}
		}
		if c.loading == nil {
			c.loading = make(map[store.EndpointRef]*stateLoad)
		}
		l = &stateLoad{done: make(chan struct{})}
		c.loading[ref] = l
		c.mu.Unlock()
	}
	var e cachedState
	ep, err := s.store.GetEndpoint(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e, err = cachedState{ep: store.Endpoint{EndpointRef: ref, Status: store.EndpointEnabled}, at: now}, nil
	case err != nil:
		err = fmt.Errorf("read the state of endpoint %s: %w", ref.Name, err)
	default:
		e = cachedState{ep: ep, found: true, at: now}
	}
	if err == nil {
		c.put(ref, e)
	}
	if l != nil {
		l.e, l.err = e, err
		c.mu.Lock()
		delete(c.loading, ref)
		c.mu.Unlock()
		close(l.done)
	}
	return e, err
}

// startRefresh reports whether the caller may record a success of ref's health: not while another delivery
// of this worker records one. endRefresh must follow a true answer.
func (c *stateCache) startRefresh(ref store.EndpointRef) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refreshing[ref] {
		return false
	}
	if c.refreshing == nil {
		c.refreshing = make(map[store.EndpointRef]bool)
	}
	c.refreshing[ref] = true
	return true
}

func (c *stateCache) endRefresh(ref store.EndpointRef) {
	c.mu.Lock()
	delete(c.refreshing, ref)
	c.mu.Unlock()
}

// target is what a delivery is made to: the endpoint as the sender needs it, its state and its auto-disable
// rule.
type target struct {
	ep          config.ResolvedEndpoint
	state       store.Endpoint
	autoDisable config.AutoDisable
}

func (t target) ref() store.EndpointRef { return t.state.EndpointRef }

// targetOf resolves a job's endpoint: a static endpoint from the config, a user endpoint from the store (its
// URL is read with its state; fresh: not from the cache). errEndpointGone if it no longer exists.
func (s *Service) targetOf(ctx context.Context, set *config.ResolvedSet, j job, fresh bool) (target, error) {
	ref := store.EndpointRef{Set: set.Name, UserID: j.User, Name: j.Endpoint}
	if j.User == "" {
		ep, ok := set.Endpoint(j.Endpoint)
		if !ok {
			return target{}, errEndpointGone
		}
		state, err := s.endpointState(ctx, ref, false)
		if err != nil {
			return target{}, err
		}
		return target{ep: *ep, state: state, autoDisable: ep.AutoDisable}, nil
	}
	u := set.UserEndpoints
	if u == nil {
		return target{}, errEndpointGone
	}
	state, err := s.endpointState(ctx, ref, fresh)
	if err != nil {
		return target{}, err
	}
	return userTarget(u, state), nil
}

// userTarget is a registered endpoint as the sender sees it: always signed with the user's managed secret
// (signing.userSecret, Standard Webhooks headers), with the set's retry, timeout and network rules.
func userTarget(u *config.ResolvedUserEndpoints, state store.Endpoint) target {
	return target{
		ep: config.ResolvedEndpoint{Name: state.Name, URL: state.URL, Signing: &config.Signing{UserSecret: true},
			Retry: u.Retry, Timeout: u.Timeout,
			AllowPrivateNetwork: u.AllowPrivateNetwork, EventTypes: state.EventTypes, AutoDisable: u.AutoDisable},
		state:       state,
		autoDisable: u.AutoDisable,
	}
}

// holdIfNotEnabled holds the job's delivery when its endpoint is paused or disabled: the job is stored with
// a mark in the event, and no attempt is made or counted. It reports whether the delivery was held. The
// store holds only if the endpoint is still in the state read; when the state moved (a resume, say), it is
// read again and the decision made again.
func (s *Service) holdIfNotEnabled(ctx context.Context, j job, ev store.Event, t *target) (bool, error) {
	for try := 1; ; try++ {
		if t.state.Status == store.EndpointEnabled {
			return false, nil
		}
		body, err := encodeJob(j)
		if err != nil {
			return false, fmt.Errorf("encode held job: %w", err)
		}
		h := store.Hold{Endpoint: t.ref(), EventID: j.EventID, Number: j.Attempt, Job: body, HeldAt: msTime(s.now()),
			EventExpiresAt: ev.ExpiresAt}
		err = s.store.HoldDelivery(ctx, h, t.state.Version)
		if err == nil {
			s.metrics.DeliveryHeld(j.Set, staticName(j.User, j.Endpoint))
			s.log.LogAttrs(ctx, slog.LevelInfo, "delivery held", attrEvent(j.EventID), slog.String("endpoint", j.Endpoint),
				slog.Int("attempt", j.Attempt), slog.String("endpointStatus", string(t.state.Status)))
			return true, nil
		}
		if !errors.Is(err, store.ErrConflict) || try == maxStateTries {
			return false, fmt.Errorf("hold delivery: %w", err)
		}
		if t.state, err = s.endpointState(ctx, t.ref(), true); err != nil {
			return false, err
		}
	}
}

// recordHealth updates the endpoint's health after attempt a was recorded, when it changes: a delivery that
// ended failed counts towards auto-disable; a success resets the count, and refreshes lastSuccessAt only
// when the recorded one is older than healthResolution. Errors are logged: the attempt is recorded already.
func (s *Service) recordHealth(ctx context.Context, set *config.ResolvedSet, t target, a store.Attempt) {
	now := msTime(s.now())
	st := t.state
	switch a.Outcome {
	case store.OutcomeSucceeded:
		if healthy(st.Health, now) {
			return
		}
		// Concurrent successes record one: the others would write the same, or conflict and read again.
		if !s.states.startRefresh(t.ref()) {
			return
		}
		defer s.states.endRefresh(t.ref())
		// A delivery that finished meanwhile may have recorded it already.
		if cached, ok := s.states.get(t.ref(), s.now()); ok && cached.ep.Version > st.Version {
			st = cached.ep
			if healthy(st.Health, now) {
				return
			}
		}
	case store.OutcomeFailed:
	default:
		return
	}
	for try := 1; ; try++ {
		next := st
		next.UpdatedAt = now
		disabling := false
		if a.Outcome == store.OutcomeSucceeded {
			next.Health.LastSuccessAt = now
			next.Health.ConsecutiveFailed, next.Health.FailingSince = 0, time.Time{}
		} else {
			next.Health.LastFailureAt = now
			if next.Health.ConsecutiveFailed == 0 {
				next.Health.FailingSince = now
			}
			next.Health.ConsecutiveFailed++
			rule := t.autoDisable
			if next.Status == store.EndpointEnabled && next.Health.ConsecutiveFailed >= rule.AfterFailedDeliveries &&
				now.Sub(next.Health.FailingSince) >= time.Duration(rule.AfterSeconds)*time.Second {
				disabling = true
				next.Status, next.DisabledAt = store.EndpointDisabled, now
				next.DisabledReason = fmt.Sprintf("the last %d deliveries failed, the first %s ago",
					next.Health.ConsecutiveFailed, now.Sub(next.Health.FailingSince).Round(time.Second))
			}
		}
		updated, err := s.store.UpdateEndpoint(ctx, next)
		if err == nil {
			s.states.put(updated.EndpointRef, cachedState{ep: updated, found: true, at: s.now()})
			if disabling {
				s.endpointDisabled(ctx, set, updated)
			}
			return
		}
		if !errors.Is(err, store.ErrConflict) || try == maxStateTries {
			if !errors.Is(err, store.ErrNotFound) {
				s.log.WarnContext(ctx, "endpoint health not recorded", slog.String("endpoint", t.ref().Name),
					slog.String("error", err.Error()))
			}
			return
		}
		if st, err = s.endpointState(ctx, t.ref(), true); err != nil {
			return
		}
	}
}

// healthy reports whether a success at now leaves h as recorded: no failures since the last success, which is
// recent enough (healthResolution).
func healthy(h store.Health, now time.Time) bool {
	return h.ConsecutiveFailed == 0 && now.Sub(h.LastSuccessAt) < healthResolution
}

// EndpointDisabledType is the type of the event sent when auto-disable fires.
const EndpointDisabledType = "endpoint.disabled"

// endpointDisabled reports an auto-disable: a warning in the log (metric name EndpointDisabled, which the
// AWS construct alarms on) and, if the set names one, an endpoint.disabled event to that set.
func (s *Service) endpointDisabled(ctx context.Context, set *config.ResolvedSet, ep store.Endpoint) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "endpoint disabled", slog.String("metric", "EndpointDisabled"), attrSet(set.Name),
		slog.String("endpoint", ep.Name), slog.String("userId", ep.UserID), slog.String("reason", ep.DisabledReason))
	s.metrics.EndpointDisabled(set.Name, staticName(ep.UserID, ep.Name))
	if set.OnEndpointDisabled == "" {
		return
	}
	payload, err := json.Marshal(struct {
		Set        string    `json:"set"`
		Endpoint   string    `json:"endpoint"`
		UserID     string    `json:"userId,omitempty"`
		Reason     string    `json:"reason"`
		DisabledAt time.Time `json:"disabledAt"`
	}{set.Name, ep.Name, ep.UserID, ep.DisabledReason, ep.DisabledAt.UTC()})
	if err != nil {
		s.log.ErrorContext(ctx, "encode endpoint.disabled event", slog.String("error", err.Error()))
		return
	}
	key := fmt.Sprintf("endpoint.disabled:%s:%s:%s:%d", set.Name, ep.UserID, ep.Name, ep.DisabledAt.UnixMilli())
	if len(key) > MaxIdempotencyKeyLen {
		key = key[:MaxIdempotencyKeyLen]
	}
	if _, err := s.Send(ctx, set.OnEndpointDisabled, SendRequest{Type: EndpointDisabledType, Payload: payload,
		IdempotencyKey: key}); err != nil {
		s.log.ErrorContext(ctx, "send endpoint.disabled event", attrSet(set.OnEndpointDisabled),
			slog.String("error", err.Error()))
	}
}
