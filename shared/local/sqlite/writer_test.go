package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// setting is a write of one settings row.
func setting(db *DB, key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := db.stmts.insertSetting.ExecContext(ctx, key, "v-"+key)
		return err
	}
}

func requireSetting(t *testing.T, db *DB, key string, want bool) {
	t.Helper()
	var v string
	err := db.stmts.getSetting.QueryRowContext(context.Background(), key).Scan(&v)
	if want {
		require.NoError(t, err, "setting %s is stored", key)
	} else {
		require.Error(t, err, "setting %s is not stored", key)
	}
}

func newOp(ctx context.Context, fn func(ctx context.Context) error) *writeOp {
	return &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
}

func TestWriter_Batch(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	var batch []*writeOp
	for i := range 5 {
		batch = append(batch, newOp(context.Background(), setting(db, fmt.Sprint("ok", i))))
	}
	// A constraint violation fails its own write only, inside the shared transaction.
	dup := newOp(context.Background(), func(ctx context.Context) error {
		_, err := db.stmts.insertSecret.ExecContext(ctx, "set", "user", "a", 1)
		if err != nil {
			return err
		}
		_, err = db.stmts.insertSecret.ExecContext(ctx, "set", "user", "b", 1)
		return interpretError(err, errNotFoundForTest, errConflictForTest)
	})
	batch = append(batch, dup)
	db.w.run(batch)
	for i, op := range batch[:5] {
		require.NoError(t, <-op.done)
		requireSetting(t, db, fmt.Sprint("ok", i), true)
	}
	require.ErrorIs(t, <-dup.done, errConflictForTest)
}

func TestWriter_FallbackAfterFatalError(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	runs := 0
	before := newOp(context.Background(), func(ctx context.Context) error {
		runs++
		return setting(db, "before")(ctx)
	})
	bad := newOp(context.Background(), func(ctx context.Context) error {
		_, err := db.conn.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
		return err
	})
	after := newOp(context.Background(), setting(db, "after"))
	db.w.run([]*writeOp{before, bad, after})

	require.NoError(t, <-before.done)
	require.Error(t, <-bad.done)
	require.NoError(t, <-after.done)
	require.Equal(t, 2, runs, "the batch was rolled back and the write ran again alone")
	requireSetting(t, db, "before", true)
	requireSetting(t, db, "after", true)
}

// A write that fails after writing (a rollbackError) is undone with its transaction: in a batch, the others
// run again one per transaction and are kept; alone, its own transaction is rolled back.
func TestWriter_RollbackError(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	before := newOp(context.Background(), setting(db, "before"))
	half := newOp(context.Background(), func(ctx context.Context) error {
		if err := setting(db, "half")(ctx); err != nil {
			return err
		}
		return &rollbackError{err: errors.New("the second half failed")}
	})
	after := newOp(context.Background(), setting(db, "after"))
	db.w.run([]*writeOp{before, half, after})

	require.NoError(t, <-before.done)
	require.ErrorContains(t, <-half.done, "the second half failed")
	require.NoError(t, <-after.done)
	requireSetting(t, db, "before", true)
	requireSetting(t, db, "half", false)
	requireSetting(t, db, "after", true)
}

func TestWriter_CanceledBeforeWrite(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	canceled := newOp(ctx, setting(db, "canceled"))
	kept := newOp(context.Background(), setting(db, "kept"))
	db.w.run([]*writeOp{canceled, kept})

	require.ErrorIs(t, <-canceled.done, context.Canceled)
	require.NoError(t, <-kept.done)
	requireSetting(t, db, "canceled", false)
	requireSetting(t, db, "kept", true)

	require.ErrorIs(t, db.w.do(ctx, setting(db, "canceled2")), context.Canceled)
	requireSetting(t, db, "canceled2", false)
}

var (
	errNotFoundForTest = errors.New("not found")
	errConflictForTest = errors.New("conflict")
)

func TestOpen_Pragmas(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	want := map[string]string{
		"journal_mode":       "wal",
		"synchronous":        "1", // NORMAL
		"busy_timeout":       "10000",
		"journal_size_limit": "67108864",
		"user_version":       fmt.Sprint(schemaVersion),
	}
	got := map[string]string{}
	require.NoError(t, db.w.do(context.Background(), func(ctx context.Context) error {
		for name := range want {
			var v string
			if err := db.conn.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
				return err
			}
			got[name] = v
		}
		return nil
	}))
	require.Equal(t, want, got)

	var queryOnly string
	require.NoError(t, db.read.QueryRowContext(context.Background(), "PRAGMA query_only").Scan(&queryOnly))
	require.Equal(t, "1", queryOnly, "the read pool cannot write")
}
