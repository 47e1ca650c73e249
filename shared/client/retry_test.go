package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
)

// flaky is a server that answers failures first, then a send result; it records what it received.
type flaky struct {
	mu       sync.Mutex
	failures []func(w http.ResponseWriter)
	keys     []string
	bodies   []string
	times    []time.Time
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	f.bodies = append(f.bodies, string(body))
	f.times = append(f.times, time.Now())
	var fail func(w http.ResponseWriter)
	if len(f.failures) > 0 {
		fail, f.failures = f.failures[0], f.failures[1:]
	}
	f.mu.Unlock()
	if fail != nil {
		fail(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"eventId":"whevt_1","deliveries":[{"endpoint":"crm","status":"queued","attemptId":"whatt_1"}]}`))
}

// seen returns what the server received so far.
func (f *flaky) seen() (keys, bodies []string, times []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys...), append([]string(nil), f.bodies...), append([]time.Time(nil), f.times...)
}

func status(code int, body string, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// hangUp closes the connection without an answer: a network error for the client.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func newFlaky(t *testing.T, failures ...func(w http.ResponseWriter)) (*flaky, *client.Client) {
	t.Helper()
	f := &flaky{failures: failures}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithAPIKey("k"), client.WithRetry(4, time.Millisecond, 20*time.Millisecond))
	require.NoError(t, err)
	return f, c
}

func TestClient_RetriesServerErrorsWithOneIdempotencyKey(t *testing.T) {
	t.Parallel()
	f, c := newFlaky(t,
		status(503, `{"error":{"code":"unavailable","message":"try later"}}`),
		hangUp,
		status(500, `oops`),
	)
	res, err := c.Set("billing-events").Send(context.Background(), "invoice.paid", map[string]string{"invoiceId": "in_1"})
	require.NoError(t, err)
	require.Equal(t, "whevt_1", res.EventID)
	keys, bodies, _ := f.seen()
	require.Len(t, keys, 4)
	require.NotEmpty(t, keys[0])
	for i := range keys {
		require.Equal(t, keys[0], keys[i], "every retry carries the same generated idempotency key")
		require.JSONEq(t, `{"type":"invoice.paid","payload":{"invoiceId":"in_1"}}`, bodies[i])
	}

	// A second call generates a new key.
	_, err = c.Set("billing-events").Send(context.Background(), "invoice.paid", map[string]string{"invoiceId": "in_1"})
	require.NoError(t, err)
	keys, _, _ = f.seen()
	require.NotEqual(t, keys[0], keys[4])
}

func TestClient_GivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	f, c := newFlaky(t,
		status(502, `{"message":"Internal server error"}`, "Apigw-Requestid", "req-1"),
		status(502, `{"message":"Internal server error"}`, "Apigw-Requestid", "req-2"),
		status(502, `{"message":"Internal server error"}`, "Apigw-Requestid", "req-3"),
		status(502, `{"message":"Internal server error"}`, "Apigw-Requestid", "req-4"),
	)
	_, err := c.Set("s").Send(context.Background(), "t", nil, client.WithIdempotencyKey("mine"))
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, &client.APIError{Status: 502, Code: "http_502", Message: "Internal server error", RequestID: "req-4"}, apiErr)
	keys, _, _ := f.seen()
	require.Equal(t, []string{"mine", "mine", "mine", "mine"}, keys)
}

func TestClient_DoesNotRetryClientErrors(t *testing.T) {
	t.Parallel()
	f, c := newFlaky(t, status(404, `{"error":{"code":"unknown_set","message":"no webhook set named \"s\""}}`, "X-Request-Id", "r1"))
	_, err := c.Set("s").Send(context.Background(), "t", json.RawMessage(`{"a":1}`))
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, &client.APIError{Status: 404, Code: "unknown_set", Message: `no webhook set named "s"`, RequestID: "r1"}, apiErr)
	keys, bodies, _ := f.seen()
	require.Len(t, keys, 1)
	require.JSONEq(t, `{"type":"t","payload":{"a":1}}`, bodies[0])
}

func TestClient_HonoursRetryAfterOn429(t *testing.T) {
	t.Parallel()
	f := &flaky{failures: []func(http.ResponseWriter){status(429, `{"error":{"code":"throttled","message":"slow down"}}`, "Retry-After", "1")}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	// The backoff alone would wait at most 5 ms; Retry-After asks for 1 s (capped at max, 2 s).
	c, err := client.New(srv.URL, client.WithRetry(2, time.Millisecond, 2*time.Second))
	require.NoError(t, err)
	_, err = c.Set("s").Send(context.Background(), "t", 1)
	require.NoError(t, err)
	_, _, times := f.seen()
	require.Len(t, times, 2)
	require.GreaterOrEqual(t, times[1].Sub(times[0]), time.Second)
}

func TestClient_RotateAndResendRetryOnlyThrottling(t *testing.T) {
	t.Parallel()
	f, c := newFlaky(t, status(503, `{"error":{"code":"unavailable","message":"x"}}`))
	_, err := c.Set("s").Secrets.Rotate(context.Background(), "u1")
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 503, apiErr.Status)
	keys, _, _ := f.seen()
	require.Len(t, keys, 1, "a 503 may hide a rotation that happened: no retry")

	f, c = newFlaky(t, hangUp)
	_, err = c.Set("s").Resend(context.Background(), "whevt_1", "crm")
	require.Error(t, err)
	require.False(t, errors.As(err, &apiErr))
	keys, _, _ = f.seen()
	require.Len(t, keys, 1, "a network error may hide a resend that happened: no retry")

	f, c = newFlaky(t, status(429, `{"error":{"code":"throttled","message":"x"}}`))
	_, err = c.Set("s").Resend(context.Background(), "whevt_1", "crm")
	require.NoError(t, err)
	keys, bodies, _ := f.seen()
	require.Len(t, keys, 2)
	require.JSONEq(t, `{"endpoint":"crm"}`, bodies[1])
}

func TestClient_StopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	f := &flaky{}
	for range 10 {
		f.failures = append(f.failures, status(500, "x"))
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithRetry(10, time.Second, time.Second))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Set("s").Events.List(ctx, client.ListParams{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	keys, _, _ := f.seen()
	require.Len(t, keys, 1)
}

func TestNew_RejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		opts []client.Option
		want string
	}{
		{"127.0.0.1:8080", nil, "parse base URL"},
		{"localhost", nil, "want http(s)://"},
		{"ftp://x", nil, "want http(s)://"},
		{"http://x", []client.Option{client.WithRetry(0, time.Second, time.Second)}, "max attempts 0"},
		{"http://x", []client.Option{client.WithRetry(2, time.Second, time.Millisecond)}, "want 0 < initial <= max"},
	} {
		_, err := client.New(tc.url, tc.opts...)
		require.ErrorContains(t, err, tc.want, tc.url)
	}
}
