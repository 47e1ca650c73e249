// Package queuetest is the conformance suite of the delivery-queue port (package queue). Every adapter runs it:
//
//	func TestQueue(t *testing.T) { queuetest.Run(t, func(t *testing.T) queue.Queue { return newAdapter(t) }) }
//
// newQueue must return a new, empty queue on every call: subtests count what they receive. Timing is built for
// SQS's one-second granularity: delays and visibility timeouts are 1-2 s, and the suite polls with deadlines
// instead of sleeping exact amounts. Subtests run in parallel, so the whole suite takes a few seconds.
//
// What the port promises about receipts: Delete and ChangeVisibility with the receipt of the current lease
// work; a receipt from an earlier receive of the same message (the lease expired and the message was received
// again) gives nil or ErrNotFound, and may or may not act, as on SQS.
package queuetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/queue"
)

// Run runs the whole suite against the queues made by newQueue.
func Run(t *testing.T, newQueue func(t *testing.T) queue.Queue) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, q queue.Queue)
	}{
		{"Send_ReceiveDelete", testSendReceiveDelete},
		{"Send_BodyPreserved", testSendBodyPreserved},
		{"Send_Delay", testSendDelay},
		{"Send_DelayOverMax", testSendDelayOverMax},
		{"Send_Batch", testSendBatch},
		{"Receive_Empty", testReceiveEmpty},
		{"Receive_VisibilityExpires", testReceiveVisibilityExpires},
		{"Receive_Concurrent", testReceiveConcurrent},
		{"ChangeVisibility_Zero", testChangeVisibilityZero},
		{"ChangeVisibility_Extend", testChangeVisibilityExtend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newQueue(t))
		})
	}
}

// lease is a visibility timeout long enough that a message never comes back within a subtest.
const lease = 60 * time.Second

// receiveWithin polls until at least one message is received or the deadline passes, then returns what it got.
func receiveWithin(t *testing.T, q queue.Queue, max int, visibility, within time.Duration) []queue.Received {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := q.Receive(context.Background(), max, visibility)
		require.NoError(t, err)
		require.LessOrEqual(t, len(got), max, "Receive returns at most max messages")
		if len(got) > 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receiveOne polls until one message is received; it fails the test if none is within the deadline.
func receiveOne(t *testing.T, q queue.Queue, visibility, within time.Duration) queue.Received {
	t.Helper()
	got := receiveWithin(t, q, 1, visibility, within)
	require.Len(t, got, 1, "one message received within %s", within)
	return got[0]
}

// requireNothingFor checks that nothing is received for the whole of d.
func requireNothingFor(t *testing.T, q queue.Queue, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		got, err := q.Receive(context.Background(), 10, lease)
		require.NoError(t, err)
		require.Empty(t, got, "no message is visible")
		time.Sleep(100 * time.Millisecond)
	}
}

func send(t *testing.T, q queue.Queue, msgs ...queue.Message) {
	t.Helper()
	require.NoError(t, q.Send(context.Background(), msgs...))
}

func testSendReceiveDelete(t *testing.T, q queue.Queue) {
	ctx := context.Background()
	body := []byte(`{"eventId":"whevt_01","endpoint":"crm","attempt":1}`)
	send(t, q, queue.Message{Body: body})

	m := receiveOne(t, q, 1*time.Second, 5*time.Second)
	require.Equal(t, body, m.Body)
	require.NotEmpty(t, m.ID)
	require.NotEmpty(t, m.Receipt)
	require.Equal(t, 1, m.ReceiveCount)

	require.NoError(t, q.Delete(ctx, m.Receipt))
	// The lease was 1 s: a message that was not deleted would be back well within 2.5 s.
	requireNothingFor(t, q, 2500*time.Millisecond)
}

func testSendBodyPreserved(t *testing.T, q queue.Queue) {
	bodies := [][]byte{
		[]byte(`{"text":"café ☃ 😀 日本語","quote":"\"","backslash":"\\","escaped":"\u0000\u001f\u2028","nested":{"a":[1,2.5,null,true]}}`),
		[]byte(`{"spaces":"  leading and trailing  ","empty":""}`),
		[]byte(`[]`),
	}
	for _, b := range bodies {
		send(t, q, queue.Message{Body: b})
	}
	var got [][]byte
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(bodies) && time.Now().Before(deadline) {
		for _, m := range receiveWithin(t, q, 10, lease, time.Second) {
			got = append(got, m.Body)
		}
	}
	require.ElementsMatch(t, bodies, got)
}

