// Package clienttest starts a real outhook API in the test process, for the tests of its clients (the Go
// client, the CLI, the OpenAPI description, the interoperability checks): the same handler, domain
// service, SQLite store, queue and delivery workers as `outhook serve`, over a SQLite file in a temporary
// directory and an HTTP server on 127.0.0.1.
package clienttest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/httpapi"
	"github.com/outhook/outhook/shared/sqlite"
	"github.com/outhook/outhook/shared/webhook"
	"github.com/outhook/outhook/shared/worker"
)

// APIKey is the bearer key the server requires.
const APIKey = "clienttest-api-key"

// Server is a running local API.
type Server struct {
	// URL is the base URL of the API, e.g. http://127.0.0.1:41234.
	URL string
	// DB is the server's database, for tests that look behind the API.
	DB *sqlite.DB
}

// Secrets maps named signing secrets (the `secret:` of a signing block) to their values.
type Secrets map[string]string

// Named returns the value of a named secret.
func (s Secrets) Named(_ context.Context, name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", &missingSecretError{name: name}
	}
	return v, nil
}

type missingSecretError struct{ name string }

func (e *missingSecretError) Error() string { return "named secret " + e.name + " is not set" }

// Start parses the YAML configuration, starts the API and its delivery workers, and stops them when the
// test ends. The endpoints' URLs usually point at httptest receivers, so they need allowPrivateNetwork.
func Start(t testing.TB, configYAML string, secrets Secrets) *Server {
	t.Helper()
	cfg, err := config.Parse([]byte(configYAML))
	require.NoError(t, err, "test config")

	ctx, cancel := context.WithCancel(context.Background())
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := webhook.New(webhook.Options{
		Config:    cfg,
		Store:     db.Store(),
		Queue:     db.Queue(),
		Named:     secrets,
		Users:     db.UserSecrets(),
		HTTP:      egress.New(),
		Logger:    logger,
		CursorKey: []byte("clienttest cursor key, 32 bytes!"),
	})
	require.NoError(t, err)

	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{APIKey: APIKey, Logger: logger}))
	pool := worker.New(db.Queue(), svc.Process, worker.Options{Workers: 8, MinIdle: 5 * time.Millisecond, MaxIdle: 20 * time.Millisecond, Logger: logger})
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx, 5*time.Second) }()

	t.Cleanup(func() {
		srv.Close()
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, db.Close())
	})
	return &Server{URL: srv.URL, DB: db}
}
