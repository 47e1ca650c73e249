package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/httpapi"
	"github.com/outhook/outhook/shared/httpapi/route"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/syncbuf"
	"github.com/outhook/outhook/shared/testclock"
	"github.com/outhook/outhook/shared/webhook"
)

const (
	testKey    = "ohk_test_key"
	testConfig = `
sets:
  - name: orders
    endpoints:
      - name: shop
        url: http://127.0.0.1:9/hooks
        allowPrivateNetwork: true
  - name: other
    endpoints:
      - name: shop
        url: http://127.0.0.1:9/other
        allowPrivateNetwork: true
  - name: customers
    endpoints:
      - name: audit
        url: http://127.0.0.1:9/audit
        allowPrivateNetwork: true
        eventTypes: [audit.*]
    userEndpoints: {enabled: true, maxPerUser: 2}
`
)

type testBundle struct {
	db    *sqlite.DB
	srv   *httptest.Server
	clock *testclock.Clock
	logs  *syncbuf.Buffer
}

// setup serves the real handler over the real service and a real SQLite file; no delivery worker runs,
// so what send enqueues stays in the queue.
func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	cfg := resolvedTestConfig(t)
	clk := testclock.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	svc, err := webhook.New(webhook.Options{
		Config:    cfg,
		Store:     db.Store(),
		Queue:     db.Queue(),
		Users:     db.UserSecrets(),
		HTTP:      egress.New(),
		Now:       clk.Now,
		Logger:    log,
		CursorKey: []byte("test cursor key"),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{APIKey: testKey, Logger: log}))
	t.Cleanup(srv.Close)
	return &testBundle{db: db, srv: srv, clock: clk, logs: logs}
}

// request is one API call.
type request struct {
	method, path string
	body         string
	header       map[string]string // added to (or, with an empty value, removed from) the defaults
}

// response is what came back, with the error body decoded when there is one.
type response struct {
	status int
	header http.Header
	body   []byte
	code   string
	msg    string
}

func (b *testBundle) do(t *testing.T, r request) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), r.method, b.srv.URL+r.path, strings.NewReader(r.body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"), "body: %s", body)
	out := response{status: res.StatusCode, header: res.Header, body: body}
	if res.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal(body, &e), "error body: %s", body)
		require.NotEmpty(t, e.Error.Code, "error body: %s", body)
		require.NotEmpty(t, e.Error.Message, "error body: %s", body)
		out.code, out.msg = e.Error.Code, e.Error.Message
	}
	return out
}

func (b *testBundle) send(t *testing.T, set, body string, header map[string]string) (response, webhook.SendResult) {
	t.Helper()
	res := b.do(t, request{method: http.MethodPost, path: "/v1/webhooks/" + set + "/events", body: body, header: header})
	var sr webhook.SendResult
	if res.status == http.StatusAccepted {
		require.NoError(t, json.Unmarshal(res.body, &sr))
	}
	return res, sr
}

func (b *testBundle) list(t *testing.T, set, query string) webhook.EventList {
	t.Helper()
	res := b.do(t, request{method: http.MethodGet, path: "/v1/webhooks/" + set + "/events" + query})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var l webhook.EventList
	require.NoError(t, json.Unmarshal(res.body, &l))
	return l
}

// queued counts the messages waiting in the delivery queue (and leaves them there).
func (b *testBundle) queued(t *testing.T) int {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	n := 0
	for {
		msgs, err := b.db.Queue().Receive(ctx, 10, time.Minute)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return n
		}
		n += len(msgs)
	}
}

