//go:build linux

package lambda

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/webhook"
)

// TestLambda_ResumeReleasesABacklogThroughDeliver: a resume with more held deliveries than the send
// function releases itself (100) hands the rest to the deliver function in release messages, on DynamoDB
// and SQS; every held delivery is then POSTed once.
func TestLambda_ResumeReleasesABacklogThroughDeliver(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs the Lambda bootstraps")
	}
	t.Parallel()
	rcv := newReceiver(t, nil)
	cfg := config.Config{Sets: []config.Set{{Name: "customer-events",
		UserEndpoints: &config.UserEndpoints{Enabled: true, AllowPrivateNetwork: true}}}}
	s := newStack(t, cfg, nil, visibilityTimeout)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")
	s.poll(s.start(variantProd, "deliver"))
	send.call(t, http.MethodPut, endpointsPath+"hooks", map[string]any{"url": rcv.URL + "/hooks"}).decode(t, http.StatusCreated, &webhook.Endpoint{})
	send.call(t, http.MethodPost, endpointsPath+"hooks/pause", nil).decode(t, http.StatusOK, &webhook.Endpoint{})

	var held []string
	for _, n := range []int{100, 30} {
		events := make([]map[string]any, n)
		for i := range events {
			events[i] = map[string]any{"type": "invoice.paid", "payload": map[string]int{"n": len(held) + i}, "userId": userID}
		}
		var res struct {
			Results []struct {
				EventID string `json:"eventId"`
			} `json:"results"`
		}
		send.call(t, http.MethodPost, "/v1/webhooks/customer-events/events/batch", map[string]any{"events": events}).
			decode(t, http.StatusAccepted, &res)
		for _, r := range res.Results {
			require.NotEmpty(t, r.EventID)
			held = append(held, r.EventID)
		}
	}
	for _, id := range held {
		s.waitDelivery(t, query, id, "hooks", webhook.StatusPaused)
	}
	require.Empty(t, rcv.requests("/hooks"), "nothing POSTed while paused")

	send.call(t, http.MethodPost, endpointsPath+"hooks/resume", nil).decode(t, http.StatusOK, &webhook.Endpoint{})
	for _, id := range held {
		s.waitDelivery(t, query, id, "hooks", webhook.StatusDelivered)
	}
	seen := map[string]int{}
	for _, r := range rcv.requests("/hooks") {
		seen[r.header.Get("webhook-id")]++
	}
	require.Len(t, seen, len(held))
	for _, id := range held {
		require.Equal(t, 1, seen[id], "delivered once: %s", id)
	}
}
