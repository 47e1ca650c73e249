package smsecret_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/smsecret"
	"github.com/outhook/outhook/shared/secret"
)

// clock is a settable test clock.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) Advance(d time.Duration) { c.now.Add(int64(d)) }

type namedBundle struct {
	client  *secretsmanager.Client // uncounted, to arrange secrets
	named   *smsecret.Named
	counter *awstest.Counter
	clock   *clock
	prefix  string
}

func setupNamed(t *testing.T) namedBundle {
	t.Helper()
	cfg := awstest.Config(t)
	b := namedBundle{client: secretsmanager.NewFromConfig(cfg), counter: awstest.NewCounter(), clock: newClock(),
		prefix: awstest.UniqueName("outhook-test/") + "/named/"}
	counted := cfg.Copy()
	b.counter.Instrument(&counted)
	b.named = smsecret.NewNamed(secretsmanager.NewFromConfig(counted), b.prefix, smsecret.NamedOptions{TTL: time.Minute, Now: b.clock.Now})
	return b
}

func (b namedBundle) create(t *testing.T, name, value string) {
	t.Helper()
	_, err := b.client.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(b.prefix + name), SecretString: aws.String(value),
	})
	require.NoError(t, err)
}

func (b namedBundle) put(t *testing.T, name, value string) {
	t.Helper()
	_, err := b.client.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(b.prefix + name), SecretString: aws.String(value),
	})
	require.NoError(t, err)
}

func TestNamed_Named(t *testing.T) {
	t.Parallel()
	b := setupNamed(t)
	ctx := context.Background()
	b.create(t, "CRM_SIGNING_SECRET", "whsec_first")

	got, err := b.named.Named(ctx, "CRM_SIGNING_SECRET")
	require.NoError(t, err)
	require.Equal(t, "whsec_first", got)
	require.Equal(t, 1, b.counter.Count("Secrets Manager", "GetSecretValue"))

	b.put(t, "CRM_SIGNING_SECRET", "whsec_second")
	b.clock.Advance(59 * time.Second)
	got, err = b.named.Named(ctx, "CRM_SIGNING_SECRET")
	require.NoError(t, err)
	require.Equal(t, "whsec_first", got, "served from the cache within the TTL")
	require.Equal(t, 1, b.counter.Count("Secrets Manager", "GetSecretValue"), "a cache hit makes no call")

	b.clock.Advance(time.Second)
	got, err = b.named.Named(ctx, "CRM_SIGNING_SECRET")
	require.NoError(t, err)
	require.Equal(t, "whsec_second", got, "read again once the TTL has passed")
	require.Equal(t, 2, b.counter.Count("Secrets Manager", "GetSecretValue"))
}

func TestNamed_Concurrent(t *testing.T) {
	t.Parallel()
	b := setupNamed(t)
	b.create(t, "PARTNER", "whsec_partner")

	const callers = 100
	values := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { values[i], errs[i] = b.named.Named(context.Background(), "PARTNER") })
	}
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, "whsec_partner", values[i])
	}
	require.Equal(t, 1, b.counter.Count("Secrets Manager", "GetSecretValue"), "%d concurrent deliveries make one call", callers)
}

func TestNamed_NotFound(t *testing.T) {
	t.Parallel()
	b := setupNamed(t)
	ctx := context.Background()

	_, err := b.named.Named(ctx, "MISSING_SECRET")
	require.ErrorIs(t, err, secret.ErrNotFound)
	require.ErrorContains(t, err, "MISSING_SECRET")

	b.create(t, "MISSING_SECRET", "whsec_now_there")
	got, err := b.named.Named(ctx, "MISSING_SECRET")
	require.NoError(t, err, "a miss is not cached")
	require.Equal(t, "whsec_now_there", got)
}
