package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// statements are the prepared statements: the writes on the writer's connection, the reads on the read pool
// (database/sql prepares those again on each connection of the pool the first time they run there).
type statements struct {
	// writes
	begin, commit, rollback *sql.Stmt
	insertEvent             *sql.Stmt
	reserveKey              *sql.Stmt
	getKeyForWrite          *sql.Stmt
	insertAttempt           *sql.Stmt
	enqueue                 *sql.Stmt
	receive                 *sql.Stmt
	deleteMessage           *sql.Stmt
	changeVisible           *sql.Stmt
	insertSecret            *sql.Stmt
	rotateSecret            *sql.Stmt
	getSecretForWrite       *sql.Stmt
	insertSetting           *sql.Stmt
	purgeAttempts           *sql.Stmt
	purgeHolds              *sql.Stmt
	purgeEvents             *sql.Stmt
	purgeKeyAttempts        *sql.Stmt
	purgeKeys               *sql.Stmt
	// reads
	getRecord       *sql.Stmt
	getEvent        *sql.Stmt
	listRecords     *sql.Stmt
	listUserRecords *sql.Stmt
	getSecret       *sql.Stmt
	getSetting      *sql.Stmt
	nextVisible     *sql.Stmt
	getEndpoint     *sql.Stmt // read by every delivery

	all []*sql.Stmt
}

const (
	eventColumns = `id, set_name, type, payload, user_id, idem_key, req_hash, deliveries, created_at, expires_at`
	// recordColumns are an event's columns and its attempts as a JSON array, so that one statement (one read
	// transaction) reads a whole record.
	recordColumns = eventColumns + `, (SELECT json_group_array(json_object(
		'endpoint', a.endpoint, 'number', a.number, 'id', a.id, 'startedAt', a.started_at,
		'durationNs', a.duration_ns, 'requestHeaders', json(a.request_headers),
		'responseStatus', a.response_status, 'responseBody', a.response_body, 'error', a.error,
		'outcome', a.outcome, 'nextAttemptAt', a.next_attempt_at, 'nextAttemptId', a.next_attempt_id))
		FROM attempts a WHERE a.event_id = events.id),
		(SELECT json_group_array(json_object('endpoint', h.endpoint, 'number', h.number, 'heldAt', h.held_at,
			'released', h.released))
		FROM holds h WHERE h.event_id = events.id)`
	secretColumns = `current_value, current_created_at, previous`
	// expired selects a batch of expired events; ?1 is now in Unix milliseconds, ?2 the batch size.
	expired = `SELECT id FROM events WHERE expires_at > 0 AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2`
	// expiredKeys selects a batch of expired idempotency keys, likewise.
	expiredKeys = `SELECT set_name, idem_key, event_id FROM idem_keys WHERE expires_at > 0 AND expires_at <= ?1
		ORDER BY expires_at LIMIT ?2`
)

