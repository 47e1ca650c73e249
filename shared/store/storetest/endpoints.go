package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/store"
)

// ids of the events in records, in order.
func ids(records []store.Record) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = r.Event.ID
	}
	return out
}

func testListEventsByUser(t *testing.T, s store.Store) {
	set := newSet(t)
	var alice []string
	for i := range 9 {
		ev := newEvent(set)
		ev.UserID = "bob"
		if i%3 == 0 {
			ev.UserID = "alice"
			alice = append(alice, ev.ID)
		}
		if i == 4 {
			ev.UserID = ""
		}
		mustCreate(t, s, ev)
	}
	other := newEvent(newSet(t))
	other.UserID = "alice"
	mustCreate(t, s, other)
	slices.Reverse(alice)
	for _, limit := range []int{1, 2, 10} {
		require.Equal(t, alice, ids(listAllWith(t, s, set, store.ListOptions{Limit: limit, UserID: "alice"})),
			"limit %d", limit)
	}
	require.Empty(t, listAllWith(t, s, set, store.ListOptions{Limit: 5, UserID: "carol"}))
}

func testListEventsWindow(t *testing.T, s store.Store) {
	set := newSet(t)
	var all []string
	for range 6 {
		ev := newEvent(set)
		mustCreate(t, s, ev)
		all = append(all, ev.ID)
	}
	// [all[1], all[4]): the events 1, 2 and 3, newest first.
	want := []string{all[3], all[2], all[1]}
	for _, limit := range []int{1, 2, 10} {
		got := ids(listAllWith(t, s, set, store.ListOptions{Limit: limit, SinceID: all[1], UntilID: all[4]}))
		require.Equal(t, want, got, "limit %d", limit)
	}
	got := ids(listAllWith(t, s, set, store.ListOptions{Limit: 10, SinceID: all[4]}))
	require.Equal(t, []string{all[5], all[4]}, got)
	got = ids(listAllWith(t, s, set, store.ListOptions{Limit: 10, UntilID: all[1]}))
	require.Equal(t, []string{all[0]}, got)
	users := newEvent(set)
	mustCreate(t, s, users)
	got = ids(listAllWith(t, s, set, store.ListOptions{Limit: 10, UserID: users.UserID, SinceID: users.ID}))
	require.Equal(t, []string{users.ID}, got, "a user's window")
	require.Empty(t, listAllWith(t, s, set, store.ListOptions{Limit: 10, UserID: users.UserID, UntilID: users.ID}))
}

func testListEventsMatch(t *testing.T, s store.Store) {
	set := newSet(t)
	var want []string
	for i := range 12 {
		ev := newEvent(set)
		if i%4 == 1 {
			ev.Type = "user.created"
			want = append(want, ev.ID)
		}
		mustCreate(t, s, ev)
	}
	slices.Reverse(want)
	match := func(r store.Record) bool { return r.Event.Type == "user.created" }
	for _, limit := range []int{1, 2, 3, 100} {
		got := ids(listAllWith(t, s, set, store.ListOptions{Limit: limit, Match: match}))
		require.Equal(t, want, got, "limit %d: pages fill up past refused records", limit)
	}
	require.Empty(t, listAllWith(t, s, set, store.ListOptions{Limit: 3,
		Match: func(store.Record) bool { return false }}))
}

func testCreateEventNoDeliveries(t *testing.T, s store.Store) {
	ev := newEvent(newSet(t))
	ev.Deliveries = []store.Delivery{}
	got, err := s.CreateEvent(context.Background(), ev)
	require.NoError(t, err)
	require.Empty(t, got.Deliveries)
	rec := mustGet(t, s, ev.Set, ev.ID)
	require.Empty(t, rec.Event.Deliveries)

	user := newEvent(ev.Set)
	user.Deliveries[1].UserID = user.UserID
	mustCreate(t, s, user)
	require.Equal(t, user, mustGet(t, s, user.Set, user.ID).Event, "a delivery to a user endpoint keeps its user")
}

