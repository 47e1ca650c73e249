package local_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/webhook"
)

func TestServe_SignedDeliveries(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	rc := newReceiver(t, nil)
	stdKey := []byte("0123456789abcdef0123456789abcdef")
	cfg := writeConfig(t, dir, fmt.Sprintf(`
sets:
  - name: billing
    endpoints:
      - name: crm
        url: %[1]s/crm
        allowPrivateNetwork: true
        signing:
          header: x-outhook-signature
          timestampHeader: x-outhook-timestamp
          signedPayload: timestamp.rawBody
          encoding: hex
          secret: CRM_SECRET
      - name: std
        url: %[1]s/std
        allowPrivateNetwork: true
        signing:
          secret: STD_SECRET
      - name: plain
        url: %[1]s/plain
        allowPrivateNetwork: true
`, rc.url))
	s := startServer(t, cfg, dir, "CRM_SECRET=crm-raw-secret", "STD_SECRET=whsec_"+base64.StdEncoding.EncodeToString(stdKey))

	res, status, _ := s.send(t, "billing", sendReq{Type: "invoice.paid", Payload: map[string]string{"invoiceId": "in_1"}}, "")
	require.Equal(t, http.StatusAccepted, status)
	require.Len(t, res.Deliveries, 3)

	byPath := map[string]delivery{}
	for _, d := range rc.wait(t, 3, 10*time.Second) {
		byPath[d.path] = d
	}
	require.Len(t, byPath, 3)
	for path, d := range byPath {
		require.Equal(t, res.EventID, d.header.Get("webhook-id"), path)
		require.Equal(t, "application/json", d.header.Get("Content-Type"), path)
		body := decodeDelivered(t, d.body)
		require.Equal(t, res.EventID, body.ID)
		require.Equal(t, "invoice.paid", body.Type)
		require.JSONEq(t, `{"invoiceId":"in_1"}`, string(body.Data))
		require.WithinDuration(t, time.Now(), body.Timestamp, time.Minute)
	}

	crmScheme, err := (&config.Signing{
		Header: "x-outhook-signature", TimestampHeader: "x-outhook-timestamp",
		SignedPayload: "timestamp.rawBody", Algorithm: "hmac-sha256", Encoding: "hex",
	}).Scheme()
	require.NoError(t, err)
	crm := byPath["/crm"]
	require.Regexp(t, `^[0-9a-f]{64}$`, crm.header.Get("x-outhook-signature"))
	require.NoError(t, signing.Verify(crmScheme, crm.header, crm.body, [][]byte{[]byte("crm-raw-secret")}, time.Minute, time.Now()))
	require.Error(t, signing.Verify(crmScheme, crm.header, crm.body, [][]byte{[]byte("another-secret")}, time.Minute, time.Now()))
	require.Empty(t, crm.header.Get("webhook-signature"))

	std := byPath["/std"]
	require.Regexp(t, `^v1,`, std.header.Get("webhook-signature"))
	require.NoError(t, signing.Verify(signing.Standard, std.header, std.body, [][]byte{stdKey}, time.Minute, time.Now()))
	tampered := append([]byte(nil), std.body...)
	tampered[len(tampered)-2] = ' '
	require.Error(t, signing.Verify(signing.Standard, std.header, tampered, [][]byte{stdKey}, time.Minute, time.Now()))

	plain := byPath["/plain"]
	require.Empty(t, plain.header.Get("webhook-signature"))
	require.Empty(t, plain.header.Get("x-outhook-signature"))

	ev := s.waitEvent(t, "billing", res.EventID, webhook.StatusDelivered, 5*time.Second)
	for _, d := range ev.Deliveries {
		require.Equal(t, webhook.StatusDelivered, d.Status, d.Endpoint)
		require.Len(t, d.Attempts, 1, d.Endpoint)
		require.Equal(t, http.StatusOK, d.Attempts[0].ResponseStatus)
	}
	// The signing secrets never appear in what the event log kept.
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "crm-raw-secret")
	require.NotContains(t, s.logs.String(), "crm-raw-secret")
}

// retryConfig is one set with one endpoint on url and the given retry block.
func retryConfig(url, retry string) string {
	return fmt.Sprintf(`
sets:
  - name: orders
    endpoints:
      - name: shop
        url: %s/hooks
        allowPrivateNetwork: true
        timeoutSeconds: 2
        retry: %s
`, url, retry)
}

