// Package localserver assembles the local server that `outhook serve` runs: the webhook service over one
// SQLite database, the HTTP API in front of it, a pool of delivery workers over the SQLite queue (the local
// equivalent of SQS invoking the deliver Lambda), and the hourly retention purge. It runs them until its
// context ends, then shuts down gracefully.
package localserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/dashboard"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/httpapi"
	"github.com/outhook/outhook/shared/local/prommetrics"
	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/local/worker"
	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/webhook"
)

const (
	// leaseMargin is added to the longest endpoint timeout to make the lease of a queue message: the time
	// to sign, record the attempt and enqueue the next one. A message is handed out again only if the
	// process working on it died.
	leaseMargin = 10 * time.Second
	// purgeEvery is how often expired events are deleted.
	purgeEvery = time.Hour
	// fallbackPoll is how often the workers look for messages while the queue has not signalled any: the
	// queue signals this process's writes and due times; polling covers another process's writes.
	fallbackPoll = time.Second
	// DefaultWorkers is the number of concurrent deliveries: they are I/O bound.
	DefaultWorkers = 32
	// receiveBatch is how many messages the workers lease at once: one SQLite statement leases a batch, and
	// batches of 32 rather than SQS's 10 took 3% less CPU per delivery in the bench's burst.
	receiveBatch = 32
)

// Options are the server's parts. Config, DB and CursorKey are required.
type Options struct {
	Config    *config.Resolved // from config.Config.Validate
	DB        *sqlite.DB
	Named     secret.Named // named signing secrets; required if the config references any
	APIKey    string       // bearer key of the API; empty: no authentication
	CursorKey []byte       // authenticates list cursors
	Workers   int          // default DefaultWorkers
	Logger    *slog.Logger // default slog.Default()
	Timeouts  Timeouts     // zero fields take the defaults
	// Now is the clock of the service and of the purge; default time.Now. Give DB the same one
	// (sqlite.WithClock), so that the queue's delays agree with the service's schedule.
	Now func() time.Time
}

// Timeouts bound each API connection, so that a client that sends its request or reads the answer too
// slowly (or never: a Content-Length larger than the body it sends) cannot hold a connection for long.
// The defaults: 10 s for the headers, 30 s for the whole request, 60 s for the answer, 2 min idle.
type Timeouts struct {
	ReadHeader time.Duration // from accepting the connection (or the end of the previous request) to the end of the headers
	Read       time.Duration // from accepting the connection to the end of the request body
	Write      time.Duration // from the end of the request headers to the end of the answer
	Idle       time.Duration // between two requests of a kept-alive connection
}

// defaultTimeouts fit the API's largest request (a 256 KiB payload) and answer (a page of 100 events).
var defaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: time.Minute, Idle: 2 * time.Minute}

// orDefault fills the zero fields of t with the defaults.
func (t Timeouts) orDefault() Timeouts {
	d := defaultTimeouts
	return Timeouts{ReadHeader: cmp.Or(t.ReadHeader, d.ReadHeader), Read: cmp.Or(t.Read, d.Read),
		Write: cmp.Or(t.Write, d.Write), Idle: cmp.Or(t.Idle, d.Idle)}
}

// Server is the assembled local server.
type Server struct {
	db       *sqlite.DB
	now      func() time.Time
	log      *slog.Logger
	handler  http.Handler
	pool     *worker.Pool
	timeouts Timeouts
}

// New builds the service, the API handler and the worker pool.
func New(o Options) (*Server, error) {
	if o.DB == nil {
		return nil, errors.New("localserver: Options.DB is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	warnPrivateURLs(o.Config, o.Logger)
	metrics := prommetrics.New()
	svc, err := webhook.New(webhook.Options{
		Config:    o.Config,
		Store:     o.DB.Store(),
		Queue:     o.DB.Queue(),
		Named:     o.Named,
		Users:     o.DB.UserSecrets(),
		HTTP:      egress.New(),
		Logger:    o.Logger,
		CursorKey: o.CursorKey,
		Now:       o.Now,
		Metrics:   metrics,
		// The store keeps the queue: a send commits its event and its messages together.
		EventQueue: o.DB,
	})
	if err != nil {
		return nil, fmt.Errorf("build the webhook service: %w", err)
	}
	return &Server{
		db:       o.DB,
		now:      o.Now,
		log:      o.Logger,
		timeouts: o.Timeouts.orDefault(),
		handler:  withDashboard(httpapi.New(svc, httpapi.Options{APIKey: o.APIKey, Logger: o.Logger, Metrics: metrics})),
		pool: worker.New(o.DB.Queue(), svc.Process, worker.Options{
			Workers:    o.Workers,
			Batch:      receiveBatch,
			Visibility: Lease(o.Config),
			Wake:       o.DB.QueueReady(),
			MaxIdle:    fallbackPoll,
			// Like SQS's maxReceiveCount: a message that keeps failing ends its delivery as failed, with the
			// reason, after this many receives, instead of coming back forever.
			MaxReceives: worker.DefaultMaxReceives,
			GiveUp:      svc.Abandon,
			Logger:      o.Logger,
		}),
	}, nil
}

// withDashboard serves the web dashboard under /ui/ (its page asks for the API key) and the API elsewhere.
func withDashboard(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(dashboard.Prefix, dashboard.Handler(dashboard.AuthKey))
	mux.Handle("/", api)
	return mux
}

// warnPrivateURLs warns about each endpoint whose URL is a literal private address (or localhost) while it
// does not set allowPrivateNetwork: the egress guard will fail every delivery to it at its first attempt.
func warnPrivateURLs(cfg *config.Resolved, log *slog.Logger) {
	for _, set := range cfg.Sets {
		for _, ep := range set.Endpoints {
			if ep.AllowPrivateNetwork {
				continue
			}
			if err := egress.CheckURL(ep.URL); err != nil {
				log.Warn("every delivery to this endpoint will fail: its URL is a private address and the endpoint does not set allowPrivateNetwork: true",
					"set", set.Name, "endpoint", ep.Name, "error", err)
			}
		}
	}
}

// Lease is the visibility timeout of a received delivery message: the longest endpoint timeout plus a margin.
func Lease(cfg *config.Resolved) time.Duration {
	return cfg.LongestTimeout() + leaseMargin
}

// Run serves the API on ln and runs the delivery workers and the purge until ctx is done. Then it stops
// accepting connections and receiving messages, waits up to drain for the requests and deliveries in flight,
// releases the deliveries still unfinished (they are received again at the next start), and returns. The
// caller closes the database afterwards. Run returns early with an error if serving HTTP fails.
func (s *Server) Run(ctx context.Context, ln net.Listener, drain time.Duration) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.timeouts.ReadHeader,
		ReadTimeout:       s.timeouts.Read,
		WriteTimeout:      s.timeouts.Write,
		IdleTimeout:       s.timeouts.Idle,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	background, stop := context.WithCancel(ctx)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.pool.Run(background, drain) })
	wg.Go(func() { s.purge(background) })

	var failure error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down: finishing the requests and deliveries in flight", "timeout", drain)
	case err := <-serveErr:
		failure = fmt.Errorf("serve HTTP: %w", err)
	}
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && failure == nil {
		failure = fmt.Errorf("shut down the HTTP server: %w", err)
	}
	wg.Wait()
	return failure
}

// purge deletes expired events now and then every purgeEvery until ctx is done.
func (s *Server) purge(ctx context.Context) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		n, err := s.db.Purge(ctx, s.now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("purge expired events", "error", err)
		case n > 0:
			s.log.Info("purged expired events", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
