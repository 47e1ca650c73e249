package awsapp_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awsapp"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
)

func fullEnv() map[string]string {
	return map[string]string{
		lambdaenv.ConfigFile:        "/var/task/webhooks.json",
		lambdaenv.Table:             "outhook-events",
		lambdaenv.QueueURL:          "https://sqs.eu-west-1.amazonaws.com/123456789012/outhook-deliveries",
		lambdaenv.UserSecretPrefix:  "outhook/prod/users/",
		lambdaenv.NamedSecretPrefix: "outhook/prod/named/",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadEnv(t *testing.T) {
	t.Parallel()
	env, err := awsapp.LoadEnv(getenv(fullEnv()))
	require.NoError(t, err)
	require.Equal(t, "/var/task/webhooks.json", env.ConfigFile)
	require.Equal(t, "outhook-events", env.Table)
	require.Equal(t, "https://sqs.eu-west-1.amazonaws.com/123456789012/outhook-deliveries", env.QueueURL)
	require.Equal(t, "outhook/prod/users/", env.UserSecretPrefix)
	require.Equal(t, "outhook/prod/named/", env.NamedSecretPrefix)
	require.Len(t, env.CursorKey, 32, "derived from the table name when OUTHOOK_CURSOR_KEY is empty")

	again, err := awsapp.LoadEnv(getenv(fullEnv()))
	require.NoError(t, err)
	require.Equal(t, env.CursorKey, again.CursorKey, "every function of a deployment derives the same key")

	other := fullEnv()
	other[lambdaenv.Table] = "outhook-staging"
	staging, err := awsapp.LoadEnv(getenv(other))
	require.NoError(t, err)
	require.NotEqual(t, env.CursorKey, staging.CursorKey, "another table, another key")

	other[lambdaenv.CursorKeySecret] = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:CursorKey-AbCdEf"
	fromSecret, err := awsapp.LoadEnv(getenv(other))
	require.NoError(t, err)
	require.Equal(t, other[lambdaenv.CursorKeySecret], fromSecret.CursorKeySecret)
	require.Nil(t, fromSecret.CursorKey, "New reads it from the secret, instead of deriving it from the table name")

	other[lambdaenv.CursorKey] = "a configured key"
	keyed, err := awsapp.LoadEnv(getenv(other))
	require.NoError(t, err)
	require.Equal(t, []byte("a configured key"), keyed.CursorKey)
	require.Empty(t, keyed.CursorKeySecret, "a key given directly wins")
}

func TestLoadEnv_Missing(t *testing.T) {
	t.Parallel()
	for _, name := range lambdaenv.Required {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := fullEnv()
			delete(m, name)
			_, err := awsapp.LoadEnv(getenv(m))
			require.EqualError(t, err, "environment variable "+name+" is required")
		})
	}
}

func TestLoadEnv_TaskRoot(t *testing.T) {
	t.Parallel()
	m := fullEnv()
	m[lambdaenv.TaskRoot] = "/var/task"
	m[lambdaenv.ConfigFile] = "config/webhooks.json"
	env, err := awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Equal(t, "/var/task/config/webhooks.json", env.ConfigFile, "a relative path is resolved against the task root")

	m[lambdaenv.ConfigFile] = "/opt/webhooks.json"
	env, err = awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Equal(t, "/opt/webhooks.json", env.ConfigFile, "an absolute path is kept")
}

func TestLoadEnv_MaxReceiveCount(t *testing.T) {
	t.Parallel()
	m := fullEnv()
	env, err := awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Zero(t, env.MaxReceiveCount, "unset: deliver never ends a delivery for its receives")

	m[lambdaenv.MaxReceiveCount] = "5"
	env, err = awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Equal(t, 5, env.MaxReceiveCount)

	for _, bad := range []string{"0", "-1", "five"} {
		m[lambdaenv.MaxReceiveCount] = bad
		_, err = awsapp.LoadEnv(getenv(m))
		require.ErrorContains(t, err, lambdaenv.MaxReceiveCount, bad)
	}
}

func TestLoadEnv_DeadLetterARN(t *testing.T) {
	t.Parallel()
	m := fullEnv()
	env, err := awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Empty(t, env.DeadLetterARN, "unset: deliver treats every record as a delivery")

	m[lambdaenv.DeadLetterARN] = "arn:aws:sqs:eu-west-1:123456789012:dlq"
	env, err = awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Equal(t, "arn:aws:sqs:eu-west-1:123456789012:dlq", env.DeadLetterARN)
}

func TestLoadEnv_UserSecretCache(t *testing.T) {
	t.Parallel()
	m := fullEnv()
	env, err := awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Equal(t, awsapp.DefaultUserSecretCacheTTL, env.UserSecretCacheTTL)

	m[lambdaenv.UserSecretCache] = "0s"
	env, err = awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Zero(t, env.UserSecretCacheTTL)

	for _, bad := range []string{"soon", "-1m", "60"} {
		m[lambdaenv.UserSecretCache] = bad
		_, err = awsapp.LoadEnv(getenv(m))
		require.ErrorContains(t, err, lambdaenv.UserSecretCache, bad)
	}
}

func TestLoadEnv_LogLevel(t *testing.T) {
	t.Parallel()
	m := fullEnv()
	env, err := awsapp.LoadEnv(getenv(m))
	require.NoError(t, err)
	require.Equal(t, slog.LevelInfo, env.LogLevel, "unset (text log format, the emulator): INFO")

	for value, want := range map[string]slog.Level{"DEBUG": slog.LevelDebug, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		m[lambdaenv.LogLevel] = value
		env, err = awsapp.LoadEnv(getenv(m))
		require.NoError(t, err)
		require.Equal(t, want, env.LogLevel, value)
	}
	m[lambdaenv.LogLevel] = "VERBOSE"
	_, err = awsapp.LoadEnv(getenv(m))
	require.ErrorContains(t, err, lambdaenv.LogLevel)
}