func testSendDelay(t *testing.T, q queue.Queue) {
	sent := time.Now()
	send(t, q, queue.Message{Body: []byte(`{"delayed":true}`), Delay: 2 * time.Second})

	got, err := q.Receive(context.Background(), 10, lease)
	require.NoError(t, err)
	require.Empty(t, got, "a delayed message is not visible right away")

	m := receiveOne(t, q, lease, 6*time.Second)
	require.Equal(t, []byte(`{"delayed":true}`), m.Body)
	// SQS counts delays in whole seconds; allow for that, but a 2 s delay must hold the message for over 1 s.
	require.Greater(t, time.Since(sent), time.Second, "the delay held the message back")
}

func testSendDelayOverMax(t *testing.T, q queue.Queue) {
	require.Positive(t, q.MaxDelay())
	send(t, q, queue.Message{Body: []byte(`{"far":true}`), Delay: q.MaxDelay() + time.Hour})
	requireNothingFor(t, q, 500*time.Millisecond)
}

func testSendBatch(t *testing.T, q queue.Queue) {
	ctx := context.Background()
	const n = 25
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	send(t, q, msgs...)

	seen := map[string]int{} // body -> times received
	ids := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		for _, m := range receiveWithin(t, q, 10, lease, time.Second) {
			seen[string(m.Body)]++
			require.False(t, ids[m.ID], "message %s received once", m.ID)
			ids[m.ID] = true
			require.NoError(t, q.Delete(ctx, m.Receipt))
		}
	}
	require.Len(t, seen, n, "every message of the batch arrives")
	for body, times := range seen {
		require.Equal(t, 1, times, "message %s arrives once", body)
	}
	requireNothingFor(t, q, 300*time.Millisecond)
}

func testReceiveEmpty(t *testing.T, q queue.Queue) {
	start := time.Now()
	got, err := q.Receive(context.Background(), 10, lease)
	require.NoError(t, err)
	require.NotNil(t, got, "an empty slice, not nil")
	require.Empty(t, got)
	require.Less(t, time.Since(start), 2*time.Second, "Receive returns quickly when nothing is visible")
}

func testReceiveVisibilityExpires(t *testing.T, q queue.Queue) {
	ctx := context.Background()
	send(t, q, queue.Message{Body: []byte(`{"lease":1}`)})

	first := receiveOne(t, q, 1*time.Second, 5*time.Second)
	require.Equal(t, 1, first.ReceiveCount)
	got, err := q.Receive(ctx, 10, lease)
	require.NoError(t, err)
	require.Empty(t, got, "a leased message is not handed out again before its lease ends")

	second := receiveOne(t, q, 1*time.Second, 5*time.Second)
	require.Equal(t, first.ID, second.ID, "the same message comes back")
	require.Equal(t, first.Body, second.Body)
	require.Equal(t, 2, second.ReceiveCount)
	require.NotEqual(t, first.Receipt, second.Receipt, "a new receive gives a new receipt")

	require.NoError(t, q.Delete(ctx, second.Receipt), "the current receipt deletes")
	if err := q.Delete(ctx, first.Receipt); err != nil {
		require.ErrorIs(t, err, queue.ErrNotFound, "a stale receipt gives nil or ErrNotFound")
	}
	requireNothingFor(t, q, 2500*time.Millisecond)
}

func testReceiveConcurrent(t *testing.T, q queue.Queue) {
	ctx := context.Background()
	const n, receivers = 30, 5
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	send(t, q, msgs...)

	var (
		mu   sync.Mutex
		seen = map[string]int{}
		errs []error
	)
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for range receivers {
		wg.Go(func() {
			for total() < n && time.Now().Before(deadline) {
				got, err := q.Receive(ctx, 3, lease)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Len(t, seen, n, "every message is received")
	for id, times := range seen {
		require.Equal(t, 1, times, "message %s is handed to one receiver only while leased", id)
	}
}

func testChangeVisibilityZero(t *testing.T, q queue.Queue) {
	ctx := context.Background()
	send(t, q, queue.Message{Body: []byte(`{"release":true}`)})
	first := receiveOne(t, q, lease, 5*time.Second)

	require.NoError(t, q.ChangeVisibility(ctx, first.Receipt, 0))
	second := receiveOne(t, q, lease, 3*time.Second)
	require.Equal(t, first.ID, second.ID)
	require.Equal(t, 2, second.ReceiveCount)
	require.NoError(t, q.Delete(ctx, second.Receipt))
}

func testChangeVisibilityExtend(t *testing.T, q queue.Queue) {
	ctx := context.Background()
	send(t, q, queue.Message{Body: []byte(`{"extend":true}`)})
	m := receiveOne(t, q, 1*time.Second, 5*time.Second)

	require.NoError(t, q.ChangeVisibility(ctx, m.Receipt, lease))
	requireNothingFor(t, q, 2500*time.Millisecond) // the 1 s lease would have ended by now
	require.NoError(t, q.Delete(ctx, m.Receipt), "the receipt is still the current one")
}
