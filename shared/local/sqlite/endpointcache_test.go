package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/store"
)

// The endpoint cache answers GetEndpoint without reading SQLite, yet every write of the DB is seen by the
// next read: a read that follows a pause returns the paused endpoint, also while other goroutines read the
// endpoint concurrently (and cache what they read).
func TestStore_GetEndpointSeesOwnWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t).Store()
	ref := store.EndpointRef{Set: "billing", Name: "crm"}
	_, err := s.GetEndpoint(ctx, ref)
	require.ErrorIs(t, err, store.ErrNotFound, "no state stored yet (cached as such)")

	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = s.GetEndpoint(ctx, ref)
				}
			}
		})
	}
	version := int64(0)
	status := []store.EndpointStatus{store.EndpointPaused, store.EndpointEnabled}
	for i := range 200 {
		ep, err := s.UpdateEndpoint(ctx, store.Endpoint{EndpointRef: ref, Status: status[i%2], Version: version,
			UpdatedAt: time.Now()})
		require.NoError(t, err)
		version = ep.Version
		got, err := s.GetEndpoint(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, version, got.Version, "update %d: the read after it returns what it wrote", i)
		require.Equal(t, status[i%2], got.Status)
	}
	close(stop)
	readers.Wait()

	require.NoError(t, s.DeleteEndpoint(ctx, ref))
	_, err = s.GetEndpoint(ctx, ref)
	require.ErrorIs(t, err, store.ErrNotFound, "a delete is seen at once too")
}

// A cached row is the caller's to change: changing what GetEndpoint returned changes no later answer.
func TestStore_GetEndpointReturnsACopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t).Store()
	ep := store.Endpoint{EndpointRef: store.EndpointRef{Set: "billing", UserID: "alice", Name: "hooks"},
		URL: "https://example.com/hooks", EventTypes: []string{"invoice.paid"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	_, _, err := s.PutEndpoint(ctx, ep, 10)
	require.NoError(t, err)
	got, err := s.GetEndpoint(ctx, ep.EndpointRef)
	require.NoError(t, err)
	got.EventTypes[0] = "changed"
	again, err := s.GetEndpoint(ctx, ep.EndpointRef)
	require.NoError(t, err)
	require.Equal(t, []string{"invoice.paid"}, again.EventTypes)
}

// Another process writing the same file (a second server on it) is not seen by the cache at once, but
// within about a second.
func TestStore_GetEndpointSeesOtherProcessWithinASecond(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outhook.db")
	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	other, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })

	ref := store.EndpointRef{Set: "billing", Name: "crm"}
	_, err = db.Store().GetEndpoint(ctx, ref)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = other.Store().UpdateEndpoint(ctx, store.Endpoint{EndpointRef: ref, Status: store.EndpointPaused,
		UpdatedAt: time.Now()})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ep, err := db.Store().GetEndpoint(ctx, ref)
		return err == nil && ep.Status == store.EndpointPaused
	}, 10*time.Second, 20*time.Millisecond)
}
