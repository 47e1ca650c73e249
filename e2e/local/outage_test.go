package local_test

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/webhook"
)

// TestServe_LockedDatabaseSpendsNoAttempt: another process holds the database's write lock (as a backup or
// an sqlite3 shell would) from the moment the first POST arrives, so the attempt cannot be recorded after it
// (SQLITE_BUSY once the busy timeout passes). The worker leaves the message to come back, no attempt is
// recorded, and once the lock is released the delivery is recorded as delivered by attempt 1, with
// attempts: 2 left whole; the receiver saw the POST twice, under the event's one webhook-id.
func TestServe_LockedDatabaseSpendsNoAttempt(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	posted, locked := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n == 1 {
			close(posted)
			<-locked
		}
		return http.StatusOK
	})
	cfg := writeConfig(t, dir, retryConfig(rc.url, "{attempts: 2, backoff: fixed, initialDelaySeconds: 1, maxDelaySeconds: 1}"))
	s := startServer(t, cfg, dir)

	res, status, _ := s.send(t, "orders", sendReq{Type: "order.created", Payload: map[string]int{"n": 1}}, "")
	require.Equal(t, http.StatusAccepted, status)
	select {
	case <-posted:
	case <-time.After(30 * time.Second):
		t.Fatal("the delivery was not POSTed")
	}
	// A second writer on the file: BEGIN IMMEDIATE takes the write lock, and holds it until ROLLBACK.
	other, err := sql.Open("sqlite", filepath.Join(dir, "outhook.db")+"?_busy_timeout=10000")
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	conn, err := other.Conn(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	require.NoError(t, err)
	close(locked) // the receiver answers 200

	require.Eventually(t, func() bool {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(line, `"msg":"handle a message"`) && strings.Contains(line, "record attempt") {
				return true
			}
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "the attempt's write failed")
	during := s.event(t, "orders", res.EventID)
	require.Equal(t, webhook.StatusQueued, during.Deliveries[0].Status)
	require.Empty(t, during.Deliveries[0].Attempts, "no attempt recorded while the database is locked")
	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	require.NoError(t, err)

	ev := s.waitEvent(t, "orders", res.EventID, webhook.StatusDelivered, 60*time.Second)
	attempts := ev.Deliveries[0].Attempts
	require.Len(t, attempts, 1, "the lock spent no attempt")
	require.Equal(t, 1, attempts[0].Number)
	require.Equal(t, http.StatusOK, attempts[0].ResponseStatus)
	got := rc.deliveries()
	require.Len(t, got, 2, "POSTed again (at least once), since the first was not recorded")
	for _, d := range got {
		require.Equal(t, res.EventID, d.header.Get("webhook-id"))
	}
	require.Zero(t, s.queued(dir), "no attempt is left to make")
}
