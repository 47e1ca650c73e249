// Package secrettest is the conformance suite of the per-user secret port (secret.UserStore). Every adapter
// runs it:
//
//	func TestUserStore(t *testing.T) {
//		secrettest.RunUserStore(t, func(t *testing.T) secret.UserStore { return newAdapter(t) })
//	}
//
// Subtests use fresh set and user names, so newStore may return one shared store as well as a fresh one per
// call. CreatedAt values are whole seconds in UTC, the precision Secrets Manager keeps.
package secrettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/secret"
)

// RunUserStore runs the whole suite against the stores made by newStore.
func RunUserStore(t *testing.T, newStore func(t *testing.T) secret.UserStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s secret.UserStore)
	}{
		{"Get_NotFound", testGetNotFound},
		{"Create_Get", testCreateGet},
		{"Create_Conflict", testCreateConflict},
		{"Create_Race", testCreateRace},
		{"Rotate", testRotate},
		{"Rotate_KeepsEveryPreviousInItsWindow", testRotateKeepsPrevious},
		{"Rotate_TooManyPrevious", testRotateTooMany},
		{"Rotate_Concurrent", testRotateConcurrent},
		{"Rotate_NotFound", testRotateNotFound},
		{"Sets_Independent", testSetsIndependent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// unique returns prefix plus random hex, so that subtests and runs sharing one backend never collide.
func unique(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b)
}

// version makes a secret version created at, truncated to the second in UTC.
func version(t *testing.T, at time.Time) secret.Version {
	t.Helper()
	return secret.Version{Value: unique(t, "whcms_"), CreatedAt: at.UTC().Truncate(time.Second)}
}

// normalize puts the times of u in UTC so that values compare with require.Equal.
func normalize(u secret.User) secret.User {
	u.Current.CreatedAt = u.Current.CreatedAt.UTC()
	if len(u.Previous) == 0 {
		u.Previous = nil
		return u
	}
	prev := make([]secret.Version, len(u.Previous))
	for i, p := range u.Previous {
		p.CreatedAt = p.CreatedAt.UTC()
		prev[i] = p
	}
	u.Previous = prev
	return u
}

func mustGet(t *testing.T, s secret.UserStore, set, user string) secret.User {
	t.Helper()
	u, err := s.Get(context.Background(), set, user)
	require.NoError(t, err, "get secret of %s/%s", set, user)
	return normalize(u)
}

func testGetNotFound(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	_, err := s.Get(ctx, set, user)
	require.ErrorIs(t, err, secret.ErrNotFound)

	_, err = s.Create(ctx, set, user, version(t, time.Now()))
	require.NoError(t, err)
	_, err = s.Get(ctx, set, unique(t, "user_"))
	require.ErrorIs(t, err, secret.ErrNotFound, "another user of the same set")
}

func testCreateGet(t *testing.T, s secret.UserStore) {
	set, user := unique(t, "set-"), unique(t, "user.name+tag@example.com=")
	v := version(t, time.Now().Add(-time.Hour))
	created, err := s.Create(context.Background(), set, user, v)
	require.NoError(t, err)
	want := secret.User{Current: v}
	require.Equal(t, want, normalize(created))
	require.Equal(t, want, mustGet(t, s, set, user))
}

func testCreateConflict(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	first := version(t, time.Now())
	_, err := s.Create(ctx, set, user, first)
	require.NoError(t, err)

	_, err = s.Create(ctx, set, user, version(t, time.Now()))
	require.ErrorIs(t, err, secret.ErrConflict)
	require.Equal(t, secret.User{Current: first}, mustGet(t, s, set, user), "the first value stays")
}

func testCreateRace(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	const racers = 10
	versions := make([]secret.Version, racers)
	for i := range versions {
		versions[i] = version(t, time.Now())
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range versions {
		wg.Go(func() { _, errs[i] = s.Create(ctx, set, user, versions[i]) })
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "only one Create wins")
			winner = i
			continue
		}
		require.ErrorIs(t, err, secret.ErrConflict, "racer %d", i)
	}
	require.NotEqual(t, -1, winner, "one Create wins")
	require.Equal(t, secret.User{Current: versions[winner]}, mustGet(t, s, set, user))
}

func testRotate(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	start := time.Now().Add(-48 * time.Hour)
	v1, v2, v3 := version(t, start), version(t, start.Add(time.Hour)), version(t, start.Add(2*time.Hour))
	_, err := s.Create(ctx, set, user, v1)
	require.NoError(t, err)

	rotated, err := s.Rotate(ctx, set, user, v2, start.Add(-time.Hour))
	require.NoError(t, err)
	want := secret.User{Current: v2, Previous: []secret.Version{v1}}
	require.Equal(t, want, normalize(rotated))
	require.Equal(t, want, mustGet(t, s, set, user))

	// v1 was replaced at v2's creation: a window that began then has passed at keepSince.
	rotated, err = s.Rotate(ctx, set, user, v3, v2.CreatedAt)
	require.NoError(t, err)
	want = secret.User{Current: v3, Previous: []secret.Version{v2}}
	require.Equal(t, want, normalize(rotated), "a previous value replaced at or before keepSince is dropped")
	require.Equal(t, want, mustGet(t, s, set, user))
}

