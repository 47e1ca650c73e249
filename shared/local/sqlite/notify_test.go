package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/queue"
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
