package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/store"
)

// signalled waits for a signal on ready; the deadline only bounds a failing test.
func signalled(t *testing.T, ready <-chan struct{}) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no signal")
	}
}

func TestDB_QueueReady(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t)
	q, ready := db.Queue(), db.QueueReady()

	t.Run("a message sent without delay signals at once", func(t *testing.T) {
		require.NoError(t, q.Send(ctx, queue.Message{Body: []byte("now")}))
		signalled(t, ready)
		msgs, err := q.Receive(ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, msgs, 1)

		t.Run("and a released one too", func(t *testing.T) {
			require.NoError(t, q.ChangeVisibility(ctx, msgs[0].Receipt, 0))
			signalled(t, ready)
			again, err := q.Receive(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, again, 1)
			require.NoError(t, q.Delete(ctx, again[0].Receipt))
		})
	})

	t.Run("delayed messages signal when each comes due", func(t *testing.T) {
		// Sent latest first, so that the timer armed for the first is moved earlier, and the last is only
		// found by the query that re-arms the timer after the first signal.
		require.NoError(t, q.Send(ctx, queue.Message{Body: []byte("second"), Delay: 300 * time.Millisecond}))
		require.NoError(t, q.Send(ctx, queue.Message{Body: []byte("first"), Delay: 100 * time.Millisecond}))
		for _, want := range []string{"first", "second"} {
			signalled(t, ready)
			msgs, err := q.Receive(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, msgs, 1, "a signal means a message is visible")
			require.Equal(t, want, string(msgs[0].Body))
			require.NoError(t, q.Delete(ctx, msgs[0].Receipt))
		}
	})
}

func TestQueue_DeleteBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := open(t).Queue().(interface {
		queue.Queue
		DeleteBatch(ctx context.Context, receipts []string) error
	})
	require.NoError(t, q.Send(ctx, queue.Message{Body: []byte("a")}, queue.Message{Body: []byte("b")}, queue.Message{Body: []byte("c")}))
	msgs, err := q.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	stale := msgs[2].Receipt
	require.NoError(t, q.ChangeVisibility(ctx, stale, 0))
	again, err := q.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, again, 1, "c, received a second time: its first receipt is stale")

	require.NoError(t, q.DeleteBatch(ctx, []string{msgs[0].Receipt, msgs[1].Receipt, stale, "malformed"}))
	require.NoError(t, q.ChangeVisibility(ctx, again[0].Receipt, 0))
	left, err := q.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, left, 1, "a and b deleted; c kept, its stale receipt skipped")
	require.Equal(t, "c", string(left[0].Body))
}

// CreateEventQueued stores an event and its messages in one write: the messages are queued (and signalled)
// with the event, and not at all when the event is not stored (another call with its key wrote it).
func TestDB_CreateEventQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := store.Event{ID: "whevt_1", Set: "billing", Type: "invoice.paid", Payload: []byte(`{}`),
		IdempotencyKey: "k1", RequestHash: "h1", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		Deliveries: []store.Delivery{{Endpoint: "crm", URL: "https://example.com", FirstAttemptID: "whatt_1"}}}
	stored, err := db.CreateEventQueued(ctx, ev, []queue.Message{{Body: []byte("job 1")}, {Body: []byte("job 2")}})
	require.NoError(t, err)
	require.Equal(t, ev.ID, stored.ID)
	signalled(t, db.QueueReady())
	rec, err := db.Store().GetEvent(ctx, "billing", ev.ID)
	require.NoError(t, err)
	require.Equal(t, ev.Deliveries, rec.Event.Deliveries)

	again := ev // the replay of a send whose key ev's call reserved, writing the event under the reserved id
	again.CreatedAt = now.Add(time.Second)
	first, err := db.CreateEventQueued(ctx, again, []queue.Message{{Body: []byte("job 3")}})
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, ev.CreatedAt, first.CreatedAt.UTC(), "the event written first")

	msgs, err := db.Queue().Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, string(m.Body))
	}
	require.ElementsMatch(t, []string{"job 1", "job 2"}, bodies, "nothing queued for the duplicate")
}
