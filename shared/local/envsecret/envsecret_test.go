package envsecret_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/secret"
)

// setenv sets a variable for the test. Unlike t.Setenv it allows t.Parallel, so every test uses its own name.
func setenv(t *testing.T, name, value string) {
	t.Helper()
	require.NoError(t, os.Setenv(name, value))
	t.Cleanup(func() { require.NoError(t, os.Unsetenv(name)) })
}

func TestEnv_Named(t *testing.T) {
	t.Parallel()
	setenv(t, "OUTHOOK_TEST_ENVSECRET_SET", "whsec_c2VjcmV0IHZhbHVl")
	got, err := envsecret.Env{}.Named(context.Background(), "OUTHOOK_TEST_ENVSECRET_SET")
	require.NoError(t, err)
	require.Equal(t, "whsec_c2VjcmV0IHZhbHVl", got)
}

func TestEnv_NamedMissing(t *testing.T) {
	t.Parallel()
	setenv(t, "OUTHOOK_TEST_ENVSECRET_EMPTY", "")
	for _, name := range []string{"OUTHOOK_TEST_ENVSECRET_UNSET", "OUTHOOK_TEST_ENVSECRET_EMPTY"} {
		_, err := envsecret.Env{}.Named(context.Background(), name)
		require.ErrorIs(t, err, secret.ErrNotFound)
		require.ErrorContains(t, err, name, "the error names the variable")
	}
}
