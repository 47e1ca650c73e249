// Package storetest is the conformance suite of the event-log port (package store). Every adapter runs it:
//
//	func TestStore(t *testing.T) { storetest.Run(t, func(t *testing.T) store.Store { return newAdapter(t) }) }
//
// The suite uses fresh set names and ids in every subtest, so newStore may hand out one shared store (a
// DynamoDB table, say) as well as a fresh one per call. Times are built truncated to the millisecond in UTC,
// the precision every adapter keeps.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/store"
)

// Run runs the whole suite against the stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateEvent_RoundTrip", testCreateEventRoundTrip},
		{"CreateEvent_LargePayload", testCreateEventLargePayload},
		{"CreateEvent_WithoutIdempotencyKey", testCreateEventWithoutKey},
		{"ReserveKey_Duplicate", testReserveKeyDuplicate},
		{"ReserveKey_Race", testReserveKeyRace},
		{"ReserveKey_Expired", testReserveKeyExpired},
		{"CreateEvent_Reserved", testCreateEventReserved},
		{"CreateEvent_ReservedRace", testCreateEventReservedRace},
		{"GetEvent_NotFound", testGetEventNotFound},
		{"PutAttempt_RoundTrip", testPutAttemptRoundTrip},
		{"PutAttempt_Conflict", testPutAttemptConflict},
		{"PutAttempt_ConflictRace", testPutAttemptConflictRace},
		{"PutAttempt_Order", testPutAttemptOrder},
		{"PutAttempt_ReplacesItsPlaceholder", testPutAttemptReplacesItsPlaceholder},
		{"ListEvents_Pagination", testListEventsPagination},
		{"ListEvents_Empty", testListEventsEmpty},
		{"ListEvents_MaxBytes", testListEventsMaxBytes},
		{"ListEvents_IncludesAttempts", testListEventsIncludesAttempts},
		{"ListEvents_InvalidCursor", testListEventsInvalidCursor},
		{"ListEvents_ByUser", testListEventsByUser},
		{"ListEvents_Window", testListEventsWindow},
		{"ListEvents_Match", testListEventsMatch},
		{"ListEvents_SkipsAttemptsWithoutTheirEvent", testListEventsSkipsAttemptsWithoutTheirEvent},
		{"CreateEvent_NoDeliveries", testCreateEventNoDeliveries},
		{"Endpoint_PutGetListDelete", testEndpointPutGetListDelete},
		{"Endpoint_Limit", testEndpointLimit},
		{"Endpoint_Update", testEndpointUpdate},
		{"Hold_OnlyWhileNotEnabled", testHoldOnlyWhileNotEnabled},
		{"Hold_ListReleaseMarks", testHoldListReleaseMarks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// idCounter makes ids unique across subtests and, with its random start, across runs sharing one backend.
var idCounter atomic.Int64

func init() {
	n, err := rand.Int(rand.Reader, big.NewInt(1e12))
	if err != nil {
		panic(fmt.Sprintf("storetest: seed id counter: %v", err))
	}
	idCounter.Store(n.Int64())
}

// newID makes a time-sortable id shaped like the domain's (prefix + 26 characters of [0-9A-Z]): 13 digits of
// Unix milliseconds, then 13 digits of a process-wide counter. Ids made one after the other sort in order.
func newID(prefix string) string {
	return fmt.Sprintf("%s%013d%013d", prefix, time.Now().UnixMilli(), idCounter.Add(1)%1e13)
}

// newSet returns a set name no other subtest or run uses.
func newSet(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "set-" + hex.EncodeToString(b)
}

// now is the current time as adapters keep it: UTC, whole milliseconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// newEvent builds an event of set with every field filled and two deliveries, listed in an order that is
// not alphabetical so that the suite can tell delivery order from name order.
func newEvent(set string) store.Event {
	created := now()
	id := newID("whevt_")
	return store.Event{
		ID:      id,
		Set:     set,
		Type:    "invoice.paid",
		Payload: json.RawMessage(`{"invoiceId":"inv_1","amount":1250,"note":"caf\u00e9 \u2603 \"quoted\" \\ 😀"}`),
		UserID:  "user_" + id[len(id)-6:],
		Deliveries: []store.Delivery{
			{Endpoint: "warehouse", URL: "https://warehouse.example.com/events", FirstAttemptID: newID("whatt_")},
			{Endpoint: "crm", URL: "https://crm.example.com/hooks?x=1&y=2", FirstAttemptID: newID("whatt_")},
		},
		CreatedAt: created,
		ExpiresAt: created.Add(30 * 24 * time.Hour),
	}
}

// newAttempt builds attempt number n of ev's delivery to endpoint with every field filled; like the
// domain, it gives the attempt its event's set and expiry.
func newAttempt(ev store.Event, endpoint string, n int) store.Attempt {
	started := now()
	return store.Attempt{
		Set:      ev.Set,
		EventID:  ev.ID,
		Endpoint: endpoint,
		ID:       newID("whatt_"),
		Number:   n,

		StartedAt: started,
		Duration:  1234 * time.Millisecond,
		RequestHeaders: map[string]string{
			"content-type":      "application/json",
			"webhook-id":        ev.ID,
			"webhook-timestamp": "1767225600",
			"webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,Dx3l8tXyGbsmwczc4KhhrWWqwGfFC0mfZWBNFxP6R9A=",
		},
		ResponseStatus: 503,
		ResponseBody:   "upstream unavailable\n<html>é</html>",
		Error:          "",

		Outcome:       store.OutcomeRetrying,
		NextAttemptAt: started.Add(30 * time.Second),
		NextAttemptID: newID("whatt_"),

		ExpiresAt: ev.ExpiresAt,
	}
}

// normalize puts the times of r in UTC so that records compare with require.Equal whatever location the
// adapter returns them in.
func normalize(r store.Record) store.Record {
	r.Event = normalizeEvent(r.Event)
	for i := range r.Attempts {
		a := &r.Attempts[i]
		a.StartedAt = a.StartedAt.UTC()
		a.NextAttemptAt = a.NextAttemptAt.UTC()
		a.ExpiresAt = a.ExpiresAt.UTC()
	}
	return r
}

func normalizeEvent(ev store.Event) store.Event {
	ev.CreatedAt = ev.CreatedAt.UTC()
	ev.ExpiresAt = ev.ExpiresAt.UTC()
	return ev
}

func mustCreate(t *testing.T, s store.Store, ev store.Event) {
	t.Helper()
	got, err := s.CreateEvent(context.Background(), ev)
	require.NoError(t, err, "create event %s", ev.ID)
	require.Equal(t, ev, normalizeEvent(got), "CreateEvent returns the stored event")
}

func mustGet(t *testing.T, s store.Store, set, id string) store.Record {
	t.Helper()
	rec, err := s.GetEvent(context.Background(), set, id)
	require.NoError(t, err, "get event %s", id)
	return normalize(rec)
}

func testCreateEventRoundTrip(t *testing.T, s store.Store) {
	ev := newEvent(newSet(t))
	ev.IdempotencyKey = "key-" + ev.ID
	ev.RequestHash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	mustReserve(t, s, ev)
	mustCreate(t, s, ev)

	rec := mustGet(t, s, ev.Set, ev.ID)
	require.Equal(t, ev, rec.Event)
	require.Empty(t, rec.Attempts)
}

func testCreateEventLargePayload(t *testing.T, s store.Store) {
	ev := newEvent(newSet(t))
	filler := bytes.Repeat([]byte("0123456789abcdef"), 256*1024/16)
	payload := append(append([]byte(`{"blob":"`), filler[:256*1024-11]...), `"}`...)
	require.Len(t, payload, 256*1024)
	ev.Payload = payload
	mustCreate(t, s, ev)

	rec := mustGet(t, s, ev.Set, ev.ID)
	require.True(t, bytes.Equal(payload, rec.Event.Payload), "payload of %d bytes round-trips", len(payload))
}

func testCreateEventWithoutKey(t *testing.T, s store.Store) {
	set := newSet(t)
	first, second := newEvent(set), newEvent(set)
	mustCreate(t, s, first)
	mustCreate(t, s, second)
	require.Equal(t, second, mustGet(t, s, set, second.ID).Event)
}

// keyed is a new event of set with idempotency key and request hash hash.
func keyed(set, key, hash string) store.Event {
	ev := newEvent(set)
	ev.IdempotencyKey, ev.RequestHash = key, hash
	return ev
}

// reservationOf is the reservation ReserveKey makes for ev.
func reservationOf(ev store.Event) store.Reservation {
	return store.Reservation{EventID: ev.ID, RequestHash: ev.RequestHash, CreatedAt: ev.CreatedAt}
}

func mustReserve(t *testing.T, s store.Store, ev store.Event) {
	t.Helper()
	r, err := s.ReserveKey(context.Background(), ev)
	require.NoError(t, err, "reserve the key of event %s", ev.ID)
	r.CreatedAt = r.CreatedAt.UTC()
	require.Equal(t, reservationOf(ev), r)
}

func testReserveKeyDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	first := keyed(set, "order-42", "hash-a")
	mustReserve(t, s, first)

	second := keyed(set, first.IdempotencyKey, "hash-b")
	r, err := s.ReserveKey(ctx, second)
	require.ErrorIs(t, err, store.ErrDuplicate)
	r.CreatedAt = r.CreatedAt.UTC()
	require.Equal(t, reservationOf(first), r, "the first reservation is returned, before its event is written")

	mustCreate(t, s, first)
	r, err = s.ReserveKey(ctx, second)
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, first.ID, r.EventID, "and after")
	_, err = s.GetEvent(ctx, set, second.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "the duplicate is not stored")

	other := keyed(newSet(t), first.IdempotencyKey, "hash-a")
	mustReserve(t, s, other) // the same key in another set is independent
}

func testReserveKeyRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	const racers = 10
	events := make([]store.Event, racers)
	for i := range events {
		events[i] = keyed(set, "race", "hash")
	}
	results := make([]store.Reservation, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range events {
		wg.Go(func() { results[i], errs[i] = s.ReserveKey(ctx, events[i]) })
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "only one ReserveKey wins")
			winner = i
			continue
		}
		require.ErrorIs(t, err, store.ErrDuplicate, "racer %d", i)
	}
	require.NotEqual(t, -1, winner, "one ReserveKey wins")
	for i := range results {
		results[i].CreatedAt = results[i].CreatedAt.UTC()
		require.Equal(t, reservationOf(events[winner]), results[i], "racer %d sees the winner", i)
	}
}

// testReserveKeyExpired: a reservation past its ExpiresAt frees the key, also before the backend removes it.
func testReserveKeyExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	old := keyed(set, "reused", "hash-a")
	old.CreatedAt = now().Add(-2 * time.Hour)
	old.ExpiresAt = now().Add(-time.Hour)
	mustReserve(t, s, old)

	ev := keyed(set, "reused", "hash-b")
	mustReserve(t, s, ev)
	r, err := s.ReserveKey(ctx, keyed(set, "reused", "hash-c"))
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, ev.ID, r.EventID, "the new reservation holds until it expires")
}

