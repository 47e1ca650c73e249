package webhook

import (
	"bytes"
	"crypto/rand"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIDSource_SortableAndValid(t *testing.T) {
	t.Parallel()
	g := newIDSource(rand.Reader)
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 2000 {
		// Several ids per millisecond, and a clock that steps back once: order must still hold.
		now := base.Add(time.Duration(i/7) * time.Millisecond)
		if i == 1000 {
			now = base
		}
		id, err := g.next(eventPrefix, now)
		require.NoError(t, err)
		require.True(t, validID(eventPrefix, id), id)
		ids = append(ids, id)
	}
	require.True(t, sort.StringsAreSorted(ids), "ids must increase")
	seen := map[string]bool{}
	for _, id := range ids {
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}

func TestIDSource_EncodesTime(t *testing.T) {
	t.Parallel()
	zeros := newIDSource(bytes.NewReader(make([]byte, 10)))
	id, err := zeros.next(attemptPrefix, time.UnixMilli(1))
	require.NoError(t, err)
	require.Equal(t, "whatt_00000000010000000000000000", id)
	later, err := newIDSource(rand.Reader).next(attemptPrefix, time.UnixMilli(2))
	require.NoError(t, err)
	require.Less(t, id, later)
}

func TestValidID(t *testing.T) {
	t.Parallel()
	require.True(t, validID(eventPrefix, "whevt_01JDZ8W6Q9X4T7N2M5K8R3V6Y0"))
	for _, bad := range []string{"", "whevt_", "whatt_01JDZ8W6Q9X4T7N2M5K8R3V6Y0", "whevt_01JDZ8W6Q9X4T7N2M5K8R3V6Y", "whevt_01JDZ8W6Q9X4T7N2M5K8R3V6YI", "whevt_81JDZ8W6Q9X4T7N2M5K8R3V6Y0", "whevt_01jdz8w6q9x4t7n2m5k8r3v6y0"} {
		require.False(t, validID(eventPrefix, bad), bad)
	}
}