func TestHandler_BadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// Two real events of set "other", to get a cursor of another set and of a stale page.
	for range 2 {
		res, _ := b.send(t, "other", `{"type":"a.b","payload":{}}`, nil)
		require.Equal(t, http.StatusAccepted, res.status)
	}
	otherCursor := b.list(t, "other", "?limit=1").NextCursor
	require.NotEmpty(t, otherCursor)

	longKey := strings.Repeat("k", webhook.MaxIdempotencyKeyLen+1)
	bigPayload := `{"type":"a.b","payload":"` + strings.Repeat("x", webhook.MaxPayloadBytes) + `"}`
	hugeBody := `{"type":"a.b","payload":"` + strings.Repeat("x", 2*webhook.MaxPayloadBytes) + `"}`
	events := "/v1/webhooks/orders/events"
	noAuth := map[string]string{"Authorization": ""}

	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"malformed JSON", request{method: "POST", path: events, body: `{"type":"a.b",`}, 400, "invalid_json"},
		{"array body", request{method: "POST", path: events, body: `[{"type":"a.b"}]`}, 400, "invalid_body"},
		{"string body", request{method: "POST", path: events, body: `"a.b"`}, 400, "invalid_body"},
		{"null body", request{method: "POST", path: events, body: `null`}, 400, "invalid_body"},
		{"empty body", request{method: "POST", path: events}, 400, "invalid_body"},
		{"two objects", request{method: "POST", path: events, body: `{"type":"a.b","payload":{}} {}`}, 400, "invalid_json"},
		{"type not a string", request{method: "POST", path: events, body: `{"type":5,"payload":{}}`}, 400, "invalid_body"},
		{"unknown field", request{method: "POST", path: events, body: `{"type":"a.b","payload":{},"user":"u"}`}, 400, "invalid_body"},
		{"missing type", request{method: "POST", path: events, body: `{"payload":{}}`}, 400, "missing_type"},
		{"empty type", request{method: "POST", path: events, body: `{"type":"","payload":{}}`}, 400, "missing_type"},
		{"unknown set", request{method: "POST", path: "/v1/webhooks/nope/events", body: `{"type":"a.b","payload":{}}`}, 404, "unknown_set"},
		{"unknown set list", request{method: "GET", path: "/v1/webhooks/nope/events"}, 404, "unknown_set"},
		{"unknown event", request{method: "GET", path: events + "/whevt_01JZZZZZZZZZZZZZZZZZZZZZZZ"}, 404, "event_not_found"},
		{"unknown event retry", request{method: "POST", path: events + "/whevt_01JZZZZZZZZZZZZZZZZZZZZZZZ/retry"}, 404, "event_not_found"},
		{"null type", request{method: "POST", path: events, body: `{"type":null,"payload":{}}`}, 400, "invalid_body"},
		{"null user id", request{method: "POST", path: events, body: `{"type":"a.b","payload":{},"userId":null}`}, 400, "invalid_body"},
		{"retry null endpoint", request{method: "POST", path: events + "/whevt_x/retry", body: `{"endpoint":null}`}, 400, "invalid_body"},
		{"payload not UTF-8", request{method: "POST", path: events, body: "{\"type\":\"t\",\"payload\":\"\xc3\x28\xff\"}"}, 400, "invalid_payload"},
		// Other string fields: encoding/json alone would store U+FFFD for the bytes that are not UTF-8.
		{"type not UTF-8", request{method: "POST", path: events, body: "{\"type\":\"t\xff\",\"payload\":{}}"}, 400, "invalid_body"},
		{"user id not UTF-8", request{method: "POST", path: events, body: "{\"type\":\"t\",\"payload\":{},\"userId\":\"u\xc3\x28\"}"}, 400, "invalid_body"},
		{"retry endpoint not UTF-8", request{method: "POST", path: events + "/whevt_x/retry", body: "{\"endpoint\":\"\xff\"}"}, 400, "invalid_body"},
		{"retry body not an object", request{method: "POST", path: events + "/whevt_x/retry", body: `["crm"]`}, 400, "invalid_body"},
		{"payload over the limit", request{method: "POST", path: events, body: bigPayload}, 413, "payload_too_large"},
		{"body far over the limit", request{method: "POST", path: events, body: hugeBody}, 413, "payload_too_large"},
		{"limit 0", request{method: "GET", path: events + "?limit=0"}, 400, "invalid_limit"},
		// An empty value where the schema refuses one (schemathesis: ?endpoint= read as no filter).
		{"empty limit", request{method: "GET", path: events + "?limit="}, 400, "invalid_limit"},
		{"empty endpoint", request{method: "GET", path: events + "?endpoint="}, 400, "invalid_endpoint"},
		{"empty user id", request{method: "GET", path: events + "?userId="}, 400, "invalid_user_id"},
		{"empty status", request{method: "GET", path: events + "?status="}, 400, "invalid_status"},
		{"empty direction", request{method: "GET", path: events + "?direction="}, 400, "invalid_direction"},
		{"empty since", request{method: "GET", path: events + "?since=&type="}, 400, "invalid_since"},
		{"empty until", request{method: "GET", path: events + "?until=&cursor="}, 400, "invalid_until"},
		{"limit 101", request{method: "GET", path: events + "?limit=101"}, 400, "invalid_limit"},
		{"limit not a number", request{method: "GET", path: events + "?limit=ten"}, 400, "invalid_limit"},
		{"forged cursor", request{method: "GET", path: events + "?cursor=eyJzIjoib3JkZXJzIn0.AAAA"}, 400, "invalid_cursor"},
		{"cursor of another set", request{method: "GET", path: events + "?cursor=" + otherCursor}, 400, "invalid_cursor"},
		{"direction inbound", request{method: "GET", path: events + "?direction=inbound"}, 400, "invalid_direction"},
		{"user id with a space", request{method: "GET", path: "/v1/webhooks/orders/users/bad%20id/secret"}, 400, "invalid_user_id"},
		{"user id with a slash", request{method: "POST", path: "/v1/webhooks/orders/users/a%2Fb/secret/rotate"}, 400, "invalid_user_id"},
		{"user id too long", request{method: "GET", path: "/v1/webhooks/orders/users/" + strings.Repeat("u", 129) + "/secret"}, 400, "invalid_user_id"},
		{"send with a bad user id", request{method: "POST", path: events, body: `{"type":"a.b","payload":{},"userId":"a b"}`}, 400, "invalid_user_id"},
		{"idempotency key too long", request{method: "POST", path: events, body: `{"type":"a.b","payload":{}}`, header: map[string]string{"Idempotency-Key": longKey}}, 400, "invalid_idempotency_key"},
		{"missing bearer key", request{method: "POST", path: events, body: `{"type":"a.b","payload":{}}`, header: noAuth}, 401, "unauthorized"},
		{"wrong bearer key", request{method: "GET", path: events, header: map[string]string{"Authorization": "Bearer ohk_wrong"}}, 401, "unauthorized"},
		{"basic auth", request{method: "GET", path: events, header: map[string]string{"Authorization": "Basic b2hrOg=="}}, 401, "unauthorized"},
		{"unknown route", request{method: "GET", path: "/v1/webhooks/orders/nothing"}, 404, "not_found"},
		{"wrong method", request{method: "DELETE", path: events}, 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, tc.req)
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			require.Equal(t, tc.code, res.code, "message: %s", res.msg)
			if tc.status == http.StatusUnauthorized {
				require.Contains(t, res.header.Get("WWW-Authenticate"), "Bearer")
			}
		})
	}

	// Nothing was stored or enqueued for set "orders"; "other" still has its two events and nothing else.
	// (An empty cursor and type are allowed: the first page, any type.)
	require.Empty(t, b.list(t, "orders", "?cursor=&type=").Events)
	require.Len(t, b.list(t, "other", "").Events, 2)
	require.Equal(t, 2*1, b.queued(t))
	_, err := b.db.UserSecrets().Get(t.Context(), "orders", strings.Repeat("u", 129))
	require.Error(t, err)

	// The server keeps serving.
	res := b.do(t, request{method: http.MethodGet, path: "/healthz", header: noAuth})
	require.Equal(t, http.StatusOK, res.status)
}

