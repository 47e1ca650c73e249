package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/store"
)

// eventStore is the store.Store of a DB.
type eventStore struct{ db *DB }

var _ store.Store = eventStore{}

// Store returns the event store kept in db.
func (db *DB) Store() store.Store { return eventStore{db: db} }

// deliveryRow is how a store.Delivery is kept in the events.deliveries JSON column.
type deliveryRow struct {
	Endpoint       string `json:"endpoint"`
	URL            string `json:"url"`
	FirstAttemptID string `json:"firstAttemptId"`
	UserID         string `json:"userId,omitempty"`
}

func (s eventStore) CreateEvent(ctx context.Context, ev store.Event) (store.Event, error) {
	return s.createEvent(ctx, ev, nil)
}

// CreateEventQueued stores ev as CreateEvent does and enqueues msgs in the same transaction, so that a send
// commits once (webhook.EventQueue): the messages are queued with the event or not at all.
func (db *DB) CreateEventQueued(ctx context.Context, ev store.Event, msgs []queue.Message) (store.Event, error) {
	return eventStore{db: db}.createEvent(ctx, ev, msgs)
}

// createEvent stores ev and enqueues msgs in one write.
func (s eventStore) createEvent(ctx context.Context, ev store.Event, msgs []queue.Message) (store.Event, error) {
	ev.CreatedAt, ev.ExpiresAt = toMs(ev.CreatedAt), toMs(ev.ExpiresAt)
	rows := make([]deliveryRow, len(ev.Deliveries))
	for i, d := range ev.Deliveries {
		rows[i] = deliveryRow(d)
	}
	deliveries, err := json.Marshal(rows)
	if err != nil {
		return store.Event{}, fmt.Errorf("encode deliveries of event %s: %w", ev.ID, err)
	}
	payload := []byte(ev.Payload)
	if payload == nil {
		payload = []byte{}
	}
	now := s.db.now()
	var first time.Time // the earliest visible_at of msgs
	err = s.db.w.do(ctx, func(ctx context.Context) error {
		_, err := s.db.stmts.insertEvent.ExecContext(ctx, ev.ID, ev.Set, ev.Type, payload, ev.UserID,
			ev.IdempotencyKey, ev.RequestHash, deliveries, unixMs(ev.CreatedAt), unixMs(ev.ExpiresAt))
		if err != nil || len(msgs) == 0 {
			return err // a conflict on the id changed nothing
		}
		if first, err = s.db.insertMessages(ctx, msgs, now); err != nil {
			// The event is written: undo it with the transaction.
			return &rollbackError{err: fmt.Errorf("enqueue %d messages: %w", len(msgs), err)}
		}
		return nil
	})
	if err == nil {
		if len(msgs) > 0 {
			s.db.notify.visibleAt(first)
		}
		return ev, nil
	}
	err = interpretError(err, store.ErrNotFound, store.ErrConflict)
	if errors.Is(err, store.ErrConflict) && ev.IdempotencyKey != "" {
		// Writes are serialised, so the event holding the id has been committed and is there to read.
		existing, gerr := scanEvent(s.db.stmts.getEvent.QueryRowContext(ctx, ev.ID, ev.Set))
		switch {
		case gerr == nil && existing.IdempotencyKey == ev.IdempotencyKey:
			return existing, fmt.Errorf("create event %s: written already by a call with its key: %w", ev.ID,
				store.ErrDuplicate)
		case gerr != nil && !errors.Is(gerr, sql.ErrNoRows):
			return store.Event{}, fmt.Errorf("read event holding the reserved id: %w", gerr)
		}
	}
	return store.Event{}, fmt.Errorf("create event %s: %w", ev.ID, err)
}

