package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/retry"
	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/store"
	"github.com/outhook/outhook/shared/syncbuf"
)

// namedSecret is the value of the named secret the tests sign with; TestMain puts it in the environment,
// where envsecret (the local server's named-secret source) reads it.
const (
	namedSecretName  = "WEBHOOK_SERVICE_TEST_SECRET"
	namedSecretValue = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func TestMain(m *testing.M) {
	os.Setenv(namedSecretName, namedSecretValue)
	os.Exit(m.Run())
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// faultyQueue is the real SQLite queue, on the test clock, with an injectable outage and a record of the
// delays asked for and of when each message comes due.
type faultyQueue struct {
	queue.Queue
	clock  *clock
	fail   atomic.Int32 // fail this many next Sends
	mu     sync.Mutex
	delays []time.Duration
	dues   []time.Time
}

func (q *faultyQueue) Send(ctx context.Context, msgs ...queue.Message) error {
	if q.fail.Load() > 0 {
		q.fail.Add(-1)
		return errors.New("injected queue outage")
	}
	q.mu.Lock()
	now := q.clock.Now()
	for _, m := range msgs {
		q.delays = append(q.delays, m.Delay)
		q.dues = append(q.dues, now.Add(min(m.Delay, q.MaxDelay())))
	}
	q.mu.Unlock()
	return q.Queue.Send(ctx, msgs...)
}

// nextDue is the earliest time after now at which a message sent comes due.
func (q *faultyQueue) nextDue(now time.Time) (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	for _, due := range q.dues {
		if due.After(now) && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next, !next.IsZero()
}

func (q *faultyQueue) MaxDelay() time.Duration { return 900 * time.Second }

func (q *faultyQueue) lastDelay() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.delays[len(q.delays)-1]
}

// receiver is a real HTTP receiver whose answers the test scripts.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  [][]byte
	answers []int // status per request; 200 after the script ends
	header  http.Header
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{answers: answers, header: http.Header{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.reqs)
		r.reqs = append(r.reqs, req)
		r.bodies = append(r.bodies, body)
		status := http.StatusOK
		if n < len(r.answers) {
			status = r.answers[n]
		}
		for k, v := range r.header {
			w.Header()[k] = v
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "answer %d", n+1)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.reqs) }
func (r *receiver) reset()     { r.mu.Lock(); defer r.mu.Unlock(); r.reqs, r.bodies = nil, nil }
func (r *receiver) request(i int) (*http.Request, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[i], r.bodies[i]
}

type bundle struct {
	svc   *Service
	clock *clock
	queue *faultyQueue
	db    *sqlite.DB
	logs  *syncbuf.Buffer
	cfg   *config.Resolved
}

var start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, sets ...config.Set) *bundle {
	t.Helper()
	cfg, err := (&config.Config{Sets: sets}).Validate()
	require.NoError(t, err)
	clk := &clock{now: start}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "outhook.db"), sqlite.WithClock(clk.Now))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	b := &bundle{clock: clk, queue: &faultyQueue{Queue: db.Queue(), clock: clk}, db: db, logs: &syncbuf.Buffer{}, cfg: cfg}
	b.svc = b.serviceWith(t, db.Store(), nil)
	return b
}

// serviceWith is a service of the bundle's config, queue and clock on store st, with eq as its EventQueue.
func (b *bundle) serviceWith(t *testing.T, st store.Store, eq EventQueue) *Service {
	t.Helper()
	svc, err := New(Options{
		Config: b.cfg, Store: st, Queue: b.queue, EventQueue: eq, Named: envsecret.Env{}, Users: b.db.UserSecrets(),
		HTTP: egress.New(), Now: b.clock.Now, Rand: rand.Reader, Jitter: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), CursorKey: []byte("test cursor key"),
	})
	require.NoError(t, err)
	return svc
}

// pump processes queued messages until none is left, moving the test clock forward to the next message's due
// time whenever none is visible. It returns how many messages were processed.
func (b *bundle) pump(t *testing.T) int {
	t.Helper()
	return b.pumpWith(t, b.svc)
}

// pumpWith is pump with another service over the same database and queue.
func (b *bundle) pumpWith(t *testing.T, svc *Service) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for {
		msgs, err := b.queue.Receive(ctx, 10, time.Minute)
		require.NoError(t, err)
		if len(msgs) == 0 {
			due, ok := b.queue.nextDue(b.clock.Now())
			if !ok {
				return n
			}
			b.clock.Set(due)
			continue
		}
		for _, m := range msgs {
			if err := svc.Process(ctx, m.Body); err != nil {
				require.NoError(t, b.queue.ChangeVisibility(ctx, m.Receipt, 0))
				t.Logf("process: %v (message released)", err)
				continue
			}
			require.NoError(t, b.queue.Delete(ctx, m.Receipt))
			n++
		}
	}
}

