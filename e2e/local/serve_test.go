package local_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/webhook"
)

func TestServe_GeneratesAndKeepsTheAPIKey(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, retryConfig("http://127.0.0.1:9", "{attempts: 1}"))

	s := startServer(t, cfg, dir, "OUTHOOK_API_KEY=")
	m := regexp.MustCompile(`(?m)^API key: (ohk_[A-Za-z0-9_-]{43})$`).FindStringSubmatch(s.logs.String())
	require.NotNil(t, m, "the first start prints the generated key:\n%s", s.logs.String())
	generated := m[1]

	status, _, err := s.call(t.Context(), http.MethodGet, "/v1/webhooks/orders/events", nil, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, status, "the test's default key is not the generated one")
	s.key = generated
	status, _, err = s.call(t.Context(), http.MethodGet, "/v1/webhooks/orders/events", nil, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	s.stop()

	// The second start keeps the key and does not print it again.
	s = startServer(t, cfg, dir, "OUTHOOK_API_KEY=")
	require.Contains(t, s.logs.String(), "API key: stored in")
	require.NotContains(t, s.logs.String(), generated)
	s.key = generated
	status, _, err = s.call(t.Context(), http.MethodGet, "/v1/webhooks/orders/events", nil, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
}

func TestServe_SIGTERMFinishesTheDeliveriesInFlight(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	rc := newReceiver(t, func(int, *http.Request) int {
		time.Sleep(time.Second)
		return http.StatusOK
	})
	cfg := writeConfig(t, dir, retryConfig(rc.url, "{attempts: 3, initialDelaySeconds: 1, maxDelaySeconds: 1}"))
	s := startServer(t, cfg, dir)
	var ids []string
	for range 3 {
		res, status, _ := s.send(t, "orders", sendReq{Type: "order.created", Payload: map[string]int{"n": 1}}, "")
		require.Equal(t, http.StatusAccepted, status)
		ids = append(ids, res.EventID)
	}
	// The receiver records a request when it arrives, then holds it for a second.
	require.Eventually(t, func() bool { return len(rc.deliveries()) > 0 }, 10*time.Second, 10*time.Millisecond)

	begin := time.Now()
	s.stop() // SIGTERM while the receiver holds the POSTs for a second
	require.Less(t, time.Since(begin), 5*time.Second)
	require.Contains(t, s.logs.String(), "shutting down")

	// Restarted, the log shows them delivered (those in flight were finished, not dropped), and nothing is
	// POSTed twice.
	s = startServer(t, cfg, dir)
	for _, id := range ids {
		s.waitEvent(t, "orders", id, webhook.StatusDelivered, 5*time.Second)
	}
	require.Zero(t, s.queued(dir), "nothing is left to deliver")
	require.Len(t, rc.deliveries(), 3)
}
