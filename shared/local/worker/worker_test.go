package worker_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/local/worker"
	"github.com/outhook/outhook/shared/queue"
)

// newQueue is a real SQLite queue in a temporary file.
func newQueue(t *testing.T) queue.Queue {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db.Queue()
}

func sendN(t *testing.T, q queue.Queue, n int) {
	t.Helper()
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{Body: fmt.Appendf(nil, "m%03d", i)}
	}
	require.NoError(t, q.Send(t.Context(), msgs...))
}

// start runs the pool until the test ends or stop is called; stop waits for Run to return.
func start(t *testing.T, p *worker.Pool, drain time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, drain) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

// visible receives what is visible now (leasing it for a minute).
func visible(t *testing.T, q queue.Queue) []queue.Received {
	t.Helper()
	var all []queue.Received
	for {
		msgs, err := q.Receive(context.Background(), 10, time.Minute)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return all
		}
		all = append(all, msgs...)
	}
}

func TestPool_Run(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	sendN(t, q, 100)

	var mu sync.Mutex
	seen := map[string]int{}
	p := worker.New(q, func(_ context.Context, body []byte) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(body)]++
		return nil
	}, worker.Options{Workers: 8, Visibility: 10 * time.Second})
	stop := start(t, p, time.Second)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 100
	}, 10*time.Second, 10*time.Millisecond)
	stop()
	for body, n := range seen {
		require.Equal(t, 1, n, body)
	}
	require.Empty(t, visible(t, q), "handled messages are deleted")
}

func TestPool_RunBoundsConcurrency(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	sendN(t, q, 30)

	var running, peak, handled atomic.Int32
	p := worker.New(q, func(_ context.Context, _ []byte) error {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		running.Add(-1)
		handled.Add(1)
		return nil
	}, worker.Options{Workers: 4, Visibility: 10 * time.Second})
	stop := start(t, p, time.Second)

	require.Eventually(t, func() bool { return handled.Load() == 30 }, 10*time.Second, 10*time.Millisecond)
	stop()
	require.Equal(t, int32(4), peak.Load(), "4 workers run at once, never more")
}

func TestPool_RunRetriesAFailedMessage(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	sendN(t, q, 1)

	type call struct{ at time.Time }
	calls := make(chan call, 10)
	var n atomic.Int32
	p := worker.New(q, func(_ context.Context, _ []byte) error {
		calls <- call{at: time.Now()}
		if n.Add(1) == 1 {
			return fmt.Errorf("store unavailable")
		}
		return nil
	}, worker.Options{Workers: 2, Visibility: 10 * time.Second})
	stop := start(t, p, time.Second)

	first := <-calls
	var second call
	select {
	case second = <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("the failed message was not received again")
	}
	// The first failure waits 1 s (doubling with each receive) before the message is visible again.
	require.GreaterOrEqual(t, second.at.Sub(first.at), 900*time.Millisecond)
	require.Eventually(t, func() bool { return len(visible(t, q)) == 0 }, 2*time.Second, 20*time.Millisecond)
	stop()
	require.Empty(t, calls, "handled once more, then deleted")
}

func TestPool_RunReleasesUnfinishedWorkAtShutdown(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	sendN(t, q, 3)

	started := make(chan struct{}, 3)
	p := worker.New(q, func(ctx context.Context, _ []byte) error {
		started <- struct{}{}
		<-ctx.Done() // a delivery that outlasts the drain
		return ctx.Err()
	}, worker.Options{Workers: 3, Visibility: time.Minute})
	stop := start(t, p, 200*time.Millisecond)
	for range 3 {
		<-started
	}

	begin := time.Now()
	stop()
	require.Less(t, time.Since(begin), 2*time.Second, "Run returns soon after the drain deadline")

	// Released, not left leased for a minute: visible again at once, received a second time.
	msgs := visible(t, q)
	require.Len(t, msgs, 3)
	for _, m := range msgs {
		require.Equal(t, 2, m.ReceiveCount)
	}
}

func TestPool_RunFinishesWorkInFlightAtShutdown(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	sendN(t, q, 1)

	started := make(chan struct{})
	var finished atomic.Bool
	p := worker.New(q, func(ctx context.Context, _ []byte) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		finished.Store(ctx.Err() == nil)
		return nil
	}, worker.Options{Workers: 1, Visibility: time.Minute})
	stop := start(t, p, 5*time.Second)
	<-started
	stop()

	require.True(t, finished.Load(), "the handler ran to the end with a live context")
	require.Empty(t, visible(t, q), "and its message was deleted")
}

// countingQueue counts the Receive calls made on a real queue.
type countingQueue struct {
	queue.Queue
	receives atomic.Int32
}

func (c *countingQueue) Receive(ctx context.Context, max int, visibility time.Duration) ([]queue.Received, error) {
	c.receives.Add(1)
	return c.Queue.Receive(ctx, max, visibility)
}

func TestPool_RunReceivesWholeBatches(t *testing.T) {
	t.Parallel()
	q := &countingQueue{Queue: newQueue(t)}
	sendN(t, q, 200)

	var handled atomic.Int32
	p := worker.New(q, func(_ context.Context, _ []byte) error {
		time.Sleep(2 * time.Millisecond)
		handled.Add(1)
		return nil
	}, worker.Options{Workers: 8, Batch: 10, Visibility: 10 * time.Second, MinIdle: time.Second})
	stop := start(t, p, time.Second)
	require.Eventually(t, func() bool { return handled.Load() == 200 }, 10*time.Second, 5*time.Millisecond)
	stop()
	// 20 full batches, one empty receive at the end, and a little slack for the timing of the last batches.
	require.LessOrEqual(t, q.receives.Load(), int32(25))
}

func TestPool_RunReleasesMessagesNotStartedAtShutdown(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	sendN(t, q, 5)

	started := make(chan struct{}, 5)
	p := worker.New(q, func(ctx context.Context, _ []byte) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}, worker.Options{Workers: 1, Batch: 10, Visibility: time.Minute})
	stop := start(t, p, 100*time.Millisecond)
	<-started // one running, four received and waiting for the only worker
	stop()

	require.Len(t, started, 0, "the waiting messages were not started after the shutdown began")
	msgs := visible(t, q)
	require.Len(t, msgs, 5, "all five are visible again at once")
	for _, m := range msgs {
		require.Equal(t, 2, m.ReceiveCount)
	}
}
