package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/local/localserver/localservertest"
	"github.com/outhook/outhook/shared/verify"
)

const endpointsConfig = `
sets:
  - name: customer-events
    endpoints:
      - name: audit
        url: %s/audit
        allowPrivateNetwork: true
        eventTypes: [audit.*]
    userEndpoints: {enabled: true, maxPerUser: 2, allowPrivateNetwork: true, retry: {attempts: 1}}
`

// TestClient_Endpoints drives the user endpoint calls of the Go client against the real local server.
func TestClient_Endpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	recv := newReceiver(t, 0)
	srv := localservertest.Start(t, fmt.Sprintf(endpointsConfig, recv.URL), nil)
	c, err := client.New(srv.URL, client.WithAPIKey(localservertest.APIKey))
	require.NoError(t, err)
	set := c.Set("customer-events")
	alice := set.Users("alice").Endpoints()

	ep, created, err := alice.Put(ctx, "billing", client.EndpointParams{URL: recv.URL + "/alice", EventTypes: []string{"invoice.*"}})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "alice", ep.UserID)
	_, created, err = alice.Put(ctx, "billing", client.EndpointParams{URL: recv.URL + "/alice", EventTypes: []string{"invoice.*"},
		Description: "billing hooks"})
	require.NoError(t, err)
	require.False(t, created)
	got, err := alice.Get(ctx, "billing")
	require.NoError(t, err)
	require.Equal(t, "billing hooks", got.Description)

	paused, err := alice.Pause(ctx, "billing")
	require.NoError(t, err)
	require.Equal(t, "paused", paused.Status)
	res, err := set.Send(ctx, "invoice.paid", map[string]int{"n": 1}, client.WithUserID("alice"))
	require.NoError(t, err)
	require.Len(t, res.Deliveries, 1)
	require.Equal(t, "alice", res.Deliveries[0].UserID)
	waitDelivery(t, set, res.EventID, "billing", "paused")
	require.Empty(t, recv.deliveries(), "held while paused")

	_, err = alice.Resume(ctx, "billing")
	require.NoError(t, err)
	waitDelivery(t, set, res.EventID, "billing", "delivered")
	secret, err := set.Secrets.Get(ctx, "alice")
	require.NoError(t, err)
	d := recv.deliveries()[0]
	require.Equal(t, "/alice", d.path)
	require.NoError(t, verify.Payload(d.header, d.body, verify.Options{Secrets: []string{secret.Current.Value}}),
		"signed with alice's secret")

	list, err := set.Events.List(ctx, client.ListParams{UserID: "alice", Type: "invoice.*", Status: "delivered",
		Since: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, list.Events, 1)
	n, err := alice.Recover(ctx, "billing", client.RecoverParams{Since: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Zero(t, n, "nothing failed")

	static, err := set.Endpoints().List(ctx)
	require.NoError(t, err)
	require.Equal(t, "audit", static[0].Name)
	_, err = set.Endpoints().Pause(ctx, "audit")
	require.NoError(t, err)
	audit, err := set.Endpoints().Get(ctx, "audit")
	require.NoError(t, err)
	require.Equal(t, "paused", audit.Status)

	all, err := alice.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.NoError(t, alice.Delete(ctx, "billing"))
	_, err = alice.Get(ctx, "billing")
	var apiErr *client.APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "endpoint_not_found", apiErr.Code)
	_, _, err = set.Endpoints().Put(ctx, "x", client.EndpointParams{URL: "https://x.example.com/"})
	require.Error(t, err, "static endpoints come from the config")
}

func waitDelivery(t *testing.T, set *client.Set, id, endpoint, status string) {
	t.Helper()
	require.Eventually(t, func() bool {
		ev, err := set.Events.Get(context.Background(), id)
		require.NoError(t, err)
		for _, d := range ev.Deliveries {
			if d.Endpoint == endpoint {
				return d.Status == status
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond, "the delivery of %s to %s never became %s", id, endpoint, status)
}

// TestOpenAPI_EndpointResponsesMatchTheSpec validates the real answers of every endpoint route, and of the
// list filters, against docs/openapi.yaml.
func TestOpenAPI_EndpointResponsesMatchTheSpec(t *testing.T) {
	t.Parallel()
	v := openAPIValidator(t)
	recv := newReceiver(t, 0)
	srv := localservertest.Start(t, fmt.Sprintf(endpointsConfig, recv.URL), nil)
	do := func(name, method, path, body string, status int, code string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+localservertest.APIKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, status, resp.StatusCode, "%s: %s", name, data)
		if code != "" {
			require.Contains(t, string(data), `"code":"`+code+`"`, name)
		}
		vreq, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		vreq.Header = req.Header.Clone()
		resp.Body = io.NopCloser(bytes.NewReader(data))
		ok, verrs := v.ValidateHttpResponse(vreq, resp)
		if code == "" {
			ok, verrs = v.ValidateHttpRequestResponse(vreq, resp)
		}
		require.True(t, ok, "%s %s %s -> %d %s\ndoes not match docs/openapi.yaml:%s", name, method, path, resp.StatusCode, data, describe(verrs))
	}
	u := "/v1/webhooks/customer-events/users/alice/endpoints"
	s := "/v1/webhooks/customer-events/endpoints"
	do("put new", "PUT", u+"/billing", `{"url":"`+recv.URL+`/a","eventTypes":["invoice.*"],"description":"d"}`, 201, "")
	do("put again", "PUT", u+"/billing", `{"url":"`+recv.URL+`/a"}`, 200, "")
	do("get", "GET", u+"/billing", "", 200, "")
	do("list", "GET", u, "", 200, "")
	do("pause", "POST", u+"/billing/pause", "", 200, "")
	do("send to a paused endpoint", "POST", "/v1/webhooks/customer-events/events", `{"type":"invoice.paid","payload":{},"userId":"alice"}`, 202, "")
	do("resume", "POST", u+"/billing/resume", "", 200, "")
	do("recover", "POST", u+"/billing/recover", `{"since":"2026-01-01T00:00:00Z"}`, 202, "")
	do("static list", "GET", s, "", 200, "")
	do("static pause", "POST", s+"/audit/pause", "", 200, "")
	do("static resume", "POST", s+"/audit/resume", "", 200, "")
	do("static recover", "POST", s+"/audit/recover", `{"since":"2026-01-01T00:00:00Z","until":"2030-01-01T00:00:00Z"}`, 202, "")
	do("filtered list", "GET", "/v1/webhooks/customer-events/events?userId=alice&type=invoice.*&status=pending&endpoint=billing&since=2026-01-01T00:00:00Z&until=2030-01-01T00:00:00Z", "", 200, "")
	do("delete", "DELETE", u+"/billing", "", 204, "")

	do("unknown parameter", "GET", "/v1/webhooks/customer-events/events?user=alice", "", 400, "unknown_parameter")
	do("bad url", "PUT", u+"/x", `{"url":"ftp://x.example.com/"}`, 400, "invalid_url")
	do("unknown endpoint", "GET", u+"/nope", "", 404, "endpoint_not_found")
	do("name taken", "PUT", u+"/audit", `{"url":"https://x.example.com/"}`, 409, "endpoint_name_taken")
	do("bad window", "POST", u+"/nope/recover", `{"since":"2026-01-02T00:00:00Z","until":"2026-01-01T00:00:00Z"}`, 404, "endpoint_not_found")
}
