package webhook

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/store"
)

// Poster makes one outbound POST. allowPrivate is the endpoint's allowPrivateNetwork: without it the
// implementation must refuse private, loopback, link-local and metadata addresses (see package egress).
type Poster interface {
	Do(req *http.Request, allowPrivate bool) (*http.Response, error)
}

// Options are the Service's dependencies. Config, Store, Queue and HTTP are required.
type Options struct {
	Config *config.Resolved // from config.Config.Validate
	Store  store.Store
	Queue  queue.Sender
	Named  secret.Named     // named signing secrets; required if the config references any
	Users  secret.UserStore // per-user managed secrets; required for the secrets API and user-signed sends
	HTTP   Poster

	Now       func() time.Time // default time.Now
	Rand      io.Reader        // ids and secret values; default crypto/rand
	Jitter    func() float64   // in [0,1) for retry jitter; default math/rand/v2
	Logger    *slog.Logger     // default slog.Default()
	CursorKey []byte           // authenticates list cursors; required
	// EndpointStateTTL is how long a delivery worker may use an endpoint's state (paused or not, health) read
	// before: 0 reads it for every delivery (the local server, whose SQLite store answers from a cache that
	// its own writes keep current); on AWS a few seconds keep healthy deliveries free of reads, and a pause
	// then takes effect within that time.
	EndpointStateTTL time.Duration
	Metrics          Metrics // default: records nothing
	// SucceededLogLevel is the level of a successful attempt's log line; the zero value is INFO. A failed
	// attempt is logged at WARN whatever this says. The Lambda functions set DEBUG: a successful attempt is
	// in the event log and in the metrics already, and CloudWatch Logs bills every byte; the local server
	// keeps INFO, so that its output shows the deliveries being made.
	SucceededLogLevel slog.Level
	// EventQueue, if set, makes a send store its event and queue its first deliveries in one write. A store
	// that keeps the queue in the same database offers it (the local server's SQLite file); it writes to that
	// database's store and queue, so Store and Queue must be the same database's. Nil: a send stores its
	// event, then queues its messages.
	EventQueue EventQueue
}

// EventQueue stores an event and queues messages in one atomic write.
type EventQueue interface {
	// CreateEventQueued is store.Events.CreateEvent, and also sends msgs in the same write: they are queued
	// if and only if the event is stored (with store.ErrDuplicate, neither is written). The event keeps its
	// ID and times.
	CreateEventQueued(ctx context.Context, ev store.Event, msgs []queue.Message) (store.Event, error)
}

// Service is the domain service. It is safe for concurrent use.
type Service struct {
	cfg     *config.Resolved
	store   store.Store
	queue   queue.Sender
	named   secret.Named
	users   secret.UserStore
	http    Poster
	now     func() time.Time
	ids     *idSource
	jitter  func() float64
	log     *slog.Logger
	cursor  []byte
	states  *stateCache
	metrics Metrics
	okLevel slog.Level // SucceededLogLevel
	outbox  EventQueue // nil: none
}

// New checks the options and returns a Service.
func New(o Options) (*Service, error) {
	switch {
	case o.Config == nil:
		return nil, errors.New("webhook: Options.Config is required")
	case o.Store == nil:
		return nil, errors.New("webhook: Options.Store is required")
	case o.Queue == nil:
		return nil, errors.New("webhook: Options.Queue is required")
	case o.HTTP == nil:
		return nil, errors.New("webhook: Options.HTTP is required")
	case len(o.CursorKey) == 0:
		return nil, errors.New("webhook: Options.CursorKey is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Jitter == nil {
		o.Jitter = mathrand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	return &Service{
		cfg:     o.Config,
		store:   o.Store,
		queue:   o.Queue,
		named:   o.Named,
		users:   o.Users,
		http:    o.HTTP,
		now:     func() time.Time { return o.Now().UTC() },
		ids:     newIDSource(o.Rand),
		jitter:  o.Jitter,
		log:     o.Logger,
		cursor:  o.CursorKey,
		states:  &stateCache{ttl: o.EndpointStateTTL},
		metrics: o.Metrics,
		okLevel: o.SucceededLogLevel,
		outbox:  o.EventQueue,
	}, nil
}

// set looks up a webhook set, or returns the client error for an unknown one.
func (s *Service) set(name string) (*config.ResolvedSet, error) {
	set, ok := s.cfg.Set(name)
	if !ok {
		return nil, &Error{Kind: ErrNotFound, Code: "unknown_set", Message: fmt.Sprintf("webhook set %q does not exist", name)}
	}
	return set, nil
}

func invalid(code, format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Code: code, Message: fmt.Sprintf(format, args...)}
}

// msTime truncates to milliseconds in UTC: what every adapter can store exactly.
func msTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
