package worker_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/local/worker"
	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/testclock"
)

// newQueue is a real SQLite queue in a temporary file.
func newQueue(t *testing.T, opts ...sqlite.Option) queue.Queue {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "outhook.db"), opts...)
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

	// Handlers hold their message until four run at once (or the test gives up), so that the peak does not
	// depend on how the goroutines happen to be scheduled.
	var running, peak, handled atomic.Int32
	four, giveUp := make(chan struct{}), make(chan struct{})
	var once sync.Once
	timer := time.AfterFunc(10*time.Second, func() { close(giveUp) })
	t.Cleanup(func() { timer.Stop() })
	p := worker.New(q, func(_ context.Context, _ []byte) error {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		if n == 4 {
			once.Do(func() { close(four) })
		}
		select {
		case <-four:
		case <-giveUp:
		}
		running.Add(-1)
		handled.Add(1)
		return nil
	}, worker.Options{Workers: 4, Visibility: 10 * time.Second})
	stop := start(t, p, time.Second)

	require.Eventually(t, func() bool { return handled.Load() == 30 }, 20*time.Second, 10*time.Millisecond)
	stop()
	require.Equal(t, int32(4), peak.Load(), "4 workers run at once, never more")
}

func TestPool_RunRetriesAFailedMessage(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	q := &countingQueue{Queue: newQueue(t, sqlite.WithClock(clock.Now))}
	sendN(t, q, 1)

	calls := make(chan int, 10)
	var n atomic.Int32
	p := worker.New(q, func(_ context.Context, _ []byte) error {
		i := int(n.Add(1))
		calls <- i
		if i == 1 {
			return fmt.Errorf("store unavailable")
		}
		return nil
	}, worker.Options{Workers: 2, Visibility: 10 * time.Second, MinIdle: 5 * time.Millisecond, MaxIdle: 20 * time.Millisecond})
	stop := start(t, p, time.Second)

	require.Equal(t, 1, <-calls)
	// The first failure delays the message by 1 s (doubling with each receive) on the queue's clock: until
	// the clock moves, nobody can receive it.
	require.Eventually(t, func() bool { return len(q.changes()) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, []time.Duration{time.Second}, q.changes())
	require.Empty(t, visible(t, q))
	clock.Add(999 * time.Millisecond)
	require.Empty(t, visible(t, q))
	clock.Add(time.Millisecond)
	select {
	case i := <-calls:
		require.Equal(t, 2, i)
	case <-time.After(10 * time.Second):
		t.Fatal("the failed message was not received again")
	}
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
	// Generous for a loaded machine: what matters is that Run does not wait for the handlers (they never
	// end by themselves) nor for a lease.
	require.Less(t, time.Since(begin), 10*time.Second, "Run returns soon after the drain deadline")

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

// countingQueue counts the Receive calls made on a real queue and records the visibility changes.
type countingQueue struct {
	queue.Queue
	receives atomic.Int32
	mu       sync.Mutex
	changed  []time.Duration
}

func (c *countingQueue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	err := c.Queue.ChangeVisibility(ctx, receipt, d)
	c.mu.Lock()
	c.changed = append(c.changed, d)
	c.mu.Unlock()
	return err
}

func (c *countingQueue) changes() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changed)
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

func TestPool_RunWakesOnSignal(t *testing.T) {
	t.Parallel()
	q := &countingQueue{Queue: newQueue(t)}
	wake := make(chan struct{}, 1)
	handled := make(chan string, 10)
	p := worker.New(q, func(_ context.Context, body []byte) error {
		handled <- string(body)
		return nil
	}, worker.Options{Workers: 2, Visibility: 10 * time.Second, Wake: wake, MaxIdle: time.Hour})
	start(t, p, time.Second)

	// Polling every hour, the pool receives once at start, then only when signalled.
	require.Eventually(t, func() bool { return q.receives.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	for i := range 3 {
		sendN(t, q, 1)
		wake <- struct{}{}
		select {
		case body := <-handled:
			require.Equal(t, "m000", body)
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d: not received after the signal", i)
		}
	}
}

// batchQueue is a real queue that deletes in batches and records the batch sizes.
type batchQueue struct {
	queue.Queue
	mu      sync.Mutex
	batches []int
}

func (b *batchQueue) DeleteBatch(ctx context.Context, receipts []string) error {
	b.mu.Lock()
	b.batches = append(b.batches, len(receipts))
	b.mu.Unlock()
	return b.Queue.(interface {
		DeleteBatch(context.Context, []string) error
	}).DeleteBatch(ctx, receipts)
}

func TestPool_RunDeletesInBatches(t *testing.T) {
	t.Parallel()
	q := &batchQueue{Queue: newQueue(t)}
	sendN(t, q, 50)
	var handled atomic.Int32
	p := worker.New(q, func(context.Context, []byte) error { handled.Add(1); return nil },
		worker.Options{Workers: 8, Visibility: 10 * time.Second})
	stop := start(t, p, time.Second)
	require.Eventually(t, func() bool { return handled.Load() == 50 }, 10*time.Second, 5*time.Millisecond)
	stop()

	require.Empty(t, visible(t, q), "every handled message is deleted")
	total := 0
	for _, n := range q.batches {
		require.LessOrEqual(t, n, 8, "at most Workers per batch")
		total += n
	}
	require.Equal(t, 50, total, "through DeleteBatch, once each")
}

// TestPool_RunGivesUpAfterMaxReceives: a message whose handler always fails is handled MaxReceives times,
// then given up (like SQS's maxReceiveCount); a GiveUp that fails is tried again at the next receive,
// without handling the message again, and the message is deleted once GiveUp succeeds.
func TestPool_RunGivesUpAfterMaxReceives(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	q := newQueue(t, sqlite.WithClock(clock.Now))
	sendN(t, q, 1)

	var handled, gaveUp atomic.Int32
	type call struct {
		receives int
		cause    string
	}
	calls := make(chan call, 10)
	p := worker.New(q, func(_ context.Context, _ []byte) error {
		handled.Add(1)
		return fmt.Errorf("store unavailable")
	}, worker.Options{Workers: 1, Visibility: 10 * time.Second, MinIdle: 5 * time.Millisecond, MaxIdle: 20 * time.Millisecond,
		MaxRetryDelay: time.Second, MaxReceives: 3,
		GiveUp: func(_ context.Context, body []byte, receives int, cause error) error {
			calls <- call{receives, cause.Error()}
			if gaveUp.Add(1) == 1 {
				return fmt.Errorf("store still unavailable")
			}
			return nil
		}})
	stop := start(t, p, time.Second)

	var got []call
	require.Eventually(t, func() bool {
		select {
		case c := <-calls:
			got = append(got, c)
		default:
			clock.Add(time.Second) // the failed message's retry delay
		}
		return len(got) == 2
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, []call{{3, "store unavailable"}, {4, "the handler failed on every receive allowed"}}, got)
	stop() // waits for the deletes in flight
	clock.Add(time.Hour)
	require.Empty(t, visible(t, q), "deleted once given up")
	require.EqualValues(t, 3, handled.Load(), "the handler ran MaxReceives times")
	require.EqualValues(t, 2, gaveUp.Load())
}