// testCreateEventReserved: the event of a reserved key is written under the reserved id; a second write of
// it (a replay that found the key reserved and no event, racing the first call) answers the stored event.
func testCreateEventReserved(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	ev := keyed(set, "order-43", "hash")
	mustReserve(t, s, ev)
	_, err := s.GetEvent(ctx, set, ev.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "a reservation is not an event")
	mustCreate(t, s, ev)

	again := ev
	again.CreatedAt = ev.CreatedAt.Add(time.Second) // planned by another call
	got, err := s.CreateEvent(ctx, again)
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, ev, normalizeEvent(got), "the stored event is returned")
	require.Equal(t, ev, mustGet(t, s, set, ev.ID).Event)

	other := newEvent(set)
	other.ID = ev.ID
	_, err = s.CreateEvent(ctx, other)
	require.ErrorIs(t, err, store.ErrConflict, "an id taken by another event")
}

func testCreateEventReservedRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	ev := keyed(set, "race", "hash")
	mustReserve(t, s, ev)
	const racers = 6
	errs := make([]error, racers)
	results := make([]store.Event, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			mine := ev
			mine.CreatedAt = ev.CreatedAt.Add(time.Duration(i) * time.Millisecond)
			results[i], errs[i] = s.CreateEvent(ctx, mine)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "only one CreateEvent wins")
			winner = i
			continue
		}
		require.ErrorIs(t, err, store.ErrDuplicate, "racer %d", i)
	}
	require.NotEqual(t, -1, winner, "one CreateEvent wins")
	stored := mustGet(t, s, set, ev.ID).Event
	for i := range results {
		require.Equal(t, stored, normalizeEvent(results[i]), "racer %d sees the stored event", i)
	}
}

func testGetEventNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	ev := newEvent(newSet(t))
	mustCreate(t, s, ev)

	_, err := s.GetEvent(ctx, ev.Set, newID("whevt_"))
	require.ErrorIs(t, err, store.ErrNotFound, "unknown id")
	_, err = s.GetEvent(ctx, newSet(t), ev.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "id of another set")
}

func testPutAttemptRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	ev := newEvent(newSet(t))
	mustCreate(t, s, ev)

	retrying := newAttempt(ev, "crm", 1)
	require.NoError(t, s.PutAttempt(ctx, retrying))
	rec := mustGet(t, s, ev.Set, ev.ID)
	require.Equal(t, []store.Attempt{retrying}, rec.Attempts, "an attempt is read right after it is put")

	failed := newAttempt(ev, "crm", 2)
	failed.ResponseStatus = 0
	failed.ResponseBody = ""
	failed.Error = "dial tcp 203.0.113.9:443: i/o timeout"
	failed.Outcome = store.OutcomeFailed
	failed.NextAttemptAt = time.Time{}
	failed.NextAttemptID = ""
	require.NoError(t, s.PutAttempt(ctx, failed))

	rec = mustGet(t, s, ev.Set, ev.ID)
	require.Equal(t, ev, rec.Event)
	require.Equal(t, []store.Attempt{retrying, failed}, rec.Attempts)
	require.True(t, rec.Attempts[1].NextAttemptAt.IsZero(), "an unset NextAttemptAt stays zero")
	for _, a := range rec.Attempts {
		require.Equal(t, ev.Set, a.Set, "an attempt carries its set")
		require.Equal(t, ev.ExpiresAt, a.ExpiresAt, "an attempt carries its expiry")
	}
}

func testPutAttemptConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	ev := newEvent(newSet(t))
	mustCreate(t, s, ev)

	first := newAttempt(ev, "crm", 1)
	require.NoError(t, s.PutAttempt(ctx, first))
	again := newAttempt(ev, "crm", 1)
	again.Outcome = store.OutcomeSucceeded
	require.ErrorIs(t, s.PutAttempt(ctx, again), store.ErrConflict)

	// The same number on another endpoint is another attempt.
	require.NoError(t, s.PutAttempt(ctx, newAttempt(ev, "warehouse", 1)))

	rec := mustGet(t, s, ev.Set, ev.ID)
	require.Len(t, rec.Attempts, 2)
	require.Equal(t, first, rec.Attempts[1], "the first write stays")
}

func testPutAttemptConflictRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	ev := newEvent(newSet(t))
	mustCreate(t, s, ev)

	const racers = 20
	attempts := make([]store.Attempt, racers)
	for i := range attempts {
		attempts[i] = newAttempt(ev, "warehouse", 3)
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() { errs[i] = s.PutAttempt(ctx, attempts[i]) })
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "only one PutAttempt wins")
			winner = i
			continue
		}
		require.ErrorIs(t, err, store.ErrConflict, "racer %d", i)
	}
	require.NotEqual(t, -1, winner, "one PutAttempt wins")
	require.Equal(t, []store.Attempt{attempts[winner]}, mustGet(t, s, ev.Set, ev.ID).Attempts)
}

