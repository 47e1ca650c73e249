package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/secret"
)

// failingNamed is the real named-secret source with an outage: its next fail reads fail.
type failingNamed struct {
	real secret.Named
	fail atomic.Int32
}

func (f *failingNamed) Named(ctx context.Context, name string) (string, error) {
	if f.fail.Add(-1) >= 0 {
		return "", errors.New("injected secret store outage")
	}
	return f.real.Named(ctx, name)
}

// failingUsers is the real user-secret store with an outage: its next fail reads fail.
type failingUsers struct {
	secret.UserStore
	fail atomic.Int32
}

func (f *failingUsers) Get(ctx context.Context, set, userID string) (secret.User, error) {
	if f.fail.Add(-1) >= 0 {
		return secret.User{}, errors.New("injected secret store outage")
	}
	return f.UserStore.Get(ctx, set, userID)
}

// TestService_SecretOutageSpendsNoAttempt: while the secret stores fail, a delivery's message is retried
// without an attempt recorded or a POST; once they answer, each delivery is made with its first attempt,
// its whole retry budget left (attempts: 2).
func TestService_SecretOutageSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	twoAttempts := func(ep *config.Endpoint) { ep.Retry.Attempts = 2 }
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{
		endpoint("named", r, signedHex, twoAttempts), endpoint("user", r, twoAttempts)}})
	named := &failingNamed{real: envsecret.Env{}}
	users := &failingUsers{UserStore: b.db.UserSecrets()}
	svc, err := New(Options{
		Config: b.cfg, Store: b.db.Store(), Queue: b.queue, Named: named, Users: users,
		HTTP: egress.New(), Now: b.clock.Now, Rand: rand.Reader, Jitter: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewTextHandler(b.logs, nil)), CursorKey: []byte("test cursor key"),
	})
	require.NoError(t, err)

	res, err := svc.Send(context.Background(), "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`), UserID: "u1"})
	require.NoError(t, err)
	named.fail.Store(5)
	users.fail.Store(5)
	b.pumpWith(t, svc)
	require.Less(t, named.fail.Load(), int32(0), "the outage was met")
	require.Less(t, users.fail.Load(), int32(0), "the outage was met")

	require.Equal(t, 2, r.count(), "one POST per delivery, none while the secrets could not be read")
	ev, err := svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	for _, d := range ev.Deliveries {
		require.Len(t, d.Attempts, 1, d.Endpoint)
		require.Equal(t, 1, d.Attempts[0].Number, "the first attempt: no budget spent on the outage")
		require.Equal(t, 200, d.Attempts[0].ResponseStatus)
	}
}

// TestService_MissingSecretFailsTheAttempt: a named secret that does not exist is a configuration error, not
// an outage: the attempt fails (without a POST) and is retried by the endpoint's policy.
func TestService_MissingSecretFailsTheAttempt(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("named", r, func(ep *config.Endpoint) {
		signedHex(ep)
		ep.Signing.Secret = "WEBHOOK_SERVICE_TEST_NO_SUCH_SECRET"
		ep.Retry.Attempts = 2
	})}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	b.pump(t)
	require.Equal(t, 0, r.count())
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, ev.Status)
	require.Len(t, ev.Deliveries[0].Attempts, 2)
	require.Contains(t, ev.Deliveries[0].Attempts[0].Error, "WEBHOOK_SERVICE_TEST_NO_SUCH_SECRET")
}
