package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/lambdahttp"
)

// loadEvent reads a fixture and checks that it survives a JSON round trip through the events type.
func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var ev events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(raw, &ev))
	again, err := json.Marshal(ev)
	require.NoError(t, err)
	var back events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(again, &back))
	require.Equal(t, ev, back, "round trip of %s", name)
	return ev
}

func TestRequest(t *testing.T) {
	t.Parallel()
	const sendBody = `{"type":"invoice.paid","payload":{"invoiceId":"inv_42","amount":1200}}`
	tests := []struct {
		fixture     string
		method      string
		path        string // r.URL.Path (unescaped)
		escapedPath string // r.URL.EscapedPath()
		query       map[string][]string
		headers     map[string]string
		cookies     map[string]string
		body        string
		host        string // default: the API Gateway fixtures' domain
	}{
		{
			fixture: "send.json", method: http.MethodPost,
			path: "/v1/webhooks/billing-events/events", escapedPath: "/v1/webhooks/billing-events/events",
			query: map[string][]string{},
			headers: map[string]string{
				"Idempotency-Key": "invoice-42-paid", "Content-Type": "application/json",
				lambdahttp.HeaderRequestID: "Bq7XKjZ5DoEEJ3w=",
			},
			body: sendBody,
		},
		{
			// A function URL event: the same payload format, routeKey $default, the route only in the path.
			fixture: "send-function-url.json", method: http.MethodPost,
			path: "/v1/webhooks/billing-events/events", escapedPath: "/v1/webhooks/billing-events/events",
			query: map[string][]string{},
			headers: map[string]string{
				"Idempotency-Key": "invoice-42-paid", "Content-Type": "application/json",
				lambdahttp.HeaderRequestID: "6f5d6f2e-3a1b-4c8e-9d2f-0a1b2c3d4e5f",
			},
			body: sendBody,
			host: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws",
		},
		{
			fixture: "send-base64.json", method: http.MethodPost,
			path: "/v1/webhooks/billing-events/events", escapedPath: "/v1/webhooks/billing-events/events",
			query:   map[string][]string{},
			headers: map[string]string{"Content-Type": "application/octet-stream", "Idempotency-Key": ""},
			body:    sendBody,
		},
		{
			fixture: "list.json", method: http.MethodGet,
			path: "/v1/webhooks/billing-events/events", escapedPath: "/v1/webhooks/billing-events/events",
			query: map[string][]string{"direction": {"outbound"}, "limit": {"2", "3"}, "cursor": {"eyJwIjoiYSJ9=="}},
			headers: map[string]string{
				"Accept": "application/json,text/plain", "X-Forwarded-For": "198.51.100.4,203.0.113.7",
			},
			cookies: map[string]string{"session": "abc", "theme": "dark"},
		},
		{
			fixture: "rotate.json", method: http.MethodPost,
			path:        "/v1/webhooks/customer-events/users/user+42@example.com/secret/rotate",
			escapedPath: "/v1/webhooks/customer-events/users/user%2B42%40example.com/secret/rotate",
			query:       map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			ev := loadEvent(t, tt.fixture)
			type ctxKey struct{}
			ctx := context.WithValue(context.Background(), ctxKey{}, "lambda")

			r, err := lambdahttp.Request(ctx, ev)
			require.NoError(t, err)

			require.Equal(t, tt.method, r.Method)
			require.Equal(t, tt.path, r.URL.Path)
			require.Equal(t, tt.escapedPath, r.URL.EscapedPath())
			require.Equal(t, tt.query, map[string][]string(r.URL.Query()))
			for name, want := range tt.headers {
				require.Equal(t, want, r.Header.Get(name), name)
			}
			for name, want := range tt.cookies {
				c, err := r.Cookie(name)
				require.NoError(t, err, name)
				require.Equal(t, want, c.Value)
			}
			host := tt.host
			if host == "" {
				host = "abc123def4.execute-api.eu-west-1.amazonaws.com"
			}
			require.Equal(t, host, r.Host)
			require.Equal(t, "lambda", r.Context().Value(ctxKey{}), "the Lambda context is the request's")
			require.Equal(t, 1, r.ProtoMajor)
			require.Equal(t, 1, r.ProtoMinor)
			body, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			require.Equal(t, tt.body, string(body))
			require.EqualValues(t, len(tt.body), r.ContentLength)
		})
	}
}

