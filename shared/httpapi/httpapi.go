// Package httpapi serves outhook's HTTP API: send, list and get events, resend, and per-user secrets, as one
// net/http handler whose routes are those of the table in shared/httpapi/route. The local server mounts it
// behind a bearer key; the Lambdas mount the same handler behind API Gateway, which decides which routes each
// function receives.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/httpapi/route"
	"github.com/outhook/outhook/shared/webhook"
)

// Service is what the handler needs from the domain; *webhook.Service implements it.
type Service interface {
	ListSets() webhook.SetList
	Send(ctx context.Context, set string, req webhook.SendRequest) (webhook.SendResult, error)
	SendBatch(ctx context.Context, set string, reqs []webhook.SendRequest) ([]webhook.BatchEntry, error)
	ListEvents(ctx context.Context, set string, q webhook.ListQuery) (webhook.EventList, error)
	GetEvent(ctx context.Context, set, id string) (webhook.Event, error)
	Resend(ctx context.Context, set, id, endpoint string) (webhook.SendResult, error)
	UserSecret(ctx context.Context, set, userID string) (webhook.UserSecret, error)
	RotateUserSecret(ctx context.Context, set, userID string) (webhook.UserSecret, error)

	ListStaticEndpoints(ctx context.Context, set string) (webhook.EndpointList, error)
	ListUserEndpoints(ctx context.Context, set, userID string) (webhook.EndpointList, error)
	GetUserEndpoint(ctx context.Context, set, userID, name string) (webhook.Endpoint, error)
	PutUserEndpoint(ctx context.Context, set, userID, name string, req webhook.EndpointRequest) (webhook.Endpoint, bool, error)
	DeleteUserEndpoint(ctx context.Context, set, userID, name string) error
	PauseEndpoint(ctx context.Context, set, userID, name string) (webhook.Endpoint, error)
	ResumeEndpoint(ctx context.Context, set, userID, name string) (webhook.Endpoint, error)
	RecoverEndpoint(ctx context.Context, set, userID, name string, req webhook.RecoverRequest) (webhook.RecoverResult, error)
}

// Options configure the handler.
type Options struct {
	// APIKey, when not empty, is required on every /v1 route as `Authorization: Bearer <key>`.
	APIKey string
	// Logger receives the internal errors behind 500 answers. Nil: slog.Default().
	Logger *slog.Logger
	// Metrics serves GET /metrics (the local server's Prometheus exposition). Nil: the route answers 404.
	Metrics http.Handler
}

// Limits of the HTTP layer.
const (
	// maxSendBody bounds the send request body: the payload limit plus room for the envelope (type, userId).
	maxSendBody = webhook.MaxPayloadBytes + 16<<10
	// maxBatchBody bounds a batch send's request body.
	maxBatchBody = 1 << 20
	// maxSmallBody bounds the other request bodies (the retry body).
	maxSmallBody = 16 << 10
)

// Response headers.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
)

type handler struct {
	svc     Service
	log     *slog.Logger
	metrics http.Handler
}

// New returns the API handler. Every answer is JSON; errors are {"error":{"code","message"}}.
func New(svc Service, opts Options) http.Handler {
	h := &handler{svc: svc, log: opts.Logger, metrics: opts.Metrics}
	if h.log == nil {
		h.log = slog.Default()
	}
	handlers := h.handlers()
	mux := http.NewServeMux()
	public := http.NewServeMux() // matches the paths of the public routes, whatever the method; serves nothing
	publicPaths := map[string]bool{}
	for _, r := range route.All() {
		fn, ok := handlers[r.Operation]
		if !ok {
			panic("httpapi: no handler for route " + r.Operation + " (" + r.Pattern() + ")")
		}
		delete(handlers, r.Operation)
		mux.HandleFunc(r.Pattern(), fn)
		if r.Public && !publicPaths[r.Path] {
			publicPaths[r.Path] = true
			public.Handle(r.Path, http.NotFoundHandler())
		}
	}
	if len(handlers) > 0 {
		panic(fmt.Sprintf("httpapi: handlers without a route in shared/httpapi/route: %v", slices.Sorted(maps.Keys(handlers))))
	}

	var next http.Handler = routeErrors(mux)
	if opts.APIKey != "" {
		next = requireKey(opts.APIKey, public, next)
	}
	return h.recoverPanics(next)
}

