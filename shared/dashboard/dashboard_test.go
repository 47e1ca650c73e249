package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/dashboard"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := dashboard.Handler(dashboard.AuthKey)
	for path, contentType := range map[string]string{
		"/ui/":          "text/html; charset=utf-8",
		"/ui/app.js":    "text/javascript; charset=utf-8",
		"/ui/chart.js":  "text/javascript; charset=utf-8",
		"/ui/style.css": "text/css; charset=utf-8",
	} {
		res := get(t, h, path)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.Equal(t, contentType, res.Header.Get("Content-Type"), path)
		csp := res.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "connect-src 'self'", path)
		require.Contains(t, csp, "script-src 'self'", path)
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	}
	res := get(t, h, "/ui/config.json")
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.JSONEq(t, `{"auth":"key"}`, string(body))
	res = get(t, dashboard.Handler(dashboard.AuthProxy), "/ui/config.json")
	body, err = io.ReadAll(res.Body)
	require.NoError(t, err)
	require.JSONEq(t, `{"auth":"proxy"}`, string(body))
	require.Equal(t, http.StatusNotFound, get(t, h, "/ui/missing.js").StatusCode)
}

// TestHandler_NoOtherOrigin: the page loads nothing from another origin (no CDN, no font service).
func TestHandler_NoOtherOrigin(t *testing.T) {
	t.Parallel()
	h := dashboard.Handler(dashboard.AuthKey)
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/chart.js", "/ui/style.css"} {
		body, err := io.ReadAll(get(t, h, path).Body)
		require.NoError(t, err)
		for _, line := range strings.Split(string(body), "\n") {
			if strings.Contains(line, "http://") || strings.Contains(line, "https://") {
				require.Contains(t, line, "http://www.w3.org/2000/svg", "%s loads from another origin: %s", path, line)
			}
		}
	}
}