func endpoint(name string, r *receiver, mods ...func(*config.Endpoint)) config.Endpoint {
	ep := config.Endpoint{Name: name, URL: r.srv.URL + "/" + name, AllowPrivateNetwork: true,
		Retry: &config.Retry{Attempts: 3, Backoff: "exponential", InitialDelaySeconds: 10, MaxDelaySeconds: 60}}
	for _, m := range mods {
		m(&ep)
	}
	return ep
}

func signedHex(ep *config.Endpoint) {
	ep.Signing = &config.Signing{Header: "x-sig", TimestampHeader: "x-ts", SignedPayload: "timestamp.rawBody", Encoding: "hex", Secret: namedSecretName}
}

func send(t *testing.T, b *bundle, set string, req SendRequest) SendResult {
	t.Helper()
	res, err := b.svc.Send(context.Background(), set, req)
	require.NoError(t, err)
	return res
}

func TestService_SendFansOutAndSigns(t *testing.T) {
	t.Parallel()
	crm, warehouse := newReceiver(t), newReceiver(t)
	b := setup(t, config.Set{Name: "billing-events", Endpoints: []config.Endpoint{endpoint("crm", crm, signedHex), endpoint("warehouse", warehouse)}})

	res := send(t, b, "billing-events", SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`{"invoiceId": "inv_1"}`)})
	require.True(t, validID(eventPrefix, res.EventID))
	require.Len(t, res.Deliveries, 2)
	for i, name := range []string{"crm", "warehouse"} {
		require.Equal(t, name, res.Deliveries[i].Endpoint)
		require.Equal(t, StatusQueued, res.Deliveries[i].Status)
		require.True(t, validID(attemptPrefix, res.Deliveries[i].AttemptID))
	}
	require.Equal(t, 2, b.pump(t))
	require.Equal(t, 1, crm.count())
	require.Equal(t, 1, warehouse.count())

	req, body := crm.request(0)
	require.Equal(t, res.EventID, req.Header.Get("webhook-id"))
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	var delivered struct {
		ID, Type, Timestamp string
		Data                map[string]string
	}
	require.NoError(t, json.Unmarshal(body, &delivered))
	require.Equal(t, res.EventID, delivered.ID)
	require.Equal(t, "invoice.paid", delivered.Type)
	require.Equal(t, "inv_1", delivered.Data["invoiceId"])
	key, err := signing.Key(namedSecretValue)
	require.NoError(t, err)
	scheme, err := b.cfg.Sets[0].Endpoints[0].Signing.Scheme()
	require.NoError(t, err)
	require.NoError(t, signing.Verify(scheme, req.Header, body, [][]byte{key}, time.Minute, start))

	wreq, wbody := warehouse.request(0)
	require.Equal(t, body, wbody, "every endpoint gets the same bytes")
	require.Empty(t, wreq.Header.Get("x-sig"))
	require.Empty(t, wreq.Header.Get("webhook-signature"), "an endpoint without a secret and a send without a user is unsigned")

	ev, err := b.svc.GetEvent(context.Background(), "billing-events", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	require.Equal(t, StatusDelivered, ev.Deliveries[0].Status)
	require.Len(t, ev.Deliveries[0].Attempts, 1)
	a := ev.Deliveries[0].Attempts[0]
	require.Equal(t, res.Deliveries[0].AttemptID, a.ID)
	require.Equal(t, 200, a.ResponseStatus)
	require.Equal(t, "answer 1", a.ResponseBody)
	require.NotEmpty(t, a.RequestHeaders["x-sig"])
	require.NotContains(t, b.logs.String(), namedSecretValue)
}

func TestService_RetriesWithBackoffThenDelivers(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 500, 502)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`1`)})
	require.Equal(t, 3, b.pump(t))
	require.Equal(t, 3, r.count())

	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	d := ev.Deliveries[0]
	require.Equal(t, StatusDelivered, d.Status)
	require.Equal(t, []int{500, 502, 200}, statuses(d))
	policy := retry.FromConfig(b.cfg.Sets[0].Endpoints[0].Retry)
	for i := 1; i < 3; i++ {
		want, ok := policy.Delay(i, 0, func() float64 { return 0.5 })
		require.True(t, ok)
		prev := d.Attempts[i-1]
		gap := d.Attempts[i].StartedAt.Sub(prev.StartedAt.Add(time.Duration(prev.DurationMs) * time.Millisecond))
		require.InDelta(t, want.Seconds(), gap.Seconds(), 0.002, "delay before attempt %d", i+1)
	}
	for i, a := range d.Attempts {
		require.Equal(t, i+1, a.Number)
		require.Equal(t, res.EventID, a.RequestHeaders["webhook-id"])
	}
}

