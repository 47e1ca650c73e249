// Package worker runs a pool of delivery workers over a queue: the local server's equivalent of the SQS event
// source that invokes the deliver Lambda. It leases messages (a visibility timeout), hands each body to a
// handler concurrently, deletes the message when the handler succeeds, and lets it come back later when the
// handler fails or the pool shuts down before finishing it.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/outhook/outhook/shared/queue"
)

// Queue is the part of the queue port the pool uses.
type Queue interface {
	Receive(ctx context.Context, max int, visibility time.Duration) ([]queue.Received, error)
	Delete(ctx context.Context, receipt string) error
	ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error
}

// Handler processes one message body. Nil acknowledges (deletes) the message; an error leaves it to be
// received again after a backoff.
type Handler func(ctx context.Context, body []byte) error

// GiveUp is called instead of receiving a message again once its handler failed MaxReceives times, with
// how many times it was received and the last error. Nil acknowledges (deletes) the message; an error
// leaves it to GiveUp again at its next receive (the handler is not called again).
type GiveUp func(ctx context.Context, body []byte, receives int, cause error) error

// Options configure a Pool. Zero values take the defaults.
type Options struct {
	// Workers is how many handler calls run at once. Default 32 (deliveries are I/O bound).
	Workers int
	// Batch is how many messages one Receive asks for. Default 10, like SQS.
	Batch int
	// Visibility is the lease of a received message: it must outlast one handler call, or the message is
	// handed out twice. Default 60 s.
	Visibility time.Duration
	// MinIdle and MaxIdle bound the pause between receives while the queue is empty: it starts at MinIdle
	// and doubles up to MaxIdle. Defaults 25 ms and 200 ms.
	MinIdle, MaxIdle time.Duration
	// Wake, if set, is signalled by the queue when messages may have become visible (see
	// sqlite.DB.QueueReady). The pool then receives as soon as it is signalled, and while the queue is
	// empty it waits for a signal, polling only every MaxIdle as the fallback for what the signal does not
	// cover (another process's writes).
	Wake <-chan struct{}
	// MaxRetryDelay caps the wait before a message whose handler failed is received again (1 s doubling
	// with every receive). Default 1 min.
	MaxRetryDelay time.Duration
	// MaxReceives bounds the handler calls of one message, like SQS's maxReceiveCount: when the handler
	// fails on the MaxReceives-th receive, GiveUp decides the message's end. Default 5; it takes effect
	// only with a GiveUp.
	MaxReceives int
	GiveUp      GiveUp
	// Logger receives handler and queue errors. Nil: slog.Default().
	Logger *slog.Logger
}

func (o *Options) applyDefaults() {
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.Batch <= 0 {
		o.Batch = 10
	}
	if o.Visibility <= 0 {
		o.Visibility = time.Minute
	}
	if o.MinIdle <= 0 {
		o.MinIdle = 25 * time.Millisecond
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = 200 * time.Millisecond
	}
	o.MaxIdle = max(o.MaxIdle, o.MinIdle)
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = time.Minute
	}
	if o.MaxReceives <= 0 {
		o.MaxReceives = DefaultMaxReceives
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DefaultMaxReceives is the default Options.MaxReceives: SQS's maxReceiveCount in the CDK construct.
const DefaultMaxReceives = 5

// errGivenUp: a message whose handler already failed MaxReceives times is not handled again.
var errGivenUp = errors.New("the handler failed on every receive allowed")

// ackTimeout bounds a Delete or ChangeVisibility, which run even while the pool shuts down.
const ackTimeout = 5 * time.Second

// Pool is a set of workers over one queue.
type Pool struct {
	q    Queue
	h    Handler
	opts Options
}

// New returns a pool that feeds the messages of q to h.
func New(q Queue, h Handler, opts Options) *Pool {
	opts.applyDefaults()
	return &Pool{q: q, h: h, opts: opts}
}

// Run receives and handles messages until ctx is done. Then it stops receiving, releases the messages
// received but not yet started, waits up to drain for the handler calls in flight, cancels those still
// running, makes their messages visible again at once so that the next run (or another pool) picks them up,
// and returns. It returns nil on a shutdown by ctx.
//
// Messages are received a batch at a time ahead of the workers: the pool holds at most Workers + Batch
// messages (running or waiting), and receives again once a whole batch has been handled, so that a busy pool
// makes one Receive per Batch messages rather than one per message.
func (p *Pool) Run(ctx context.Context, drain time.Duration) error {
	// Handler calls outlive ctx by up to drain: they get their own context, cancelled after the drain.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	held := make(chan struct{}, p.opts.Workers+p.opts.Batch) // one token per message held
	ready := make(chan queue.Received, p.opts.Workers+p.opts.Batch)
	// A handled message is deleted in the background while its worker takes the next one: the delete waits
	// for a commit, and a crash before it only means the message is handled again (the handler is
	// idempotent per message, as it must be for at-least-once delivery). Deletes are grouped (see
	// deleteLoop); a full channel makes the workers wait for them.
	handled := make(chan queue.Received, p.opts.Workers)
	var wg, deletes sync.WaitGroup
	deletes.Go(func() { p.deleteLoop(work, handled) })
	for range p.opts.Workers {
		wg.Go(func() {
			for m := range ready {
				if ctx.Err() != nil {
					p.release(work, m)
				} else if p.handle(work, m) {
					handled <- m
				}
				<-held
			}
		})
	}

	idle := p.opts.MinIdle
	for p.acquire(ctx, held) {
		// A signal sent before this receive is answered by it: drop it, so that the wait below ends only
		// for messages that this receive may have missed.
		select {
		case <-p.opts.Wake:
		default:
		}
		msgs, err := p.q.Receive(ctx, p.opts.Batch, p.opts.Visibility)
		if err != nil && ctx.Err() == nil {
			p.opts.Logger.ErrorContext(ctx, "receive from the delivery queue", "error", err)
		}
		for range p.opts.Batch - len(msgs) {
			<-held
		}
		for _, m := range msgs {
			ready <- m
		}
		switch {
		case p.opts.Wake != nil && len(msgs) < p.opts.Batch:
			// Fewer than asked: nothing else was visible. Wait for the next signal.
			p.wait(ctx, p.opts.MaxIdle)
		case len(msgs) == 0:
			p.wait(ctx, idle)
			idle = min(2*idle, p.opts.MaxIdle)
		default:
			idle = p.opts.MinIdle
		}
	}
	close(ready)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		p.opts.Logger.Warn("shutdown: drain deadline passed, releasing the messages still in flight")
		cancelWork()
		<-done
	}
	close(handled)
	deletes.Wait()
	return nil
}