func testPutAttemptReplacesItsPlaceholder(t *testing.T, s store.Store) {
	ctx := context.Background()
	ev := newEvent(newSet(t))
	mustCreate(t, s, ev)

	placeholder := newAttempt(ev, "crm", 1)
	placeholder.Outcome = store.OutcomeScheduled
	placeholder.RequestHeaders, placeholder.ResponseStatus, placeholder.ResponseBody = nil, 0, ""
	placeholder.Duration, placeholder.NextAttemptID = 0, ""
	require.NoError(t, s.PutAttempt(ctx, placeholder))
	require.NoError(t, s.PutAttempt(ctx, placeholder), "the same placeholder again")
	require.Equal(t, []store.Attempt{placeholder}, mustGet(t, s, ev.Set, ev.ID).Attempts)

	other := placeholder
	other.ID = newID("whatt_")
	require.ErrorIs(t, s.PutAttempt(ctx, other), store.ErrConflict, "a placeholder of another id")
	otherAttempt := newAttempt(ev, "crm", 1)
	require.ErrorIs(t, s.PutAttempt(ctx, otherAttempt), store.ErrConflict, "an attempt of another id")

	made := newAttempt(ev, "crm", 1)
	made.ID = placeholder.ID
	require.NoError(t, s.PutAttempt(ctx, made), "the attempt replaces its placeholder")
	require.Equal(t, []store.Attempt{made}, mustGet(t, s, ev.Set, ev.ID).Attempts)
	require.ErrorIs(t, s.PutAttempt(ctx, made), store.ErrConflict, "an attempt made is never replaced")
	require.ErrorIs(t, s.PutAttempt(ctx, placeholder), store.ErrConflict, "nor by its placeholder")
	require.Equal(t, []store.Attempt{made}, mustGet(t, s, ev.Set, ev.ID).Attempts)
}

func testPutAttemptOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	ev := newEvent(newSet(t))
	mustCreate(t, s, ev)

	// Put out of order; numbers 2 and 10 tell numeric from lexical order, and "crm" < "warehouse" tells
	// name order from delivery order (warehouse is the first delivery).
	var want []store.Attempt
	for _, endpoint := range []string{"warehouse", "crm"} {
		for _, n := range []int{1, 2, 10} {
			want = append(want, newAttempt(ev, endpoint, n))
		}
	}
	for _, i := range []int{5, 2, 3, 0, 4, 1} {
		require.NoError(t, s.PutAttempt(ctx, want[i]))
	}
	require.Equal(t, want, mustGet(t, s, ev.Set, ev.ID).Attempts)
}

// listAll walks every page of set with the given limit and checks the page shapes on the way.
func listAll(t *testing.T, s store.Store, set string, limit int) []store.Record {
	t.Helper()
	return listAllWith(t, s, set, store.ListOptions{Limit: limit})
}

// listAllWith is listAll with filters.
func listAllWith(t *testing.T, s store.Store, set string, opts store.ListOptions) []store.Record {
	t.Helper()
	limit := opts.Limit
	var all []store.Record
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "pagination ends")
		opts.Cursor = cursor
		page, err := s.ListEvents(context.Background(), set, opts)
		require.NoError(t, err, "list page %d with limit %d", pages, limit)
		require.LessOrEqual(t, len(page.Records), limit, "a page holds at most limit records")
		if pages > 0 {
			require.NotEmpty(t, page.Records, "a cursor never leads to an empty page")
		}
		for _, r := range page.Records {
			all = append(all, normalize(r))
		}
		if page.NextCursor == "" {
			return all
		}
		require.Len(t, page.Records, limit, "only the last page may be short")
		cursor = page.NextCursor
	}
}

func testListEventsPagination(t *testing.T, s store.Store) {
	set := newSet(t)
	var created []store.Event
	for range 7 {
		ev := newEvent(set)
		mustCreate(t, s, ev)
		created = append(created, ev)
	}
	// Another set's events, created in between, must never show up.
	mustCreate(t, s, newEvent(newSet(t)))

	want := make([]store.Event, len(created))
	for i, ev := range created {
		want[len(created)-1-i] = ev // newest first
	}
	require.True(t, sort.SliceIsSorted(want, func(i, j int) bool { return want[i].ID > want[j].ID }))

	for _, limit := range []int{1, 2, 3, 7, 100} {
		records := listAll(t, s, set, limit)
		got := make([]store.Event, len(records))
		for i, r := range records {
			got[i] = r.Event
		}
		require.Equal(t, want, got, "limit %d lists every event once, newest first", limit)
	}
}

