package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/store"
)

// benchIDs makes unique, increasing event ids for benchmarks.
var benchIDs atomic.Int64

func benchEvent() store.Event {
	n := benchIDs.Add(1)
	now := time.Now().UTC()
	id := fmt.Sprintf("whevt_%013d%013d", now.UnixMilli(), n)
	return store.Event{
		ID:      id,
		Set:     "billing-events",
		Type:    "invoice.paid",
		Payload: json.RawMessage(`{"invoiceId":"inv_123","customerId":"cus_456","amount":1250,"currency":"eur"}`),
		Deliveries: []store.Delivery{
			{Endpoint: "crm", URL: "https://crm.example.com/hooks", FirstAttemptID: fmt.Sprintf("whatt_%026d", n)},
		},
		CreatedAt: now,
		ExpiresAt: now.Add(30 * 24 * time.Hour),
	}
}

// benchParallelism times GOMAXPROCS goroutines run each benchmark, like the concurrent requests and delivery
// workers of the local server.
const benchParallelism = 16

func reportRate(b *testing.B, what string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), what+"/s")
}

// BenchmarkStore_CreateEvent measures concurrent CreateEvent calls, as concurrent sends make them.
func BenchmarkStore_CreateEvent(b *testing.B) {
	s := open(b).Store()
	ctx := context.Background()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.CreateEvent(ctx, benchEvent()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, "events")
}

// BenchmarkQueue_SendReceiveDelete measures one message's round trip: senders send one message at a time,
// workers receive batches of 10 and delete each message.
func BenchmarkQueue_SendReceiveDelete(b *testing.B) {
	q := open(b).Queue()
	ctx := context.Background()
	body := []byte(`{"eventId":"whevt_01JD6Q2Z4Y5X6W7V8T9S0R1Q2P","endpoint":"crm","attempt":1}`)
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := q.Send(ctx, queue.Message{Body: body}); err != nil {
				b.Error(err)
				return
			}
			got, err := q.Receive(ctx, 10, 30*time.Second)
			if err != nil {
				b.Error(err)
				return
			}
			for _, m := range got {
				if err := q.Delete(ctx, m.Receipt); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	reportRate(b, "msgs")
}

// BenchmarkDB_Delivery measures the storage work of one delivery of the local server: CreateEvent, Send,
// Receive (in batches), PutAttempt, Delete.
func BenchmarkDB_Delivery(b *testing.B) {
	db := open(b)
	s, q := db.Store(), db.Queue()
	ctx := context.Background()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := benchEvent()
			if _, err := s.CreateEvent(ctx, ev); err != nil {
				b.Error(err)
				return
			}
			body, err := json.Marshal(map[string]string{"eventId": ev.ID, "endpoint": "crm"})
			require.NoError(b, err)
			if err := q.Send(ctx, queue.Message{Body: body}); err != nil {
				b.Error(err)
				return
			}
			got, err := q.Receive(ctx, 10, 30*time.Second)
			if err != nil {
				b.Error(err)
				return
			}
			for _, m := range got {
				var msg map[string]string
				require.NoError(b, json.Unmarshal(m.Body, &msg))
				a := store.Attempt{
					EventID: msg["eventId"], Endpoint: msg["endpoint"], ID: ev.Deliveries[0].FirstAttemptID, Number: 1,
					StartedAt: time.Now(), Duration: time.Millisecond, ResponseStatus: 204,
					RequestHeaders: map[string]string{"webhook-id": msg["eventId"]}, Outcome: store.OutcomeSucceeded,
				}
				if err := s.PutAttempt(ctx, a); err != nil {
					b.Error(err)
					return
				}
				if err := q.Delete(ctx, m.Receipt); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	reportRate(b, "deliveries")
}

// BenchmarkStore_GetEvent measures concurrent reads of an event with one attempt, as each delivery attempt
// makes one.
func BenchmarkStore_GetEvent(b *testing.B) {
	s := open(b).Store()
	ctx := context.Background()
	events := make([]store.Event, 1000)
	for i := range events {
		events[i] = benchEvent()
		_, err := s.CreateEvent(ctx, events[i])
		require.NoError(b, err)
		require.NoError(b, s.PutAttempt(ctx, store.Attempt{
			EventID: events[i].ID, Endpoint: "crm", ID: events[i].Deliveries[0].FirstAttemptID, Number: 1,
			StartedAt: time.Now(), RequestHeaders: map[string]string{"webhook-id": events[i].ID},
			Outcome: store.OutcomeRetrying, NextAttemptAt: time.Now().Add(time.Minute), NextAttemptID: "whatt_2",
		}))
	}
	var n atomic.Int64
	b.ResetTimer()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := events[n.Add(1)%int64(len(events))]
			if _, err := s.GetEvent(ctx, ev.Set, ev.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, "reads")
}
