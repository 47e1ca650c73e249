package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/local/localserver"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/signing"
)

var serveCommand = &command{
	name:     "serve",
	summary:  "run the local server: the HTTP API and the delivery workers over one SQLite file",
	synopsis: "serve --config FILE [--addr HOST:PORT] [--data DIR] [--workers N] [--log-format text|json]",
}

// Settings kept in the database.
const (
	settingAPIKey    = "api_key"
	settingCursorKey = "cursor_key"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := serveCommand.flags(e)
	configPath := fs.String("config", "", "webhook-set config file, YAML or JSON (required)")
	addr := fs.String("addr", "127.0.0.1:8080", "address the HTTP API listens on (port 0: any free port)")
	dataDir := fs.String("data", "data", "directory of the database file outhook.db (created if missing)")
	workers := fs.Int("workers", localserver.DefaultWorkers, "concurrent delivery workers")
	logFormat := fs.String("log-format", "text", "log format on stderr: text or json")
	drain := fs.Duration("shutdown-timeout", 20*time.Second,
		"on SIGINT/SIGTERM, how long to wait for requests and deliveries in flight")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *configPath == "":
		return usagef("--config is required")
	case *workers < 1:
		return usagef("--workers must be at least 1")
	case *logFormat != "text" && *logFormat != "json":
		return usagef("--log-format must be text or json")
	}
	log := newLogger(e.stderr, *logFormat)
	localserver.TuneGC()

	doc, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	cfg, err := doc.Validate()
	if err != nil {
		return err
	}
	named := envsecret.Env{}
	for _, name := range cfg.SecretNames() {
		value, err := named.Named(ctx, name)
		if err != nil {
			return fmt.Errorf("the config references the signing secret %s: set the environment variable %s", name, name)
		}
		if _, err := signing.Key(value); err != nil {
			// The error names the secret and the rule it breaks, never its value.
			return fmt.Errorf("the signing secret %s (environment variable %s) is not a usable key: %w", name, name, err)
		}
	}

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	warning, err := checkDataDir(*dataDir)
	if err != nil {
		return err
	}
	if warning != "" {
		log.Warn(warning)
	}
	dbPath := filepath.Join(*dataDir, "outhook.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return fmt.Errorf("open %s: %w", dbPath, err)
	}
	defer db.Close()

	apiKey, err := loadAPIKey(ctx, e, db, dbPath)
	if err != nil {
		return err
	}
	cursorKey, err := db.Setting(ctx, settingCursorKey, func() (string, error) { return randomToken("") })
	if err != nil {
		return fmt.Errorf("load the cursor key: %w", err)
	}

	srv, err := localserver.New(localserver.Options{
		Config:    cfg,
		DB:        db,
		Named:     named,
		APIKey:    apiKey,
		CursorKey: []byte(cursorKey),
		Workers:   *workers,
		Logger:    log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("outhook serving", "url", "http://"+ln.Addr().String(), "data", dbPath, "workers", *workers)
	if err := srv.Run(ctx, ln, *drain); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// checkDataDir refuses a data directory that other users may write to (they could replace the database,
// which holds the API key and users' signing secrets) and warns about one they may read or list: the
// database files themselves are created 0600, but their names and sizes are visible there.
func checkDataDir(dir string) (warning string, err error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("check the data directory: %w", err)
	}
	switch perm := info.Mode().Perm(); {
	case perm&0o022 != 0:
		return "", fmt.Errorf("the data directory %s is writable by other users (mode %04o): it holds the API key "+
			"and users' signing secrets; make it yours alone (chmod 700 %s) or choose another --data", dir, perm, dir)
	case perm&0o055 != 0:
		return fmt.Sprintf("the data directory %s is readable by other users (mode %04o); its files are "+
			"created 0600, but consider chmod 700 %s", dir, perm, dir), nil
	}
	return "", nil
}

// loadAPIKey returns the bearer key: OUTHOOK_API_KEY, or the one generated on the first start and kept in
// the database. The generated key is printed once, when it is created: that is how the user learns it.
func loadAPIKey(ctx context.Context, e *env, db *sqlite.DB, dbPath string) (string, error) {
	if key := e.getenv("OUTHOOK_API_KEY"); key != "" {
		fmt.Fprintln(e.stderr, "API key: from OUTHOOK_API_KEY")
		return key, nil
	}
	created := false
	key, err := db.Setting(ctx, settingAPIKey, func() (string, error) {
		created = true
		return randomToken("ohk_")
	})
	if err != nil {
		return "", fmt.Errorf("load the API key: %w", err)
	}
	if created {
		fmt.Fprintf(e.stderr, "API key: %s\n", key)
	} else {
		fmt.Fprintf(e.stderr, "API key: stored in %s (set OUTHOOK_API_KEY to choose one)\n", dbPath)
	}
	return key, nil
}

// randomToken is prefix + 32 random bytes in unpadded base64url.
func randomToken(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a random key: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
