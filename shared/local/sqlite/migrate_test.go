package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/store"
)

// TestOpen_MigratesPreviousSecret opens a version 1 file, whose user secrets kept one previous value in
// their own columns, and finds that value as the secret's only previous one.
func TestOpen_MigratesPreviousSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outhook.db")
	old, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = old.ExecContext(ctx, migrations[0]+`PRAGMA user_version = 1;`)
	require.NoError(t, err)
	created, rotated := time.UnixMilli(1_700_000_000_000).UTC(), time.UnixMilli(1_700_000_360_000).UTC()
	_, err = old.ExecContext(ctx, `INSERT INTO user_secrets VALUES ('s', 'rotated', 'whcms_new', ?, 'whcms_old', ?),
		('s', 'fresh', 'whcms_only', ?, NULL, NULL)`, rotated.UnixMilli(), created.UnixMilli(), created.UnixMilli())
	require.NoError(t, err)
	require.NoError(t, old.Close())

	db, err := Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	u, err := db.UserSecrets().Get(ctx, "s", "rotated")
	require.NoError(t, err)
	require.Equal(t, secret.User{Current: secret.Version{Value: "whcms_new", CreatedAt: rotated},
		Previous: []secret.Version{{Value: "whcms_old", CreatedAt: created}}}, u)
	u, err = db.UserSecrets().Get(ctx, "s", "fresh")
	require.NoError(t, err)
	require.Equal(t, secret.User{Current: secret.Version{Value: "whcms_only", CreatedAt: created}}, u)
}

// TestOpen_MigratesIdempotencyKeys opens a version 3 file, whose keyed events held their key themselves, and
// finds each key reserved for its event, marked as reserved with the event (no request hash: a replay looks
// at the event).
func TestOpen_MigratesIdempotencyKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outhook.db")
	old, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = old.ExecContext(ctx, migrations[0]+migrations[1]+migrations[2]+`PRAGMA user_version = 3;`)
	require.NoError(t, err)
	_, err = old.ExecContext(ctx, `INSERT INTO events VALUES
		('whevt_1', 's', 't', '{}', '', 'order-1', 'hash-1', '[]', 1700000000000, 1800000000000),
		('whevt_2', 's', 't', '{}', '', '', '', '[]', 1700000000000, 1800000000000)`)
	require.NoError(t, err)
	require.NoError(t, old.Close())

	db, err := Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	ev := store.Event{ID: "whevt_3", Set: "s", IdempotencyKey: "order-1", RequestHash: "hash-1",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	r, err := db.Store().ReserveKey(ctx, ev)
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, store.Reservation{EventID: "whevt_1"}, r)
	ev.IdempotencyKey = "order-2"
	_, err = db.Store().ReserveKey(ctx, ev)
	require.NoError(t, err, "an event without a key reserved nothing")
}
