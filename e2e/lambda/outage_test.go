//go:build linux

package lambda

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/webhook"
)

// TestLambda_SecretsManagerOutage: deliver's Secrets Manager requests fail (503) for a while; the deliveries
// that need a secret (a named one, a user's) are retried by SQS without an attempt recorded or a POST, and
// once Secrets Manager answers each is delivered by its first attempt, with attempts: 2 left whole.
func TestLambda_SecretsManagerOutage(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	twoAttempts := &config.Retry{Attempts: 2, Backoff: "fixed", InitialDelaySeconds: 1, MaxDelaySeconds: 1}
	crm := endpoint("crm", rcv.URL+"/crm")
	crm.Signing, crm.Retry = crmSigning, twoAttempts
	customer := endpoint("customer", rcv.URL+"/customer")
	customer.Retry = twoAttempts
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "billing", Endpoints: []config.Endpoint{crm, customer}}}},
		map[string]string{crmSecretName: crmSecretValue}, visibilityTimeout)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")

	// Secrets Manager as deliver sees it: down (503) until up is set, then the stack's endpoint.
	target, err := url.Parse(s.proxyURL)
	require.NoError(t, err)
	forward := httputil.NewSingleHostReverseProxy(target)
	var up atomic.Bool
	var refused atomic.Int32
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			refused.Add(1)
			http.Error(w, `{"__type":"ServiceUnavailableException","message":"injected outage"}`, http.StatusServiceUnavailable)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(sm.Close)
	s.poll(s.start(variantProd, "deliver", "AWS_ENDPOINT_URL_SECRETS_MANAGER="+sm.URL))

	var res webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/billing/events",
		map[string]any{"type": "invoice.paid", "payload": map[string]string{"invoiceId": "in_1"}, "userId": userID}).
		decode(t, http.StatusAccepted, &res)
	// Several receives of each message meet the outage (visibility timeout 2 s).
	require.Eventually(t, func() bool { return refused.Load() >= 12 }, 60*time.Second, 50*time.Millisecond)
	require.Empty(t, rcv.requests("/crm"), "no POST without the secret")
	require.Empty(t, rcv.requests("/customer"), "no POST without the secret")
	during := s.event(t, query, "billing", res.EventID)
	for _, d := range during.Deliveries {
		require.Empty(t, d.Attempts, "no attempt recorded during the outage: %s", d.Endpoint)
		require.Equal(t, webhook.StatusQueued, d.Status)
	}

	up.Store(true)
	ev := s.waitStatus(t, query, "billing", res.EventID, webhook.StatusDelivered, 60*time.Second)
	for _, d := range ev.Deliveries {
		require.Len(t, d.Attempts, 1, d.Endpoint)
		require.Equal(t, 1, d.Attempts[0].Number)
		require.Equal(t, http.StatusNoContent, d.Attempts[0].ResponseStatus, d.Endpoint)
	}
	require.Len(t, rcv.requests("/crm"), 1)
	verifies(t, crmSigning, rcv.requests("/crm")[0], []byte(crmSecretValue))
	require.Len(t, rcv.requests("/customer"), 1)
}
