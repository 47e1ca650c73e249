package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/webhook"
)

const alice = "/v1/webhooks/customers/users/alice/endpoints"

func (b *testBundle) endpoint(t *testing.T, r request, status int) webhook.Endpoint {
	t.Helper()
	res := b.do(t, r)
	require.Equal(t, status, res.status, "body: %s", res.body)
	var ep webhook.Endpoint
	require.NoError(t, json.Unmarshal(res.body, &ep))
	return ep
}

func TestHandler_Endpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	put := `{"url":"https://hooks.example.com/alice","eventTypes":["invoice.*"],"description":"billing"}`
	ep := b.endpoint(t, request{method: "PUT", path: alice + "/billing", body: put}, http.StatusCreated)
	require.Equal(t, "billing", ep.Name)
	require.Equal(t, "alice", ep.UserID)
	require.Equal(t, []string{"invoice.*"}, ep.EventTypes)
	require.Equal(t, webhook.EndpointEnabled, ep.Status)
	require.NotNil(t, ep.CreatedAt)
	ep = b.endpoint(t, request{method: "PUT", path: alice + "/billing", body: `{"url":"https://hooks.example.com/v2"}`}, http.StatusOK)
	require.Equal(t, []string{"*"}, ep.EventTypes)
	ep = b.endpoint(t, request{method: "GET", path: alice + "/billing"}, http.StatusOK)
	require.Equal(t, "https://hooks.example.com/v2", ep.URL)

	res := b.do(t, request{method: "GET", path: alice})
	require.Equal(t, http.StatusOK, res.status)
	var list webhook.EndpointList
	require.NoError(t, json.Unmarshal(res.body, &list))
	require.Len(t, list.Endpoints, 1)

	sent, result := b.send(t, "customers", `{"type":"invoice.paid","payload":{},"userId":"alice"}`, nil)
	require.Equal(t, http.StatusAccepted, sent.status)
	require.Len(t, result.Deliveries, 1, "the static endpoint takes audit.* only")
	require.Equal(t, "alice", result.Deliveries[0].UserID)
	require.Contains(t, string(sent.body), `"userId":"alice"`)
	none, result := b.send(t, "customers", `{"type":"order.shipped","payload":{}}`, nil)
	require.Equal(t, http.StatusAccepted, none.status)
	require.Contains(t, string(none.body), `"deliveries":[]`)

	ep = b.endpoint(t, request{method: "POST", path: alice + "/billing/pause"}, http.StatusOK)
	require.Equal(t, webhook.EndpointPaused, ep.Status)
	ep = b.endpoint(t, request{method: "POST", path: alice + "/billing/resume", body: `{}`}, http.StatusOK)
	require.Equal(t, webhook.EndpointEnabled, ep.Status)
	ep = b.endpoint(t, request{method: "POST", path: "/v1/webhooks/customers/endpoints/audit/pause"}, http.StatusOK)
	require.Equal(t, webhook.EndpointPaused, ep.Status)
	res = b.do(t, request{method: "GET", path: "/v1/webhooks/customers/endpoints"})
	require.Equal(t, http.StatusOK, res.status)
	require.NoError(t, json.Unmarshal(res.body, &list))
	require.Equal(t, "audit", list.Endpoints[0].Name)
	require.Equal(t, webhook.EndpointPaused, list.Endpoints[0].Status)

	since := b.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	res = b.do(t, request{method: "POST", path: alice + "/billing/recover", body: `{"since":"` + since + `"}`})
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	require.JSONEq(t, `{"requeued":0}`, string(res.body), "nothing failed yet")

	events := b.list(t, "customers", "?userId=alice&type=invoice.*&status=pending&since="+since)
	require.Len(t, events.Events, 1)
	require.Equal(t, result.EventID, b.list(t, "customers", "?type=order.shipped").Events[0].ID)
	require.Empty(t, b.list(t, "customers", "?userId=bob").Events)

	req, err := http.NewRequestWithContext(t.Context(), "DELETE", b.srv.URL+alice+"/billing", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	del, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	del.Body.Close()
	require.Equal(t, http.StatusNoContent, del.StatusCode)
	res = b.do(t, request{method: "GET", path: alice + "/billing"})
	require.Equal(t, http.StatusNotFound, res.status)
	require.Equal(t, "endpoint_not_found", res.code)
}