// testRotateKeepsPrevious: a second rotation within the first one's window keeps the first previous value,
// which the first rotation promised until its window ends.
func testRotateKeepsPrevious(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	start := time.Now().Add(-time.Hour)
	v1, v2, v3, v4 := version(t, start), version(t, start.Add(time.Minute)), version(t, start.Add(2*time.Minute)),
		version(t, start.Add(3*time.Minute))
	_, err := s.Create(ctx, set, user, v1)
	require.NoError(t, err)
	keepSince := start.Add(-24 * time.Hour) // every window still open
	_, err = s.Rotate(ctx, set, user, v2, keepSince)
	require.NoError(t, err)
	_, err = s.Rotate(ctx, set, user, v3, keepSince)
	require.NoError(t, err)
	rotated, err := s.Rotate(ctx, set, user, v4, keepSince)
	require.NoError(t, err)
	want := secret.User{Current: v4, Previous: []secret.Version{v3, v2, v1}}
	require.Equal(t, want, normalize(rotated), "newest first")
	require.Equal(t, want, mustGet(t, s, set, user))
	got := mustGet(t, s, set, user)
	require.Equal(t, v4.CreatedAt, got.ReplacedAt(0).UTC())
	require.Equal(t, v2.CreatedAt, got.ReplacedAt(2).UTC(), "v1 was replaced when v2 was created")

	// Only the windows that began after keepSince stay open: v1's (from v2) is over, v2's (from v3) is not.
	v5 := version(t, start.Add(4*time.Minute))
	rotated, err = s.Rotate(ctx, set, user, v5, v2.CreatedAt)
	require.NoError(t, err)
	want = secret.User{Current: v5, Previous: []secret.Version{v4, v3, v2}}
	require.Equal(t, want, normalize(rotated))
	require.Equal(t, want, mustGet(t, s, set, user))
}

func testRotateTooMany(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	start := time.Now().Add(-time.Hour)
	_, err := s.Create(ctx, set, user, version(t, start))
	require.NoError(t, err)
	keepSince := start.Add(-24 * time.Hour)
	for i := range secret.MaxPrevious {
		_, err := s.Rotate(ctx, set, user, version(t, start.Add(time.Duration(i+1)*time.Second)), keepSince)
		require.NoError(t, err, "rotation %d", i+1)
	}
	before := mustGet(t, s, set, user)
	require.Len(t, before.Previous, secret.MaxPrevious)

	_, err = s.Rotate(ctx, set, user, version(t, start.Add(time.Minute)), keepSince)
	require.ErrorIs(t, err, secret.ErrTooManyPrevious)
	require.Equal(t, before, mustGet(t, s, set, user), "a refused rotation changes nothing")

	// Once the oldest windows have closed, rotating works again.
	v := version(t, start.Add(2*time.Minute))
	rotated, err := s.Rotate(ctx, set, user, v, before.ReplacedAt(1))
	require.NoError(t, err)
	require.Equal(t, v, normalize(rotated).Current)
	require.Len(t, rotated.Previous, 2)
}

// testRotateConcurrent: rotations racing on one secret apply one after the other: no rotated value is lost.
func testRotateConcurrent(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	start := time.Now().Add(-time.Hour)
	first := version(t, start)
	_, err := s.Create(ctx, set, user, first)
	require.NoError(t, err)
	const racers = 4
	versions := make([]secret.Version, racers)
	for i := range versions {
		versions[i] = version(t, start.Add(time.Duration(i+1)*time.Second))
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range versions {
		wg.Go(func() { _, errs[i] = s.Rotate(ctx, set, user, versions[i], start.Add(-24*time.Hour)) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "racer %d", i)
	}
	got := mustGet(t, s, set, user)
	values := []string{got.Current.Value}
	for _, p := range got.Previous {
		values = append(values, p.Value)
	}
	want := []string{first.Value}
	for _, v := range versions {
		want = append(want, v.Value)
	}
	require.ElementsMatch(t, want, values, "every rotated value is current or previous")
	require.Equal(t, first.Value, values[len(values)-1], "the first value is the oldest")
}

func testRotateNotFound(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	_, err := s.Rotate(ctx, set, user, version(t, time.Now()), time.Now().Add(-time.Hour))
	require.ErrorIs(t, err, secret.ErrNotFound)
	_, err = s.Get(ctx, set, user)
	require.ErrorIs(t, err, secret.ErrNotFound, "Rotate of an unknown secret creates nothing")
}

func testSetsIndependent(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	setA, setB, user := unique(t, "set-"), unique(t, "set-"), unique(t, "user_")
	a, b := version(t, time.Now()), version(t, time.Now())
	_, err := s.Create(ctx, setA, user, a)
	require.NoError(t, err)
	_, err = s.Get(ctx, setB, user)
	require.ErrorIs(t, err, secret.ErrNotFound, "a secret in set A is not one in set B")

	_, err = s.Create(ctx, setB, user, b)
	require.NoError(t, err, "the same user in another set gets its own secret")
	a2 := version(t, time.Now())
	_, err = s.Rotate(ctx, setA, user, a2, time.Now().Add(-time.Hour))
	require.NoError(t, err)

	require.Equal(t, secret.User{Current: a2, Previous: []secret.Version{a}}, mustGet(t, s, setA, user))
	require.Equal(t, secret.User{Current: b}, mustGet(t, s, setB, user), "rotating set A leaves set B alone")
}