func TestServe_RetriesWithTheConfiguredDelays(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cfg := writeConfig(t, dir, retryConfig(rc.url, "{attempts: 5, backoff: exponential, initialDelaySeconds: 1, maxDelaySeconds: 2}"))
	s := startServer(t, cfg, dir)

	res, status, _ := s.send(t, "orders", sendReq{Type: "order.created", Payload: map[string]int{"n": 1}}, "")
	require.Equal(t, http.StatusAccepted, status)
	got := rc.wait(t, 3, 15*time.Second)

	// Exponential with jitter 0.8..1.2, capped at 2 s: ~1 s, then ~2 s (1.6..2); plus polling and scheduling.
	gap1, gap2 := got[1].at.Sub(got[0].at), got[2].at.Sub(got[1].at)
	t.Logf("delays between attempts: %v, %v", gap1, gap2)
	require.GreaterOrEqual(t, gap1, 750*time.Millisecond)
	require.LessOrEqual(t, gap1, 2200*time.Millisecond)
	require.GreaterOrEqual(t, gap2, 1550*time.Millisecond)
	require.LessOrEqual(t, gap2, 3000*time.Millisecond)
	for _, d := range got {
		require.Equal(t, res.EventID, d.header.Get("webhook-id"), "the same webhook-id on every retry")
	}

	ev := s.waitEvent(t, "orders", res.EventID, webhook.StatusDelivered, 5*time.Second)
	attempts := ev.Deliveries[0].Attempts
	require.Len(t, attempts, 3)
	for i, a := range attempts {
		require.Equal(t, i+1, a.Number)
	}
	require.Equal(t, res.Deliveries[0].AttemptID, attempts[0].ID)
	require.Equal(t, []int{503, 503, 200}, []int{attempts[0].ResponseStatus, attempts[1].ResponseStatus, attempts[2].ResponseStatus})
	require.Equal(t, webhook.StatusDelivered, ev.Deliveries[0].Status)

	require.Zero(t, s.queued(dir), "no attempt is left to make")
	require.Len(t, rc.deliveries(), 3, "no attempt after the success")
}

func TestServe_FailsAfterTheLastAttempt(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusInternalServerError })
	cfg := writeConfig(t, dir, retryConfig(rc.url, "{attempts: 3, backoff: fixed, initialDelaySeconds: 1, maxDelaySeconds: 1}"))
	s := startServer(t, cfg, dir)

	res, status, _ := s.send(t, "orders", sendReq{Type: "order.created", Payload: map[string]int{"n": 1}}, "")
	require.Equal(t, http.StatusAccepted, status)

	ev := s.waitEvent(t, "orders", res.EventID, webhook.StatusFailed, 15*time.Second)
	require.Equal(t, webhook.StatusFailed, ev.Deliveries[0].Status)
	require.Len(t, ev.Deliveries[0].Attempts, 3)
	require.Nil(t, ev.Deliveries[0].NextAttemptAt)
	for _, a := range ev.Deliveries[0].Attempts {
		require.Equal(t, http.StatusInternalServerError, a.ResponseStatus)
	}
	require.Zero(t, s.queued(dir), "no attempt is left to make")
	require.Len(t, rc.deliveries(), 3, "no attempt after the last one")
}

