package localserver_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/local/localserver"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/testclock"
)

// TestServer_Metrics sends three events to a set of three endpoints (one that answers 200, one that fails its
// first attempt of each delivery, one that always fails, with two attempts, and is disabled after three failed
// deliveries), one to a paused endpoint and one to an endpoint a user registered, and reads GET /metrics.
func TestServer_Metrics(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	posts := map[string]int{} // by path and event id
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		key := r.URL.Path + " " + r.Header.Get("webhook-id")
		posts[key]++
		n := posts[key]
		mu.Unlock()
		switch {
		case r.URL.Path == "/down", r.URL.Path == "/flaky" && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(receiver.Close)
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range posts {
			n += c
		}
		return n
	}

	clock := testclock.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "outhook.db"), sqlite.WithClock(clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	retry := &config.Retry{Attempts: 2, Backoff: "fixed", InitialDelaySeconds: 600, MaxDelaySeconds: 600}
	doc := &config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{
		{Name: "ok", URL: receiver.URL + "/ok", AllowPrivateNetwork: true},
		{Name: "flaky", URL: receiver.URL + "/flaky", AllowPrivateNetwork: true, Retry: retry},
		{Name: "down", URL: receiver.URL + "/down", AllowPrivateNetwork: true, Retry: retry,
			AutoDisable: &config.AutoDisable{AfterFailedDeliveries: 3}},
	}}, {Name: "quiet", Endpoints: []config.Endpoint{
		{Name: "paused", URL: receiver.URL + "/ok", AllowPrivateNetwork: true},
	}}, {Name: "portal", UserEndpoints: &config.UserEndpoints{Enabled: true, AllowPrivateNetwork: true}}}}
	cfg, err := doc.Validate()
	require.NoError(t, err)
	addr := run(t, localserver.Options{
		Config: cfg, DB: db, APIKey: "k", CursorKey: []byte("c"), Workers: 2, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	base := "http://" + addr

	call := func(method, path, body string, status int) {
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer k")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Equal(t, status, res.StatusCode, path)
	}
	post := func(path, body string, status int) { call(http.MethodPost, path, body, status) }
	post("/v1/webhooks/quiet/endpoints/paused/pause", "", http.StatusOK)
	post("/v1/webhooks/quiet/events", `{"type":"order.created","payload":{}}`, http.StatusAccepted)
	for range 3 {
		post("/v1/webhooks/orders/events", `{"type":"order.created","payload":{}}`, http.StatusAccepted)
	}
	// The retries are due 480-720 s after their first attempts on the server's clock. The clock moves once,
	// after every first attempt is counted (it then has its duration and its retry's due time): an attempt
	// still in flight when the clock moves would count the move as its duration.
	require.Eventually(t, func() bool { return attemptsCounted(getMetrics(t, base, "k", http.StatusOK)) == 9 },
		20*time.Second, 10*time.Millisecond, "first attempts")
	clock.Add(800 * time.Second)
	require.Eventually(t, func() bool { return total() == 15 }, 30*time.Second, 10*time.Millisecond, "retries")
	// A user's own endpoint (after the clock stopped moving): counted in its set without its name, so that
	// no series exists per user.
	call(http.MethodPut, "/v1/webhooks/portal/users/user_7/endpoints/mine", `{"url":"`+receiver.URL+`/ok"}`, http.StatusCreated)
	post("/v1/webhooks/portal/events", `{"type":"order.created","userId":"user_7","payload":{}}`, http.StatusAccepted)
	require.Eventually(t, func() bool { return total() == 16 }, 20*time.Second, 10*time.Millisecond, "the user's delivery")

	want := []string{
		`outhook_events_accepted_total{set="orders"} 3`,
		`outhook_events_accepted_total{set="quiet"} 1`,
		`outhook_events_accepted_total{set="portal"} 1`,
		`outhook_deliveries_total{set="portal",endpoint="",outcome="delivered"} 1`,
		`outhook_deliveries_held_total{set="quiet",endpoint="paused"} 1`,
		`outhook_endpoints_disabled_total{set="orders",endpoint="down"} 1`,
		`outhook_deliveries_total{set="orders",endpoint="flaky",outcome="delivered"} 3`,
		`outhook_deliveries_total{set="orders",endpoint="ok",outcome="delivered"} 3`,
		`outhook_deliveries_total{set="orders",endpoint="down",outcome="failed"} 3`,
		`outhook_retries_queued_total{set="orders",endpoint="down"} 3`,
		`outhook_retries_queued_total{set="orders",endpoint="flaky"} 3`,
		// The server's clock stands still during the attempts: every duration is 0.
		`outhook_attempt_duration_seconds_bucket{set="orders",endpoint="down",le="0.005"} 6`,
		`outhook_attempt_duration_seconds_count{set="orders",endpoint="down"} 6`,
		`outhook_attempt_duration_seconds_count{set="orders",endpoint="flaky"} 6`,
		`outhook_attempt_duration_seconds_count{set="orders",endpoint="ok"} 3`,
		`outhook_attempt_duration_seconds_sum{set="orders",endpoint="ok"} 0`,
	}
	var body string
	assert.Eventually(t, func() bool { // the last attempt is counted just after its POST is answered
		body = getMetrics(t, base, "k", http.StatusOK)
		for _, line := range want {
			if !strings.Contains(body, line+"\n") {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond)
	for _, line := range want {
		require.Contains(t, body, line+"\n")
	}
	require.NotContains(t, body, `endpoint="ok",outcome="failed"`)
	require.NotContains(t, body, `retries_queued_total{set="orders",endpoint="ok"}`)
	require.NotContains(t, body, `endpoint="mine"`, "no series names a user's endpoint")
	require.NotContains(t, body, "user_7", "no series names a user")

	getMetrics(t, base, "wrong", http.StatusUnauthorized)
}

// attemptsCounted is the number of attempts the metrics body counts, over every set and endpoint.
func attemptsCounted(body string) int {
	n := 0
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, "outhook_attempt_duration_seconds_count{"); ok {
			_, value, _ := strings.Cut(rest, "} ")
			c, _ := strconv.Atoi(strings.TrimSpace(value))
			n += c
		}
	}
	return n
}

func getMetrics(t *testing.T, base, key string, status int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, status, res.StatusCode, string(b))
	if status == http.StatusOK {
		require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", res.Header.Get("Content-Type"))
	}
	return string(b)
}
