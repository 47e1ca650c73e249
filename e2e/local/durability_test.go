package local_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/webhook"
)

// TestServe_DurableAcrossSIGKILL sends 500 events, SIGKILLs the server while deliveries are in flight, starts
// it again on the same database, and checks that every accepted event reaches the receiver.
func TestServe_DurableAcrossSIGKILL(t *testing.T) {
	skipShort(t)
	const events = 500
	dir := t.TempDir()

	var mu sync.Mutex
	seen := map[string]int{} // webhook-id -> requests
	var received atomic.Int32
	rc := newReceiver(t, func(_ int, r *http.Request) int {
		time.Sleep(20 * time.Millisecond) // slow enough that the kill lands mid-POST for some
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		received.Add(1)
		return http.StatusOK
	})
	// timeoutSeconds 2: a delivery leased by the killed process is handed out again 2 s + the lease margin later.
	cfg := writeConfig(t, dir, retryConfig(rc.url, "{attempts: 5, initialDelaySeconds: 1, maxDelaySeconds: 2}"))
	s := startServer(t, cfg, dir)

	// Send concurrently, each with its own Idempotency-Key; kill once 100 deliveries arrived.
	accepted := make([]string, events) // event id by index, "" if not accepted
	next := atomic.Int32{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= events {
					return
				}
				var res webhook.SendResult
				status, _, err := s.call(t.Context(), http.MethodPost, "/v1/webhooks/orders/events",
					sendReq{Type: "order.created", Payload: map[string]int{"n": i}},
					map[string]string{"Idempotency-Key": fmt.Sprintf("order-%d", i)}, &res)
				if err == nil && status == http.StatusAccepted {
					accepted[i] = res.EventID
				}
			}
		})
	}
	require.Eventually(t, func() bool { return received.Load() >= 100 }, 30*time.Second, time.Millisecond)
	s.kill()
	wg.Wait()
	atKill := int(received.Load())

	var unanswered []int
	for i, id := range accepted {
		if id == "" {
			unanswered = append(unanswered, i)
		}
	}
	t.Logf("at SIGKILL: %d of %d sends accepted, %d deliveries received", events-len(unanswered), events, atKill)

	// Restart on the same database. A client retries the sends that got no answer, with the same key.
	s = startServer(t, cfg, dir)
	for _, i := range unanswered {
		res, status, _ := s.send(t, "orders", sendReq{Type: "order.created", Payload: map[string]int{"n": i}},
			fmt.Sprintf("order-%d", i))
		require.Equal(t, http.StatusAccepted, status)
		accepted[i] = res.EventID
	}

	missing := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, id := range accepted {
			if seen[id] == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(missing()) == 0 }, 60*time.Second, 100*time.Millisecond,
		"accepted events never delivered: %v", missing())

	t.Logf("after restart: all %d accepted events reached the receiver", events)

	// And the event log agrees: every event is delivered. A delivery that reached the receiver but whose
	// attempt the killed process did not record is POSTed again when its lease (2 s + 10 s) expires.
	for _, id := range accepted {
		ev := s.waitEvent(t, "orders", id, webhook.StatusDelivered, 30*time.Second)
		require.Equal(t, webhook.StatusDelivered, ev.Deliveries[0].Status)
	}
	mu.Lock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	mu.Unlock()
	t.Logf("%d duplicate deliveries (at least once: POSTed before the kill, recorded after)", dups)
}