func newUserEndpoint(set, user, name string) store.Endpoint {
	at := now()
	return store.Endpoint{
		EndpointRef: store.EndpointRef{Set: set, UserID: user, Name: name},
		URL:         "https://" + name + ".example.com/hooks?u=" + user,
		EventTypes:  []string{"invoice.*", "user.created"},
		Description: "caf\u00e9 \"receiver\"",
		CreatedAt:   at,
		UpdatedAt:   at,
	}
}

func normalizeEndpoint(ep store.Endpoint) store.Endpoint {
	for _, t := range []*time.Time{&ep.CreatedAt, &ep.UpdatedAt, &ep.DisabledAt, &ep.Health.LastSuccessAt,
		&ep.Health.LastFailureAt, &ep.Health.FailingSince} {
		*t = t.UTC()
	}
	if ep.EventTypes == nil {
		ep.EventTypes = []string{}
	}
	return ep
}

func testEndpointPutGetListDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	b := newUserEndpoint(set, "alice", "b-hooks")
	stored, created, err := s.PutEndpoint(ctx, b, 10)
	require.NoError(t, err)
	require.True(t, created)
	want := b
	want.Status, want.Version = store.EndpointEnabled, 1
	require.Equal(t, want, normalizeEndpoint(stored))
	got, err := s.GetEndpoint(ctx, b.EndpointRef)
	require.NoError(t, err)
	require.Equal(t, want, normalizeEndpoint(got))

	a := newUserEndpoint(set, "alice", "a-hooks")
	a.EventTypes = nil
	_, _, err = s.PutEndpoint(ctx, a, 10)
	require.NoError(t, err)
	_, _, err = s.PutEndpoint(ctx, newUserEndpoint(set, "bob", "c-hooks"), 10)
	require.NoError(t, err)

	// A replacement keeps the state and the creation time.
	paused := got
	paused.Status = store.EndpointPaused
	paused, err = s.UpdateEndpoint(ctx, paused)
	require.NoError(t, err)
	repl := b
	repl.URL, repl.EventTypes, repl.Description = "https://new.example.com/x", []string{"*"}, ""
	repl.CreatedAt, repl.UpdatedAt = time.Time{}, now().Add(time.Second)
	stored, created, err = s.PutEndpoint(ctx, repl, 10)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, store.EndpointPaused, stored.Status)
	require.Equal(t, b.CreatedAt, stored.CreatedAt.UTC())
	require.Equal(t, repl.UpdatedAt, stored.UpdatedAt.UTC())
	require.Greater(t, stored.Version, paused.Version)
	got, err = s.GetEndpoint(ctx, b.EndpointRef)
	require.NoError(t, err)
	require.Equal(t, normalizeEndpoint(stored), normalizeEndpoint(got))
	require.Equal(t, "https://new.example.com/x", got.URL)

	list, err := s.ListEndpoints(ctx, set, "alice")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{"a-hooks", "b-hooks"}, []string{list[0].Name, list[1].Name}, "ordered by name")
	require.Empty(t, normalizeEndpoint(list[0]).EventTypes)
	none, err := s.ListEndpoints(ctx, set, "carol")
	require.NoError(t, err)
	require.Empty(t, none)
	static, err := s.ListEndpoints(ctx, set, "")
	require.NoError(t, err)
	require.Empty(t, static, "user endpoints are not static endpoint states")

	require.NoError(t, s.DeleteEndpoint(ctx, b.EndpointRef))
	_, err = s.GetEndpoint(ctx, b.EndpointRef)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteEndpoint(ctx, b.EndpointRef), store.ErrNotFound)
	list, err = s.ListEndpoints(ctx, set, "alice")
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func testEndpointLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	for _, name := range []string{"one", "two"} {
		_, _, err := s.PutEndpoint(ctx, newUserEndpoint(set, "alice", name), 2)
		require.NoError(t, err)
	}
	_, _, err := s.PutEndpoint(ctx, newUserEndpoint(set, "alice", "three"), 2)
	require.ErrorIs(t, err, store.ErrLimit)
	_, err = s.GetEndpoint(ctx, store.EndpointRef{Set: set, UserID: "alice", Name: "three"})
	require.ErrorIs(t, err, store.ErrNotFound, "nothing stored past the limit")
	_, created, err := s.PutEndpoint(ctx, newUserEndpoint(set, "alice", "two"), 2)
	require.NoError(t, err, "replacing is not creating")
	require.False(t, created)
	_, _, err = s.PutEndpoint(ctx, newUserEndpoint(set, "bob", "three"), 2)
	require.NoError(t, err, "the limit is per user")
}

func testEndpointUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	ref := store.EndpointRef{Set: set, Name: "crm"}
	_, err := s.GetEndpoint(ctx, ref)
	require.ErrorIs(t, err, store.ErrNotFound, "a static endpoint has no state until one is written")

	at := now()
	ep := store.Endpoint{EndpointRef: ref, Status: store.EndpointDisabled, DisabledReason: "3 failed deliveries",
		DisabledAt: at, UpdatedAt: at, Health: store.Health{LastSuccessAt: at.Add(-time.Hour),
			LastFailureAt: at, ConsecutiveFailed: 3, FailingSince: at.Add(-time.Minute)}}
	v1, err := s.UpdateEndpoint(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, int64(1), v1.Version)
	got, err := s.GetEndpoint(ctx, ref)
	require.NoError(t, err)
	want := ep
	want.Version, want.CreatedAt = 1, at
	require.Equal(t, normalizeEndpoint(want), normalizeEndpoint(got))
	require.Equal(t, normalizeEndpoint(v1), normalizeEndpoint(got))

	_, err = s.UpdateEndpoint(ctx, ep)
	require.ErrorIs(t, err, store.ErrConflict, "version 0 again: the state exists")
	stale := got
	got.Status = store.EndpointEnabled
	got.DisabledReason, got.DisabledAt, got.Health = "", time.Time{}, store.Health{LastSuccessAt: at}
	v2, err := s.UpdateEndpoint(ctx, got)
	require.NoError(t, err)
	require.Equal(t, int64(2), v2.Version)
	_, err = s.UpdateEndpoint(ctx, stale)
	require.ErrorIs(t, err, store.ErrConflict, "a stale version loses")
	static, err := s.ListEndpoints(ctx, set, "")
	require.NoError(t, err)
	require.Len(t, static, 1)
	require.Equal(t, store.EndpointEnabled, static[0].Status)
	require.Equal(t, 0, static[0].Health.ConsecutiveFailed)

	_, err = s.UpdateEndpoint(ctx, store.Endpoint{EndpointRef: store.EndpointRef{Set: set, UserID: "u", Name: "gone"},
		Status: store.EndpointPaused, Version: 3})
	require.Error(t, err, "a user endpoint that is gone")
}

func pausedEndpoint(t *testing.T, s store.Store, set string) store.Endpoint {
	t.Helper()
	ep, _, err := s.PutEndpoint(context.Background(), newUserEndpoint(set, "alice", "hooks"), 10)
	require.NoError(t, err)
	ep.Status = store.EndpointPaused
	ep, err = s.UpdateEndpoint(context.Background(), ep)
	require.NoError(t, err)
	return ep
}

func newHold(ep store.Endpoint, ev store.Event, number int) store.Hold {
	return store.Hold{Endpoint: ep.EndpointRef, EventID: ev.ID, Number: number,
		Job: []byte(`{"eventId":"` + ev.ID + `"}`), HeldAt: now(), EventExpiresAt: ev.ExpiresAt}
}

