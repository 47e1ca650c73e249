package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/store"
)

// dyingStore is the real SQLite store whose next failCreate CreateEvents fail: a keyed send then dies after
// queueing its messages, before writing its event (it answers 5xx, as a crashed function answers nothing).
type dyingStore struct {
	store.Store
	failCreate atomic.Int32
}

func (s *dyingStore) CreateEvent(ctx context.Context, ev store.Event) (store.Event, error) {
	if s.failCreate.Load() > 0 {
		s.failCreate.Add(-1)
		return store.Event{}, errors.New("injected crash before the event write")
	}
	return s.Store.CreateEvent(ctx, ev)
}

// keyedBundle is a set s of two endpoints that answer 200, and a service whose store can die.
func keyedBundle(t *testing.T) (*bundle, *receiver, *dyingStore) {
	t.Helper()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r), endpoint("b", r)}})
	st := &dyingStore{Store: b.db.Store()}
	b.svc = b.serviceWith(t, st, nil)
	return b, r, st
}

// dyingEventQueue is the SQLite file's EventQueue whose next fail writes fail: a keyed send of the local server
// then dies after reserving its key, before its event and messages are written (together).
type dyingEventQueue struct {
	EventQueue
	fail atomic.Int32
}

func (q *dyingEventQueue) CreateEventQueued(ctx context.Context, ev store.Event, msgs []queue.Message) (store.Event, error) {
	if q.fail.Load() > 0 {
		q.fail.Add(-1)
		return store.Event{}, errors.New("injected crash before the event and its messages are written")
	}
	return q.EventQueue.CreateEventQueued(ctx, ev, msgs)
}

// TestService_KeyedSendCrashPointsWithEventQueue: the local server writes a send's event and its messages in
// one SQLite write (Options.EventQueue), after the key's reservation. Dying between the two, the replay
// writes both; 10 replays of an answered send make one POST per delivery.
func TestService_KeyedSendCrashPointsWithEventQueue(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r), endpoint("b", r)}})
	eq := &dyingEventQueue{EventQueue: b.db}
	b.svc = b.serviceWith(t, b.db.Store(), eq)
	ctx := context.Background()
	req := SendRequest{Type: "t", Payload: json.RawMessage(`{"order":8}`), IdempotencyKey: "order-8"}

	eq.fail.Store(1)
	_, err := b.svc.Send(ctx, "s", req)
	require.Error(t, err, "no 2xx")
	require.Zero(t, b.pump(t), "nothing was queued")

	res := send(t, b, "s", req)
	require.True(t, res.Replayed, "the key was reserved by the first call")
	for range 10 {
		again := send(t, b, "s", req)
		require.True(t, again.Replayed)
		require.Equal(t, res, again)
	}
	require.Equal(t, 2, b.pump(t))
	require.Equal(t, map[string]int{"/a": 1, "/b": 1}, postsTo(r))
	requireDeliveredAsAnswered(t, b, res)
	b.queue.mu.Lock()
	require.Empty(t, b.queue.delays, "the messages were written with the event, not through Queue")
	b.queue.mu.Unlock()
}

// postsTo counts the receiver's requests per endpoint path.
func postsTo(r *receiver) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[string]int{}
	for _, req := range r.reqs {
		n[req.URL.Path]++
	}
	return n
}

// requireDeliveredAsAnswered checks that the one event of set s is res's, delivered, with one attempt per
// delivery recorded under the attempt id that res answered.
func requireDeliveredAsAnswered(t *testing.T, b *bundle, res SendResult) {
	t.Helper()
	list, err := b.svc.ListEvents(context.Background(), "s", ListQuery{})
	require.NoError(t, err)
	require.Len(t, list.Events, 1, "one event")
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	require.Len(t, ev.Deliveries, len(res.Deliveries))
	for i, d := range ev.Deliveries {
		require.Len(t, d.Attempts, 1, "delivery to %s", d.Endpoint)
		require.Equal(t, res.Deliveries[i].AttemptID, d.Attempts[0].ID, "the attempt is recorded under the id answered")
	}
}