// TestHandler_StringFieldsMustBeUTF8: a string field whose bytes are not UTF-8 is refused, naming the field,
// in single and batch send, instead of being stored with U+FFFD in their place (issue 9 item 1 covered the
// payload; the type, user id and idempotency key went through encoding/json's replacement).
func TestHandler_StringFieldsMustBeUTF8(t *testing.T) {
	t.Parallel()
	b := setup(t)

	res := b.do(t, request{method: http.MethodPost, path: "/v1/webhooks/orders/events", body: "{\"type\":\"t\xff\",\"payload\":{}}"})
	require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
	require.Equal(t, "invalid_body", res.code)
	require.Equal(t, `field "type" is not valid UTF-8 (JSON text must be UTF-8)`, res.msg)

	res = b.do(t, request{method: http.MethodPost, path: "/v1/webhooks/orders/events/batch",
		body: "{\"events\":[{\"type\":\"a.b\",\"payload\":1,\"idempotencyKey\":\"k\xff\"},{\"type\":\"t\xff\",\"payload\":1}]}"})
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	var out struct {
		Results []struct {
			EventID string
			Error   *struct{ Code, Message string }
		}
	}
	require.NoError(t, json.Unmarshal(res.body, &out))
	require.Len(t, out.Results, 2)
	for i, field := range []string{"idempotencyKey", "type"} {
		require.NotNil(t, out.Results[i].Error, "result %d: %s", i, res.body)
		require.Empty(t, out.Results[i].EventID)
		require.Equal(t, "invalid_event", out.Results[i].Error.Code)
		require.Equal(t, "field \""+field+"\" is not valid UTF-8 (JSON text must be UTF-8)", out.Results[i].Error.Message)
	}

	require.Empty(t, b.list(t, "orders", "").Events)
	require.Zero(t, b.queued(t))
}

