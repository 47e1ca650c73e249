package smsecret

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCache_Sweep(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := newCache[int](time.Minute, func() time.Time { return now })
	load := func(n int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { return n, nil }
	}
	for i := range minSweep - 1 {
		_, err := c.get(context.Background(), fmt.Sprint("old", i), load(i))
		require.NoError(t, err)
	}
	require.Len(t, c.items, minSweep-1)

	now = now.Add(time.Minute) // every entry so far has expired
	got, err := c.get(context.Background(), "new", load(42))
	require.NoError(t, err)
	require.Equal(t, 42, got)
	require.Len(t, c.items, 1, "expired entries are dropped once the map is large")

	got, err = c.get(context.Background(), "new", load(0))
	require.NoError(t, err)
	require.Equal(t, 42, got, "the fresh entry is still served")
}
