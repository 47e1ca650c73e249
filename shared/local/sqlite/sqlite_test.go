package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/queue/queuetest"
	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/secret/secrettest"
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

func TestDB_Setting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outhook.db")
	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)

	calls := 0
	init := func() (string, error) {
		calls++
		return fmt.Sprintf("generated-%d", calls), nil
	}
	v, err := db.Setting(ctx, "api_key", init)
	require.NoError(t, err)
	require.Equal(t, "generated-1", v)
	v, err = db.Setting(ctx, "api_key", init)
	require.NoError(t, err)
	require.Equal(t, "generated-1", v, "the stored value is returned")
	require.Equal(t, 1, calls, "init runs once")

	_, err = db.Setting(ctx, "broken", func() (string, error) { return "", errors.New("no entropy") })
	require.ErrorContains(t, err, "no entropy")
	require.NoError(t, db.Close())

	db, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	v, err = db.Setting(ctx, "api_key", init)
	require.NoError(t, err)
	require.Equal(t, "generated-1", v, "the value survives a restart")
	v, err = db.Setting(ctx, "broken", init)
	require.NoError(t, err)
	require.Equal(t, "generated-2", v, "a failed init stored nothing")
}

func TestDB_SettingRace(t *testing.T) {
	t.Parallel()
	db := open(t)
	const racers = 10
	got := make([]string, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			v, err := db.Setting(context.Background(), "key", func() (string, error) { return fmt.Sprint(i), nil })
			assert.NoError(t, err)
			got[i] = v
		})
	}
	wg.Wait()
	for i := range got {
		require.Equal(t, got[0], got[i], "every caller gets the one stored value")
	}
}

func TestDB_Purge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t)
	s := db.Store()
	now := time.Now().UTC().Truncate(time.Millisecond)

	newEvent := func(expires time.Time) store.Event {
		ev := benchEvent()
		ev.Set = "purge"
		ev.ExpiresAt = expires
		_, err := s.CreateEvent(ctx, ev)
		require.NoError(t, err)
		require.NoError(t, s.PutAttempt(ctx, store.Attempt{
			EventID: ev.ID, Endpoint: "crm", ID: ev.Deliveries[0].FirstAttemptID, Number: 1,
			StartedAt: now, Outcome: store.OutcomeSucceeded,
		}))
		return ev
	}
	var expired []store.Event
	for range 1100 { // more than one purge batch
		expired = append(expired, newEvent(now.Add(-time.Minute)))
	}
	expired = append(expired, newEvent(now)) // expires exactly now
	kept := newEvent(now.Add(time.Millisecond))
	forever := newEvent(time.Time{})
	// A keyed send that died after queueing: its key reserved, an attempt recorded, no event.
	orphan := benchEvent()
	orphan.Set, orphan.IdempotencyKey, orphan.ExpiresAt = "purge", "died", now.Add(-time.Minute)
	_, err := s.ReserveKey(ctx, orphan)
	require.NoError(t, err)
	require.NoError(t, s.PutAttempt(ctx, store.Attempt{EventID: orphan.ID, Endpoint: "crm", ID: "whatt_orphan", Number: 1,
		StartedAt: now, Outcome: store.OutcomeSucceeded}))

	n, err := db.Purge(ctx, now)
	require.NoError(t, err)
	require.Equal(t, len(expired), n)
	for _, ev := range []store.Event{expired[0], expired[len(expired)-1]} {
		_, err := s.GetEvent(ctx, "purge", ev.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	for _, ev := range []store.Event{kept, forever} {
		rec, err := s.GetEvent(ctx, "purge", ev.ID)
		require.NoError(t, err)
		require.Len(t, rec.Attempts, 1)
	}
	page, err := s.ListEvents(ctx, "purge", store.ListOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)

	// The attempts of purged events are gone too: putting attempt 1 again is no conflict.
	require.NoError(t, s.PutAttempt(ctx, store.Attempt{
		EventID: expired[0].ID, Endpoint: "crm", ID: "whatt_again", Number: 1, Outcome: store.OutcomeFailed,
	}))

	// The expired key is free again, and the attempt of its event that was never written is gone.
	again := orphan
	again.ExpiresAt = now.Add(time.Hour)
	_, err = s.ReserveKey(ctx, again)
	require.NoError(t, err)
	require.NoError(t, s.PutAttempt(ctx, store.Attempt{EventID: orphan.ID, Endpoint: "crm", ID: "whatt_again", Number: 1,
		Outcome: store.OutcomeFailed}))

	n, err = db.Purge(ctx, now)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestOpen_Reopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outhook.db")
	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	ev := benchEvent()
	_, err = db.Store().CreateEvent(ctx, ev)
	require.NoError(t, err)
	require.NoError(t, db.Queue().Send(ctx, queue.Message{Body: []byte(`{"kept":true}`)}))
	require.NoError(t, db.Close())
	require.NoError(t, db.Close(), "Close twice is harmless")

	_, err = db.Store().CreateEvent(ctx, benchEvent())
	require.Error(t, err, "writes after Close fail")

	db, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	rec, err := db.Store().GetEvent(ctx, ev.Set, ev.ID)
	require.NoError(t, err)
	require.Equal(t, ev.ID, rec.Event.ID)
	got, err := db.Queue().Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, []byte(`{"kept":true}`), got[0].Body)
	require.NoError(t, db.Close())
}

func TestOpen_NewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outhook.db")
	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, "PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	_, err = sqlite.Open(ctx, path)
	require.ErrorContains(t, err, "schema version 99 is newer")
}

func TestQueue_MalformedReceipt(t *testing.T) {
	t.Parallel()
	q := open(t).Queue()
	for _, receipt := range []string{"", "garbage", "12", "x.abc", "12."} {
		require.ErrorIs(t, q.Delete(context.Background(), receipt), queue.ErrNotFound, "receipt %q", receipt)
		require.ErrorIs(t, q.ChangeVisibility(context.Background(), receipt, 0), queue.ErrNotFound)
	}
}

// TestOpen_DataFilesAreOwnerOnly: the database holds the API key and users' signing secrets, so it and its
// -wal and -shm files are created 0600 whatever the umask, and an existing database opened with looser
// permissions is tightened.
func TestOpen_DataFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outhook.db")
	files := []string{path, path + "-wal", path + "-shm"}
	requireOwnerOnly := func() {
		t.Helper()
		for _, f := range files {
			info, err := os.Stat(f)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), f)
		}
	}

	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	_, err = db.Setting(ctx, "api_key", func() (string, error) { return "ohk_secret", nil })
	require.NoError(t, err)
	requireOwnerOnly()

	for _, f := range files {
		require.NoError(t, os.Chmod(f, 0o644))
	}
	db2, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	requireOwnerOnly()
	require.NoError(t, db2.Close())
	require.NoError(t, db.Close())
}