// handlers maps each operation of the route table (shared/httpapi/route) to its handler. New panics when the
// two disagree, so every test of the package catches a route without a handler.
func (h *handler) handlers() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"healthz":          h.healthz,
		"metrics":          h.serveMetrics,
		"listSets":         h.listSets,
		"sendEvent":        h.send,
		"sendEventBatch":   h.sendBatch,
		"listEvents":       h.listEvents,
		"getEvent":         h.getEvent,
		"resendEvent":      h.retry,
		"getUserSecret":    h.userSecret,
		"rotateUserSecret": h.rotateUserSecret,

		"listEndpoints":       h.listStaticEndpoints,
		"pauseEndpoint":       h.pause,
		"resumeEndpoint":      h.resume,
		"recoverEndpoint":     h.recover,
		"listUserEndpoints":   h.listUserEndpoints,
		"getUserEndpoint":     h.getUserEndpoint,
		"putUserEndpoint":     h.putUserEndpoint,
		"deleteUserEndpoint":  h.deleteUserEndpoint,
		"pauseUserEndpoint":   h.pause,
		"resumeUserEndpoint":  h.resume,
		"recoverUserEndpoint": h.recover,
	}
}

// routeErrors turns the mux's plain-text 404 and 405 answers into JSON errors.
func routeErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			mux.ServeHTTP(&routeErrorWriter{ResponseWriter: w}, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// routeErrorWriter replaces the body of a 404 or 405 written by the mux with a JSON error; the mux's
// other answers (e.g. a redirect to a cleaned path) pass through.
type routeErrorWriter struct {
	http.ResponseWriter
	rewritten bool
}

func (w *routeErrorWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		w.rewritten = true
		writeJSONError(w.ResponseWriter, code, "not_found", "no such route")
	case http.StatusMethodNotAllowed:
		w.rewritten = true
		writeJSONError(w.ResponseWriter, code, "method_not_allowed", "method not allowed on this route (see the Allow header)")
	default:
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *routeErrorWriter) Write(b []byte) (int, error) {
	if w.rewritten {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// unauthorizedMessage says where the key comes from: the local server's OUTHOOK_API_KEY, or the key it generated
// and printed at its first start.
const unauthorizedMessage = "missing or wrong API key: send Authorization: Bearer <key> with the server's key " +
	"(its OUTHOOK_API_KEY, or the key outhook serve printed at its first start)"

// requireKey answers 401 to requests without `Authorization: Bearer <key>`, except on the paths of public
// routes (matched by public, whatever the method).
func requireKey(key string, public *http.ServeMux, next http.Handler) http.Handler {
	want := []byte(key)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := public.Handler(r); pattern != "" {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="outhook"`)
			writeJSONError(w, http.StatusUnauthorized, "unauthorized", unauthorizedMessage)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer extracts the token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// recoverPanics answers 500 instead of dropping the connection when a handler panics.
func (h *handler) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // net/http's own signal to abort the response: let it through
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeJSONError(w, http.StatusInternalServerError, "internal", "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handler) listSets(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.svc.ListSets())
}

func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if h.metrics == nil {
		writeJSONError(w, http.StatusNotFound, "not_found", "no metrics here: the deployed API emits its metrics to CloudWatch")
		return
	}
	h.metrics.ServeHTTP(w, r)
}

// sendBody is the JSON body of a send.
type sendBody struct {
	Type    str             `json:"type"`
	Payload json.RawMessage `json:"payload"`
	UserID  str             `json:"userId"`
}

func (h *handler) send(w http.ResponseWriter, r *http.Request) {
	var body sendBody
	if !h.decodeBody(w, r, maxSendBody, true, &body) {
		return
	}
	key := r.Header.Get(headerIdempotencyKey)
	res, err := h.svc.Send(r.Context(), r.PathValue("set"), webhook.SendRequest{
		Type:           body.Type.value,
		Payload:        body.Payload,
		UserID:         body.UserID.value,
		IdempotencyKey: key,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if res.Replayed {
		w.Header().Set(headerReplayed, "true")
	}
	writeJSON(w, http.StatusAccepted, res)
}

// listParameters are the query parameters of the events list; any other is refused (unknown_parameter).
var listParameters = []string{"direction", "limit", "cursor", "type", "status", "userId", "endpoint", "since", "until"}

// emptyRefused are the list parameters whose schema refuses an empty value, with the code of their error.
var emptyRefused = map[string]string{"direction": "invalid_direction", "limit": "invalid_limit",
	"status": "invalid_status", "userId": "invalid_user_id", "endpoint": "invalid_endpoint", "since": "invalid_since",
	"until": "invalid_until"}

func (h *handler) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(listParameters, name) {
			writeJSONError(w, http.StatusBadRequest, "unknown_parameter", fmt.Sprintf("unknown query parameter %q (known: %s)",
				name, strings.Join(listParameters, ", ")))
			return
		}
	}
	// An empty value is refused where the OpenAPI schema refuses one (it read as the parameter left out);
	// an empty cursor (the first page) and type (any type) stay allowed, as the schema says.
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if code, ok := emptyRefused[name]; ok && q.Get(name) == "" {
			writeJSONError(w, http.StatusBadRequest, code, fmt.Sprintf("%s must not be empty: leave it out instead", name))
			return
		}
	}
	query := webhook.ListQuery{Direction: q.Get("direction"), Cursor: q.Get("cursor"), Type: q.Get("type"),
		Status: q.Get("status"), UserID: q.Get("userId"), Endpoint: q.Get("endpoint")}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &query.Since}, {"until", &query.Until}} {
		if s := q.Get(t.name); s != "" {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeJSONError(w, http.StatusBadRequest, "invalid_"+t.name, t.name+" must be an RFC 3339 time, e.g. 2026-12-01T15:04:05Z")
				return
			}
			*t.dst = v
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 { // the service checks the upper bound
			writeJSONError(w, http.StatusBadRequest, "invalid_limit",
				"limit must be an integer from 1 to "+strconv.Itoa(webhook.MaxListLimit))
			return
		}
		query.Limit = n
	}
	list, err := h.svc.ListEvents(r.Context(), r.PathValue("set"), query)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if list.Events == nil {
		list.Events = []webhook.Event{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handler) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := h.svc.GetEvent(r.Context(), r.PathValue("set"), r.PathValue("eventId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

// retryBody is the optional JSON body of a retry: which endpoint to resend (empty: every failed delivery).
type retryBody struct {
	Endpoint str `json:"endpoint"`
}

func (h *handler) retry(w http.ResponseWriter, r *http.Request) {
	var body retryBody
	if !h.decodeBody(w, r, maxSmallBody, false, &body) {
		return
	}
	if body.Endpoint.set && body.Endpoint.value == "" {
		writeJSONError(w, http.StatusBadRequest, "unknown_endpoint",
			"endpoint is empty: name an endpoint of the set, or leave endpoint out to resend every failed delivery")
		return
	}
	res, err := h.svc.Resend(r.Context(), r.PathValue("set"), r.PathValue("eventId"), body.Endpoint.value)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

func (h *handler) userSecret(w http.ResponseWriter, r *http.Request) {
	s, err := h.svc.UserSecret(r.Context(), r.PathValue("set"), r.PathValue("userId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) rotateUserSecret(w http.ResponseWriter, r *http.Request) {
	s, err := h.svc.RotateUserSecret(r.Context(), r.PathValue("set"), r.PathValue("userId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s)
}
