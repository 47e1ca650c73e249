package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// errClosed is returned by writes made after Close.
var errClosed = errors.New("sqlite: database closed")

// maxBatch bounds how many writes share one transaction.
const maxBatch = 128

// writer runs every write on the one write connection and commits the writes that arrive together in one
// transaction (group commit). A commit in WAL mode writes each changed page to the log once, so concurrent
// sends, receives and attempts that touch the same pages cost one commit instead of one each. A caller gets
// its result only after the commit that holds its write.
type writer struct {
	stmts *statements   // begin, commit and rollback
	ops   chan *writeOp // unbuffered: a write is either taken by the loop or not sent at all
	quit  chan struct{}
	ended chan struct{}
}

// A writeOp is one write. fn runs inside the batch's transaction and must either succeed, or fail having
// changed nothing (a constraint violation undoes its statement only; a statement that matched no row changes
// nothing), or fail with an SQLite error that ends the transaction or with a rollbackError, after which the
// batch runs again one write per transaction. fn may therefore run twice and must set its results anew on
// each run.
type writeOp struct {
	ctx  context.Context
	fn   func(ctx context.Context) error
	done chan error
}

func newWriter(stmts *statements) *writer {
	w := &writer{stmts: stmts, ops: make(chan *writeOp), quit: make(chan struct{}), ended: make(chan struct{})}
	go w.loop()
	return w
}

// do runs fn in a write transaction and returns once it is committed (nil) or failed. Once the loop has taken
// the write, do waits for its outcome even if ctx ends, so that the caller never mistakes a committed write
// for a failed one.
func (w *writer) do(ctx context.Context, fn func(ctx context.Context) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case w.ops <- op:
		return <-op.done
	case <-ctx.Done():
		return fmt.Errorf("wait for the writer: %w", ctx.Err())
	case <-w.quit:
		return errClosed
	}
}

// close stops the loop after the batch in progress.
func (w *writer) close() {
	close(w.quit)
	<-w.ended
}

func (w *writer) loop() {
	defer close(w.ended)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-w.ops:
			batch = append(batch[:0], op)
		case <-w.quit:
			return
		}
		// Writers woken by the last commit are usually about to send their next write: let them, so that
		// the batch holds them too instead of this one write alone (measured: batches of ~1 -> ~17 writes).
		runtime.Gosched()
	collect:
		for len(batch) < maxBatch {
			select {
			case op := <-w.ops:
				batch = append(batch, op)
			default:
				break collect
			}
		}
		w.run(batch)
	}
}

// run commits batch in one transaction, or, if that fails, each write in a transaction of its own.
func (w *writer) run(batch []*writeOp) {
	live := batch[:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.done <- fmt.Errorf("before writing: %w", err)
			continue
		}
		live = append(live, op)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- w.runAlone(live[0])
		return
	}

	ctx := context.Background()
	if _, err := w.stmts.begin.ExecContext(ctx); err != nil {
		w.runEach(live)
		return
	}
	errs := make([]error, len(live))
	for i, op := range live {
		errs[i] = op.fn(ctx)
		if endsTransaction(errs[i]) {
			w.rollback()
			w.runEach(live)
			return
		}
	}
	if _, err := w.stmts.commit.ExecContext(ctx); err != nil {
		w.rollback()
		w.runEach(live)
		return
	}
	for i, op := range live {
		op.done <- errs[i]
	}
}

func (w *writer) runEach(ops []*writeOp) {
	for _, op := range ops {
		op.done <- w.runAlone(op)
	}
}

// runAlone runs one write in a transaction of its own.
func (w *writer) runAlone(op *writeOp) error {
	ctx := context.Background()
	if _, err := w.stmts.begin.ExecContext(ctx); err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	if err := op.fn(ctx); err != nil {
		w.rollback()
		return err
	}
	if _, err := w.stmts.commit.ExecContext(ctx); err != nil {
		w.rollback()
		return fmt.Errorf("commit write: %w", err)
	}
	return nil
}

// rollback ends the open transaction, if any. SQLite may have rolled it back already, in which case
// ROLLBACK fails harmlessly.
func (w *writer) rollback() {
	w.stmts.rollback.ExecContext(context.Background()) //nolint:errcheck // see above
}

// rollbackError is returned by a write that failed after writing: its transaction must be rolled back
// (the batch then runs again one write per transaction, and this write's transaction is rolled back).
type rollbackError struct{ err error }

func (e *rollbackError) Error() string { return e.err.Error() }
func (e *rollbackError) Unwrap() error { return e.err }

// endsTransaction reports whether err may have rolled back the whole transaction, or must: any SQLite error
// except a constraint violation, which undoes its own statement only; a rollbackError.
func endsTransaction(err error) bool {
	var rb *rollbackError
	if errors.As(err, &rb) {
		return true
	}
	var se *sqlitedriver.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT
}