// ReserveKey writes the key's row in one statement, which also takes the place of a reservation that has
// expired but is not purged yet; when the key is held, it reads the row that holds it in the same transaction.
func (s eventStore) ReserveKey(ctx context.Context, ev store.Event) (store.Reservation, error) {
	created, expires := toMs(ev.CreatedAt), toMs(ev.ExpiresAt)
	var (
		held     store.Reservation
		reserved bool
	)
	err := s.db.w.do(ctx, func(ctx context.Context) error {
		var id string
		err := s.db.stmts.reserveKey.QueryRowContext(ctx, ev.Set, ev.IdempotencyKey, ev.ID, ev.RequestHash,
			unixMs(created), unixMs(expires), unixMs(s.db.now())).Scan(&id)
		reserved = err == nil
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var createdMs int64
		if err := s.db.stmts.getKeyForWrite.QueryRowContext(ctx, ev.Set, ev.IdempotencyKey).Scan(&held.EventID,
			&held.RequestHash, &createdMs); err != nil {
			return fmt.Errorf("read the reservation that holds the key: %w", err)
		}
		held.CreatedAt = time.Time{} // fn may run twice
		if createdMs > 0 {
			held.CreatedAt = fromUnixMs(createdMs)
		}
		return nil
	})
	switch {
	case err != nil:
		return store.Reservation{}, fmt.Errorf("reserve idempotency key for event %s: %w", ev.ID, err)
	case !reserved:
		return held, fmt.Errorf("reserve idempotency key for event %s: held by %s: %w", ev.ID, held.EventID,
			store.ErrDuplicate)
	}
	return store.Reservation{EventID: ev.ID, RequestHash: ev.RequestHash, CreatedAt: created}, nil
}

func (s eventStore) GetEvent(ctx context.Context, set, id string) (store.Record, error) {
	rec, err := scanRecord(s.db.stmts.getRecord.QueryRowContext(ctx, id, set))
	if err != nil {
		return store.Record{}, fmt.Errorf("get event %s: %w", id, interpretError(err, store.ErrNotFound, store.ErrConflict))
	}
	return rec, nil
}

// ListEvents reads the set's events newest first in batches, within the id window and, with a user, through
// the events_user index; records that opts.Match refuses are skipped and the next batch is read.
func (s eventStore) ListEvents(ctx context.Context, set string, opts store.ListOptions) (store.Page, error) {
	if opts.Limit < 1 {
		return store.Page{}, fmt.Errorf("list events of %s: limit %d is not positive", set, opts.Limit)
	}
	before := opts.UntilID
	if opts.Cursor != "" {
		after, ok := decodeCursor(opts.Cursor)
		if !ok {
			return store.Page{}, fmt.Errorf("list events of %s: %w", set, store.ErrInvalidCursor)
		}
		if before == "" || after < before {
			before = after
		}
	}
	if before == "" {
		before = "\uffff" // above every id
	}
	// One more than asked tells whether another page follows.
	want := opts.Limit + 1
	records := make([]store.Record, 0, want)
	for len(records) < want {
		batch, err := s.listBatch(ctx, set, opts, before, want)
		if err != nil {
			return store.Page{}, fmt.Errorf("list events of %s: %w", set, err)
		}
		for _, rec := range batch {
			if opts.Match == nil || opts.Match(rec) {
				records = append(records, rec)
			}
		}
		if len(batch) < want {
			break
		}
		before = batch[len(batch)-1].Event.ID
	}
	return store.PageOf(records, opts.Limit, opts, encodeCursor), nil
}

// listBatch reads up to n records of the set with SinceID <= id < before, newest first.
func (s eventStore) listBatch(ctx context.Context, set string, opts store.ListOptions, before string, n int) ([]store.Record, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if opts.UserID != "" {
		rows, err = s.db.stmts.listUserRecords.QueryContext(ctx, set, opts.UserID, before, opts.SinceID, n)
	} else {
		rows, err = s.db.stmts.listRecords.QueryContext(ctx, set, before, opts.SinceID, n)
	}
	if err != nil {
		return nil, err
	}
	return scanRecords(rows, n)
}

