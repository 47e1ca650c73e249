// Package route is the one table of outhook's HTTP API routes: for each, its method and path, whether the
// caller must authenticate, which Lambda function serves it on AWS, and whether that function's URL serves it
// too. The local server's mux (httpapi), each API Lambda's route filters and the API Gateway routes of the CDK
// construct are built from it, and a test holds docs/openapi.yaml to it. It imports nothing, so the CDK app
// can use it without linking the domain.
//
// To add a route: add it to the table, its handler to httpapi, and the operation to docs/openapi.yaml.
package route

import "slices"

// Function names the API Lambda function that serves a route on AWS (and the directory of its main under
// functions/).
type Function string

// The API functions.
const (
	Send    Function = "send"
	Query   Function = "query"
	Secrets Function = "secrets"
)

// Route is one route of the API.
type Route struct {
	// Operation names the route: its operationId in docs/openapi.yaml, and the key httpapi maps to its handler.
	Operation string
	// Method is the HTTP method, e.g. "POST".
	Method string
	// Path is the path template, e.g. "/v1/webhooks/{set}/events", in the syntax that net/http patterns,
	// API Gateway route keys and OpenAPI paths share: literal segments and whole-segment {name} wildcards.
	Path string
	// Function is the Lambda function that serves the route on AWS. Empty: the route is served by the local
	// server only and is not on API Gateway.
	Function Function
	// Public routes are served without authentication (no bearer key on the local server). API Gateway
	// requires IAM authentication on every route, so a public route has no Function.
	Public bool
	// FunctionURL routes are served through the function URL of their Function too, when the deployment
	// gives it one (the CDK construct's SendFunctionURL): the hot path of sending, without API Gateway's
	// per-request charge. Every other route answers 404 there.
	FunctionURL bool
}

// Pattern is the route as a net/http ServeMux pattern and an API Gateway route key: "METHOD /path".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// table is the API. Keep it in the order of docs/openapi.yaml.
var table = []Route{
	{Operation: "healthz", Method: "GET", Path: "/healthz", Public: true},
	{Operation: "metrics", Method: "GET", Path: "/metrics"},
	{Operation: "listSets", Method: "GET", Path: "/v1/webhooks", Function: Query},
	{Operation: "sendEvent", Method: "POST", Path: "/v1/webhooks/{set}/events", Function: Send, FunctionURL: true},
	{Operation: "sendEventBatch", Method: "POST", Path: "/v1/webhooks/{set}/events/batch", Function: Send, FunctionURL: true},
	{Operation: "listEvents", Method: "GET", Path: "/v1/webhooks/{set}/events", Function: Query},
	{Operation: "getEvent", Method: "GET", Path: "/v1/webhooks/{set}/events/{eventId}", Function: Query},
	{Operation: "resendEvent", Method: "POST", Path: "/v1/webhooks/{set}/events/{eventId}/retry", Function: Send},
	{Operation: "getUserSecret", Method: "GET", Path: "/v1/webhooks/{set}/users/{userId}/secret", Function: Secrets},
	{Operation: "rotateUserSecret", Method: "POST", Path: "/v1/webhooks/{set}/users/{userId}/secret/rotate", Function: Secrets},
	{Operation: "listEndpoints", Method: "GET", Path: "/v1/webhooks/{set}/endpoints", Function: Query},
	{Operation: "pauseEndpoint", Method: "POST", Path: "/v1/webhooks/{set}/endpoints/{name}/pause", Function: Send},
	{Operation: "resumeEndpoint", Method: "POST", Path: "/v1/webhooks/{set}/endpoints/{name}/resume", Function: Send},
	{Operation: "recoverEndpoint", Method: "POST", Path: "/v1/webhooks/{set}/endpoints/{name}/recover", Function: Send},
	{Operation: "listUserEndpoints", Method: "GET", Path: "/v1/webhooks/{set}/users/{userId}/endpoints", Function: Query},
	{Operation: "getUserEndpoint", Method: "GET", Path: "/v1/webhooks/{set}/users/{userId}/endpoints/{name}", Function: Query},
	{Operation: "putUserEndpoint", Method: "PUT", Path: "/v1/webhooks/{set}/users/{userId}/endpoints/{name}", Function: Send},
	{Operation: "deleteUserEndpoint", Method: "DELETE", Path: "/v1/webhooks/{set}/users/{userId}/endpoints/{name}", Function: Send},
	{Operation: "pauseUserEndpoint", Method: "POST", Path: "/v1/webhooks/{set}/users/{userId}/endpoints/{name}/pause", Function: Send},
	{Operation: "resumeUserEndpoint", Method: "POST", Path: "/v1/webhooks/{set}/users/{userId}/endpoints/{name}/resume", Function: Send},
	{Operation: "recoverUserEndpoint", Method: "POST", Path: "/v1/webhooks/{set}/users/{userId}/endpoints/{name}/recover", Function: Send},
}

// All returns every route of the API, in the table's order.
func All() []Route { return slices.Clone(table) }

// Served returns the routes fn serves on AWS, in the table's order.
func Served(fn Function) []Route {
	var out []Route
	for _, r := range table {
		if r.Function == fn {
			out = append(out, r)
		}
	}
	return out
}

// ServedByURL returns the routes fn serves through its function URL, in the table's order.
func ServedByURL(fn Function) []Route {
	var out []Route
	for _, r := range Served(fn) {
		if r.FunctionURL {
			out = append(out, r)
		}
	}
	return out
}
