package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/queue"
)

// maxDelay is the longest delay the SQLite queue takes in one message: long enough that no retry policy
// needs to hop.
const maxDelay = 365 * 24 * time.Hour

// delayQueue is the queue.Queue of a DB: rows of the queue table, leased by setting visible_at in the future.
type delayQueue struct{ db *DB }

var _ queue.Queue = delayQueue{}

// Queue returns the delivery queue kept in db.
func (db *DB) Queue() queue.Queue { return delayQueue{db: db} }

// QueueReady is signalled when a message of the queue may have become visible: after a commit of this
// process that sends a message without delay or releases one, and when a delayed message or a lease comes due.
// Signals coalesce (the channel holds one), so it serves one consumer, which receives until the queue is
// empty after each signal and polls now and then for the writes of other processes.
func (db *DB) QueueReady() <-chan struct{} { return db.notify.ready }

func (q delayQueue) MaxDelay() time.Duration { return maxDelay }

// Send enqueues msgs in one transaction: all or none.
func (q delayQueue) Send(ctx context.Context, msgs ...queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	now := q.db.now()
	var first time.Time // the earliest visible_at of msgs
	err := q.db.w.do(ctx, func(ctx context.Context) error {
		var err error
		first, err = q.db.insertMessages(ctx, msgs, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("enqueue %d messages: %w", len(msgs), err)
	}
	q.db.notify.visibleAt(first)
	return nil
}

// insertMessages inserts msgs into the queue table, inside a write, and returns the earliest time one of
// them becomes visible (notify it once committed).
func (db *DB) insertMessages(ctx context.Context, msgs []queue.Message, now time.Time) (first time.Time, err error) {
	for i, m := range msgs {
		visibleAt := now.Add(min(max(m.Delay, 0), maxDelay))
		if i == 0 || visibleAt.Before(first) {
			first = visibleAt
		}
		body := m.Body
		if body == nil {
			body = []byte{}
		}
		if _, err := db.stmts.enqueue.ExecContext(ctx, body, visibleAt.UnixMilli(), now.UnixMilli()); err != nil {
			return time.Time{}, err
		}
	}
	return first, nil
}

func (q delayQueue) Receive(ctx context.Context, maxMessages int, visibility time.Duration) ([]queue.Received, error) {
	if maxMessages < 1 {
		return nil, fmt.Errorf("receive: max %d is not positive", maxMessages)
	}
	var nonce [12]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	lease := hex.EncodeToString(nonce[:])
	var got []queue.Received
	err := q.db.w.do(ctx, func(ctx context.Context) error {
		now := q.db.now()
		rows, err := q.db.stmts.receive.QueryContext(ctx, now.Add(max(visibility, 0)).UnixMilli(), now.UnixMilli(),
			maxMessages, lease)
		if err != nil {
			return err
		}
		got, err = scanReceived(rows, maxMessages)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	return got, nil
}

func scanReceived(rows *sql.Rows, n int) ([]queue.Received, error) {
	defer rows.Close() //nolint:errcheck // rows.Err reports what matters
	got := make([]queue.Received, 0, n)
	for rows.Next() {
		var (
			id      int64
			receipt string
			m       queue.Received
		)
		if err := rows.Scan(&id, &receipt, &m.Body, &m.ReceiveCount); err != nil {
			return nil, err
		}
		m.ID = strconv.FormatInt(id, 10)
		m.Receipt = m.ID + "." + receipt
		got = append(got, m)
	}
	return got, rows.Err()
}

func (q delayQueue) Delete(ctx context.Context, receipt string) error {
	id, nonce, err := parseReceipt(receipt)
	if err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	err = q.db.w.do(ctx, func(ctx context.Context) error {
		res, err := q.db.stmts.deleteMessage.ExecContext(ctx, id, nonce)
		if err != nil {
			return err
		}
		return affectedOne(res)
	})
	if err != nil {
		return fmt.Errorf("delete message %d: %w", id, err)
	}
	return nil
}

// DeleteBatch deletes the messages of receipts in one transaction. A receipt that is not its message's
// current one (the message was deleted, or received again after its lease ended) is skipped, as Delete
// would have answered queue.ErrNotFound for it.
func (q delayQueue) DeleteBatch(ctx context.Context, receipts []string) error {
	type key struct {
		id    int64
		nonce string
	}
	keys := make([]key, 0, len(receipts))
	for _, r := range receipts {
		if id, nonce, err := parseReceipt(r); err == nil {
			keys = append(keys, key{id, nonce})
		}
	}
	if len(keys) == 0 {
		return nil
	}
	err := q.db.w.do(ctx, func(ctx context.Context) error {
		for _, k := range keys {
			if _, err := q.db.stmts.deleteMessage.ExecContext(ctx, k.id, k.nonce); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %d messages: %w", len(keys), err)
	}
	return nil
}

func (q delayQueue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	id, nonce, err := parseReceipt(receipt)
	if err != nil {
		return fmt.Errorf("change visibility: %w", err)
	}
	visibleAt := q.db.now().Add(max(d, 0))
	err = q.db.w.do(ctx, func(ctx context.Context) error {
		res, err := q.db.stmts.changeVisible.ExecContext(ctx, visibleAt.UnixMilli(), id, nonce)
		if err != nil {
			return err
		}
		return affectedOne(res)
	})
	if err != nil {
		return fmt.Errorf("change visibility of message %d: %w", id, err)
	}
	q.db.notify.visibleAt(visibleAt)
	return nil
}

// affectedOne returns queue.ErrNotFound if res touched no row: the receipt is not the message's current one.
func affectedOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	if n == 0 {
		return queue.ErrNotFound
	}
	return nil
}

// parseReceipt splits a receipt "<message id>.<lease nonce>"; a malformed one is not found.
func parseReceipt(receipt string) (int64, string, error) {
	idText, nonce, ok := strings.Cut(receipt, ".")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || nonce == "" {
		return 0, "", fmt.Errorf("malformed receipt: %w", queue.ErrNotFound)
	}
	return id, nonce, nil
}