// TestService_KeyedSendCrashPoints dies at each point of a keyed send's order (reserve the key, queue the
// deliveries, write the event, answer) and checks that the replay, or no replay, leaves every delivery of an
// answered send attempted, and that 10 replays of an answered send make one POST per delivery.
func TestService_KeyedSendCrashPoints(t *testing.T) {
	t.Parallel()
	req := SendRequest{Type: "t", Payload: json.RawMessage(`{"order":7}`), IdempotencyKey: "order-7"}
	ctx := context.Background()
	replays := func(t *testing.T, b *bundle, first SendResult) {
		t.Helper()
		for range 10 {
			again := send(t, b, "s", req)
			require.True(t, again.Replayed)
			require.Equal(t, first.EventID, again.EventID)
			require.Equal(t, first.Deliveries, again.Deliveries)
		}
	}

	t.Run("after the reservation", func(t *testing.T) {
		t.Parallel()
		b, r, _ := keyedBundle(t)
		b.queue.fail.Store(1)
		_, err := b.svc.Send(ctx, "s", req)
		require.Error(t, err, "no 2xx")
		require.Zero(t, b.pump(t), "nothing was queued")

		res := send(t, b, "s", req) // the client's retry
		require.True(t, res.Replayed, "the key was reserved by the first call")
		replays(t, b, res)
		b.pump(t)
		require.Equal(t, map[string]int{"/a": 1, "/b": 1}, postsTo(r))
		requireDeliveredAsAnswered(t, b, res)
	})

	t.Run("after queueing, no replay", func(t *testing.T) {
		t.Parallel()
		b, r, st := keyedBundle(t)
		st.failCreate.Store(1)
		_, err := b.svc.Send(ctx, "s", req)
		require.Error(t, err, "no 2xx")
		b.pump(t)
		require.Equal(t, map[string]int{"/a": 1, "/b": 1}, postsTo(r), "the queued deliveries are made (at least once)")
		list, err := b.svc.ListEvents(ctx, "s", ListQuery{})
		require.NoError(t, err)
		require.Empty(t, list.Events, "no event, and its attempts are not listed")
	})

	t.Run("after queueing, replayed after the deliveries", func(t *testing.T) {
		t.Parallel()
		b, r, st := keyedBundle(t)
		st.failCreate.Store(1)
		_, err := b.svc.Send(ctx, "s", req)
		require.Error(t, err)
		b.pump(t)

		res := send(t, b, "s", req)
		require.True(t, res.Replayed)
		replays(t, b, res)
		require.Equal(t, 2, b.pump(t), "the replay queued each delivery again")
		require.Equal(t, map[string]int{"/a": 1, "/b": 1}, postsTo(r), "the jobs queued again found the attempts made")
		requireDeliveredAsAnswered(t, b, res)
	})

	t.Run("after queueing, replayed before the deliveries", func(t *testing.T) {
		t.Parallel()
		b, r, st := keyedBundle(t)
		st.failCreate.Store(1)
		_, err := b.svc.Send(ctx, "s", req)
		require.Error(t, err)

		res := send(t, b, "s", req)
		require.True(t, res.Replayed)
		replays(t, b, res)
		require.Equal(t, 4, b.pump(t), "the first call's messages and the replay's")
		for path, n := range postsTo(r) {
			require.True(t, n == 1 || n == 2, "%s: at least once, at most once per message: %d", path, n)
		}
		requireDeliveredAsAnswered(t, b, res)
	})

	t.Run("after the event write", func(t *testing.T) {
		t.Parallel()
		b, r, _ := keyedBundle(t)
		first := send(t, b, "s", req) // whether or not its answer reached the client
		require.False(t, first.Replayed)
		replays(t, b, first)
		require.Equal(t, 2, b.pump(t), "the replays queued nothing")
		require.Equal(t, map[string]int{"/a": 1, "/b": 1}, postsTo(r))
		requireDeliveredAsAnswered(t, b, first)
	})
}

// TestService_KeyedSendRacingItsReplay: the first call is still running (its key reserved, its messages queued,
// its event not written yet) when a replay comes: the replay queues the deliveries again and writes the event;
// the first call's event write then finds it and answers it. Both answers name the same event and attempts.
func TestService_KeyedSendRacingItsReplay(t *testing.T) {
	t.Parallel()
	b, r, _ := keyedBundle(t)
	ctx := context.Background()
	set, _ := b.cfg.Set("s")
	req := SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: "k"}
	ev, regs, err := b.svc.prepare(ctx, set, req)
	require.NoError(t, err)
	first, err := b.svc.admit(ctx, ev, regs, false)
	require.NoError(t, err)
	require.NoError(t, b.svc.enqueue(ctx, first.jobs...))

	b.clock.Add(3 * time.Second) // the replay plans its own event later; it is reissued as the first call's
	replay := send(t, b, "s", req)
	require.True(t, replay.Replayed)
	got, err := b.svc.settle(ctx, first)
	require.NoError(t, err)
	require.Equal(t, replay, got)

	b.pump(t)
	for path, n := range postsTo(r) {
		require.True(t, n == 1 || n == 2, "%s: at least once: %d", path, n)
	}
	requireDeliveredAsAnswered(t, b, replay)
	stored, err := b.svc.GetEvent(ctx, "s", replay.EventID)
	require.NoError(t, err)
	require.Equal(t, start, stored.CreatedAt, "the first call's createdAt")
}