func TestService_FailsAfterLastAttempt(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 500, 500, 500, 500)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	b.pump(t)
	require.Equal(t, 3, r.count(), "attempts counts the first one")
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, ev.Status)
	require.Equal(t, StatusFailed, ev.Deliveries[0].Status)
	require.Nil(t, ev.Deliveries[0].NextAttemptAt)

	// Resend starts a new round with a fresh budget: the receiver now answers 200 on its 4th request.
	rs, err := b.svc.Resend(context.Background(), "s", res.EventID, "")
	require.NoError(t, err)
	require.Len(t, rs.Deliveries, 1)
	b.pump(t)
	ev, err = b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	require.Equal(t, []int{500, 500, 500, 500, 200}, statuses(ev.Deliveries[0]))
	require.Equal(t, rs.Deliveries[0].AttemptID, ev.Deliveries[0].Attempts[3].ID)

	_, err = b.svc.Resend(context.Background(), "s", res.EventID, "")
	requireCode(t, err, ErrConflict, "nothing_to_resend")
	_, err = b.svc.Resend(context.Background(), "s", res.EventID, "nope")
	requireCode(t, err, ErrInvalid, "unknown_endpoint")
}

func TestService_HonoursRetryAfterAndHops(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 503)
	r.header.Set("Retry-After", "45")
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r, func(ep *config.Endpoint) {
		ep.Retry = &config.Retry{Attempts: 2, Backoff: "fixed", InitialDelaySeconds: 1, MaxDelaySeconds: 3000}
	})}})
	send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	msgs, err := b.queue.Receive(context.Background(), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, b.svc.Process(context.Background(), msgs[0].Body))
	require.Equal(t, 45*time.Second, b.queue.lastDelay().Round(time.Second), "Retry-After replaces the shorter fixed delay")

	// A job due in 2000 s is longer than the queue's 900 s maximum: it hops without attempting.
	far := job{Set: "s", EventID: "whevt_00000000000000000000000000", Endpoint: "e", Attempt: 1, AttemptID: "whatt_00000000000000000000000000", Round: 1, DueAt: b.clock.Now().Add(2000 * time.Second)}
	body, err := json.Marshal(far)
	require.NoError(t, err)
	require.NoError(t, b.svc.Process(context.Background(), body))
	require.Equal(t, 900*time.Second, b.queue.lastDelay())
	require.Equal(t, 1, r.count())
}

