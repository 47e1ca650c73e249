package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/testclock"
	"github.com/outhook/outhook/shared/webhook"
)

const set = "orders"

type testBundle struct {
	svc     *webhook.Service
	queue   queue.Queue
	handler *handler
	clock   *testclock.Clock // of the service and the queue
}

// setup builds the real domain service over a SQLite file, delivering to url.
func setup(t *testing.T, url string) testBundle {
	t.Helper()
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "outhook.db"), sqlite.WithClock(clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	doc := &config.Config{Sets: []config.Set{{Name: set, Endpoints: []config.Endpoint{{
		Name: "shop", URL: url, AllowPrivateNetwork: true, TimeoutSeconds: 10,
		Retry: &config.Retry{Attempts: 3, Backoff: "fixed", InitialDelaySeconds: 1, MaxDelaySeconds: 1},
	}}}}}
	cfg, err := doc.Validate()
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := webhook.New(webhook.Options{
		Config: cfg, Store: db.Store(), Queue: db.Queue(), Users: db.UserSecrets(), HTTP: egress.New(),
		Logger: log, CursorKey: []byte("test cursor key"), Now: clock.Now,
	})
	require.NoError(t, err)
	return testBundle{svc: svc, queue: db.Queue(), handler: &handler{proc: svc, log: log}, clock: clock}
}