func TestServe_RotationSignsWithBothSecretsDuringTheWindow(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	rc := newReceiver(t, nil)
	cfg := writeConfig(t, dir, fmt.Sprintf(`
sets:
  - name: customers
    rotationWindowSeconds: 3
    endpoints:
      - name: customer
        url: %s/hooks
        allowPrivateNetwork: true
`, rc.url))
	s := startServer(t, cfg, dir)
	key := func(secret string) []byte {
		k, err := signing.Key(secret)
		require.NoError(t, err)
		return k
	}
	verifies := func(d delivery, secret string) bool {
		return signing.Verify(signing.Standard, d.header, d.body, [][]byte{key(secret)}, time.Minute, time.Now()) == nil
	}
	sendOne := func(n int) delivery {
		_, status, _ := s.send(t, "customers", sendReq{Type: "customer.updated", Payload: map[string]int{"n": n}, UserID: "user_1"}, "")
		require.Equal(t, http.StatusAccepted, status)
		return rc.wait(t, n, 10*time.Second)[n-1]
	}

	first := s.userSecret(t, "customers", "user_1", false)
	d1 := sendOne(1)
	require.Len(t, signatures(d1.header, "webhook-signature"), 1)
	require.True(t, verifies(d1, first.Current.Value))

	rotated := s.userSecret(t, "customers", "user_1", true)
	require.NotNil(t, rotated.Previous)
	require.Equal(t, first.Current.Value, rotated.Previous.Value)
	require.NotNil(t, rotated.Previous.ExpiresAt)
	d2 := sendOne(2)
	require.Len(t, signatures(d2.header, "webhook-signature"), 2, "both secrets sign during the window")
	require.True(t, verifies(d2, first.Current.Value), "a receiver holding the old secret verifies")
	require.True(t, verifies(d2, rotated.Current.Value), "a receiver holding the new secret verifies")

	time.Sleep(time.Until(*rotated.Previous.ExpiresAt) + 200*time.Millisecond)
	d3 := sendOne(3)
	require.Len(t, signatures(d3.header, "webhook-signature"), 1, "only the new secret after the window")
	require.True(t, verifies(d3, rotated.Current.Value))
	require.False(t, verifies(d3, first.Current.Value))
}

func TestServe_IdempotentSend(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	rc := newReceiver(t, nil)
	cfg := writeConfig(t, dir, retryConfig(rc.url, "{attempts: 2, initialDelaySeconds: 1, maxDelaySeconds: 1}"))
	s := startServer(t, cfg, dir)
	body := sendReq{Type: "order.created", Payload: map[string]string{"order": "o_1"}}

	first, status, h := s.send(t, "orders", body, "order-o_1")
	require.Equal(t, http.StatusAccepted, status)
	require.Empty(t, h.Get("Idempotent-Replayed"))
	rc.wait(t, 1, 10*time.Second)
	// Recorded, not only received: a replay that comes before the attempt is recorded queues the delivery
	// again (at least once, under the same webhook-id), which this test does not exercise.
	s.waitEvent(t, "orders", first.EventID, webhook.StatusDelivered, 10*time.Second)

	again, status, h := s.send(t, "orders", body, "order-o_1")
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "true", h.Get("Idempotent-Replayed"))
	require.Equal(t, first, again)

	_, status, _ = s.send(t, "orders", sendReq{Type: "order.created", Payload: map[string]string{"order": "o_2"}}, "order-o_1")
	require.Equal(t, http.StatusConflict, status)

	require.Zero(t, s.queued(dir), "no attempt is left to make")
	require.Len(t, rc.deliveries(), 1, "one delivery for the idempotent sends")
}

// TestServe_ReplaysWhileTheFirstDeliveryIsInFlight: replaying an Idempotency-Key while the first delivery
// is not yet recorded (its POST hangs) queues nothing again: the receiver gets one POST, not one per replay.
func TestServe_ReplaysWhileTheFirstDeliveryIsInFlight(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 1 {
			<-release
		}
		return http.StatusOK
	})
	t.Cleanup(unblock) // runs before the receiver's Close, which waits for the held request
	// The endpoint's timeout outlasts the replays: the first attempt stays in flight until released.
	cfg := writeConfig(t, dir, strings.Replace(retryConfig(rc.url, "{attempts: 2, initialDelaySeconds: 1, maxDelaySeconds: 1}"),
		"timeoutSeconds: 2", "timeoutSeconds: 60", 1))
	s := startServer(t, cfg, dir)
	body := sendReq{Type: "order.created", Payload: map[string]string{"order": "o_1"}}

	first, status, _ := s.send(t, "orders", body, "order-o_1")
	require.Equal(t, http.StatusAccepted, status)
	// The first POST is in flight (its answer held), its attempt not recorded.
	require.Eventually(t, func() bool { return len(rc.deliveries()) == 1 }, 10*time.Second, 10*time.Millisecond)
	for range 10 {
		again, status, h := s.send(t, "orders", body, "order-o_1")
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, "true", h.Get("Idempotent-Replayed"))
		require.Equal(t, first, again)
	}
	unblock()
	s.waitEvent(t, "orders", first.EventID, webhook.StatusDelivered, 10*time.Second)
	require.Zero(t, s.queued(dir), "nothing else was queued (queued stops the server)")
	require.Len(t, rc.deliveries(), 1, "one POST for a send replayed ten times")
}
