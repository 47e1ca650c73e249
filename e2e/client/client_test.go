// Package client_test checks the Go client (module shared/client) and docs/openapi.yaml against the real
// local server (localservertest). These tests live in the root module: the client module cannot import the
// server without a cycle; its own unit tests use httptest receivers.
package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/local/localserver/localservertest"
	"github.com/outhook/outhook/shared/verify"
)

// receiver is an httptest webhook receiver that answers 500 to its first failures POSTs, then 204, and
// keeps every request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	failures int
	got      []*delivery
}

type delivery struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, failures int) *receiver {
	t.Helper()
	r := &receiver{failures: failures}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, &delivery{path: req.URL.Path, header: req.Header.Clone(), body: body})
		fail := r.failures > 0
		r.failures--
		r.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []*delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*delivery(nil), r.got...)
}

func TestClient_AgainstTheLocalServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	recv := newReceiver(t, 0)
	srv := localservertest.Start(t, `
sets:
  - name: customer-events
    endpoints:
      - name: customer
        url: `+recv.URL+`/hooks
        allowPrivateNetwork: true
        retry: {attempts: 1}
`, nil)
	c, err := client.New(srv.URL, client.WithAPIKey(localservertest.APIKey))
	require.NoError(t, err)
	set := c.Set("customer-events")

	// Send, signed with the user's managed secret; the receiver verifies it with the secret the API shows.
	res, err := set.Send(ctx, "customer.updated", map[string]string{"customerId": "cus_1"}, client.WithUserID("user_123"), client.WithIdempotencyKey("send-1"))
	require.NoError(t, err)
	require.Regexp(t, `^whevt_`, res.EventID)
	require.Len(t, res.Deliveries, 1)
	require.Equal(t, client.QueuedDelivery{Endpoint: "customer", Status: "queued", AttemptID: res.Deliveries[0].AttemptID}, res.Deliveries[0])
	require.False(t, res.Replayed)

	again, err := set.Send(ctx, "customer.updated", map[string]string{"customerId": "cus_1"}, client.WithUserID("user_123"), client.WithIdempotencyKey("send-1"))
	require.NoError(t, err)
	require.Equal(t, res.EventID, again.EventID)
	require.True(t, again.Replayed)

	ev := waitStatus(t, set, res.EventID, "delivered")
	require.Equal(t, "customer.updated", ev.Type)
	require.Equal(t, "user_123", ev.UserID)
	require.JSONEq(t, `{"customerId":"cus_1"}`, string(ev.Payload))
	require.Len(t, ev.Deliveries, 1)
	require.Equal(t, "delivered", ev.Deliveries[0].Status)
	require.Len(t, ev.Deliveries[0].Attempts, 1)
	require.Equal(t, 204, ev.Deliveries[0].Attempts[0].ResponseStatus)

	secret, err := set.Secrets.Get(ctx, "user_123")
	require.NoError(t, err)
	require.Regexp(t, `^whcms_`, secret.Current.Value)
	require.Nil(t, secret.Previous)
	got := recv.deliveries()
	require.NotEmpty(t, got)
	_, err = verify.Request(requestOf(got[0]), verify.Options{Secrets: []string{secret.Current.Value}})
	require.NoError(t, err)

	rotated, err := set.Secrets.Rotate(ctx, "user_123")
	require.NoError(t, err)
	require.NotEqual(t, secret.Current.Value, rotated.Current.Value)
	require.NotNil(t, rotated.Previous)
	require.Equal(t, secret.Current.Value, rotated.Previous.Value)
	require.NotNil(t, rotated.Previous.ExpiresAt)
	twice, err := set.Secrets.Rotate(ctx, "user_123")
	require.NoError(t, err)
	require.Equal(t, rotated.Current.Value, twice.Previous.Value)
	require.Len(t, twice.Older, 1, "a second rotation keeps the first previous value")
	require.Equal(t, secret.Current.Value, twice.Older[0].Value)
	require.Equal(t, *rotated.Previous.ExpiresAt, *twice.Older[0].ExpiresAt, "until the end promised by the first rotation")

	// List, newest first, page by page.
	second, err := set.Send(ctx, "customer.deleted", json.RawMessage(`{"customerId":"cus_2"}`))
	require.NoError(t, err)
	page, err := set.Events.List(ctx, client.ListParams{Limit: 1})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.Equal(t, second.EventID, page.Events[0].ID)
	require.NotEmpty(t, page.NextCursor)
	page, err = set.Events.List(ctx, client.ListParams{Limit: 1, Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.Equal(t, res.EventID, page.Events[0].ID)

	// Resend the delivered event to its endpoint.
	waitStatus(t, set, second.EventID, "delivered")
	resent, err := set.Resend(ctx, second.EventID, "customer")
	require.NoError(t, err)
	require.Equal(t, second.EventID, resent.EventID)
	require.Len(t, resent.Deliveries, 1)
	require.Eventually(t, func() bool {
		ev, err = set.Events.Get(ctx, second.EventID)
		require.NoError(t, err)
		return ev.Status == "delivered" && len(ev.Deliveries[0].Attempts) == 2
	}, 15*time.Second, 20*time.Millisecond, "the resend was not delivered")
	require.Equal(t, resent.Deliveries[0].AttemptID, ev.Deliveries[0].Attempts[1].ID)

	// Typed errors.
	_, err = set.Events.Get(ctx, "whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7")
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.Status)
	require.Equal(t, "event_not_found", apiErr.Code)
	_, err = c.Set("nope").Send(ctx, "t", 1)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "unknown_set", apiErr.Code)
	_, err = set.Events.List(ctx, client.ListParams{Limit: 101})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, client.APIError{Status: 400, Code: "invalid_limit", Message: apiErr.Message}, *apiErr)
	_, err = set.Secrets.Get(ctx, "not a valid id")
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "invalid_user_id", apiErr.Code)

	noKey, err := client.New(srv.URL)
	require.NoError(t, err)
	_, err = noKey.Set("customer-events").Events.List(ctx, client.ListParams{})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 401, apiErr.Status)
	require.Equal(t, "unauthorized", apiErr.Code)
}

func requestOf(d *delivery) *http.Request {
	r := httptest.NewRequest(http.MethodPost, d.path, bytes.NewReader(d.body))
	r.Header = d.header.Clone()
	return r
}
