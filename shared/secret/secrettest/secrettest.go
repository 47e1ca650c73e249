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
	if u.Previous != nil {
		p := *u.Previous
		p.CreatedAt = p.CreatedAt.UTC()
		u.Previous = &p
	}
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

	rotated, err := s.Rotate(ctx, set, user, v2)
	require.NoError(t, err)
	want := secret.User{Current: v2, Previous: &v1}
	require.Equal(t, want, normalize(rotated))
	require.Equal(t, want, mustGet(t, s, set, user))

	rotated, err = s.Rotate(ctx, set, user, v3)
	require.NoError(t, err)
	want = secret.User{Current: v3, Previous: &v2}
	require.Equal(t, want, normalize(rotated), "the older previous is dropped")
	require.Equal(t, want, mustGet(t, s, set, user))
}

func testRotateNotFound(t *testing.T, s secret.UserStore) {
	ctx := context.Background()
	set, user := unique(t, "set-"), unique(t, "user_")
	_, err := s.Rotate(ctx, set, user, version(t, time.Now()))
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
	_, err = s.Rotate(ctx, setA, user, a2)
	require.NoError(t, err)

	require.Equal(t, secret.User{Current: a2, Previous: &a}, mustGet(t, s, setA, user))
	require.Equal(t, secret.User{Current: b}, mustGet(t, s, setB, user), "rotating set A leaves set B alone")
}
