package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/store"
)

// countingStore is the real SQLite store with a count of the calls the domain makes, by method.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingStore) count(m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[m]++
}

func (c *countingStore) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *countingStore) CreateEvent(ctx context.Context, ev store.Event) (store.Event, error) {
	c.count("CreateEvent")
	return c.Store.CreateEvent(ctx, ev)
}

func (c *countingStore) GetEvent(ctx context.Context, set, id string) (store.Record, error) {
	c.count("GetEvent")
	return c.Store.GetEvent(ctx, set, id)
}

func (c *countingStore) PutAttempt(ctx context.Context, a store.Attempt) error {
	c.count("PutAttempt")
	return c.Store.PutAttempt(ctx, a)
}

func (c *countingStore) ListEndpoints(ctx context.Context, set, userID string) ([]store.Endpoint, error) {
	c.count("ListEndpoints")
	return c.Store.ListEndpoints(ctx, set, userID)
}

func (c *countingStore) GetEndpoint(ctx context.Context, ref store.EndpointRef) (store.Endpoint, error) {
	c.count("GetEndpoint")
	return c.Store.GetEndpoint(ctx, ref)
}

func (c *countingStore) UpdateEndpoint(ctx context.Context, ep store.Endpoint) (store.Endpoint, error) {
	c.count("UpdateEndpoint")
	return c.Store.UpdateEndpoint(ctx, ep)
}

// countCalls replaces b's service with one over a countingStore (and an EndpointStateTTL of an hour), and
// returns the store.
func countCalls(t *testing.T, b *bundle) *countingStore {
	t.Helper()
	counting := &countingStore{Store: b.db.Store(), calls: map[string]int{}}
	var err error
	b.svc, err = New(Options{
		Config: b.cfg, Store: counting, Queue: b.queue, Named: envsecret.Env{}, Users: b.db.UserSecrets(),
		HTTP: egress.New(), Now: b.clock.Now, Rand: rand.Reader, Jitter: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewTextHandler(b.logs, nil)), CursorKey: []byte("k"), EndpointStateTTL: time.Hour,
	})
	require.NoError(t, err)
	return counting
}

// TestService_CostRules holds the domain to the cost rules of DESIGN.md: healthy deliveries to a static
// endpoint write the event and one attempt each and read nothing but the endpoint's state once per
// EndpointStateTTL; health is written when it changes, not per success; a send with a userId adds one read
// of the user's endpoints.
func TestService_CostRules(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)},
		UserEndpoints: &config.UserEndpoints{Enabled: true, AllowPrivateNetwork: true}})
	counting := countCalls(t, b)
	ctx := context.Background()

	const n = 20
	for range n {
		send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	}
	require.Equal(t, map[string]int{"CreateEvent": n}, counting.take(), "a send without a user reads nothing")
	require.Equal(t, n, b.pump(t))
	require.Equal(t, map[string]int{"PutAttempt": n, "GetEndpoint": 1, "UpdateEndpoint": 1}, counting.take(),
		"one attempt write per delivery; the state read once per TTL; health written once (the first lastSuccessAt)")
	b.clock.Add(healthResolution / 2)
	for range n {
		send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	}
	counting.take()
	b.pump(t)
	require.Equal(t, map[string]int{"PutAttempt": n}, counting.take(), "healthy deliveries: no read, no health write")

	_, _, err := b.svc.PutUserEndpoint(ctx, "s", "alice", "hooks", EndpointRequest{URL: r.srv.URL + "/alice"})
	require.NoError(t, err)
	counting.take()
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), UserID: "alice"})
	require.Len(t, res.Deliveries, 2)
	require.Equal(t, map[string]int{"CreateEvent": 1, "ListEndpoints": 1}, counting.take(),
		"a send with a user adds one read: the user's endpoints")
}

// TestService_CostRules_ConcurrentDeliveries: a batch of deliveries to one endpoint processed at once by a
// fresh worker (as deliver processes an SQS batch) reads the endpoint's state once and records its first
// success once, not once per delivery.
func TestService_CostRules_ConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	counting := countCalls(t, b)
	ctx := context.Background()

	const n = 10
	for range n {
		send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	}
	msgs, err := b.queue.Receive(ctx, n, time.Minute)
	require.NoError(t, err)
	require.Len(t, msgs, n)
	counting.take()
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Go(func() { assert.NoError(t, b.svc.Process(ctx, m.Body)) })
	}
	wg.Wait()
	require.Equal(t, map[string]int{"PutAttempt": n, "GetEndpoint": 1, "UpdateEndpoint": 1}, counting.take(),
		"one state read and one health write for the batch")
	require.Equal(t, n, r.count())
}