// deleteLinger is how long the deleter waits for more handled messages before deleting those it holds:
// at a steady rate, a few deletes share one write instead of one each, and a delete that waits a little
// costs nothing (the message stays leased).
const deleteLinger = 5 * time.Millisecond

// deleteLoop deletes the handled messages, up to Workers at a time, until handled is closed.
func (p *Pool) deleteLoop(work context.Context, handled <-chan queue.Received) {
	batch := make([]queue.Received, 0, p.opts.Workers)
	linger := time.NewTimer(deleteLinger)
	defer linger.Stop()
	for m := range handled {
		batch = append(batch[:0], m)
		linger.Reset(deleteLinger)
	collect:
		for len(batch) < cap(batch) {
			select {
			case m, ok := <-handled:
				if !ok {
					break collect
				}
				batch = append(batch, m)
			case <-linger.C:
				break collect
			}
		}
		p.delete(work, batch)
	}
}

// acquire takes the tokens of a whole batch, waiting for the workers to hand them back. It returns false,
// holding none, when ctx ends first.
func (p *Pool) acquire(ctx context.Context, held chan struct{}) bool {
	for n := range p.opts.Batch {
		select {
		case held <- struct{}{}:
		case <-ctx.Done():
			for range n {
				<-held
			}
			return false
		}
	}
	return true
}

// release makes a message received but not handled visible again at once.
func (p *Pool) release(work context.Context, m queue.Received) {
	ack, cancel := context.WithTimeout(context.WithoutCancel(work), ackTimeout)
	defer cancel()
	if err := p.q.ChangeVisibility(ack, m.Receipt, 0); err != nil && !errors.Is(err, queue.ErrNotFound) {
		p.opts.Logger.Error("release a message at shutdown", "message", m.ID, "error", err)
	}
}

// handle runs the handler on one message and reports whether it succeeded (the caller deletes the message);
// otherwise it releases the message at shutdown or delays it by the retry backoff.
func (p *Pool) handle(work context.Context, m queue.Received) bool {
	var err error
	if p.opts.GiveUp != nil && m.ReceiveCount > p.opts.MaxReceives {
		err = errGivenUp // GiveUp failed at an earlier receive: only it is tried again
	} else {
		err = p.h(work, m.Body)
	}
	if err != nil && work.Err() == nil && p.opts.GiveUp != nil && m.ReceiveCount >= p.opts.MaxReceives {
		gerr := p.opts.GiveUp(work, m.Body, m.ReceiveCount, err)
		if gerr == nil {
			return true
		}
		err = errors.Join(err, fmt.Errorf("give up: %w", gerr))
	}
	switch {
	case err == nil:
		return true
	case work.Err() != nil:
		// Shutting down: make it visible now rather than after the lease.
		p.release(work, m)
	default:
		delay := p.retryDelay(m.ReceiveCount)
		p.opts.Logger.Error("handle a message", "message", m.ID, "receiveCount", m.ReceiveCount,
			"retryIn", delay, "error", err)
		ack, cancel := context.WithTimeout(context.WithoutCancel(work), ackTimeout)
		defer cancel()
		if err := p.q.ChangeVisibility(ack, m.Receipt, delay); err != nil && !errors.Is(err, queue.ErrNotFound) {
			p.opts.Logger.Error("delay a failed message", "message", m.ID, "error", err)
		}
	}
	return false
}

// batchDeleter is a queue that deletes several messages in one write (the SQLite queue: one transaction).
type batchDeleter interface {
	DeleteBatch(ctx context.Context, receipts []string) error
}

// delete acknowledges handled messages: in one call if the queue takes a batch, else concurrently.
func (p *Pool) delete(work context.Context, msgs []queue.Received) {
	ack, cancel := context.WithTimeout(context.WithoutCancel(work), ackTimeout)
	defer cancel()
	if bd, ok := p.q.(batchDeleter); ok {
		receipts := make([]string, len(msgs))
		for i, m := range msgs {
			receipts[i] = m.Receipt
		}
		if err := bd.DeleteBatch(ack, receipts); err != nil {
			p.opts.Logger.Error("delete handled messages", "count", len(msgs), "error", err)
		}
		return
	}
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Go(func() {
			if err := p.q.Delete(ack, m.Receipt); err != nil && !errors.Is(err, queue.ErrNotFound) {
				p.opts.Logger.Error("delete a handled message", "message", m.ID, "error", err)
			}
		})
	}
	wg.Wait()
}

// retryDelay is 1 s doubled with every receive, capped at MaxRetryDelay.
func (p *Pool) retryDelay(receiveCount int) time.Duration {
	d := time.Second
	for i := 1; i < receiveCount && d < p.opts.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, p.opts.MaxRetryDelay)
}

// wait returns after d, at a signal on Wake, or when ctx ends.
func (p *Pool) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.opts.Wake:
	case <-ctx.Done():
	}
}
