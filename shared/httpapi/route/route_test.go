package route_test

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/outhook/outhook/shared/httpapi/route"
)

const specPath = "../../../docs/openapi.yaml"

func TestAll_WellFormed(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	operations := map[string]bool{}
	for _, r := range route.All() {
		require.Contains(t, []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			r.Method, r.Operation)
		require.True(t, strings.HasPrefix(r.Path, "/"), "%s: path %q", r.Operation, r.Path)
		require.NotEmpty(t, r.Operation, r.Pattern())
		require.False(t, operations[r.Operation], "operation %s twice", r.Operation)
		operations[r.Operation] = true
		require.Contains(t, []route.Function{"", route.Send, route.Query, route.Secrets}, r.Function, r.Operation)
		require.False(t, r.Public && r.Function != "",
			"%s: API Gateway authenticates every route (IAM), so a public route cannot be on it", r.Operation)
		require.False(t, r.FunctionURL && r.Function == "", "%s: a function URL route needs the Function whose URL serves it", r.Operation)
		// ServeMux panics on a malformed pattern and on two patterns that conflict.
		require.NotPanics(t, func() { mux.Handle(r.Pattern(), http.NotFoundHandler()) }, r.Pattern())
	}
}

func TestServed(t *testing.T) {
	t.Parallel()
	var served int
	for _, fn := range []route.Function{route.Send, route.Query, route.Secrets} {
		rs := route.Served(fn)
		require.NotEmpty(t, rs, fn)
		for _, r := range rs {
			require.Equal(t, fn, r.Function, r.Operation)
		}
		served += len(rs)
	}
	var onGateway int
	for _, r := range route.All() {
		if r.Function != "" {
			onGateway++
		}
	}
	require.Equal(t, onGateway, served, "every route on API Gateway is served by exactly one function")
}

func TestServedByURL(t *testing.T) {
	t.Parallel()
	var ops []string
	for _, r := range route.ServedByURL(route.Send) {
		ops = append(ops, r.Operation)
	}
	// The send function URL is the hot path of sending: the two send routes and nothing that changes endpoints.
	require.Equal(t, []string{"sendEvent", "sendEventBatch"}, ops)
	require.Empty(t, route.ServedByURL(route.Query))
	require.Empty(t, route.ServedByURL(route.Secrets))
}

func TestAll_ReturnsACopy(t *testing.T) {
	t.Parallel()
	all := route.All()
	all[0].Path = "/changed"
	require.NotEqual(t, "/changed", route.All()[0].Path)
}

// specOperation is what the table holds of an operation of docs/openapi.yaml.
type specOperation struct {
	operation   string
	public      bool
	functionURL bool // the operation lists the function URL among its servers
}

// specServer is a server of an operation in docs/openapi.yaml.
type specServer struct {
	URL string `yaml:"url"`
}

// TestOpenAPI_MatchesTable fails when docs/openapi.yaml and the table disagree: every method and path of the
// spec is a route of the table and every route is in the spec, with the same operationId, and the routes the
// spec serves without security (`security: []`) are the table's public routes.
func TestOpenAPI_MatchesTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(specPath)
	require.NoError(t, err)
	var spec struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &spec))
	require.NotEmpty(t, spec.Paths)

	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	inSpec := map[string]specOperation{}
	for path, item := range spec.Paths {
		for key, node := range item {
			if !slices.Contains(methods, key) {
				continue // parameters, summary, ...
			}
			var op struct {
				OperationID string       `yaml:"operationId"`
				Security    *[]any       `yaml:"security"`
				Servers     []specServer `yaml:"servers"`
			}
			require.NoError(t, node.Decode(&op), "%s %s", key, path)
			inSpec[strings.ToUpper(key)+" "+path] = specOperation{
				operation: op.OperationID,
				public:    op.Security != nil && len(*op.Security) == 0,
				functionURL: slices.ContainsFunc(op.Servers, func(s specServer) bool {
					return strings.Contains(s.URL, ".lambda-url.")
				}),
			}
		}
	}

	inTable := map[string]specOperation{}
	for _, r := range route.All() {
		inTable[r.Pattern()] = specOperation{operation: r.Operation, public: r.Public, functionURL: r.FunctionURL}
	}
	for pattern := range inSpec {
		require.Contains(t, inTable, pattern, "docs/openapi.yaml has %s; add it to the table in shared/httpapi/route", pattern)
	}
	for pattern := range inTable {
		require.Contains(t, inSpec, pattern, "the route table has %s; document it in docs/openapi.yaml", pattern)
	}
	require.Equal(t, inTable, inSpec, "operationId, public (security: []) and function URL (among the servers) of each route")
}
