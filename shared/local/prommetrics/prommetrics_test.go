package prommetrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/prommetrics"
	"github.com/outhook/outhook/shared/webhook"
)

func TestRegistry_Write(t *testing.T) {
	t.Parallel()
	r := prommetrics.New()
	r.EventAccepted(`a"b`)
	r.EventAccepted(`a"b`)
	r.AttemptRecorded(webhook.AttemptMetric{Set: "s", Endpoint: "e", Outcome: webhook.StatusRetrying, Duration: 30 * time.Millisecond})
	r.AttemptRecorded(webhook.AttemptMetric{Set: "s", Endpoint: "e", Outcome: webhook.StatusDelivered, Duration: 2 * time.Second})
	r.AttemptRecorded(webhook.AttemptMetric{Set: "s", Endpoint: "e", Outcome: webhook.StatusFailed, Duration: 2 * time.Minute})
	r.AttemptRecorded(webhook.AttemptMetric{Set: "s", Outcome: webhook.StatusDelivered, Duration: 10 * time.Millisecond})
	r.DeliveryHeld("s", "e")
	r.DeliveryHeld("s", "e")
	r.EndpointDisabled("s", "")

	var b strings.Builder
	require.NoError(t, r.Write(&b))
	out := b.String()
	for _, line := range []string{
		`outhook_events_accepted_total{set="a\"b"} 2`,
		`outhook_deliveries_total{set="s",endpoint="",outcome="delivered"} 1`,
		`outhook_deliveries_total{set="s",endpoint="e",outcome="delivered"} 1`,
		`outhook_deliveries_total{set="s",endpoint="e",outcome="failed"} 1`,
		`outhook_retries_queued_total{set="s",endpoint="e"} 1`,
		// Cumulative buckets: 30 ms is in le=0.05 and above, 2 s in le=2.5 and above, 2 min only in +Inf.
		`outhook_attempt_duration_seconds_bucket{set="s",endpoint="e",le="0.025"} 0`,
		`outhook_attempt_duration_seconds_bucket{set="s",endpoint="e",le="0.05"} 1`,
		`outhook_attempt_duration_seconds_bucket{set="s",endpoint="e",le="1"} 1`,
		`outhook_attempt_duration_seconds_bucket{set="s",endpoint="e",le="2.5"} 2`,
		`outhook_attempt_duration_seconds_bucket{set="s",endpoint="e",le="60"} 2`,
		`outhook_attempt_duration_seconds_bucket{set="s",endpoint="e",le="+Inf"} 3`,
		`outhook_attempt_duration_seconds_sum{set="s",endpoint="e"} 122.03`,
		`outhook_attempt_duration_seconds_count{set="s",endpoint="e"} 3`,
		`outhook_attempt_duration_seconds_bucket{set="s",endpoint="",le="0.01"} 1`,
		"# TYPE outhook_attempt_duration_seconds histogram",
		`outhook_deliveries_held_total{set="s",endpoint="e"} 2`,
		`outhook_endpoints_disabled_total{set="s",endpoint=""} 1`,
	} {
		require.Contains(t, out, line+"\n")
	}
	// Every sample line is `name{labels} value`, and each family's samples follow its TYPE line.
	family := ""
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			family = strings.Fields(name)[0]
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		require.True(t, strings.HasPrefix(line, family), "%q outside its family %s", line, family)
		require.Regexp(t, `^[a-z_]+\{.*\} [0-9.e+-]+$`, line)
	}
}

func TestRegistry_ServeHTTP(t *testing.T) {
	t.Parallel()
	r := prommetrics.New()
	r.EventAccepted("orders")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Body.String(), `outhook_events_accepted_total{set="orders"} 1`+"\n")
}
