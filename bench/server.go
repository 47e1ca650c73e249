package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/local/localserver"
	"github.com/outhook/outhook/shared/local/sqlite"
)

// secretName is the environment variable that holds the endpoint's signing secret in the server process.
const secretName = "OUTHOOK_BENCH_SIGNING_SECRET"

// serverFlags configure the server process.
type serverFlags struct {
	dir, receiver                  string
	workers                        int
	cpuProfile, memProfile, traceF string
}

// serve is the server process: the local server as `outhook serve` assembles it, with one endpoint (the
// bench's receiver) and the database in dir. It prints the API's address on stdout, serves until stdin
// closes, shuts down as `outhook serve` does on SIGTERM, and writes the profiles asked for.
func serve(f serverFlags) error {
	localserver.TuneGC() // as outhook serve does
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(f.dir, "outhook.db"))
	if err != nil {
		return fmt.Errorf("open the database: %w", err)
	}
	defer db.Close()
	// Signed like a real endpoint: the Standard Webhooks scheme, with a named secret from the environment.
	doc := &config.Config{Sets: []config.Set{{Name: "bench", Endpoints: []config.Endpoint{{
		Name: "receiver", URL: f.receiver, AllowPrivateNetwork: true,
		Signing: &config.Signing{Secret: secretName},
	}}}}}
	cfg, err := doc.Validate()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	srv, err := localserver.New(localserver.Options{
		Config: cfg, DB: db, Named: envsecret.Env{}, APIKey: apiKey, CursorKey: []byte("bench"), Workers: f.workers,
		// The server logs every attempt; format the lines as `outhook serve` does, without a terminal.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}

	stop, err := startProfiles(f)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx, ln, 10*time.Second) }()
	fmt.Println(ln.Addr().String())

	// The bench closes stdin when it is done (or dies).
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		cancel()
	}()
	err = <-served
	return errors.Join(err, stop())
}

// startProfiles starts the CPU profile and the execution trace asked for; stop ends them and writes the
// heap (allocation) profile.
func startProfiles(f serverFlags) (stop func() error, err error) {
	var stops []func() error
	stop = func() error {
		var errs []error
		for _, s := range stops {
			errs = append(errs, s())
		}
		return errors.Join(errs...)
	}
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return nil, fmt.Errorf("create the CPU profile: %w", err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			return nil, errors.Join(fmt.Errorf("start the CPU profile: %w", err), out.Close())
		}
		stops = append(stops, func() error { pprof.StopCPUProfile(); return out.Close() })
	}
	if f.traceF != "" {
		out, err := os.Create(f.traceF)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("create the trace: %w", err), stop())
		}
		if err := trace.Start(out); err != nil {
			return nil, errors.Join(fmt.Errorf("start the trace: %w", err), out.Close(), stop())
		}
		stops = append(stops, func() error { trace.Stop(); return out.Close() })
	}
	if f.memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		stops = append(stops, func() error {
			out, err := os.Create(f.memProfile)
			if err != nil {
				return fmt.Errorf("create the heap profile: %w", err)
			}
			return errors.Join(pprof.Lookup("allocs").WriteTo(out, 0), out.Close())
		})
	}
	return stop, nil
}