func TestService_IdempotentSend(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	req := SendRequest{Type: "t", Payload: json.RawMessage(`{"a": 1}`), IdempotencyKey: "key-1"}
	first := send(t, b, "s", req)
	again := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{ "a":1 }`), IdempotencyKey: "key-1"})
	require.Equal(t, first.EventID, again.EventID)
	require.Equal(t, first.Deliveries, again.Deliveries)
	require.True(t, again.Replayed)
	require.False(t, first.Replayed)

	_, err := b.svc.Send(context.Background(), "s", SendRequest{Type: "t", Payload: json.RawMessage(`{"a": 2}`), IdempotencyKey: "key-1"})
	requireCode(t, err, ErrConflict, "idempotency_key_reused")
	b.pump(t)
	require.GreaterOrEqual(t, r.count(), 1)
	require.LessOrEqual(t, r.count(), 2, "a replay before the first attempt may queue a duplicate, deduplicated by the attempt write")
	list, err := b.svc.ListEvents(context.Background(), "s", ListQuery{})
	require.NoError(t, err)
	require.Len(t, list.Events, 1)
}

// With an EventQueue (the local server's SQLite file), a send stores its event and queues its first
// deliveries in one write, not through Queue; the deliveries, their retries (through Queue) and idempotent
// replays go as with two writes.
func TestService_SendWithEventQueue(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusServiceUnavailable) // the first attempt fails: its retry goes through Queue
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r), endpoint("b", r)}})
	var err error
	b.svc, err = New(Options{
		Config: b.cfg, Store: b.db.Store(), Queue: b.queue, EventQueue: b.db, Named: envsecret.Env{},
		Users: b.db.UserSecrets(), HTTP: egress.New(), Now: b.clock.Now, Rand: rand.Reader,
		Jitter: func() float64 { return 0.5 }, Logger: slog.New(slog.NewTextHandler(b.logs, nil)),
		CursorKey: []byte("test cursor key"),
	})
	require.NoError(t, err)

	req := SendRequest{Type: "t", Payload: json.RawMessage(`{"a": 1}`), IdempotencyKey: "key-1"}
	first := send(t, b, "s", req)
	require.Len(t, first.Deliveries, 2)
	b.queue.mu.Lock()
	require.Empty(t, b.queue.delays, "the first deliveries were queued with the event, not through Queue")
	b.queue.mu.Unlock()
	again := send(t, b, "s", req)
	require.True(t, again.Replayed)
	require.Equal(t, first.EventID, again.EventID)

	require.Equal(t, 3, b.pump(t), "two first attempts (one failed) and one retry")
	require.Equal(t, 3, r.count())
	ev, err := b.svc.GetEvent(context.Background(), "s", first.EventID)
	require.NoError(t, err)
	for _, d := range ev.Deliveries {
		require.Equal(t, StatusDelivered, d.Status, d.Endpoint)
	}
}

func TestService_SendSurvivesQueueOutageBetweenWrites(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r), endpoint("b", r)}})
	req := SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: "k"}
	b.queue.fail.Store(1)
	_, err := b.svc.Send(context.Background(), "s", req)
	require.Error(t, err, "no 2xx when the queue write failed")
	var apiErr *Error
	require.False(t, errors.As(err, &apiErr), "an outage is a server error, not a client one")
	require.Equal(t, 0, b.pump(t), "nothing was queued")

	res := send(t, b, "s", req) // the client's retry with the same key
	require.True(t, res.Replayed)
	require.Equal(t, 2, b.pump(t))
	require.Equal(t, 2, r.count())
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
}

func TestService_ProcessRecoversFromCrashBeforeNextEnqueue(t *testing.T) {
	t.Parallel()
	large := json.RawMessage(`"` + strings.Repeat("x", inlinePayloadMax) + `"`)
	for _, tc := range []struct {
		name    string
		payload json.RawMessage
		// posts is how many POSTs the receiver sees: a message carrying a small event is attempted before
		// the store is read, so a redelivered or duplicated one POSTs again (at least once) before its
		// write conflicts; a large event is read first, and a recorded attempt is not made again.
		posts int
	}{
		{"inline event", json.RawMessage(`{}`), 5},
		{"event read from the store", large, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, 500)
			b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
			res := send(t, b, "s", SendRequest{Type: "t", Payload: tc.payload})
			ctx := context.Background()
			msgs, err := b.queue.Receive(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, msgs, 1)

			b.queue.fail.Store(1) // the attempt is recorded, then queueing its successor fails
			require.Error(t, b.svc.Process(ctx, msgs[0].Body))
			require.Equal(t, 1, r.count())
			// The message was not acknowledged: it comes back, and the successor is queued.
			require.NoError(t, b.svc.Process(ctx, msgs[0].Body))
			require.NoError(t, b.queue.Delete(ctx, msgs[0].Receipt))
			// A duplicate of the message queues nothing more that is attempted twice.
			require.NoError(t, b.svc.Process(ctx, msgs[0].Body))
			b.pump(t)
			require.Equal(t, tc.posts, r.count())
			ev, err := b.svc.GetEvent(ctx, "s", res.EventID)
			require.NoError(t, err)
			require.Equal(t, StatusDelivered, ev.Status)
			require.Equal(t, []int{500, 200}, statuses(ev.Deliveries[0]), "each attempt is recorded once")
		})
	}
}

func TestService_UserSecretsSignAndRotate(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "customer-events", RotationWindowSeconds: 3600, Endpoints: []config.Endpoint{endpoint("customer", r)}})
	ctx := context.Background()

	first, err := b.svc.UserSecret(ctx, "customer-events", "user_123")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first.Current.Value, "whcms_"))
	key, err := signing.Key(first.Current.Value)
	require.NoError(t, err)
	require.Len(t, key, 32)
	require.Nil(t, first.Previous)
	same, err := b.svc.UserSecret(ctx, "customer-events", "user_123")
	require.NoError(t, err)
	require.Equal(t, first, same)
	other, err := b.svc.UserSecret(ctx, "customer-events", "user_456")
	require.NoError(t, err)
	require.NotEqual(t, first.Current.Value, other.Current.Value)

	std := signing.Standard
	verifyWith := func(i int, secrets ...string) error {
		req, body := r.request(i)
		var keys [][]byte
		for _, s := range secrets {
			k, err := signing.Key(s)
			require.NoError(t, err)
			keys = append(keys, k)
		}
		return signing.Verify(std, req.Header, body, keys, 5*time.Minute, b.clock.Now())
	}
	send(t, b, "customer-events", SendRequest{Type: "customer.updated", Payload: json.RawMessage(`{}`), UserID: "user_123"})
	b.pump(t)
	require.NoError(t, verifyWith(0, first.Current.Value))
	require.Error(t, verifyWith(0, other.Current.Value))

	b.clock.Add(10 * time.Second)
	rotated, err := b.svc.RotateUserSecret(ctx, "customer-events", "user_123")
	require.NoError(t, err)
	require.NotEqual(t, first.Current.Value, rotated.Current.Value)
	require.NotNil(t, rotated.Previous)
	require.Equal(t, first.Current.Value, rotated.Previous.Value)
	require.Equal(t, rotated.Current.CreatedAt.Add(time.Hour), *rotated.Previous.ExpiresAt)

	send(t, b, "customer-events", SendRequest{Type: "customer.updated", Payload: json.RawMessage(`{}`), UserID: "user_123"})
	b.pump(t)
	req, _ := r.request(1)
	require.Len(t, strings.Fields(req.Header.Get("webhook-signature")), 2, "both signatures during the window")
	require.NoError(t, verifyWith(1, first.Current.Value))
	require.NoError(t, verifyWith(1, rotated.Current.Value))

	b.clock.Add(time.Hour)
	send(t, b, "customer-events", SendRequest{Type: "customer.updated", Payload: json.RawMessage(`{}`), UserID: "user_123"})
	b.pump(t)
	req, _ = r.request(2)
	require.Len(t, strings.Fields(req.Header.Get("webhook-signature")), 1, "only the new one after the window")
	require.NoError(t, verifyWith(2, rotated.Current.Value))
	require.Error(t, verifyWith(2, first.Current.Value))
	after, err := b.svc.UserSecret(ctx, "customer-events", "user_123")
	require.NoError(t, err)
	require.Nil(t, after.Previous)

	logs := b.logs.String()
	for _, v := range []string{first.Current.Value, rotated.Current.Value, other.Current.Value} {
		require.NotContains(t, logs, v)
	}
	_, err = b.svc.UserSecret(ctx, "customer-events", "bad/user")
	requireCode(t, err, ErrInvalid, "invalid_user_id")
}

// TestService_SecondRotationKeepsTheFirstPromise: a second rotation within the window keeps the first
// previous value signing until the expiresAt the first rotation answered, then drops it.
func TestService_SecondRotationKeepsTheFirstPromise(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "c", RotationWindowSeconds: 3600, Endpoints: []config.Endpoint{endpoint("e", r)}})
	ctx := context.Background()
	v1, err := b.svc.UserSecret(ctx, "c", "u")
	require.NoError(t, err)
	b.clock.Add(10 * time.Minute)
	first, err := b.svc.RotateUserSecret(ctx, "c", "u")
	require.NoError(t, err)
	promised := *first.Previous.ExpiresAt
	b.clock.Add(20 * time.Minute)
	second, err := b.svc.RotateUserSecret(ctx, "c", "u")
	require.NoError(t, err)

	require.Equal(t, first.Current.Value, second.Previous.Value)
	require.Equal(t, second.Current.CreatedAt.Add(time.Hour), *second.Previous.ExpiresAt)
	require.Len(t, second.Older, 1, "the first previous value is kept")
	require.Equal(t, v1.Current.Value, second.Older[0].Value)
	require.Equal(t, promised, *second.Older[0].ExpiresAt, "until the end the first rotation promised")
	got, err := b.svc.UserSecret(ctx, "c", "u")
	require.NoError(t, err)
	require.Equal(t, second, got)

	signedWith := func(i int) []string {
		req, body := r.request(i)
		var ok []string
		for name, v := range map[string]string{"v1": v1.Current.Value, "v2": first.Current.Value, "v3": second.Current.Value} {
			k, err := signing.Key(v)
			require.NoError(t, err)
			if signing.Verify(signing.Standard, req.Header, body, [][]byte{k}, 5*time.Minute, b.clock.Now()) == nil {
				ok = append(ok, name)
			}
		}
		return ok
	}
	send(t, b, "c", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), UserID: "u"})
	b.pump(t)
	require.ElementsMatch(t, []string{"v1", "v2", "v3"}, signedWith(0), "every value within its window signs")

	b.clock.Set(promised)
	send(t, b, "c", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), UserID: "u"})
	b.pump(t)
	require.ElementsMatch(t, []string{"v2", "v3"}, signedWith(1), "the first value's window has ended")
	got, err = b.svc.UserSecret(ctx, "c", "u")
	require.NoError(t, err)
	require.Empty(t, got.Older)
	require.Equal(t, first.Current.Value, got.Previous.Value)
}

// TestService_RotationsBeyondTheLimit: rotations that would keep more than secret.MaxPrevious values in their
// windows are refused with 409 too_many_rotations, and change nothing.
func TestService_RotationsBeyondTheLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, config.Set{Name: "c", Endpoints: []config.Endpoint{endpoint("e", newReceiver(t))}})
	ctx := context.Background()
	_, err := b.svc.UserSecret(ctx, "c", "u")
	require.NoError(t, err)
	for range secret.MaxPrevious {
		b.clock.Add(time.Second)
		_, err := b.svc.RotateUserSecret(ctx, "c", "u")
		require.NoError(t, err)
	}
	before, err := b.svc.UserSecret(ctx, "c", "u")
	require.NoError(t, err)
	require.Len(t, before.Older, secret.MaxPrevious-1)
	b.clock.Add(time.Second)
	_, err = b.svc.RotateUserSecret(ctx, "c", "u")
	requireCode(t, err, ErrConflict, "too_many_rotations")
	after, err := b.svc.UserSecret(ctx, "c", "u")
	require.NoError(t, err)
	require.Equal(t, before, after)
}

func TestService_RefusesPrivateAddressUnlessAllowed(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r, func(ep *config.Endpoint) {
		ep.AllowPrivateNetwork = false
		ep.Retry = &config.Retry{Attempts: 1}
	})}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	b.pump(t)
	require.Equal(t, 0, r.count())
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, ev.Status)
	require.Contains(t, ev.Deliveries[0].Attempts[0].Error, "private address")
}

func TestService_ListPagesNewestFirst(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "a", Endpoints: []config.Endpoint{endpoint("e", r)}}, config.Set{Name: "b", Endpoints: []config.Endpoint{endpoint("e", r)}})
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		b.clock.Add(time.Millisecond)
		ids = append(ids, send(t, b, "a", SendRequest{Type: fmt.Sprintf("t%d", i), Payload: json.RawMessage(`{}`)}).EventID)
	}
	send(t, b, "b", SendRequest{Type: "other", Payload: json.RawMessage(`{}`)})

	var got []string
	cursor := ""
	for {
		page, err := b.svc.ListEvents(ctx, "a", ListQuery{Direction: "outbound", Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		for _, e := range page.Events {
			got = append(got, e.ID)
			require.Equal(t, StatusPending, e.Status)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		_, err = b.svc.ListEvents(ctx, "b", ListQuery{Cursor: cursor})
		requireCode(t, err, ErrInvalid, "invalid_cursor")
	}
	require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, got)

	for _, c := range []string{"garbage", cursor + "x", "e30.AAAAAAAAAAAAAAAAAAAAAA"} {
		_, err := b.svc.ListEvents(ctx, "a", ListQuery{Cursor: c})
		requireCode(t, err, ErrInvalid, "invalid_cursor")
	}
	page, err := b.svc.ListEvents(ctx, "a", ListQuery{Limit: 1})
	require.NoError(t, err)
	b.clock.Add(25 * time.Hour)
	_, err = b.svc.ListEvents(ctx, "a", ListQuery{Cursor: page.NextCursor})
	requireCode(t, err, ErrInvalid, "stale_cursor")
	for _, q := range []ListQuery{{Limit: -1}, {Limit: 101}} {
		_, err = b.svc.ListEvents(ctx, "a", q)
		requireCode(t, err, ErrInvalid, "invalid_limit")
	}
	_, err = b.svc.ListEvents(ctx, "a", ListQuery{Direction: "inbound"})
	requireCode(t, err, ErrInvalid, "invalid_direction")
	_, err = b.svc.GetEvent(ctx, "b", ids[0])
	requireCode(t, err, ErrNotFound, "event_not_found")
}

func TestService_RejectsBadInputAndStoresNothing(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	big := json.RawMessage(`"` + strings.Repeat("x", MaxPayloadBytes) + `"`)
	cases := []struct {
		set  string
		req  SendRequest
		kind error
		code string
	}{
		{"nope", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)}, ErrNotFound, "unknown_set"},
		{"s", SendRequest{Payload: json.RawMessage(`{}`)}, ErrInvalid, "missing_type"},
		{"s", SendRequest{Type: "t"}, ErrInvalid, "missing_payload"},
		{"s", SendRequest{Type: "t", Payload: json.RawMessage(`{`)}, ErrInvalid, "invalid_payload"},
		{"s", SendRequest{Type: "t", Payload: big}, ErrTooLarge, "payload_too_large"},
		{"s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), UserID: "a b"}, ErrInvalid, "invalid_user_id"},
		{"s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), UserID: strings.Repeat("u", 129)}, ErrInvalid, "invalid_user_id"},
		{"s", SendRequest{Type: strings.Repeat("t", 257), Payload: json.RawMessage(`{}`)}, ErrInvalid, "invalid_type"},
		{"s", SendRequest{Type: strings.Repeat("é", 257), Payload: json.RawMessage(`{}`)}, ErrInvalid, "invalid_type"},
		{"s", SendRequest{Type: "t\xff", Payload: json.RawMessage(`{}`)}, ErrInvalid, "invalid_type"},
		{"s", SendRequest{Type: "t", Payload: json.RawMessage("{\"a\":\"\xc3\x28\xff\"}")}, ErrInvalid, "invalid_payload"},
		{"s", SendRequest{Type: "t", Payload: json.RawMessage("\"\xed\xa0\x80\"")}, ErrInvalid, "invalid_payload"}, // a UTF-8-encoded surrogate
		{"s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: strings.Repeat("k", 256)}, ErrInvalid, "invalid_idempotency_key"},
		{"s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: "k\xff"}, ErrInvalid, "invalid_idempotency_key"},
		{"s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: strings.Repeat("é", 256)}, ErrInvalid, "invalid_idempotency_key"},
	}
	for _, c := range cases {
		_, err := b.svc.Send(context.Background(), c.set, c.req)
		requireCode(t, err, c.kind, c.code)
	}
	list, err := b.svc.ListEvents(context.Background(), "s", ListQuery{})
	require.NoError(t, err)
	require.Empty(t, list.Events)
	require.Equal(t, 0, b.pump(t))
	_, err = b.svc.GetEvent(context.Background(), "s", "whevt_nope")
	requireCode(t, err, ErrNotFound, "event_not_found")
}

func statuses(d Delivery) []int {
	var out []int
	for _, a := range d.Attempts {
		out = append(out, a.ResponseStatus)
	}
	return out
}

func requireCode(t *testing.T, err error, kind error, code string) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.ErrorIs(t, err, kind)
	require.Equal(t, code, e.Code, e.Message)
}

// TestService_TypeLengthCountsCharacters pins the OpenAPI rule maxLength 256: characters, not bytes.
func TestService_TypeLengthCountsCharacters(t *testing.T) {
	t.Parallel()
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", newReceiver(t))}})
	typ := strings.Repeat("é", maxTypeLen) // 512 bytes
	res := send(t, b, "s", SendRequest{Type: typ, Payload: json.RawMessage(`{}`)})
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, typ, ev.Type)

	// The Idempotency-Key's maxLength 255 counts characters too (it counted bytes: 128 "é" were refused).
	key := strings.Repeat("é", MaxIdempotencyKeyLen) // 510 bytes
	first := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: key})
	again := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: key})
	require.Equal(t, first.EventID, again.EventID)
	require.True(t, again.Replayed)
}

func TestService_SendFiltersByEventTypes(t *testing.T) {
	t.Parallel()
	invoices, users := newReceiver(t), newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{
		endpoint("invoices", invoices, func(e *config.Endpoint) { e.EventTypes = []string{"invoice.*"} }),
		endpoint("users", users, func(e *config.Endpoint) { e.EventTypes = []string{"user.created", "user.deleted"} }),
	}})
	ctx := context.Background()

	paid := send(t, b, "s", SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`1`)})
	require.Len(t, paid.Deliveries, 1)
	require.Equal(t, "invoices", paid.Deliveries[0].Endpoint)
	created := send(t, b, "s", SendRequest{Type: "user.created", Payload: json.RawMessage(`2`)})
	require.Len(t, created.Deliveries, 1)
	require.Equal(t, "users", created.Deliveries[0].Endpoint)

	none := send(t, b, "s", SendRequest{Type: "order.shipped", Payload: json.RawMessage(`3`)})
	require.NotNil(t, none.Deliveries)
	require.Empty(t, none.Deliveries)
	out, err := json.Marshal(none)
	require.NoError(t, err)
	require.Contains(t, string(out), `"deliveries":[]`)
	ev, err := b.svc.GetEvent(ctx, "s", none.EventID)
	require.NoError(t, err, "an event that matches no endpoint is still stored")
	require.Equal(t, "order.shipped", ev.Type)
	require.Empty(t, ev.Deliveries)

	require.Equal(t, 2, b.pump(t))
	require.Equal(t, 1, invoices.count())
	require.Equal(t, 1, users.count())
	_, body := invoices.request(0)
	require.Contains(t, string(body), paid.EventID)
}

// TestService_PrivateAddressRefusalIsPermanent: a delivery the egress guard refuses fails at its first attempt,
// with the guard's reason, instead of running its retry policy.
func TestService_PrivateAddressRefusalIsPermanent(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r, func(ep *config.Endpoint) {
		ep.AllowPrivateNetwork = false
		ep.Retry = &config.Retry{Attempts: 5, InitialDelaySeconds: 10}
	})}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 1, b.pump(t))
	require.Equal(t, 0, r.count())
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, ev.Status)
	d := ev.Deliveries[0]
	require.Equal(t, StatusFailed, d.Status)
	require.Nil(t, d.NextAttemptAt)
	require.Len(t, d.Attempts, 1)
	require.Contains(t, d.Attempts[0].Error, "refusing to connect to private address 127.0.0.1:")
	require.Contains(t, d.Attempts[0].Error, "Loopback (RFC 1122)")
	require.Contains(t, d.Attempts[0].Error, "allowPrivateNetwork")
	require.Contains(t, d.Reason, "Loopback (RFC 1122) (not retried: the endpoint does not set allowPrivateNetwork)")
	// The log says why, too (item: failed attempts used to log only status=0).
	require.Contains(t, b.logs.String(), `error="egress: refusing to connect to private address 127.0.0.1:`)
}

// TestService_LogsAttemptError: a failed attempt's log line carries its error, not only status=0.
func TestService_LogsAttemptError(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	r.srv.Close() // connection refused
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r, signedHex, func(ep *config.Endpoint) {
		ep.Retry = &config.Retry{Attempts: 1}
	})}})
	send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 1, b.pump(t))
	logs := b.logs.String()
	require.Contains(t, logs, "delivery attempt")
	require.Regexp(t, `outcome=failed status=0 duration=\S+ error=".*connect: connection refused"`, logs)
	require.NotContains(t, logs, namedSecretValue)
}