// TestService_DeliveryWaitsForItsEvent: a keyed send's message may run before its event is written. A job
// that reads its event (payload over 48 KiB) and finds none while it is young is queued again, no attempt
// spent, and delivered once the event is written; past eventWait (its send died and was never retried) it is
// dropped.
func TestService_DeliveryWaitsForItsEvent(t *testing.T) {
	t.Parallel()
	large := json.RawMessage(`"` + strings.Repeat("x", inlinePayloadMax) + `"`)
	req := SendRequest{Type: "t", Payload: large, IdempotencyKey: "big"}
	ctx := context.Background()

	t.Run("written later", func(t *testing.T) {
		t.Parallel()
		b, r, _ := keyedBundle(t)
		set, _ := b.cfg.Set("s")
		// The send has reserved its key and queued its messages; deliver runs them before it writes its event.
		ev, regs, err := b.svc.prepare(ctx, set, req)
		require.NoError(t, err)
		a, err := b.svc.admit(ctx, ev, regs, false)
		require.NoError(t, err)
		require.NoError(t, b.svc.enqueue(ctx, a.jobs...))
		msgs, err := b.queue.Receive(ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		for _, m := range msgs {
			require.NoError(t, b.svc.Process(ctx, m.Body), "the message is handled: queued again")
			require.NoError(t, b.queue.Delete(ctx, m.Receipt))
		}
		require.Zero(t, r.count(), "no POST without the event")
		require.Equal(t, eventRetry, b.queue.lastDelay())

		res, err := b.svc.settle(ctx, a)
		require.NoError(t, err)
		require.Equal(t, 2, b.pump(t))
		require.Equal(t, map[string]int{"/a": 1, "/b": 1}, postsTo(r))
		requireDeliveredAsAnswered(t, b, res)
	})

	t.Run("never written", func(t *testing.T) {
		t.Parallel()
		b, r, st := keyedBundle(t)
		st.failCreate.Store(1)
		_, err := b.svc.Send(ctx, "s", req)
		require.Error(t, err)
		n := b.pump(t)
		require.GreaterOrEqual(t, n, 2*int(eventWait/eventRetry), "each message waited eventWait")
		require.Zero(t, r.count())
		require.GreaterOrEqual(t, b.clock.Now().Sub(start), eventWait)
		require.Contains(t, b.logs.String(), "dropping delivery: the event does not exist")
	})
}

// TestService_RedeliveryBeforeItsEvent: a keyed send's message (carrying its event) records a failed attempt
// before the event is written, and deliver dies before queueing the retry. The message comes back while the
// event is still not written: its attempt write conflicts and what comes next cannot be checked without the
// event, so the job is queued again to read the store first; once the event is written it finds the attempt
// and queues the retry. Nothing is lost, and the attempt is recorded once.
func TestService_RedeliveryBeforeItsEvent(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 500)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	ctx := context.Background()
	set, _ := b.cfg.Set("s")
	ev, regs, err := b.svc.prepare(ctx, set, SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: "k"})
	require.NoError(t, err)
	a, err := b.svc.admit(ctx, ev, regs, false)
	require.NoError(t, err)
	require.NoError(t, b.svc.enqueue(ctx, a.jobs...))
	msgs, err := b.queue.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, msgs, 1)

	b.queue.fail.Store(1) // the attempt is recorded, then queueing its retry fails
	require.Error(t, b.svc.Process(ctx, msgs[0].Body))
	require.NoError(t, b.svc.Process(ctx, msgs[0].Body), "the redelivery is queued again, to wait for the event")
	require.NoError(t, b.queue.Delete(ctx, msgs[0].Receipt))
	require.Equal(t, eventRetry, b.queue.lastDelay())

	res, err := b.svc.settle(ctx, a)
	require.NoError(t, err)
	b.pump(t)
	got, err := b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, got.Status)
	require.Equal(t, []int{500, 200}, statuses(got.Deliveries[0]), "each attempt is recorded once")
	require.Equal(t, 3, r.count(), "the redelivery POSTed again before its write conflicted (at least once)")
}
