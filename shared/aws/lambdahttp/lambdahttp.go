// Package lambdahttp serves API Gateway HTTP API events (payload format 2.0) with a net/http handler, so the
// Lambdas answer through the same handlers, routes, validation and errors as the local server. A Lambda
// function URL invokes with the same payload format, so its events are served alike (FromFunctionURL tells
// them apart).
//
// API Gateway or the function URL authenticates callers (IAM), so the handler runs without the local server's
// bearer key.
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// HeaderRequestID carries API Gateway's request id into the handler (unless the caller sent one).
const HeaderRequestID = "X-Request-Id"

// Handler returns a Lambda handler that serves each API Gateway event with h.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return Serve(ctx, h, ev)
	}
}

// defaultRouteKey is the route key of every function URL event. An API Gateway event carries the key of the
// route it matched ("POST /v1/webhooks/{set}/events"); outhook's HTTP API has no $default route.
const defaultRouteKey = "$default"

// FromFunctionURL tells whether ev came through a Lambda function URL rather than an API Gateway route: a
// function URL sends payload format 2.0 too, with routeKey "$default", and the route only in rawPath and
// requestContext.http.method.
func FromFunctionURL(ev events.APIGatewayV2HTTPRequest) bool { return ev.RouteKey == defaultRouteKey }

// Serve builds the request of ev, serves it with h and returns the recorded response.
func Serve(ctx context.Context, h http.Handler, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	r, err := Request(ctx, ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	rec := newRecorder()
	h.ServeHTTP(rec, r)
	return rec.response(), nil
}

// Request translates an API Gateway HTTP API event into the *http.Request it stands for: method, raw path and
// query, headers (API Gateway joins repeated headers with commas), cookies, the body (decoded when
// isBase64Encoded), the caller's address and the request id.
func Request(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("decode base64 body of request %s: %w", ev.RequestContext.RequestID, err)
		}
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("request %s has no requestContext.http.method", ev.RequestContext.RequestID)
	}
	path := ev.RawPath
	if path == "" {
		path = "/"
	}
	u := &url.URL{Path: path, RawQuery: ev.RawQueryString}
	if unescaped, err := url.PathUnescape(path); err == nil && unescaped != path {
		u.Path, u.RawPath = unescaped, path
	}
	r, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request %s %q: %w", method, path, err)
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	for name, value := range ev.Headers {
		r.Header.Set(name, value)
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = ev.RequestContext.DomainName
	}
	if r.Header.Get(HeaderRequestID) == "" && ev.RequestContext.RequestID != "" {
		r.Header.Set(HeaderRequestID, ev.RequestContext.RequestID)
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = ip + ":0"
	}
	if p := ev.RequestContext.HTTP.Protocol; p != "" {
		if major, minor, ok := http.ParseHTTPVersion(p); ok {
			r.Proto, r.ProtoMajor, r.ProtoMinor = p, major, minor
		}
	}
	r.ContentLength = int64(len(body))
	return r, nil
}

// recorder is the http.ResponseWriter a request is served into.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: make(http.Header)} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// response converts what was written: Set-Cookie headers become cookies, other headers are given both
// comma-joined and as lists, and a body that is not UTF-8 text is base64-encoded.
func (w *recorder) response() events.APIGatewayV2HTTPResponse {
	w.WriteHeader(http.StatusOK)
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode:        w.status,
		Headers:           make(map[string]string, len(w.header)),
		MultiValueHeaders: make(map[string][]string, len(w.header)),
	}
	for name, values := range w.header {
		if name == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, values...)
			continue
		}
		resp.Headers[name] = strings.Join(values, ",")
		resp.MultiValueHeaders[name] = append([]string(nil), values...)
	}
	if b := w.body.Bytes(); utf8.Valid(b) {
		resp.Body = string(b)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(b)
		resp.IsBase64Encoded = true
	}
	return resp
}