func (s eventStore) PutAttempt(ctx context.Context, a store.Attempt) error {
	headers, err := json.Marshal(a.RequestHeaders)
	if err != nil {
		return fmt.Errorf("encode headers of attempt %s: %w", a.ID, err)
	}
	err = s.db.w.do(ctx, func(ctx context.Context) error {
		// An existing row is replaced only if it is this attempt's placeholder; otherwise no row changes.
		res, err := s.db.stmts.insertAttempt.ExecContext(ctx, a.EventID, a.Endpoint, a.Number, a.ID,
			unixMs(a.StartedAt), int64(a.Duration), headers, a.ResponseStatus, a.ResponseBody, a.Error,
			string(a.Outcome), unixMs(a.NextAttemptAt), a.NextAttemptID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(store.ErrConflict, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put attempt %d of event %s to %s: %w", a.Number, a.EventID, a.Endpoint,
			interpretError(err, store.ErrNotFound, store.ErrConflict))
	}
	return nil
}

// purgeBatch bounds how many events one Purge transaction deletes, so that the writer is never held for long.
const purgeBatch = 500

// Purge deletes the events whose ExpiresAt is at or before now, with their attempts, and the idempotency keys
// that expired with them (and the attempts of a key's event that was never written), and returns how many
// events it deleted. The local server calls it periodically.
func (db *DB) Purge(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n, more, err := db.purgeOnce(ctx, unixMs(now))
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// purgeOnce deletes a batch; more reports that a batch was full.
func (db *DB) purgeOnce(ctx context.Context, nowMs int64) (events int, more bool, err error) {
	var purged, keys int64
	err = db.w.do(ctx, func(ctx context.Context) error {
		if _, err := db.stmts.purgeAttempts.ExecContext(ctx, nowMs, purgeBatch); err != nil {
			return fmt.Errorf("purge attempts: %w", err)
		}
		if _, err := db.stmts.purgeHolds.ExecContext(ctx, nowMs, purgeBatch); err != nil {
			return fmt.Errorf("purge released holds: %w", err)
		}
		res, err := db.stmts.purgeEvents.ExecContext(ctx, nowMs, purgeBatch)
		if err != nil {
			return fmt.Errorf("purge events: %w", err)
		}
		if purged, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("count purged events: %w", err)
		}
		if _, err := db.stmts.purgeKeyAttempts.ExecContext(ctx, nowMs, purgeBatch); err != nil {
			return fmt.Errorf("purge attempts of expired keys: %w", err)
		}
		res, err = db.stmts.purgeKeys.ExecContext(ctx, nowMs, purgeBatch)
		if err != nil {
			return fmt.Errorf("purge expired keys: %w", err)
		}
		if keys, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("count purged keys: %w", err)
		}
		return nil
	})
	return int(purged), purged == purgeBatch || keys == purgeBatch, err
}

// newRecord orders attempts by their endpoint's place in the event's deliveries, then by number. Attempts
// of an endpoint the event does not list (none are expected) come last.
func newRecord(ev store.Event, attempts []store.Attempt) store.Record {
	order := make(map[string]int, len(ev.Deliveries))
	for i, d := range ev.Deliveries {
		order[d.Endpoint] = i
	}
	rank := func(endpoint string) int {
		if i, ok := order[endpoint]; ok {
			return i
		}
		return len(ev.Deliveries)
	}
	slices.SortStableFunc(attempts, func(a, b store.Attempt) int {
		if c := rank(a.Endpoint) - rank(b.Endpoint); c != 0 {
			return c
		}
		if c := strings.Compare(a.Endpoint, b.Endpoint); c != 0 {
			return c
		}
		return a.Number - b.Number
	})
	return store.Record{Event: ev, Attempts: attempts}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanEvent reads the eventColumns of row, then the extra columns into extra.
func scanEvent(row scanner, extra ...any) (store.Event, error) {
	var (
		ev                 store.Event
		payload, delivs    []byte
		created, expiresMs int64
	)
	dest := append([]any{&ev.ID, &ev.Set, &ev.Type, &payload, &ev.UserID, &ev.IdempotencyKey, &ev.RequestHash,
		&delivs, &created, &expiresMs}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Event{}, err
	}
	var rows []deliveryRow
	if err := json.Unmarshal(delivs, &rows); err != nil {
		return store.Event{}, fmt.Errorf("decode deliveries of event %s: %w", ev.ID, err)
	}
	if rows != nil {
		ev.Deliveries = make([]store.Delivery, len(rows))
		for i, r := range rows {
			ev.Deliveries[i] = store.Delivery(r)
		}
	}
	ev.Payload = payload
	ev.CreatedAt, ev.ExpiresAt = fromUnixMs(created), fromUnixMs(expiresMs)
	return ev, nil
}

// attemptRow is an attempt as recordColumns put it in JSON.
type attemptRow struct {
	Endpoint       string            `json:"endpoint"`
	Number         int               `json:"number"`
	ID             string            `json:"id"`
	StartedAt      int64             `json:"startedAt"`
	DurationNs     int64             `json:"durationNs"`
	RequestHeaders map[string]string `json:"requestHeaders"`
	ResponseStatus int               `json:"responseStatus"`
	ResponseBody   string            `json:"responseBody"`
	Error          string            `json:"error"`
	Outcome        string            `json:"outcome"`
	NextAttemptAt  int64             `json:"nextAttemptAt"`
	NextAttemptID  string            `json:"nextAttemptId"`
}

// scanRecord reads the recordColumns of row.
func scanRecord(row scanner) (store.Record, error) {
	var attemptsJSON, holdsJSON []byte
	ev, err := scanEvent(row, &attemptsJSON, &holdsJSON)
	if err != nil {
		return store.Record{}, err
	}
	var rows []attemptRow
	if err := json.Unmarshal(attemptsJSON, &rows); err != nil {
		return store.Record{}, fmt.Errorf("decode attempts of event %s: %w", ev.ID, err)
	}
	attempts := make([]store.Attempt, len(rows))
	for i, r := range rows {
		// An attempt's set and expiry are its event's (the domain gives it those, and Purge deletes
		// attempts with their event), so they are not stored again.
		attempts[i] = store.Attempt{
			Set: ev.Set, EventID: ev.ID, Endpoint: r.Endpoint, ID: r.ID, Number: r.Number,
			StartedAt: fromUnixMs(r.StartedAt), Duration: time.Duration(r.DurationNs),
			RequestHeaders: r.RequestHeaders, ResponseStatus: r.ResponseStatus, ResponseBody: r.ResponseBody,
			Error: r.Error, Outcome: store.Outcome(r.Outcome),
			NextAttemptAt: fromUnixMs(r.NextAttemptAt), NextAttemptID: r.NextAttemptID,
			ExpiresAt: ev.ExpiresAt,
		}
	}
	rec := newRecord(ev, attempts)
	var holds []holdMarkRow
	if err := json.Unmarshal(holdsJSON, &holds); err != nil {
		return store.Record{}, fmt.Errorf("decode hold marks of event %s: %w", ev.ID, err)
	}
	for _, h := range holds {
		rec.Holds = append(rec.Holds, store.HoldMark{Endpoint: h.Endpoint, Number: h.Number, HeldAt: fromUnixMs(h.HeldAt),
			Released: h.Released == 1})
	}
	slices.SortFunc(rec.Holds, func(a, b store.HoldMark) int {
		if c := strings.Compare(a.Endpoint, b.Endpoint); c != 0 {
			return c
		}
		return a.Number - b.Number
	})
	return rec, nil
}

// holdMarkRow is a hold mark as recordColumns put it in JSON.
type holdMarkRow struct {
	Endpoint string `json:"endpoint"`
	Number   int    `json:"number"`
	HeldAt   int64  `json:"heldAt"`
	Released int    `json:"released"`
}

func scanRecords(rows *sql.Rows, n int) ([]store.Record, error) {
	defer rows.Close() //nolint:errcheck // rows.Err reports what matters
	records := make([]store.Record, 0, n)
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		records = append(records, rec)
	}
	return records, rows.Err()
}

// Cursors are the base64 of the last id of the page before.

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(cursor string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", false
	}
	id := string(b)
	const prefix = "whevt_"
	if !strings.HasPrefix(id, prefix) || len(id) <= len(prefix) || len(id) > 64 {
		return "", false
	}
	for _, c := range id[len(prefix):] {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return "", false
		}
	}
	return id, true
}

// Times are kept as Unix milliseconds, the zero time as 0.

func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnixMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// toMs is t as it reads back: truncated to the millisecond, in UTC.
func toMs(t time.Time) time.Time { return fromUnixMs(unixMs(t)) }
