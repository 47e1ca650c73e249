package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/secret"
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