func TestHandler_StaleCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 2 {
		res, _ := b.send(t, "orders", `{"type":"a.b","payload":{}}`, nil)
		require.Equal(t, http.StatusAccepted, res.status)
	}
	cursor := b.list(t, "orders", "?limit=1").NextCursor
	require.NotEmpty(t, cursor)
	require.Len(t, b.list(t, "orders", "?limit=1&cursor="+cursor).Events, 1)

	b.clock.Add(25 * time.Hour)
	res := b.do(t, request{method: http.MethodGet, path: "/v1/webhooks/orders/events?limit=1&cursor=" + cursor})
	require.Equal(t, http.StatusBadRequest, res.status)
	require.Equal(t, "stale_cursor", res.code)
}

func TestHandler_Send(t *testing.T) {
	t.Parallel()
	b := setup(t)

	res, first := b.send(t, "orders", `{"type":"invoice.paid","payload":{"invoiceId":"in_1"},"userId":"user_1"}`,
		map[string]string{"Idempotency-Key": "pay-in_1"})
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	require.Empty(t, res.header.Get("Idempotent-Replayed"))
	require.True(t, strings.HasPrefix(first.EventID, "whevt_"), first.EventID)
	require.Len(t, first.Deliveries, 1)
	require.Equal(t, "shop", first.Deliveries[0].Endpoint)
	require.Equal(t, "queued", first.Deliveries[0].Status)
	require.True(t, strings.HasPrefix(first.Deliveries[0].AttemptID, "whatt_"), first.Deliveries[0].AttemptID)

	// The same call again is a replay: same body, flagged.
	again, second := b.send(t, "orders", `{"type":"invoice.paid","payload":{"invoiceId":"in_1"},"userId":"user_1"}`,
		map[string]string{"Idempotency-Key": "pay-in_1"})
	require.Equal(t, http.StatusAccepted, again.status)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, first, second)
	require.JSONEq(t, string(res.body), string(again.body))

	// The same key with another body is a conflict.
	conflict, _ := b.send(t, "orders", `{"type":"invoice.paid","payload":{"invoiceId":"in_2"}}`,
		map[string]string{"Idempotency-Key": "pay-in_1"})
	require.Equal(t, http.StatusConflict, conflict.status)
	require.Equal(t, "idempotency_key_reused", conflict.code)

	// One event, readable by id with what was sent.
	l := b.list(t, "orders", "?direction=outbound&limit=10")
	require.Len(t, l.Events, 1)
	got := b.do(t, request{method: http.MethodGet, path: "/v1/webhooks/orders/events/" + first.EventID})
	require.Equal(t, http.StatusOK, got.status)
	var ev webhook.Event
	require.NoError(t, json.Unmarshal(got.body, &ev))
	require.Equal(t, first.EventID, ev.ID)
	require.Equal(t, "orders", ev.Set)
	require.Equal(t, "invoice.paid", ev.Type)
	require.Equal(t, "user_1", ev.UserID)
	require.JSONEq(t, `{"invoiceId":"in_1"}`, string(ev.Payload))
	require.Len(t, ev.Deliveries, 1)
	require.Equal(t, "http://127.0.0.1:9/hooks", ev.Deliveries[0].URL)

	// An event of another set is not found through this set.
	res = b.do(t, request{method: http.MethodGet, path: "/v1/webhooks/other/events/" + first.EventID})
	require.Equal(t, http.StatusNotFound, res.status)
}

func TestHandler_ListPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for range 5 {
		res, sr := b.send(t, "orders", `{"type":"a.b","payload":{"n":1}}`, nil)
		require.Equal(t, http.StatusAccepted, res.status)
		ids = append(ids, sr.EventID)
		b.clock.Add(time.Millisecond)
	}
	var seen []string
	cursor := ""
	for range 10 {
		l := b.list(t, "orders", "?limit=2&cursor="+cursor)
		for _, ev := range l.Events {
			seen = append(seen, ev.ID)
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	// Newest first, every event once.
	require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, seen)
}

func TestHandler_UserSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := "/v1/webhooks/orders/users/user_42@example.com/secret"

	res := b.do(t, request{method: http.MethodGet, path: path})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.Equal(t, "no-store", res.header.Get("Cache-Control"))
	var first webhook.UserSecret
	require.NoError(t, json.Unmarshal(res.body, &first))
	require.True(t, strings.HasPrefix(first.Current.Value, "whcms_"))
	require.Nil(t, first.Previous)

	// Reading again returns the same secret.
	res = b.do(t, request{method: http.MethodGet, path: path})
	var again webhook.UserSecret
	require.NoError(t, json.Unmarshal(res.body, &again))
	require.Equal(t, first.Current.Value, again.Current.Value)

	res = b.do(t, request{method: http.MethodPost, path: path + "/rotate"})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var rotated webhook.UserSecret
	require.NoError(t, json.Unmarshal(res.body, &rotated))
	require.NotEqual(t, first.Current.Value, rotated.Current.Value)
	require.NotNil(t, rotated.Previous)
	require.Equal(t, first.Current.Value, rotated.Previous.Value)
	require.NotNil(t, rotated.Previous.ExpiresAt)
}