// testListEventsMaxBytes: a page ends before the record that would take it past MaxBytes, and its cursor
// continues from there; every event is listed once.
func testListEventsMaxBytes(t *testing.T, s store.Store) {
	set := newSet(t)
	var want []string
	for range 7 {
		ev := newEvent(set)
		mustCreate(t, s, ev)
		want = append([]string{ev.ID}, want...)
	}
	size := func(store.Record) int { return 10 }
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "pagination ends")
		page, err := s.ListEvents(context.Background(), set, store.ListOptions{Limit: 100, Cursor: cursor, Size: size, MaxBytes: 25})
		require.NoError(t, err)
		require.NotEmpty(t, page.Records)
		require.LessOrEqual(t, len(page.Records), 2, "two records of 10 bytes fit in 25, not three")
		for _, r := range page.Records {
			got = append(got, r.Event.ID)
		}
		if page.NextCursor == "" {
			break
		}
		require.Len(t, page.Records, 2, "only the last page is short")
		cursor = page.NextCursor
	}
	require.Equal(t, want, got)

	// A record larger than the bound still makes a page of its own.
	page, err := s.ListEvents(context.Background(), set, store.ListOptions{Limit: 100, Size: func(store.Record) int { return 100 }, MaxBytes: 25})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	require.NotEmpty(t, page.NextCursor)
}

func testListEventsEmpty(t *testing.T, s store.Store) {
	page, err := s.ListEvents(context.Background(), newSet(t), store.ListOptions{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, page.Records)
	require.Empty(t, page.NextCursor)
}

func testListEventsIncludesAttempts(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	older, newer := newEvent(set), newEvent(set)
	mustCreate(t, s, older)
	mustCreate(t, s, newer)
	a1 := newAttempt(older, "warehouse", 1)
	a2 := newAttempt(older, "crm", 1)
	a3 := newAttempt(newer, "crm", 1)
	for _, a := range []store.Attempt{a2, a3, a1} {
		require.NoError(t, s.PutAttempt(ctx, a))
	}

	records := listAll(t, s, set, 10)
	require.Equal(t, []store.Record{
		{Event: newer, Attempts: []store.Attempt{a3}},
		{Event: older, Attempts: []store.Attempt{a1, a2}},
	}, records)
}

func testListEventsInvalidCursor(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	for range 2 {
		mustCreate(t, s, newEvent(set))
	}
	page, err := s.ListEvents(ctx, set, store.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.NextCursor)

	for _, cursor := range []string{
		"%%% not a cursor %%%",
		"aGVsbG8gd29ybGQ",      // base64 of "hello world"
		page.NextCursor + "!!", // a real cursor, tampered with
	} {
		_, err := s.ListEvents(ctx, set, store.ListOptions{Limit: 1, Cursor: cursor})
		require.ErrorIs(t, err, store.ErrInvalidCursor, "cursor %q", cursor)
	}
}

// testListEventsSkipsAttemptsWithoutTheirEvent: attempts recorded for an event that was never written (a keyed
// send queues its messages before writing its event, and may die in between) are never listed, nor taken for
// another event's; GetEvent does not find their event.
func testListEventsSkipsAttemptsWithoutTheirEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	set := newSet(t)
	var want []store.Record
	var orphans []store.Event
	for i := range 12 {
		ev := newEvent(set)
		if i%2 == 1 {
			orphans = append(orphans, ev)
		} else {
			mustCreate(t, s, ev)
		}
		a := newAttempt(ev, "crm", 1)
		require.NoError(t, s.PutAttempt(ctx, a))
		if i%2 == 0 {
			want = append([]store.Record{{Event: ev, Attempts: []store.Attempt{a}}}, want...)
		}
	}
	for _, limit := range []int{1, 2, 5, 100} {
		require.Equal(t, want, listAll(t, s, set, limit), "limit %d", limit)
	}
	for _, ev := range orphans {
		_, err := s.GetEvent(ctx, set, ev.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	require.Equal(t, want[0], mustGet(t, s, set, want[0].Event.ID))
}
