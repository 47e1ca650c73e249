package smsecret_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/smsecret"
	"github.com/outhook/outhook/shared/secret"
)

func TestUserStore_CacheTTL(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	prefix := awstest.UniqueName("outhook-test/") + "/users/"
	api := smsecret.NewUserStore(secretsmanager.NewFromConfig(cfg), prefix, smsecret.UserOptions{})

	counter, clk := awstest.NewCounter(), newClock()
	counted := cfg.Copy()
	counter.Instrument(&counted)
	deliver := smsecret.NewUserStore(secretsmanager.NewFromConfig(counted), prefix,
		smsecret.UserOptions{CacheTTL: 30 * time.Second, Now: clk.Now})

	ctx := context.Background()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v1 := secret.Version{Value: "whcms_one", CreatedAt: at}
	v2 := secret.Version{Value: "whcms_two", CreatedAt: at.Add(time.Hour)}
	_, err := api.Create(ctx, "billing", "user_1", v1)
	require.NoError(t, err)

	got, err := deliver.Get(ctx, "billing", "user_1")
	require.NoError(t, err)
	require.Equal(t, secret.User{Current: v1}, got)
	require.Equal(t, 1, counter.Count("Secrets Manager", "GetSecretValue"), "AWSCURRENT holds the whole secret")

	_, err = api.Rotate(ctx, "billing", "user_1", v2, at.Add(-time.Hour))
	require.NoError(t, err)
	got, err = deliver.Get(ctx, "billing", "user_1")
	require.NoError(t, err)
	require.Equal(t, secret.User{Current: v1}, got, "a rotation elsewhere is seen late, within the TTL")
	require.Equal(t, 1, counter.Count("Secrets Manager", "GetSecretValue"), "a cache hit makes no call")

	clk.Advance(30 * time.Second)
	got, err = deliver.Get(ctx, "billing", "user_1")
	require.NoError(t, err)
	require.Equal(t, secret.User{Current: v2, Previous: []secret.Version{v1}}, got)

	fresh, err := api.Get(ctx, "billing", "user_1")
	require.NoError(t, err)
	require.Equal(t, got, fresh, "without CacheTTL every Get reads")
}

// TestUserStore_ReadsTheFormerFormat: a secret written before the previous list existed ({value, createdAt},
// rotated with AWSPREVIOUS holding the one previous value) reads with that previous value, and rotates into
// the new form keeping it.
func TestUserStore_ReadsTheFormerFormat(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	api := secretsmanager.NewFromConfig(cfg)
	prefix := awstest.UniqueName("outhook-test/") + "/users/"
	s := smsecret.NewUserStore(api, prefix, smsecret.UserOptions{})
	ctx := context.Background()
	name := prefix + "billing/user_1"
	_, err := api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name,
		SecretString: aws.String(`{"value":"whcms_one","createdAt":"2026-11-27T12:00:00Z"}`)})
	require.NoError(t, err)
	_, err = api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name,
		SecretString: aws.String(`{"value":"whcms_two","createdAt":"2026-11-27T13:00:00Z"}`)})
	require.NoError(t, err)

	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v1 := secret.Version{Value: "whcms_one", CreatedAt: at}
	v2 := secret.Version{Value: "whcms_two", CreatedAt: at.Add(time.Hour)}
	got, err := s.Get(ctx, "billing", "user_1")
	require.NoError(t, err)
	require.Equal(t, secret.User{Current: v2, Previous: []secret.Version{v1}}, got)

	v3 := secret.Version{Value: "whcms_three", CreatedAt: at.Add(2 * time.Hour)}
	_, err = s.Rotate(ctx, "billing", "user_1", v3, at.Add(-time.Hour))
	require.NoError(t, err)
	got, err = s.Get(ctx, "billing", "user_1")
	require.NoError(t, err)
	require.Equal(t, secret.User{Current: v3, Previous: []secret.Version{v2, v1}}, got)
}

func TestUserStore_InvalidNames(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	counter := awstest.NewCounter()
	counter.Instrument(&cfg)
	s := smsecret.NewUserStore(secretsmanager.NewFromConfig(cfg), "outhook-test/users/", smsecret.UserOptions{})
	ctx := context.Background()

	for _, tc := range []struct{ set, user string }{
		{"billing", "user/../other"},
		{"billing", "user 1"},
		{"billing", ""},
		{"bill/ing", "user_1"},
	} {
		_, err := s.Get(ctx, tc.set, tc.user)
		require.Error(t, err, "%s/%s", tc.set, tc.user)
		_, err = s.Create(ctx, tc.set, tc.user, secret.Version{Value: "whcms_x", CreatedAt: time.Now()})
		require.Error(t, err, "%s/%s", tc.set, tc.user)
	}
	require.Zero(t, counter.Total(), "invalid names never reach Secrets Manager")
}
