// Package localservertest starts a real outhook local server in the test process, for the tests of the API's
// clients (the Go client, the CLI, the OpenAPI description, the interoperability checks): the same server
// as `outhook serve` (package localserver: handler, domain service, SQLite store and queue, delivery
// workers), over a SQLite file in a temporary directory, listening on 127.0.0.1.
package localservertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/local/localserver"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/secret"
)

// APIKey is the bearer key the server requires.
const APIKey = "localservertest-api-key"

// Server is a running local API.
type Server struct {
	// URL is the base URL of the API, e.g. http://127.0.0.1:41234.
	URL string
}

// Secrets maps named signing secrets (the `secret:` of a signing block) to their values.
type Secrets map[string]string

var _ secret.Named = Secrets(nil)

// Named returns the value of a named secret, or secret.ErrNotFound.
func (s Secrets) Named(_ context.Context, name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", fmt.Errorf("named secret %s: %w", name, secret.ErrNotFound)
	}
	return v, nil
}

// Start parses the YAML configuration, starts the local server (package localserver, what `outhook serve`
// runs) on 127.0.0.1, and stops it when the test ends. The endpoints' URLs usually point at httptest
// receivers, so they need allowPrivateNetwork.
func Start(t testing.TB, configYAML string, secrets Secrets) *Server {
	t.Helper()
	doc, err := config.Parse([]byte(configYAML))
	require.NoError(t, err, "test config")
	cfg, err := doc.Validate()
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "outhook.db"))
	require.NoError(t, err)
	srv, err := localserver.New(localserver.Options{
		Config:    cfg,
		DB:        db,
		Named:     secrets,
		APIKey:    APIKey,
		CursorKey: []byte("localservertest cursor key, 32 b"),
		Workers:   8,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, 5*time.Second) }()

	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, db.Close())
	})
	return &Server{URL: "http://" + ln.Addr().String()}
}
