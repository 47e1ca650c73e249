package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vconfig "github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/local/localserver/localservertest"
)

const specPath = "../../docs/openapi.yaml"

func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	spec, err := os.ReadFile(specPath)
	require.NoError(t, err)
	doc, err := libopenapi.NewDocument(spec)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc, vconfig.WithFormatAssertions())
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "docs/openapi.yaml is not a valid OpenAPI document: %s", describe(verrs))
	return v
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s (spec line %d) %s", e.Message, e.Reason, e.SpecLine, e.HowToFix)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s at %s (%s)", se.Reason, se.FieldPath, se.KeywordLocation)
		}
	}
	return b.String()
}

func TestOpenAPI_DocumentIsValid(t *testing.T) {
	t.Parallel()
	openAPIValidator(t)
}

// TestOpenAPI_RealResponsesMatchTheSpec drives the real local server through every route, with good input
// and with every class of error, and validates each real answer (status, headers, body) against
// docs/openapi.yaml; for good input the request is validated too.
func TestOpenAPI_RealResponsesMatchTheSpec(t *testing.T) {
	t.Parallel()
	v := openAPIValidator(t)
	recv := newReceiver(t, 1) // fails the first POST: the event shows a failed and a delivered attempt
	srv := localservertest.Start(t, fmt.Sprintf(`
sets:
  - name: billing-events
    endpoints:
      - name: crm
        url: %s/crm
        allowPrivateNetwork: true
        retry: {attempts: 2, backoff: fixed, initialDelaySeconds: 1, maxDelaySeconds: 1}
  - name: customer-events
    endpoints:
      - name: customer
        url: %s/customer
        allowPrivateNetwork: true
        signing: {userSecret: true}
  - name: one-shot
    endpoints:
      - name: down
        url: %s/down
        allowPrivateNetwork: true
        retry: {attempts: 1}
`, recv.URL, recv.URL, recv.URL), nil)

	type exchange struct {
		name         string
		method, path string
		body         string
		header       map[string]string
		noAuth       bool
		status       int
		code         string // the error code of an error answer
		validRequest bool   // the request itself follows the spec: validate it too
	}
	do := func(t *testing.T, x exchange) []byte {
		t.Helper()
		var body io.Reader
		if x.body != "" {
			body = strings.NewReader(x.body)
		}
		req, err := http.NewRequest(x.method, srv.URL+x.path, body)
		require.NoError(t, err)
		if x.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if !x.noAuth {
			req.Header.Set("Authorization", "Bearer "+localservertest.APIKey)
		}
		for k, v := range x.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, x.status, resp.StatusCode, "%s: %s", x.name, data)
		if x.code != "" {
			require.Contains(t, string(data), `"code":"`+x.code+`"`, x.name)
		}

		// Validate against the spec with fresh bodies.
		vreq, err := http.NewRequest(x.method, srv.URL+x.path, strings.NewReader(x.body))
		require.NoError(t, err)
		vreq.Header = req.Header.Clone()
		resp.Body = io.NopCloser(bytes.NewReader(data))
		var ok bool
		var verrs []*verrors.ValidationError
		if x.validRequest {
			ok, verrs = v.ValidateHttpRequestResponse(vreq, resp)
		} else {
			ok, verrs = v.ValidateHttpResponse(vreq, resp)
		}
		require.True(t, ok, "%s %s %s -> %d %s\ndoes not match docs/openapi.yaml:%s", x.name, x.method, x.path, resp.StatusCode, data, describe(verrs))
		return data
	}

	// Good input on every route.
	sent := do(t, exchange{name: "send", method: "POST", path: "/v1/webhooks/billing-events/events",
		body:   `{"type":"invoice.paid","payload":{"invoiceId":"in_1"},"userId":"user_1"}`,
		header: map[string]string{"Idempotency-Key": "k1"}, status: 202, validRequest: true})
	do(t, exchange{name: "idempotent replay", method: "POST", path: "/v1/webhooks/billing-events/events",
		body:   `{"type":"invoice.paid","payload":{"invoiceId":"in_1"},"userId":"user_1"}`,
		header: map[string]string{"Idempotency-Key": "k1"}, status: 202, validRequest: true})
	eventID := jsonField(t, sent, "eventId")
	do(t, exchange{name: "batch", method: "POST", path: "/v1/webhooks/billing-events/events/batch",
		body: `{"events":[{"type":"invoice.paid","payload":{"invoiceId":"in_1"},"userId":"user_1","idempotencyKey":"k1"},` +
			`{"type":"invoice.paid","payload":{"invoiceId":"in_2"},"userId":"user_1","idempotencyKey":"k1"},` +
			`{"type":"invoice.paid","payload":{"n":2},"userId":"user_1"}]}`, status: 202, validRequest: true})
	do(t, exchange{name: "batch with an event that is not an object", method: "POST", path: "/v1/webhooks/billing-events/events/batch",
		body: `{"events":[{"type":"invoice.paid","payload":1,"userId":"user_1"},7]}`, status: 202})
	do(t, exchange{name: "empty batch", method: "POST", path: "/v1/webhooks/billing-events/events/batch",
		body: `{"events":[]}`, status: 400, code: "invalid_batch_size"})

	// Wait for the first attempt to fail and the retry to succeed, so the event has attempts of both kinds.
	c, err := client.New(srv.URL, client.WithAPIKey(localservertest.APIKey))
	require.NoError(t, err)
	waitStatus(t, c.Set("billing-events"), eventID, "delivered")

	do(t, exchange{name: "list", method: "GET", path: "/v1/webhooks/billing-events/events?direction=outbound&limit=1", status: 200, validRequest: true})
	do(t, exchange{name: "list defaults", method: "GET", path: "/v1/webhooks/billing-events/events", status: 200, validRequest: true})
	do(t, exchange{name: "get", method: "GET", path: "/v1/webhooks/billing-events/events/" + eventID, status: 200, validRequest: true})
	do(t, exchange{name: "resend", method: "POST", path: "/v1/webhooks/billing-events/events/" + eventID + "/retry",
		body: `{"endpoint":"crm"}`, status: 202, validRequest: true})
	do(t, exchange{name: "secret get", method: "GET", path: "/v1/webhooks/billing-events/users/user_1/secret", status: 200, validRequest: true})
	do(t, exchange{name: "secret rotate", method: "POST", path: "/v1/webhooks/billing-events/users/user_1/secret/rotate", status: 200, validRequest: true})
	do(t, exchange{name: "empty cursor: the first page", method: "GET", path: "/v1/webhooks/one-shot/events?cursor=", status: 200, validRequest: true})
	do(t, exchange{name: "type of 256 characters, 512 bytes", method: "POST", path: "/v1/webhooks/one-shot/events",
		body: `{"type":"` + strings.Repeat("é", 256) + `","payload":1}`, status: 202, validRequest: true})
	// A second rotation within the window: the answer lists the first previous value under "older".
	do(t, exchange{name: "secret rotate again", method: "POST", path: "/v1/webhooks/billing-events/users/user_1/secret/rotate", status: 200, validRequest: true})
	for range 8 { // 10 previous values in their windows
		do(t, exchange{name: "secret rotate up to the limit", method: "POST", path: "/v1/webhooks/billing-events/users/user_1/secret/rotate", status: 200, validRequest: true})
	}
	do(t, exchange{name: "secret rotate beyond the limit", method: "POST", path: "/v1/webhooks/billing-events/users/user_1/secret/rotate", status: 409, code: "too_many_rotations"})
	do(t, exchange{name: "healthz", method: "GET", path: "/healthz", noAuth: true, status: 200, validRequest: true})

	// A page with a next cursor, and the page it leads to.
	for range 2 {
		do(t, exchange{name: "send more", method: "POST", path: "/v1/webhooks/one-shot/events", body: `{"type":"t","payload":[1,2]}`, status: 202, validRequest: true})
	}
	page := do(t, exchange{name: "first page", method: "GET", path: "/v1/webhooks/one-shot/events?limit=1", status: 200, validRequest: true})
	cursor := jsonField(t, page, "nextCursor")
	require.NotEmpty(t, cursor)
	do(t, exchange{name: "next page", method: "GET", path: "/v1/webhooks/one-shot/events?limit=1&cursor=" + cursor, status: 200, validRequest: true})

	// Every error class.
	big := `{"type":"t","payload":"` + strings.Repeat("x", 256<<10) + `"}`
	for _, x := range []exchange{
		{name: "no key", method: "GET", path: "/v1/webhooks/billing-events/events", noAuth: true, status: 401, code: "unauthorized"},
		{name: "wrong key", method: "GET", path: "/v1/webhooks/billing-events/events", noAuth: true, header: map[string]string{"Authorization": "Bearer nope"}, status: 401, code: "unauthorized"},
		{name: "malformed JSON", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":`, status: 400, code: "invalid_json"},
		{name: "not an object", method: "POST", path: "/v1/webhooks/billing-events/events", body: `[1]`, status: 400, code: "invalid_body"},
		{name: "unknown field", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":"t","payload":1,"extra":1}`, status: 400, code: "invalid_body"},
		{name: "missing type", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"payload":1}`, status: 400, code: "missing_type"},
		{name: "missing payload", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":"t"}`, status: 400, code: "missing_payload"},
		{name: "bad user id", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":"t","payload":1,"userId":"a b"}`, status: 400, code: "invalid_user_id"},
		{name: "long idempotency key", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":"t","payload":1}`, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, status: 400, code: "invalid_idempotency_key"},
		{name: "too large", method: "POST", path: "/v1/webhooks/billing-events/events", body: big, status: 413, code: "payload_too_large"},
		{name: "key reused", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":"other","payload":1}`, header: map[string]string{"Idempotency-Key": "k1"}, status: 409, code: "idempotency_key_reused"},
		{name: "unknown set", method: "POST", path: "/v1/webhooks/nope/events", body: `{"type":"t","payload":1}`, status: 404, code: "unknown_set"},
		{name: "limit 0", method: "GET", path: "/v1/webhooks/billing-events/events?limit=0", status: 400, code: "invalid_limit"},
		{name: "limit 101", method: "GET", path: "/v1/webhooks/billing-events/events?limit=101", status: 400, code: "invalid_limit"},
		{name: "direction", method: "GET", path: "/v1/webhooks/billing-events/events?direction=inbound", status: 400, code: "invalid_direction"},
		{name: "no user for a user-signed endpoint", method: "POST", path: "/v1/webhooks/customer-events/events", body: `{"type":"t","payload":1}`, status: 400, code: "missing_user_id"},
		{name: "null type", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":null,"payload":1}`, status: 400, code: "invalid_body"},
		{name: "null user id", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":"t","payload":1,"userId":null}`, status: 400, code: "invalid_body"},
		{name: "type of 257 characters", method: "POST", path: "/v1/webhooks/billing-events/events", body: `{"type":"` + strings.Repeat("é", 257) + `","payload":1}`, status: 400, code: "invalid_type"},
		{name: "payload not UTF-8", method: "POST", path: "/v1/webhooks/billing-events/events", body: "{\"type\":\"t\",\"payload\":\"\xc3\x28\xff\"}", status: 400, code: "invalid_payload"},
		{name: "cursor over 1024 characters", method: "GET", path: "/v1/webhooks/billing-events/events?cursor=" + strings.Repeat("A", 1025) + ".AAAA", status: 400, code: "invalid_cursor"},
		{name: "forged cursor", method: "GET", path: "/v1/webhooks/billing-events/events?cursor=Zm9yZ2Vk", status: 400, code: "invalid_cursor"},
		{name: "cursor of another set", method: "GET", path: "/v1/webhooks/billing-events/events?cursor=" + cursor, status: 400, code: "invalid_cursor"},
		{name: "unknown event", method: "GET", path: "/v1/webhooks/billing-events/events/whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7", status: 404, code: "event_not_found"},
		{name: "resend unknown endpoint", method: "POST", path: "/v1/webhooks/billing-events/events/" + eventID + "/retry", body: `{"endpoint":"nope"}`, status: 400, code: "unknown_endpoint"},
		{name: "resend null endpoint", method: "POST", path: "/v1/webhooks/billing-events/events/" + eventID + "/retry", body: `{"endpoint":null}`, status: 400, code: "invalid_body"},
		{name: "resend empty endpoint", method: "POST", path: "/v1/webhooks/billing-events/events/" + eventID + "/retry", body: `{"endpoint":""}`, status: 400, code: "unknown_endpoint"},
		{name: "nothing to resend", method: "POST", path: "/v1/webhooks/billing-events/events/" + eventID + "/retry", status: 409, code: "nothing_to_resend"},
		{name: "bad user in path", method: "GET", path: "/v1/webhooks/billing-events/users/" + strings.Repeat("u", 129) + "/secret", status: 400, code: "invalid_user_id"},
		{name: "rotate in unknown set", method: "POST", path: "/v1/webhooks/nope/users/user_1/secret/rotate", status: 404, code: "unknown_set"},
	} {
		do(t, x)
	}
}

// jsonField extracts a top-level string field.
func jsonField(t *testing.T, data []byte, field string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	s, _ := m[field].(string)
	return s
}

// waitStatus polls an event until it has the status.
func waitStatus(t *testing.T, set *client.Set, id, status string) *client.Event {
	t.Helper()
	var ev *client.Event
	require.Eventually(t, func() bool {
		var err error
		ev, err = set.Events.Get(context.Background(), id)
		require.NoError(t, err)
		return ev.Status == status
	}, 15*time.Second, 20*time.Millisecond, "event %s never became %s", id, status)
	return ev
}
