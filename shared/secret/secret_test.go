package secret_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/secret"
)

func TestUser_Rotated(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	v := func(name string, minutes int) secret.Version {
		return secret.Version{Value: name, CreatedAt: t0.Add(time.Duration(minutes) * time.Minute)}
	}
	// v1 replaced at 10 min by v2, v2 at 20 min by v3 (current).
	u := secret.User{Current: v("v3", 20), Previous: []secret.Version{v("v2", 10), v("v1", 0)}}
	require.Equal(t, t0.Add(20*time.Minute), u.ReplacedAt(0))
	require.Equal(t, t0.Add(10*time.Minute), u.ReplacedAt(1))

	for _, tc := range []struct {
		name      string
		keepSince time.Time
		want      []string
	}{
		{"every window open", t0, []string{"v3", "v2", "v1"}},
		{"v1's window closed exactly at keepSince", t0.Add(10 * time.Minute), []string{"v3", "v2"}},
		{"v2's closed too; the value replaced now always stays", t0.Add(time.Hour), []string{"v3"}},
	} {
		got, err := u.Rotated(v("v4", 30), tc.keepSince)
		require.NoError(t, err, tc.name)
		require.Equal(t, "v4", got.Current.Value, tc.name)
		var names []string
		for _, p := range got.Previous {
			names = append(names, p.Value)
		}
		require.Equal(t, tc.want, names, tc.name)
	}
	require.Len(t, u.Previous, 2, "Rotated leaves u as it was")

	full := secret.User{Current: v("c", 100)}
	for i := range secret.MaxPrevious - 1 {
		full.Previous = append(full.Previous, v("p", 99-i))
	}
	_, err := full.Rotated(v("n", 101), t0)
	require.NoError(t, err, "MaxPrevious previous values are allowed")
	full.Previous = append(full.Previous, v("p", 0))
	_, err = full.Rotated(v("n", 101), t0)
	require.ErrorIs(t, err, secret.ErrTooManyPrevious)
}