// TestService_AttemptLogLevels: a failed attempt (retrying, then failed) is logged at WARN; a successful one at
// SucceededLogLevel: INFO by default (the local server), and nothing at all on AWS's setting (DEBUG) with the
// default INFO logger, where the attempt is in the event log and the metrics.
func TestService_AttemptLogLevels(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusServiceUnavailable)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r, func(ep *config.Endpoint) {
		ep.Retry = &config.Retry{Attempts: 2, InitialDelaySeconds: 1}
	})}})
	var aws syncbuf.Buffer
	onAWS, err := New(Options{
		Config: b.cfg, Store: b.db.Store(), Queue: b.queue, Named: envsecret.Env{}, Users: b.db.UserSecrets(),
		HTTP: egress.New(), Now: b.clock.Now, Jitter: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewJSONHandler(&aws, nil)), CursorKey: []byte("test cursor key"),
		SucceededLogLevel: slog.LevelDebug,
	})
	require.NoError(t, err)

	send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 2, b.pumpWith(t, onAWS))
	require.Equal(t, 2, r.count(), "a 503, then a 204")
	var lines []map[string]any
	for line := range strings.Lines(aws.String()) {
		var l map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &l), line)
		lines = append(lines, l)
	}
	require.Len(t, lines, 1, "the retry only: %s", aws.String())
	require.Equal(t, "WARN", lines[0]["level"])
	require.Equal(t, "delivery attempt", lines[0]["msg"])
	require.Equal(t, "retrying", lines[0]["outcome"])
	require.EqualValues(t, http.StatusServiceUnavailable, lines[0]["status"])

	// The default level (the local server's): every attempt, the successful one at INFO.
	send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 1, b.pump(t))
	require.Regexp(t, `level=INFO msg="delivery attempt" event=whevt_\S+ endpoint=e attempt=1 outcome=succeeded status=200`, b.logs.String())

	// A delivery that ends failed is a WARN line too.
	r.srv.Close()
	send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 2, b.pumpWith(t, onAWS))
	require.Contains(t, aws.String(), `"level":"WARN","msg":"delivery attempt"`)
	require.Contains(t, aws.String(), `"outcome":"failed"`)
	require.NotContains(t, aws.String(), `"outcome":"succeeded"`)
}