func TestFromFunctionURL(t *testing.T) {
	t.Parallel()
	require.True(t, lambdahttp.FromFunctionURL(loadEvent(t, "send-function-url.json")))
	for _, fixture := range []string{"send.json", "send-base64.json", "list.json", "rotate.json"} {
		require.False(t, lambdahttp.FromFunctionURL(loadEvent(t, fixture)), "%s: an API Gateway route's event", fixture)
	}
}

func TestRequest_Invalid(t *testing.T) {
	t.Parallel()
	ev := loadEvent(t, "send-base64.json")
	ev.Body = "not base64!"
	_, err := lambdahttp.Request(context.Background(), ev)
	require.ErrorContains(t, err, "decode base64 body of request Bq7XLhY9DoEEJ8Q=")

	ev = loadEvent(t, "send.json")
	ev.RequestContext.HTTP.Method = ""
	_, err = lambdahttp.Request(context.Background(), ev)
	require.ErrorContains(t, err, "no requestContext.http.method")
}

func TestServe(t *testing.T) {
	t.Parallel()
	binary := []byte{0xff, 0x00, 0xfe, 'x'}
	h := http.NewServeMux()
	h.HandleFunc("POST /v1/webhooks/{set}/events", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Origin")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"set":"` + r.PathValue("set") + `",`))
		w.WriteHeader(http.StatusInternalServerError) // ignored: the status is already written
		_, _ = w.Write([]byte(`"bytes":` + strconv.Itoa(len(body)) + `}`))
	})
	h.HandleFunc("GET /v1/webhooks/{set}/events", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(binary) // no WriteHeader: 200
	})
	handler := lambdahttp.Handler(h)

	resp, err := handler(context.Background(), loadEvent(t, "send.json"))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, `{"set":"billing-events","bytes":70}`, resp.Body)
	require.False(t, resp.IsBase64Encoded)
	require.Equal(t, "application/json", resp.Headers["Content-Type"])
	require.Equal(t, "Accept,Origin", resp.Headers["Vary"])
	require.Equal(t, []string{"Accept", "Origin"}, resp.MultiValueHeaders["Vary"])
	require.Equal(t, []string{"a=1", "b=2"}, resp.Cookies)
	require.NotContains(t, resp.Headers, "Set-Cookie")

	resp, err = handler(context.Background(), loadEvent(t, "list.json"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, resp.IsBase64Encoded)
	decoded, err := base64.StdEncoding.DecodeString(resp.Body)
	require.NoError(t, err)
	require.Equal(t, binary, decoded)

	// The response survives the JSON encoding the Lambda runtime gives it.
	raw, err := json.Marshal(resp)
	require.NoError(t, err)
	var back events.APIGatewayV2HTTPResponse
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, resp, back)
}

func TestServe_EmptyResponse(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	resp, err := lambdahttp.Serve(context.Background(), h, loadEvent(t, "rotate.json"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, resp.Body)
	require.False(t, resp.IsBase64Encoded)
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	h := lambdahttp.Routes(api, "GET /v1/webhooks/{set}/events", "GET /v1/webhooks/{set}/events/{eventId}")

	resp, err := lambdahttp.Serve(context.Background(), h, loadEvent(t, "list.json"))
	require.NoError(t, err)
	require.Equal(t, http.StatusTeapot, resp.StatusCode, "a listed route reaches the handler")

	for _, fixture := range []string{"send.json", "rotate.json"} {
		resp, err := lambdahttp.Serve(context.Background(), h, loadEvent(t, fixture))
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, fixture)
		require.JSONEq(t, `{"error":{"code":"not_found","message":"no such route"}}`, resp.Body, fixture)
		require.Equal(t, "application/json", resp.Headers["Content-Type"])
	}
}
