package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/queue/queuetest"
	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/secret/secrettest"
	"github.com/outhook/outhook/shared/sqlite"
	"github.com/outhook/outhook/shared/store"
	"github.com/outhook/outhook/shared/store/storetest"
)

// open opens a new database file in a temporary directory, closed when the test ends.
func open(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func TestStore_Conformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return open(t).Store() })
}

func TestQueue_Conformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) queue.Queue { return open(t).Queue() })
}

func TestUserSecrets_Conformance(t *testing.T) {
	t.Parallel()
	secrettest.RunUserStore(t, func(t *testing.T) secret.UserStore { return open(t).UserSecrets() })
}