// TestService_UserSecretSigningNeedsAUser: an endpoint signed with the user's secret (signing.userSecret)
// refuses a send without a userId (nothing stored, nothing queued) instead of delivering it unsigned; with a
// userId it is signed with that user's managed secret. An endpoint without signing takes sends without a user.
func TestService_UserSecretSigningNeedsAUser(t *testing.T) {
	t.Parallel()
	customer, plain := newReceiver(t), newReceiver(t)
	userSigned := func(ep *config.Endpoint) { ep.Signing = &config.Signing{UserSecret: true} }
	onlyInvoices := func(ep *config.Endpoint) { ep.EventTypes = []string{"invoice.*"} }
	b := setup(t,
		config.Set{Name: "customer-events", Endpoints: []config.Endpoint{endpoint("customer", customer, userSigned, onlyInvoices)}},
		config.Set{Name: "internal", Endpoints: []config.Endpoint{endpoint("plain", plain)}},
	)
	ctx := context.Background()

	_, err := b.svc.Send(ctx, "customer-events", SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`{}`)})
	requireCode(t, err, ErrInvalid, "missing_user_id")
	require.ErrorContains(t, err, `endpoint "customer"`)
	list, err := b.svc.ListEvents(ctx, "customer-events", ListQuery{})
	require.NoError(t, err)
	require.Empty(t, list.Events)
	require.Equal(t, 0, b.pump(t))

	// An event type the endpoint does not receive needs no user.
	send(t, b, "customer-events", SendRequest{Type: "customer.updated", Payload: json.RawMessage(`{}`)})

	send(t, b, "customer-events", SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`{}`), UserID: "user_1"})
	send(t, b, "internal", SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`{}`)})
	b.pump(t)
	require.Equal(t, 1, customer.count())
	us, err := b.svc.UserSecret(ctx, "customer-events", "user_1")
	require.NoError(t, err)
	key, err := signing.Key(us.Current.Value)
	require.NoError(t, err)
	req, body := customer.request(0)
	require.NoError(t, signing.Verify(signing.Standard, req.Header, body, [][]byte{key}, time.Minute, b.clock.Now()))

	require.Equal(t, 1, plain.count())
	preq, _ := plain.request(0)
	require.Empty(t, preq.Header.Get("webhook-signature"), "an endpoint without signing is unsigned by choice")
}