func TestHandler_EndpointBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.endpoint(t, request{method: "PUT", path: alice + "/one", body: `{"url":"https://a.example.com/"}`}, http.StatusCreated)
	b.endpoint(t, request{method: "PUT", path: alice + "/two", body: `{"url":"https://b.example.com/"}`}, http.StatusCreated)
	events := "/v1/webhooks/customers/events"
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"http URL", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"http://x.example.com/"}`}, 400, "invalid_url"},
		{"ftp URL", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"ftp://x.example.com/"}`}, 400, "invalid_url"},
		{"loopback URL", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"https://127.0.0.1:8443/"}`}, 400, "invalid_url"},
		{"private URL", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"https://10.0.0.7/"}`}, 400, "invalid_url"},
		{"metadata URL", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"https://[::ffff:169.254.169.254]/"}`}, 400, "invalid_url"},
		{"relative URL", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"/hooks"}`}, 400, "invalid_url"},
		{"no URL", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{}`}, 400, "invalid_url"},
		{"bad pattern", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"https://x.example.com/","eventTypes":["a*b"]}`}, 400, "invalid_event_types"},
		{"pattern not a string", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"https://x.example.com/","eventTypes":[1]}`}, 400, "invalid_body"},
		{"pattern not UTF-8", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: "{\"url\":\"https://x.example.com/\",\"eventTypes\":[\"a.\xff\"]}"}, 400, "invalid_body"},
		{"description not UTF-8", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: "{\"url\":\"https://x.example.com/\",\"description\":\"\xc3\x28\"}"}, 400, "invalid_body"},
		{"unknown body field", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/e", body: `{"url":"https://x.example.com/","secret":"s"}`}, 400, "invalid_body"},
		{"bad endpoint name", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/Bad", body: `{"url":"https://x.example.com/"}`}, 400, "invalid_endpoint_name"},
		{"static endpoint's name", request{method: "PUT", path: "/v1/webhooks/customers/users/bob/endpoints/audit", body: `{"url":"https://x.example.com/"}`}, 409, "endpoint_name_taken"},
		{"too many endpoints", request{method: "PUT", path: alice + "/three", body: `{"url":"https://c.example.com/"}`}, 409, "too_many_endpoints"},
		{"set without user endpoints", request{method: "PUT", path: "/v1/webhooks/orders/users/bob/endpoints/e", body: `{"url":"https://x.example.com/"}`}, 409, "user_endpoints_disabled"},
		{"bad user id", request{method: "PUT", path: "/v1/webhooks/customers/users/a%20b/endpoints/e", body: `{"url":"https://x.example.com/"}`}, 400, "invalid_user_id"},
		{"bad user id, set without user endpoints", request{method: "GET", path: "/v1/webhooks/orders/users/%3A/endpoints"}, 400, "invalid_user_id"},
		{"bad user id, set without user endpoints, delete", request{method: "DELETE", path: "/v1/webhooks/orders/users/%3A/endpoints/e"}, 400, "invalid_user_id"},
		{"bad name, set without user endpoints", request{method: "PUT", path: "/v1/webhooks/orders/users/bob/endpoints/%3A", body: `{"url":"https://x.example.com/"}`}, 400, "invalid_endpoint_name"},
		{"bad name, set without user endpoints, get", request{method: "GET", path: "/v1/webhooks/orders/users/bob/endpoints/%3A"}, 404, "endpoint_not_found"},
		{"bad name, set without user endpoints, pause", request{method: "POST", path: "/v1/webhooks/orders/users/bob/endpoints/%3A/pause"}, 404, "endpoint_not_found"},
		{"pause unknown endpoint", request{method: "POST", path: alice + "/nope/pause"}, 404, "endpoint_not_found"},
		{"resume unknown static endpoint", request{method: "POST", path: "/v1/webhooks/customers/endpoints/nope/resume"}, 404, "endpoint_not_found"},
		{"get unknown endpoint", request{method: "GET", path: alice + "/nope"}, 404, "endpoint_not_found"},
		{"delete unknown endpoint", request{method: "DELETE", path: alice + "/nope"}, 404, "endpoint_not_found"},
		{"recover since after until", request{method: "POST", path: alice + "/one/recover", body: `{"since":"2026-12-02T00:00:00Z","until":"2026-12-01T00:00:00Z"}`}, 400, "invalid_window"},
		{"recover without since", request{method: "POST", path: alice + "/one/recover", body: `{}`}, 400, "missing_since"},
		{"recover bad since", request{method: "POST", path: alice + "/one/recover", body: `{"since":"yesterday"}`}, 400, "invalid_since"},
		{"pause with a body", request{method: "POST", path: alice + "/one/pause", body: `{"force":true}`}, 400, "invalid_body"},
		{"list unknown parameter", request{method: "GET", path: events + "?user=alice"}, 400, "unknown_parameter"},
		{"list since after until", request{method: "GET", path: events + "?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z"}, 400, "invalid_window"},
		{"list bad since", request{method: "GET", path: events + "?since=today"}, 400, "invalid_since"},
		{"list bad status", request{method: "GET", path: events + "?status=paused"}, 400, "invalid_status"},
		{"list bad type", request{method: "GET", path: events + "?type=a*b"}, 400, "invalid_type"},
		{"list bad endpoint", request{method: "GET", path: events + "?endpoint=Nope"}, 400, "invalid_endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, tc.req)
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			require.Equal(t, tc.code, res.code, "message: %s", res.msg)
		})
	}
	// Nothing stored: bob has no endpoint, alice still her two, enabled; no event, nothing queued.
	var list webhook.EndpointList
	res := b.do(t, request{method: "GET", path: "/v1/webhooks/customers/users/bob/endpoints"})
	require.Equal(t, http.StatusOK, res.status)
	require.NoError(t, json.Unmarshal(res.body, &list))
	require.Empty(t, list.Endpoints)
	res = b.do(t, request{method: "GET", path: alice})
	require.NoError(t, json.Unmarshal(res.body, &list))
	require.Len(t, list.Endpoints, 2)
	for _, ep := range list.Endpoints {
		require.Equal(t, webhook.EndpointEnabled, ep.Status)
		require.False(t, strings.Contains(ep.URL, "three"))
	}
	require.Empty(t, b.list(t, "customers", "").Events)
	require.Zero(t, b.queued(t))
	res = b.do(t, request{method: http.MethodGet, path: "/healthz", header: map[string]string{"Authorization": ""}})
	require.Equal(t, http.StatusOK, res.status, "the server keeps serving")
}