// batch sends n events and returns their queue messages as the SQS event Lambda would be invoked with.
func (b testBundle) batch(t *testing.T, n int) (events.SQSEvent, []string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range n {
		res, err := b.svc.Send(ctx, set, webhook.SendRequest{Type: "order.paid", Payload: json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`)})
		require.NoError(t, err)
		ids = append(ids, res.EventID)
	}
	msgs, err := b.queue.Receive(ctx, n, time.Minute)
	require.NoError(t, err)
	require.Len(t, msgs, n)
	var ev events.SQSEvent
	for _, m := range msgs {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: m.ID, ReceiptHandle: m.Receipt, Body: string(m.Body),
			Attributes:  map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.ReceiveCount)},
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:outhook-deliveries", AWSRegion: "us-east-1",
		})
	}
	return ev, ids
}

func TestHandler_Handle(t *testing.T) {
	t.Parallel()
	// Each request waits until all ten are in flight (or the test gives up): only a handler that
	// processes the batch concurrently gets every request through at once.
	const n = 10
	var arrived atomic.Int32
	allIn, giveUp := make(chan struct{}), make(chan struct{})
	var together atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			close(allIn)
		}
		select {
		case <-allIn:
			together.Add(1)
		case <-giveUp:
		}
	}))
	t.Cleanup(receiver.Close)
	timer := time.AfterFunc(5*time.Second, func() { close(giveUp) })
	t.Cleanup(func() { timer.Stop() })
	b := setup(t, receiver.URL)
	ev, ids := b.batch(t, n)

	resp, err := b.handler.handle(context.Background(), ev)

	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)
	require.EqualValues(t, n, together.Load(), "all %d POSTs of the batch were in flight at once", n)
	for _, id := range ids {
		got, err := b.svc.GetEvent(context.Background(), set, id)
		require.NoError(t, err)
		require.Equal(t, webhook.StatusDelivered, got.Status)
	}
}

func TestHandler_Handle_PartialFailure(t *testing.T) {
	t.Parallel()
	var received atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(receiver.Close)
	b := setup(t, receiver.URL)
	ev, ids := b.batch(t, 2)
	ev.Records = append(ev.Records, events.SQSMessage{MessageId: "poison", Body: `{"not":"a delivery"}`})

	resp, err := b.handler.handle(context.Background(), ev)
	require.NoError(t, err)
	require.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "poison"}}, resp.BatchItemFailures,
		"only the message outhook could not process goes back to SQS; failed POSTs are retried by outhook")
	require.EqualValues(t, 2, received.Load())
	for _, id := range ids {
		got, err := b.svc.GetEvent(context.Background(), set, id)
		require.NoError(t, err)
		require.Equal(t, webhook.StatusRetrying, got.Deliveries[0].Status)
	}
	retries, err := b.queue.Receive(context.Background(), 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, retries, "the retries are delayed")
	b.clock.Add(2 * time.Second) // the fixed 1 s backoff, with its jitter
	retries, err = b.queue.Receive(context.Background(), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, retries, 2, "one delayed retry per failed attempt")
}

func TestHandler_Handle_Deadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(receiver.Close)
	t.Cleanup(func() { close(release) })
	b := setup(t, receiver.URL)
	ev, _ := b.batch(t, 3)

	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+500*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	resp, err := b.handler.handle(ctx, ev)
	require.NoError(t, err)
	require.Less(t, time.Until(deadline), deadlineMargin, "it waited for the stuck receiver until the margin")
	require.Greater(t, time.Until(deadline), deadlineMargin/2, "and answered before the Lambda deadline")
	require.Len(t, resp.BatchItemFailures, 3, "attempts cut by the deadline go back to SQS")
}

func TestHandler_Handle_Panic(t *testing.T) {
	t.Parallel()
	h := &handler{proc: panicking{}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	resp, err := h.handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "{}"}}})
	require.NoError(t, err)
	require.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "m1"}}, resp.BatchItemFailures)
}

type panicking struct{}

func (panicking) Process(context.Context, []byte) error             { panic("boom") }
func (panicking) Abandon(context.Context, []byte, int, error) error { panic("boom") }

// TestHandler_Handle_LastReceive: a message that fails on the queue's last receive (maxReceiveCount) does not
// go to the dead-letter queue with its delivery queued: the delivery ends failed with the reason, and the
// message is acknowledged. Before the last receive, it goes back to SQS.
func TestHandler_Handle_LastReceive(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a receiver that outlasts the invocation: every attempt is cut by the deadline
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(receiver.Close)
	t.Cleanup(func() { close(release) })
	b := setup(t, receiver.URL)
	b.handler.maxReceives = 3
	ev, ids := b.batch(t, 2)
	ev.Records[0].Attributes["ApproximateReceiveCount"] = "2"
	ev.Records[1].Attributes["ApproximateReceiveCount"] = "3"

	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+500*time.Millisecond)
	defer cancel()
	resp, err := b.handler.handle(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: ev.Records[0].MessageId}}, resp.BatchItemFailures,
		"only the message with receives left goes back to SQS")

	got, err := b.svc.GetEvent(context.Background(), set, ids[1])
	require.NoError(t, err)
	require.Equal(t, webhook.StatusFailed, got.Status)
	require.Contains(t, got.Deliveries[0].Reason, "not attempted: its queue message failed 3 times")
	got, err = b.svc.GetEvent(context.Background(), set, ids[0])
	require.NoError(t, err)
	require.Equal(t, webhook.StatusQueued, got.Deliveries[0].Status, "the other one is still to be attempted")
}

// TestHandler_Handle_DeadLettered: a record from the dead-letter queue (deliver crashed or timed out on its
// last receive) is never attempted: its delivery ends failed with the reason and the record is acknowledged;
// a resend then delivers it. A record whose delivery cannot be ended is a batch item failure, left in the
// dead-letter queue. Records of the delivery queue are still attempted in the same batch.
func TestHandler_Handle_DeadLettered(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts.Add(1) }))
	t.Cleanup(receiver.Close)
	b := setup(t, receiver.URL)
	const dlqARN = "arn:aws:sqs:us-east-1:123456789012:outhook-dead-letters"
	b.handler.maxReceives, b.handler.deadLetterARN = 5, dlqARN
	ev, ids := b.batch(t, 2)
	ev.Records[0].EventSourceARN = dlqARN
	ev.Records = append(ev.Records, events.SQSMessage{
		MessageId: "newer", EventSourceARN: dlqARN, Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		Body: `{"v":99,"set":"orders","eventId":"e","endpoint":"shop","attempt":1,"attemptId":"a"}`,
	})

	resp, err := b.handler.handle(context.Background(), ev)
	require.NoError(t, err)
	require.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "newer"}}, resp.BatchItemFailures,
		"only the record whose delivery cannot be ended stays in the dead-letter queue")
	require.EqualValues(t, 1, posts.Load(), "the dead-lettered record is not attempted; the other one is")

	got, err := b.svc.GetEvent(context.Background(), set, ids[0])
	require.NoError(t, err)
	require.Equal(t, webhook.StatusFailed, got.Status)
	require.Contains(t, got.Deliveries[0].Reason, "its queue message failed 5 times: dead-lettered")
	got, err = b.svc.GetEvent(context.Background(), set, ids[1])
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, got.Status)

	// The ended delivery can be resent, and the resend delivers it.
	_, err = b.svc.Resend(context.Background(), set, ids[0], "shop")
	require.NoError(t, err)
	msgs, err := b.queue.Receive(context.Background(), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	resp, err = b.handler.handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: msgs[0].ID, Body: string(msgs[0].Body), EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:outhook-deliveries",
		Attributes: map[string]string{"ApproximateReceiveCount": "1"},
	}}})
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)
	got, err = b.svc.GetEvent(context.Background(), set, ids[0])
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, got.Status)
	require.EqualValues(t, 2, posts.Load())
}

func TestSQSEventFixture(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "sqs-batch.json"))
	require.NoError(t, err)
	var ev events.SQSEvent
	require.NoError(t, json.Unmarshal(raw, &ev))
	again, err := json.Marshal(ev)
	require.NoError(t, err)
	var back events.SQSEvent
	require.NoError(t, json.Unmarshal(again, &back))
	require.Equal(t, ev, back)
	require.Len(t, ev.Records, 2)
	require.Equal(t, "aws:sqs", ev.Records[0].EventSource)
	require.Equal(t, "1", ev.Records[0].Attributes["ApproximateReceiveCount"])

	// The poison record of the fixture fails; the one for an event that no longer exists is acknowledged.
	b := setup(t, "http://127.0.0.1:9/unused")
	resp, err := b.handler.handle(context.Background(), ev)
	require.NoError(t, err)
	require.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: ev.Records[1].MessageId}}, resp.BatchItemFailures)
}
