//go:build linux

package lambda

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/webhook"
)

// TestLambda_SendFunctionURL invokes the send bootstrap with function URL events (routeKey $default): a
// single send and a batch send answer as through API Gateway and are delivered, signed; the routes of send
// that are not on its URL, and any other path, answer the API's JSON 404 without an AWS request.
func TestLambda_SendFunctionURL(t *testing.T) {
	t.Parallel()
	s, rcv := crmStack(t)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")

	var single webhook.SendResult
	send.callURL(t, http.MethodPost, "/v1/webhooks/billing/events", map[string]any{"type": "invoice.paid", "payload": map[string]int{"n": 1}},
		"Idempotency-Key", "url-1").decode(t, http.StatusAccepted, &single)
	require.Len(t, single.Deliveries, 1)
	require.Equal(t, webhook.StatusQueued, single.Deliveries[0].Status)
	var replayed webhook.SendResult
	again := send.callURL(t, http.MethodPost, "/v1/webhooks/billing/events", map[string]any{"type": "invoice.paid", "payload": map[string]int{"n": 1}},
		"Idempotency-Key", "url-1")
	again.decode(t, http.StatusAccepted, &replayed)
	require.Equal(t, single.EventID, replayed.EventID, "the idempotency key replays through the URL as through the API")
	require.Equal(t, "true", again.header["Idempotent-Replayed"])

	var batch struct {
		Results []struct {
			EventID string                 `json:"eventId"`
			Error   *struct{ Code string } `json:"error"`
		} `json:"results"`
	}
	send.callURL(t, http.MethodPost, "/v1/webhooks/billing/events/batch", map[string]any{"events": []map[string]any{
		{"type": "invoice.paid", "payload": map[string]int{"n": 2}},
		{"payload": map[string]int{"n": 3}},
		{"type": "invoice.paid", "payload": map[string]int{"n": 4}},
	}}).decode(t, http.StatusAccepted, &batch)
	require.Len(t, batch.Results, 3)
	require.NotNil(t, batch.Results[1].Error)
	require.Equal(t, "missing_type", batch.Results[1].Error.Code)
	sent := map[string]bool{single.EventID: true, batch.Results[0].EventID: true, batch.Results[2].EventID: true}
	require.Len(t, sent, 3)

	require.Eventually(t, func() bool { return len(rcv.distinct()) == len(sent) }, 60*time.Second, 100*time.Millisecond,
		"every event sent through the URL delivered")
	for _, g := range rcv.requests("/crm") {
		require.True(t, sent[g.header.Get("webhook-id")], g.header.Get("webhook-id"))
		verifies(t, crmSigning, g, []byte(crmSecretValue))
	}
	for id := range sent {
		s.waitStatus(t, query, "billing", id, webhook.StatusDelivered, 30*time.Second)
	}
	s.waitQueueEmpty(t)

	before := s.counter.Total()
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/v1/webhooks/billing/events/" + single.EventID + "/retry"}, // send's, through the API only
		{http.MethodPost, "/v1/webhooks/billing/endpoints/crm/pause"},
		{http.MethodGet, "/v1/webhooks/billing/events"}, // the query function's
		{http.MethodPost, "/v1/webhooks/billing/events/extra"},
		{http.MethodGet, "/"},
	} {
		resp := send.callURL(t, c.method, c.path, map[string]any{})
		require.Equal(t, http.StatusNotFound, resp.status, "%s %s: %s", c.method, c.path, resp.body)
		require.JSONEq(t, `{"error":{"code":"not_found","message":"no such route"}}`, string(resp.body), "%s %s", c.method, c.path)
		require.Equal(t, "application/json", resp.header["Content-Type"])
	}
	require.Equal(t, before, s.counter.Total(), "a path the URL does not serve makes no AWS request")

	// The same resend through API Gateway reaches its handler.
	resp := send.call(t, http.MethodPost, "/v1/webhooks/billing/events/"+single.EventID+"/retry", map[string]any{"endpoint": "crm"})
	require.Equal(t, http.StatusAccepted, resp.status, "%s", resp.body)
}
