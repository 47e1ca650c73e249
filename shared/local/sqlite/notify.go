package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// notifier tells the queue's consumer when a message may have become visible, so that it receives at once
// instead of waiting for its next poll (River's notify-on-insert, within one process). Commits of this
// process that make a message visible now signal at once; those that make one visible later arm a timer for
// the earliest such time, and when it fires the timer is armed again for the next message not yet visible.
// Another process's writes are not seen: the consumer still polls, slowly, as the fallback.
type notifier struct {
	db    *DB
	ready chan struct{} // capacity one: signals coalesce while the consumer is busy

	mu     sync.Mutex
	timer  *time.Timer
	due    time.Time // when the armed timer fires, on the queue's clock; zero: not armed
	closed bool
}

func newNotifier(db *DB) *notifier {
	return &notifier{db: db, ready: make(chan struct{}, 1)}
}

func (n *notifier) signal() {
	select {
	case n.ready <- struct{}{}:
	default:
	}
}

// visibleAt is called after a commit that makes a message visible at t.
func (n *notifier) visibleAt(t time.Time) {
	d := t.Sub(n.db.now())
	if d <= 0 {
		n.signal()
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || !n.due.IsZero() && !t.Before(n.due) {
		return
	}
	n.due = t
	if n.timer == nil {
		n.timer = time.AfterFunc(d, n.fire)
	} else {
		n.timer.Reset(d)
	}
}

// fire signals, then arms the timer for the next message that is not visible yet, if any.
func (n *notifier) fire() {
	n.mu.Lock()
	n.due = time.Time{}
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return
	}
	n.signal()
	var next sql.NullInt64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// An error (the database closing) leaves the timer unarmed: the consumer's polling remains.
	if err := n.db.stmts.nextVisible.QueryRowContext(ctx, n.db.now().UnixMilli()).Scan(&next); err == nil && next.Valid {
		n.visibleAt(time.UnixMilli(next.Int64))
	}
}

func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.timer != nil {
		n.timer.Stop()
	}
}
