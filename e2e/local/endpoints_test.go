package local_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/verify"
	"github.com/outhook/outhook/shared/webhook"
)

// endpointsConfig: users of customer-events register their own endpoints (on 127.0.0.1, hence
// allowPrivateNetwork), with one attempt per delivery and auto-disable after 3 failed deliveries; the ops set
// receives endpoint.disabled.
func endpointsConfig(pagerURL string) string {
	return fmt.Sprintf(`
sets:
  - name: customer-events
    onEndpointDisabled: {set: ops}
    userEndpoints:
      enabled: true
      allowPrivateNetwork: true
      retry: {attempts: 1}
      autoDisable: {afterFailedDeliveries: 3, afterSeconds: 0}
  - name: ops
    endpoints:
      - {name: pager, url: %s/pager, allowPrivateNetwork: true}
`, pagerURL)
}

func (s *server) endpoint(t *testing.T, method, path string, body any, want int) webhook.Endpoint {
	t.Helper()
	var ep webhook.Endpoint
	status, _, err := s.call(t.Context(), method, "/v1/webhooks/customer-events/users/alice/endpoints/"+path, body, nil, &ep)
	require.NoError(t, err)
	require.Equal(t, want, status, "%s %s", method, path)
	return ep
}

func (s *server) list(t *testing.T, query string) []string {
	t.Helper()
	var list webhook.EventList
	status, _, err := s.call(t.Context(), http.MethodGet, "/v1/webhooks/customer-events/events?limit=100&"+query, nil, nil, &list)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, query)
	ids := []string{}
	for _, ev := range list.Events {
		ids = append(ids, ev.ID)
	}
	return ids
}

func deliveryTo(ev webhook.Event, endpoint string) webhook.Delivery {
	for _, d := range ev.Deliveries {
		if d.Endpoint == endpoint {
			return d
		}
	}
	return webhook.Delivery{}
}

// waitDelivery polls an event until its delivery to endpoint has the status.
func (s *server) waitDelivery(t *testing.T, id, endpoint, want string) webhook.Delivery {
	t.Helper()
	var d webhook.Delivery
	require.Eventually(t, func() bool {
		d = deliveryTo(s.event(t, "customer-events", id), endpoint)
		return d.Status == want
	}, 30*time.Second, 50*time.Millisecond, "the delivery of %s to %s never became %s (last: %s)", id, endpoint, want, d.Status)
	return d
}

