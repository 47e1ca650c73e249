//go:build linux

package lambda

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
)

// awsFaults is the AWS endpoint as one function sees it: the stack's, except that a share of requests is
// throttled (400 ThrottlingException, as DynamoDB and SQS answer) and, while hang is set, every request
// hangs until its caller gives up.
type awsFaults struct {
	throttle  atomic.Int32 // percent of requests throttled
	hang      atomic.Bool
	throttled atomic.Int32
}

func (s *stack) faulty(t *testing.T) (*awsFaults, string) {
	t.Helper()
	target, err := url.Parse(s.proxyURL)
	require.NoError(t, err)
	forward := httputil.NewSingleHostReverseProxy(target)
	f := &awsFaults{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.hang.Load() {
			select { // until the caller gives up (or the test ends)
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		if rand.IntN(100) < int(f.throttle.Load()) {
			f.throttled.Add(1)
			body := `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}`
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, body)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return f, srv.URL
}

// TestLambda_SendAnswersWithinItsDeadline: with a quarter of its AWS requests throttled, send (function timeout
// 5 s here) answers every request well within it, almost all 202; with AWS hanging, it answers a clean 500
// before its deadline, never a function timeout.
func TestLambda_SendAnswersWithinItsDeadline(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{endpoint("hook", rcv.URL+"/hook")}}}},
		nil, visibilityTimeout)
	faults, faultyURL := s.faulty(t)
	send := s.start(variantProd, "send", "AWS_ENDPOINT_URL="+faultyURL, "AWS_LAMBDA_FUNCTION_TIMEOUT=5")

	faults.throttle.Store(25)
	accepted := 0
	for i := range 30 {
		start := time.Now()
		resp := send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid, "Idempotency-Key", fmt.Sprintf("throttled-%d", i))
		took := time.Since(start)
		require.Less(t, took, 4*time.Second, "send %d answered within its deadline", i)
		switch {
		case resp.status == http.StatusAccepted:
			accepted++
		default:
			require.Equal(t, http.StatusInternalServerError, resp.status, "%s", resp.body)
			require.JSONEq(t, `{"error":{"code":"internal","message":"internal error"}}`, string(resp.body))
		}
	}
	require.Greater(t, faults.throttled.Load(), int32(10), "requests were throttled")
	require.GreaterOrEqual(t, accepted, 26, "bounded retries absorb a quarter of requests throttled")
	require.NotContains(t, send.out.String(), "retry quota exceeded")

	faults.throttle.Store(0)
	faults.hang.Store(true)
	start := time.Now()
	resp := send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid, "Idempotency-Key", "hung")
	took := time.Since(start)
	require.Equal(t, http.StatusInternalServerError, resp.status, "a clean 5xx, not a timeout: %s", resp.body)
	var body map[string]any
	require.NoError(t, json.Unmarshal(resp.body, &body))
	require.Less(t, took, 5*time.Second, "answered before the function's deadline")
	require.Greater(t, took, 3*time.Second, "AWS was given the time the deadline leaves")
}
