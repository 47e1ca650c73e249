//go:build linux

package lambda

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awsapp"
	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/webhook"
)

const endpointsPath = "/v1/webhooks/customer-events/users/" + userID + "/endpoints/"

func deliveryOf(ev webhook.Event, endpoint string) webhook.Delivery {
	for _, d := range ev.Deliveries {
		if d.Endpoint == endpoint {
			return d
		}
	}
	return webhook.Delivery{}
}

// waitDelivery polls the event through the query function until its delivery to endpoint has the status.
func (s *stack) waitDelivery(t *testing.T, query *function, id, endpoint, status string) webhook.Delivery {
	t.Helper()
	var d webhook.Delivery
	require.Eventually(t, func() bool {
		d = deliveryOf(s.event(t, query, "customer-events", id), endpoint)
		return d.Status == status
	}, 60*time.Second, 200*time.Millisecond, "the delivery of %s to %s never became %s (last: %s)", id, endpoint, status, d.Status)
	return d
}

// TestLambda_UserEndpoints drives the runtime endpoints through the real bootstraps: event-type filters and
// the user's signature, pause and resume, auto-disable with endpoint.disabled, recover, delete and the list
// filters, on DynamoDB, SQS and Secrets Manager (moto).
func TestLambda_UserEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs the Lambda bootstraps")
	}
	t.Parallel()
	rcv := newReceiver(t, nil)
	broken := newReceiver(t, nil)
	broken.failFirst = map[string]int{"/broken": 1 << 30}
	cfg := config.Config{Sets: []config.Set{
		{Name: "customer-events", OnEndpointDisabled: &config.EndpointDisabledHook{Set: "ops"},
			UserEndpoints: &config.UserEndpoints{Enabled: true, AllowPrivateNetwork: true, Retry: &config.Retry{Attempts: 1},
				AutoDisable: &config.AutoDisable{AfterFailedDeliveries: 3}}},
		{Name: "ops", Endpoints: []config.Endpoint{endpoint("pager", rcv.URL+"/pager")}},
	}}
	s := newStack(t, cfg, nil, visibilityTimeout)
	send, query, deliver := s.start(variantProd, "send"), s.start(variantProd, "query"), s.start(variantProd, "deliver")
	s.poll(deliver)
	put := func(name, u string, types ...string) {
		var ep webhook.Endpoint
		send.call(t, http.MethodPut, endpointsPath+name, map[string]any{"url": u, "eventTypes": types}).decode(t, http.StatusCreated, &ep)
		require.Equal(t, userID, ep.UserID)
	}
	action := func(name, what string, want string) webhook.Endpoint {
		var ep webhook.Endpoint
		send.call(t, http.MethodPost, endpointsPath+name+"/"+what, nil).decode(t, http.StatusOK, &ep)
		require.Equal(t, want, ep.Status)
		return ep
	}
	sendEvent := func(typ string) webhook.SendResult {
		var res webhook.SendResult
		send.call(t, http.MethodPost, "/v1/webhooks/customer-events/events",
			map[string]any{"type": typ, "payload": map[string]string{"t": typ}, "userId": userID}).decode(t, http.StatusAccepted, &res)
		return res
	}
	listIDs := func(q url.Values) []string {
		var l webhook.EventList
		q.Set("limit", "100")
		query.call(t, http.MethodGet, "/v1/webhooks/customer-events/events?"+q.Encode(), nil).decode(t, http.StatusOK, &l)
		ids := []string{}
		for _, ev := range l.Events {
			ids = append(ids, ev.ID)
		}
		return ids
	}

	// Two endpoints with different event types: each gets exactly its types, signed with the user's secret.
	put("invoices", rcv.URL+"/invoices", "invoice.*")
	put("users", rcv.URL+"/users", "user.created")
	start := time.Now()
	paid, created, shipped := sendEvent("invoice.paid"), sendEvent("user.created"), sendEvent("order.shipped")
	require.Len(t, paid.Deliveries, 1)
	require.Empty(t, shipped.Deliveries)
	s.waitDelivery(t, query, paid.EventID, "invoices", webhook.StatusDelivered)
	s.waitDelivery(t, query, created.EventID, "users", webhook.StatusDelivered)
	var sec webhook.UserSecret
	s.start(variantProd, "secrets").call(t, http.MethodGet, "/v1/webhooks/customer-events/users/"+userID+"/secret", nil).
		decode(t, http.StatusOK, &sec)
	for path, id := range map[string]string{"/invoices": paid.EventID, "/users": created.EventID} {
		got := rcv.requests(path)
		require.Len(t, got, 1, path)
		require.Equal(t, id, got[0].header.Get("webhook-id"))
		verifies(t, nil, got[0], key(t, sec.Current.Value))
	}
	time.Sleep(5 * time.Millisecond)
	end := time.Now()

	// Pause: once the deliver function's cached state has expired, nothing is POSTed and every delivery is
	// paused; resume delivers each once.
	action("invoices", "pause", webhook.EndpointPaused)
	time.Sleep(awsapp.EndpointStateTTL + 500*time.Millisecond)
	var held []string
	for range 20 {
		held = append(held, sendEvent("invoice.created").EventID)
	}
	for _, id := range held {
		s.waitDelivery(t, query, id, "invoices", webhook.StatusPaused)
	}
	require.Len(t, rcv.requests("/invoices"), 1, "nothing POSTed while paused")
	action("invoices", "resume", webhook.EndpointEnabled)
	for _, id := range held {
		d := s.waitDelivery(t, query, id, "invoices", webhook.StatusDelivered)
		require.Len(t, d.Attempts, 1)
	}
	seen := map[string]int{}
	for _, r := range rcv.requests("/invoices") {
		seen[r.header.Get("webhook-id")]++
	}
	for _, id := range held {
		require.Equal(t, 1, seen[id], "delivered once: %s", id)
	}

	// Auto-disable after 3 failed deliveries (N=3, T=0), and endpoint.disabled reaches the ops set.
	put("broken", broken.URL+"/broken", "broken.*")
	var failed []string
	var windowStart time.Time
	for i := range 3 {
		if i == 1 {
			windowStart = time.Now()
		}
		res := sendEvent("broken.thing")
		s.waitDelivery(t, query, res.EventID, "broken", webhook.StatusFailed)
		failed = append(failed, res.EventID)
	}
	var ep webhook.Endpoint
	query.call(t, http.MethodGet, endpointsPath+"broken", nil).decode(t, http.StatusOK, &ep)
	require.Equal(t, webhook.EndpointDisabled, ep.Status)
	require.Equal(t, 3, ep.Health.ConsecutiveFailedDeliveries)
	require.Eventually(t, func() bool { return len(rcv.requests("/pager")) == 1 }, 60*time.Second, 100*time.Millisecond)
	var alert struct {
		Type string
		Data struct{ Set, Endpoint, UserID, Reason string }
	}
	require.NoError(t, json.Unmarshal(rcv.requests("/pager")[0].body, &alert))
	require.Equal(t, webhook.EndpointDisabledType, alert.Type)
	require.Equal(t, "customer-events", alert.Data.Set)
	require.Equal(t, "broken", alert.Data.Endpoint)
	require.Equal(t, userID, alert.Data.UserID)
	require.Equal(t, ep.DisabledReason, alert.Data.Reason)

	// Recover after resume: exactly the failed deliveries of the window are delivered again.
	broken.mu.Lock()
	broken.failFirst = nil
	broken.mu.Unlock()
	action("broken", "resume", webhook.EndpointEnabled)
	var rec webhook.RecoverResult
	send.call(t, http.MethodPost, endpointsPath+"broken/recover", map[string]string{"since": windowStart.UTC().Format(time.RFC3339Nano)}).
		decode(t, http.StatusAccepted, &rec)
	require.Equal(t, 2, rec.Requeued)
	for _, id := range failed[1:] {
		s.waitDelivery(t, query, id, "broken", webhook.StatusDelivered)
	}
	require.Equal(t, webhook.StatusFailed, deliveryOf(s.event(t, query, "customer-events", failed[0]), "broken").Status)
	require.Len(t, broken.requests("/broken"), 3+2)

	// Delete ends the held deliveries as failed, with the reason.
	action("users", "pause", webhook.EndpointPaused)
	time.Sleep(awsapp.EndpointStateTTL + 500*time.Millisecond)
	orphan := sendEvent("user.created")
	s.waitDelivery(t, query, orphan.EventID, "users", webhook.StatusPaused)
	del := send.call(t, http.MethodDelete, endpointsPath+"users", nil)
	require.Equal(t, http.StatusNoContent, del.status, "%s", del.body)
	d := s.waitDelivery(t, query, orphan.EventID, "users", webhook.StatusFailed)
	require.Contains(t, d.Attempts[len(d.Attempts)-1].Error, "the endpoint was deleted")
	require.Len(t, rcv.requests("/users"), 1)

	// The list filters, through the sparse user index on DynamoDB.
	require.Len(t, listIDs(url.Values{"userId": {userID}}), 3+20+3+1)
	require.Len(t, listIDs(url.Values{"userId": {userID}, "type": {"invoice.*"}}), 1+20)
	require.Equal(t, []string{failed[0]}, listIDs(url.Values{"status": {"failed"}, "endpoint": {"broken"}}))
	require.Equal(t, []string{shipped.EventID, created.EventID, paid.EventID}, listIDs(url.Values{"userId": {userID},
		"since": {start.UTC().Format(time.RFC3339Nano)}, "until": {end.UTC().Format(time.RFC3339Nano)}}))
	require.Empty(t, listIDs(url.Values{"userId": {"somebody-else"}}))
	bad := query.call(t, http.MethodGet, "/v1/webhooks/customer-events/events?user="+userID, nil)
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Contains(t, string(bad.body), "unknown_parameter")
}