// preparer is a *sql.Conn or a *sql.DB.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (s *statements) prepare(ctx context.Context, write *sql.Conn, read *sql.DB) error {
	for _, p := range []struct {
		db    preparer
		stmt  **sql.Stmt
		query string
	}{
		{write, &s.begin, `BEGIN IMMEDIATE`},
		{write, &s.commit, `COMMIT`},
		{write, &s.rollback, `ROLLBACK`},
		{write, &s.insertEvent, `INSERT INTO events (` + eventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{write, &s.insertAttempt, `INSERT INTO attempts (event_id, endpoint, number, id, started_at, duration_ns,
			request_headers, response_status, response_body, error, outcome, next_attempt_at, next_attempt_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (event_id, endpoint, number) DO UPDATE SET started_at = excluded.started_at,
				duration_ns = excluded.duration_ns, request_headers = excluded.request_headers,
				response_status = excluded.response_status, response_body = excluded.response_body,
				error = excluded.error, outcome = excluded.outcome, next_attempt_at = excluded.next_attempt_at,
				next_attempt_id = excluded.next_attempt_id
			WHERE attempts.outcome = 'scheduled' AND attempts.id = excluded.id`},
		// A key is reserved unless a reservation that has not expired (?7: now) holds it: a row is returned
		// only when this one was written.
		{write, &s.reserveKey, `INSERT INTO idem_keys (set_name, idem_key, event_id, req_hash, created_at, expires_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6)
			ON CONFLICT (set_name, idem_key) DO UPDATE SET event_id = excluded.event_id, req_hash = excluded.req_hash,
				created_at = excluded.created_at, expires_at = excluded.expires_at
			WHERE idem_keys.expires_at > 0 AND idem_keys.expires_at <= ?7
			RETURNING event_id`},
		{write, &s.getKeyForWrite, `SELECT event_id, req_hash, created_at FROM idem_keys
			WHERE set_name = ? AND idem_key = ?`},
		{write, &s.enqueue, `INSERT INTO queue (body, visible_at, receipt, receive_count, created_at)
			VALUES (?, ?, '', 0, ?)`},
		// One statement leases up to ?3 visible messages: no other receiver can get them until ?1. ?4 is the
		// lease's nonce (a receipt is "<id>.<nonce>": unique per message and receive).
		{write, &s.receive, `UPDATE queue
			SET visible_at = ?1, receipt = ?4, receive_count = receive_count + 1
			WHERE id IN (SELECT id FROM queue WHERE visible_at <= ?2 ORDER BY visible_at LIMIT ?3)
			RETURNING id, receipt, body, receive_count`},
		{write, &s.deleteMessage, `DELETE FROM queue WHERE id = ? AND receipt = ?`},
		{write, &s.changeVisible, `UPDATE queue SET visible_at = ? WHERE id = ? AND receipt = ?`},
		{write, &s.insertSecret, `INSERT INTO user_secrets (set_name, user_id, current_value, current_created_at)
			VALUES (?, ?, ?, ?)`},
		{write, &s.getSecretForWrite, `SELECT ` + secretColumns + ` FROM user_secrets WHERE set_name = ? AND user_id = ?`},
		{write, &s.rotateSecret, `UPDATE user_secrets SET current_value = ?, current_created_at = ?, previous = ?
			WHERE set_name = ? AND user_id = ?`},
		{write, &s.insertSetting, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`},
		{write, &s.purgeAttempts, `DELETE FROM attempts WHERE event_id IN (` + expired + `)`},
		{write, &s.purgeHolds, `DELETE FROM holds WHERE released = 1 AND event_id IN (` + expired + `)`},
		{write, &s.purgeEvents, `DELETE FROM events WHERE id IN (` + expired + `)`},
		// The attempts of an expired key's event, also when the event was never written (its send died after
		// queueing, and no retry came).
		{write, &s.purgeKeyAttempts, `DELETE FROM attempts WHERE event_id IN (SELECT event_id FROM (` + expiredKeys + `))`},
		{write, &s.purgeKeys, `DELETE FROM idem_keys WHERE (set_name, idem_key) IN
			(SELECT set_name, idem_key FROM (` + expiredKeys + `))`},

		{read, &s.getRecord, `SELECT ` + recordColumns + ` FROM events WHERE id = ? AND set_name = ?`},
		{read, &s.getEvent, `SELECT ` + eventColumns + ` FROM events WHERE id = ? AND set_name = ?`},
		{read, &s.listRecords, `SELECT ` + recordColumns + ` FROM events
			WHERE set_name = ? AND id < ? AND id >= ? ORDER BY id DESC LIMIT ?`},
		{read, &s.listUserRecords, `SELECT ` + recordColumns + ` FROM events
			WHERE set_name = ? AND user_id = ? AND id < ? AND id >= ? ORDER BY id DESC LIMIT ?`},
		{read, &s.getSecret, `SELECT ` + secretColumns + ` FROM user_secrets WHERE set_name = ? AND user_id = ?`},
		{read, &s.getSetting, `SELECT value FROM settings WHERE key = ?`},
		{read, &s.nextVisible, `SELECT min(visible_at) FROM queue WHERE visible_at > ?`},
		{read, &s.getEndpoint, `SELECT ` + endpointColumns + ` FROM endpoints
			WHERE set_name = ? AND user_id = ? AND name = ?`},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = stmt
		s.all = append(s.all, stmt)
	}
	return nil
}

func (s *statements) close() {
	for _, stmt := range s.all {
		stmt.Close() //nolint:errcheck // closing the pools reports what matters
	}
}