func TestHandler_InternalError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.db.Close())

	res := b.do(t, request{method: http.MethodGet, path: "/v1/webhooks/orders/events"})
	require.Equal(t, http.StatusInternalServerError, res.status)
	require.Equal(t, "internal", res.code)
	require.Equal(t, "internal error", res.msg)
	require.Contains(t, b.logs.String(), "request failed")
}

func TestHandler_NoAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The Lambdas mount the handler without a key: API Gateway authenticates.
	cfg := resolvedTestConfig(t)
	svc, err := webhook.New(webhook.Options{
		Config: cfg, Store: b.db.Store(), Queue: b.db.Queue(), Users: b.db.UserSecrets(), HTTP: egress.New(),
		CursorKey: []byte("k"),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{}))
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/v1/webhooks/orders/events")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// TestHandler_EveryRoute drives every route of the table: each reaches a handler (no route error), and only
// the public ones answer without the API key.
func TestHandler_EveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	params := strings.NewReplacer("{set}", "orders", "{eventId}", "whevt_0000000000000000000000000000", "{userId}", "user_1", "{name}", "hooks")
	for _, r := range route.All() {
		t.Run(r.Operation, func(t *testing.T) {
			path := params.Replace(r.Path)
			require.NotContains(t, path, "{", "a path parameter the test does not know")

			res := b.do(t, request{method: r.Method, path: path, header: map[string]string{"Authorization": ""}})
			if r.Public {
				require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			} else {
				require.Equal(t, http.StatusUnauthorized, res.status, "body: %s", res.body)
			}

			res = b.do(t, request{method: r.Method, path: path})
			require.NotEqual(t, http.StatusMethodNotAllowed, res.status, "body: %s", res.body)
			require.NotEqual(t, "no such route", res.msg, "%s reaches no handler", r.Pattern())
			require.Less(t, res.status, 500, "body: %s", res.body)
		})
	}
}

func resolvedTestConfig(t *testing.T) *config.Resolved {
	t.Helper()
	doc, err := config.Parse([]byte(testConfig))
	require.NoError(t, err)
	cfg, err := doc.Validate()
	require.NoError(t, err)
	return cfg
}

// TestHandler_UnauthorizedSaysWhichKey: the 401 names where the key comes from, and its JSON reads as written
// (no \u003ckey\u003e).
func TestHandler_UnauthorizedSaysWhichKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, request{method: http.MethodGet, path: "/v1/webhooks/orders/events", header: map[string]string{"Authorization": ""}})
	require.Equal(t, http.StatusUnauthorized, res.status)
	require.Contains(t, res.msg, "OUTHOOK_API_KEY")
	require.Contains(t, string(res.body), "Authorization: Bearer <key>")
	require.NotContains(t, string(res.body), `\u003c`)
}

// TestHandler_AnswersAreNotHTMLEscaped: a payload holding <, > and & comes back byte for byte, compact.
func TestHandler_AnswersAreNotHTMLEscaped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, sent := b.send(t, "orders", `{"type":"a.b","payload":{"html":"<b>Tom & Jerry</b>"}}`, nil)
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	res = b.do(t, request{method: http.MethodGet, path: "/v1/webhooks/orders/events/" + sent.EventID})
	require.Equal(t, http.StatusOK, res.status)
	require.Contains(t, string(res.body), `"payload":{"html":"<b>Tom & Jerry</b>"}`)
	require.True(t, strings.HasSuffix(string(res.body), "}\n"), "one line of JSON")
	require.Equal(t, 1, strings.Count(string(res.body), "\n"), "compact: %s", res.body)
}

func TestHandler_ListSets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, request{method: http.MethodGet, path: "/v1/webhooks"})
	require.Equal(t, http.StatusOK, res.status)
	require.JSONEq(t, `{"sets":[
		{"name":"orders","endpoints":["shop"],"userEndpoints":false},
		{"name":"other","endpoints":["shop"],"userEndpoints":false},
		{"name":"customers","endpoints":["audit"],"userEndpoints":true}]}`, string(res.body))
	res = b.do(t, request{method: http.MethodGet, path: "/v1/webhooks", header: map[string]string{"Authorization": ""}})
	require.Equal(t, http.StatusUnauthorized, res.status)
}
