package localserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/local/localserver"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/testclock"
)

func TestServer_Run(t *testing.T) {
	t.Parallel()
	got := make(chan string, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("webhook-id")
	}))
	t.Cleanup(receiver.Close)

	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	doc := &config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{{
		Name: "shop", URL: receiver.URL, AllowPrivateNetwork: true,
	}}}}}
	cfg, err := doc.Validate()
	require.NoError(t, err)
	srv, err := localserver.New(localserver.Options{
		Config: cfg, DB: db, APIKey: "k", CursorKey: []byte("c"), Workers: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, 5*time.Second) }()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+ln.Addr().String()+"/v1/webhooks/orders/events",
		strings.NewReader(`{"type":"order.created","payload":{}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer k")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusAccepted, res.StatusCode)

	select {
	case id := <-got:
		require.True(t, strings.HasPrefix(id, "whevt_"), id)
	case <-time.After(10 * time.Second):
		t.Fatal("the worker pool did not deliver the event")
	}

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	_, err = net.Dial("tcp", ln.Addr().String())
	require.Error(t, err, "the listener is closed")
}

func TestLease(t *testing.T) {
	t.Parallel()
	doc := &config.Config{Sets: []config.Set{
		{Name: "a", Endpoints: []config.Endpoint{{Name: "x", URL: "https://a.test/", TimeoutSeconds: 5}}},
		{Name: "b", Endpoints: []config.Endpoint{{Name: "y", URL: "https://b.test/", TimeoutSeconds: 40}}},
	}}
	cfg, err := doc.Validate()
	require.NoError(t, err)
	require.Equal(t, 50*time.Second, localserver.Lease(cfg), "the longest timeout plus the 10 s margin")
}

// TestServer_CutsOffSlowClients: a client that never finishes its headers, or announces a longer body than
// it sends, loses its connection once the read timeouts pass, instead of holding it until it gives up.
func TestServer_CutsOffSlowClients(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	doc := &config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{{
		Name: "shop", URL: "http://127.0.0.1:9/", AllowPrivateNetwork: true,
	}}}}}
	cfg, err := doc.Validate()
	require.NoError(t, err)
	srv, err := localserver.New(localserver.Options{
		Config: cfg, DB: db, APIKey: "k", CursorKey: []byte("c"), Workers: 1,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeouts: localserver.Timeouts{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond},
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() { cancel(); <-done })

	for name, partial := range map[string]string{
		"headers never end": "POST /v1/webhooks/orders/events HTTP/1.1\r\nHost: x\r\n",
		"body shorter than its Content-Length": "POST /v1/webhooks/orders/events HTTP/1.1\r\nHost: x\r\n" +
			"Authorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"type\":\"t\",",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, partial)
			require.NoError(t, err)
			// The server closes the connection long before this client-side deadline (a loaded machine
			// included); a deadline error here means the connection was held.
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
			_, err = io.Copy(io.Discard, conn)
			var netErr net.Error
			if errors.As(err, &netErr) {
				require.False(t, netErr.Timeout(), "the server held the connection of a slow client")
			}
		})
	}

	// The server still answers a well-behaved client.
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestServer_RunRetriesOnItsClock(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if posts.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(receiver.Close)

	clock := testclock.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "outhook.db"), sqlite.WithClock(clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	doc := &config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{{
		Name: "shop", URL: receiver.URL, AllowPrivateNetwork: true, TimeoutSeconds: 60,
		Retry: &config.Retry{Attempts: 2, Backoff: "fixed", InitialDelaySeconds: 20, MaxDelaySeconds: 20},
	}}}}}
	cfg, err := doc.Validate()
	require.NoError(t, err)
	addr := run(t, localserver.Options{
		Config: cfg, DB: db, APIKey: "k", CursorKey: []byte("c"), Workers: 2, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/v1/webhooks/orders/events",
		strings.NewReader(`{"type":"order.created","payload":{}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer k")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var sent struct{ EventID string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&sent))
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	// The first attempt is recorded with its retry due 20 s after it ended (the time the clock reads now).
	require.Eventually(t, func() bool {
		rec, err := db.Store().GetEvent(t.Context(), "orders", sent.EventID)
		return err == nil && len(rec.Attempts) == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 1, posts.Load())

	// The retry is due 20 s (with jitter: 16-24 s) later on the server's clock, not the wall clock. (The
	// clock stays within the first message's 70 s lease, which may not be deleted yet.)
	clock.Add(10 * time.Second)
	msgs, err := db.Queue().Receive(t.Context(), 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, msgs, "the retry is not due yet")
	clock.Add(20 * time.Second)
	require.Eventually(t, func() bool { return posts.Load() == 2 }, 10*time.Second, 5*time.Millisecond,
		"the retry went out once the clock reached it")
}

// TestNew_WarnsAboutPrivateURLs: a static URL that is a literal private address without allowPrivateNetwork
// can never be delivered to, so the server says so when it starts.
func TestNew_WarnsAboutPrivateURLs(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	doc := &config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{
		{Name: "loopback", URL: "http://127.0.0.1:9000/hooks"},
		{Name: "metadata", URL: "http://169.254.169.254/latest"},
		{Name: "allowed", URL: "http://10.0.0.7/hooks", AllowPrivateNetwork: true},
		{Name: "public", URL: "https://hooks.example.com/x"},
	}}}}
	cfg, err := doc.Validate()
	require.NoError(t, err)
	var logs strings.Builder
	_, err = localserver.New(localserver.Options{
		Config: cfg, DB: db, CursorKey: []byte("c"), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, logs.String())
	require.Contains(t, lines[0], "level=WARN")
	require.Contains(t, lines[0], "allowPrivateNetwork")
	require.Contains(t, lines[0], "endpoint=loopback")
	require.Contains(t, lines[0], "127.0.0.1:9000: Loopback (RFC 1122)")
	require.Contains(t, lines[1], "endpoint=metadata")
	require.Contains(t, lines[1], "169.254.169.254:80: Link Local (RFC 3927)")
}

// run starts a server with opts on 127.0.0.1, stops it when the test ends (requiring a clean shutdown) and
// returns its address.
func run(t *testing.T, opts localserver.Options) string {
	t.Helper()
	srv, err := localserver.New(opts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return ln.Addr().String()
}

// TuneGC sets the collector's target to GCPercent, unless GOGC says otherwise.
func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "50") // restored when the test ends
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	localserver.TuneGC()
	require.Equal(t, 100, debug.SetGCPercent(100), "GOGC is set: left as it is")
	require.NoError(t, os.Unsetenv("GOGC"))
	localserver.TuneGC()
	require.Equal(t, localserver.GCPercent, debug.SetGCPercent(100))
}
