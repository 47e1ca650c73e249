// Package dashboard serves outhook's web dashboard under /ui/: the event log with filters and paging, each
// event's deliveries and attempts with resend, the sets' endpoints with pause, resume and recover, per-user
// secrets with reveal and rotate, and charts of the last hour. The page is plain HTML, CSS and ES modules
// embedded in the binary (no build step, no request to any other origin); it calls the HTTP API of the
// server that serves it with fetch.
package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

//go:embed static
var static embed.FS

// Auth says how the page authenticates its API calls.
type Auth string

const (
	// AuthKey: the page asks for the API key once, keeps it in the tab's sessionStorage and sends it as
	// `Authorization: Bearer` (the local server).
	AuthKey Auth = "key"
	// AuthProxy: the server in front of the API signs the calls (`outhook ui --aws`); the page sends no key.
	AuthProxy Auth = "proxy"
)

// Handler serves the dashboard's files under Prefix, and Prefix+"config.json", which tells the page how to
// authenticate. Every answer forbids framing and any script, style or connection to another origin.
func Handler(auth Auth) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic("dashboard: embedded files: " + err.Error()) // the embed directive guarantees the directory
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix, http.StripPrefix(Prefix, http.FileServerFS(files)))
	mux.HandleFunc("GET "+Prefix+"config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"auth": string(auth)})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		mux.ServeHTTP(w, r)
	})
}