// TestServe_UserEndpoints drives the runtime endpoints through the real binary: event-type filters and the
// user's signature, pause and resume across a SIGKILL, auto-disable with endpoint.disabled, recover, delete
// and the list filters.
func TestServe_UserEndpoints(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	pager := newReceiver(t, nil)
	invoices := newReceiver(t, nil)
	users := newReceiver(t, nil)
	var brokenOK atomic.Bool
	broken := newReceiver(t, func(int, *http.Request) int {
		if brokenOK.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	cfg := writeConfig(t, dir, endpointsConfig(pager.url))
	s := startServer(t, cfg, dir)

	// Two endpoints with different event types: each gets exactly its types, signed with alice's secret.
	s.endpoint(t, http.MethodPut, "invoices", map[string]any{"url": invoices.url + "/invoices", "eventTypes": []string{"invoice.*"}}, http.StatusCreated)
	s.endpoint(t, http.MethodPut, "users", map[string]any{"url": users.url + "/users", "eventTypes": []string{"user.created"}}, http.StatusCreated)
	start := time.Now()
	sent := map[string]string{}
	for _, typ := range []string{"invoice.paid", "user.created", "order.shipped"} {
		res, status, _ := s.send(t, "customer-events", sendReq{Type: typ, Payload: map[string]string{"t": typ}, UserID: "alice"}, "")
		require.Equal(t, http.StatusAccepted, status)
		sent[typ] = res.EventID
	}
	time.Sleep(5 * time.Millisecond) // ids are per millisecond: keep the window's end clear of the sends
	end := time.Now()
	time.Sleep(5 * time.Millisecond)
	bob, status, _ := s.send(t, "customer-events", sendReq{Type: "invoice.paid", Payload: 1, UserID: "bob"}, "")
	require.Equal(t, http.StatusAccepted, status)
	require.Empty(t, bob.Deliveries, "bob registered nothing")
	secret := s.userSecret(t, "customer-events", "alice", false)
	for rc, typ := range map[*receiver]string{invoices: "invoice.paid", users: "user.created"} {
		got := rc.wait(t, 1, 30*time.Second)
		require.Equal(t, sent[typ], decodeDelivered(t, got[0].body).ID)
		require.NoError(t, verify.Payload(got[0].header, got[0].body, verify.Options{Secrets: []string{secret.Current.Value}}))
	}
	s.waitEvent(t, "customer-events", sent["invoice.paid"], webhook.StatusDelivered, 30*time.Second)

	// Pause, 20 sends: nothing POSTed, every delivery paused. SIGKILL, restart, resume: each delivered once.
	require.Equal(t, webhook.EndpointPaused, s.endpoint(t, http.MethodPost, "invoices/pause", nil, http.StatusOK).Status)
	var held []string
	for i := range 20 {
		res, status, _ := s.send(t, "customer-events", sendReq{Type: "invoice.created", Payload: i, UserID: "alice"}, "")
		require.Equal(t, http.StatusAccepted, status)
		held = append(held, res.EventID)
	}
	for _, id := range held {
		s.waitDelivery(t, id, "invoices", webhook.StatusPaused)
	}
	require.Len(t, invoices.deliveries(), 1, "nothing POSTed while paused")
	s.kill()
	s = startServer(t, cfg, dir)
	for _, id := range held {
		require.Equal(t, webhook.StatusPaused, deliveryTo(s.event(t, "customer-events", id), "invoices").Status, "held across SIGKILL")
	}
	require.Equal(t, webhook.EndpointEnabled, s.endpoint(t, http.MethodPost, "invoices/resume", nil, http.StatusOK).Status)
	got := invoices.wait(t, 21, 30*time.Second)
	seen := map[string]int{}
	for _, d := range got[1:] {
		seen[decodeDelivered(t, d.body).ID]++
	}
	for _, id := range held {
		require.Equal(t, 1, seen[id], "delivered once: %s", id)
		d := s.waitDelivery(t, id, "invoices", webhook.StatusDelivered)
		require.Len(t, d.Attempts, 1, "holding used no attempt")
	}

	// Auto-disable after 3 failed deliveries (N=3, T=0): endpoint.disabled reaches the ops set.
	s.endpoint(t, http.MethodPut, "broken", map[string]any{"url": broken.url + "/broken", "eventTypes": []string{"broken.*"}}, http.StatusCreated)
	var failed []string
	var windowStart time.Time
	for i := range 3 {
		if i == 1 {
			windowStart = time.Now()
		}
		res, _, _ := s.send(t, "customer-events", sendReq{Type: "broken.thing", Payload: i, UserID: "alice"}, "")
		s.waitDelivery(t, res.EventID, "broken", webhook.StatusFailed)
		failed = append(failed, res.EventID)
	}
	ep := s.endpoint(t, http.MethodGet, "broken", nil, http.StatusOK)
	require.Equal(t, webhook.EndpointDisabled, ep.Status)
	require.NotEmpty(t, ep.DisabledReason)
	require.Equal(t, 3, ep.Health.ConsecutiveFailedDeliveries)
	alert := pager.wait(t, 1, 30*time.Second)[0]
	body := decodeDelivered(t, alert.body)
	require.Equal(t, webhook.EndpointDisabledType, body.Type)
	require.JSONEq(t, fmt.Sprintf(`{"set":"customer-events","endpoint":"broken","userId":"alice","reason":%q,"disabledAt":%q}`,
		ep.DisabledReason, jsonField(t, body.Data, "disabledAt")), string(body.Data))
	require.Contains(t, s.logs.String(), `"msg":"endpoint disabled"`)

	// Recover: resume, then re-deliver exactly the failed deliveries of the window (the 2nd and 3rd).
	brokenOK.Store(true)
	s.endpoint(t, http.MethodPost, "broken/resume", nil, http.StatusOK)
	var rec webhook.RecoverResult
	status, _, err := s.call(t.Context(), http.MethodPost, "/v1/webhooks/customer-events/users/alice/endpoints/broken/recover",
		map[string]string{"since": windowStart.UTC().Format(time.RFC3339Nano)}, nil, &rec)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, 2, rec.Requeued)
	for _, id := range failed[1:] {
		s.waitDelivery(t, id, "broken", webhook.StatusDelivered)
	}
	require.Equal(t, webhook.StatusFailed, deliveryTo(s.event(t, "customer-events", failed[0]), "broken").Status)
	require.Len(t, broken.deliveries(), 3+2)

	// Delete ends the queued (here: held) deliveries as failed, with the reason.
	s.endpoint(t, http.MethodPost, "users/pause", nil, http.StatusOK)
	var orphans []string
	for range 2 {
		res, _, _ := s.send(t, "customer-events", sendReq{Type: "user.created", Payload: 1, UserID: "alice"}, "")
		orphans = append(orphans, res.EventID)
	}
	status, _, err = s.call(t.Context(), http.MethodDelete, "/v1/webhooks/customer-events/users/alice/endpoints/users", nil, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, status)
	for _, id := range orphans {
		d := s.waitDelivery(t, id, "users", webhook.StatusFailed)
		require.Contains(t, d.Attempts[len(d.Attempts)-1].Error, "the endpoint was deleted")
	}
	require.Len(t, users.deliveries(), 1)

	// The list filters.
	require.Equal(t, []string{bob.EventID}, s.list(t, "userId=bob"))
	require.Len(t, s.list(t, "userId=alice"), 3+20+3+2)
	require.Len(t, s.list(t, "userId=alice&type=invoice.*"), 1+20)
	require.Equal(t, []string{failed[0]}, s.list(t, "status=failed&endpoint=broken"))
	require.Equal(t, []string{orphans[1], orphans[0]}, s.list(t, "status=failed&type=user.created"))
	require.Equal(t, []string{sent["order.shipped"], sent["user.created"], sent["invoice.paid"]},
		s.list(t, "userId=alice&since="+start.UTC().Format(time.RFC3339Nano)+"&until="+end.UTC().Format(time.RFC3339Nano)))
	require.Equal(t, []string{bob.EventID}, s.list(t, "type=invoice.paid&until="+start.Add(time.Hour).UTC().Format(time.RFC3339Nano)+
		"&since="+end.UTC().Format(time.RFC3339Nano)))
}

// jsonField is a string field of a JSON object.
func jsonField(t *testing.T, data []byte, field string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m), "%s", data)
	v, _ := m[field].(string)
	return v
}