func testHoldOnlyWhileNotEnabled(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	ev := newEvent(set)
	mustCreate(t, s, ev)
	enabled, _, err := s.PutEndpoint(ctx, newUserEndpoint(set, "alice", "open"), 10)
	require.NoError(t, err)
	require.ErrorIs(t, s.HoldDelivery(ctx, newHold(enabled, ev, 1), enabled.Version), store.ErrConflict)
	require.ErrorIs(t, s.HoldDelivery(ctx, newHold(store.Endpoint{EndpointRef: store.EndpointRef{Set: set, Name: "x"}}, ev, 1), 0),
		store.ErrConflict, "an endpoint with no state is enabled")

	ep := pausedEndpoint(t, s, set)
	require.ErrorIs(t, s.HoldDelivery(ctx, newHold(ep, ev, 1), ep.Version-1), store.ErrConflict, "stale version")
	require.NoError(t, s.HoldDelivery(ctx, newHold(ep, ev, 1), ep.Version))
	require.NoError(t, s.HoldDelivery(ctx, newHold(ep, ev, 1), ep.Version), "holding twice is not an error")
	held, err := s.ListHolds(ctx, ep.EndpointRef, 10)
	require.NoError(t, err)
	require.Len(t, held, 1)

	// Resumed: the version moved, holding fails so that the caller delivers instead.
	ep.Status = store.EndpointEnabled
	resumed, err := s.UpdateEndpoint(ctx, ep)
	require.NoError(t, err)
	other := newEvent(set)
	mustCreate(t, s, other)
	require.ErrorIs(t, s.HoldDelivery(ctx, newHold(ep, other, 1), ep.Version), store.ErrConflict)
	require.ErrorIs(t, s.HoldDelivery(ctx, newHold(ep, other, 1), resumed.Version), store.ErrConflict)
	held, err = s.ListHolds(ctx, ep.EndpointRef, 10)
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Empty(t, mustGet(t, s, set, other.ID).Holds)
}

func testHoldListReleaseMarks(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	ep := pausedEndpoint(t, s, set)
	var events []store.Event
	for range 5 {
		ev := newEvent(set)
		mustCreate(t, s, ev)
		events = append(events, ev)
	}
	// Held out of order; listed oldest event first.
	var want []store.Hold
	for _, i := range []int{3, 0, 4, 1, 2} {
		h := newHold(ep, events[i], 1+i%2)
		require.NoError(t, s.HoldDelivery(ctx, h, ep.Version))
	}
	for i, ev := range events {
		want = append(want, newHold(ep, ev, 1+i%2))
	}
	var got []store.Hold
	for _, limit := range []int{2, 100} {
		page, err := s.ListHolds(ctx, ep.EndpointRef, limit)
		require.NoError(t, err)
		require.Len(t, page, min(limit, 5))
		got = page
	}
	for i := range got {
		require.Equal(t, want[i].EventID, got[i].EventID, "hold %d", i)
		require.Equal(t, want[i].Number, got[i].Number)
		require.Equal(t, want[i].Job, got[i].Job)
		require.Equal(t, want[i].Endpoint, got[i].Endpoint)
		require.Equal(t, events[i].ExpiresAt, got[i].EventExpiresAt.UTC())
	}
	other, err := s.ListHolds(ctx, store.EndpointRef{Set: set, UserID: "alice", Name: "other"}, 10)
	require.NoError(t, err)
	require.Empty(t, other)

	rec := mustGet(t, s, set, events[3].ID)
	require.Len(t, rec.Holds, 1)
	require.Equal(t, "hooks", rec.Holds[0].Endpoint)
	require.Equal(t, 2, rec.Holds[0].Number)

	require.NoError(t, s.DeleteHolds(ctx, got[:3]))
	require.NoError(t, s.DeleteHolds(ctx, got[:1]), "releasing twice is not an error")
	left, err := s.ListHolds(ctx, ep.EndpointRef, 10)
	require.NoError(t, err)
	require.Equal(t, []string{events[3].ID, events[4].ID}, []string{left[0].EventID, left[1].EventID})
	released := mustGet(t, s, set, events[0].ID).Holds
	require.Len(t, released, 1, "the mark stays in the event once released")
	require.True(t, released[0].Released)
	require.False(t, mustGet(t, s, set, events[3].ID).Holds[0].Released)
	listed := listAllWith(t, s, set, store.ListOptions{Limit: 10})
	require.Len(t, listed, 5)
	for _, r := range listed {
		require.Len(t, r.Holds, 1, "listed records carry their hold marks")
	}

	// Held again after its release (paused again before the released attempt ran).
	require.NoError(t, s.HoldDelivery(ctx, got[0], ep.Version))
	left, err = s.ListHolds(ctx, ep.EndpointRef, 10)
	require.NoError(t, err)
	require.Len(t, left, 3)
	require.Equal(t, events[0].ID, left[0].EventID)
	require.False(t, mustGet(t, s, set, events[0].ID).Holds[0].Released, "held again")
}
