// Package sqlite holds the local server's adapters: the event store, the delayed delivery queue, the per-user
// secrets and a few persisted settings, all in one SQLite database file. It uses the pure-Go driver
// modernc.org/sqlite, so CGO_ENABLED=0 builds keep working.
//
// The file is in WAL mode. Writes go through exactly one connection (SQLite has one writer at a time; one
// connection avoids SQLITE_BUSY between our own writers), and concurrent writes share a transaction (see
// writer). Reads go through a separate pool of read-only connections that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is an open outhook database.
type DB struct {
	write  *sql.DB   // a pool of one connection,
	conn   *sql.Conn // held here, used by w only
	w      *writer
	read   *sql.DB // read-only connections
	stmts  statements
	now    func() time.Time // the queue's clock
	notify *notifier
	// endpoints caches the endpoint rows read, for the deliveries that read them one by one.
	endpoints endpointCache
	closed    sync.Once
}

// An Option configures Open.
type Option func(*DB)

// WithClock makes the queue read the time from now instead of time.Now: when a message becomes visible, when a
// lease ends. Tests pass a settable clock to make delayed messages due without waiting.
func WithClock(now func() time.Time) Option {
	return func(db *DB) { db.now = now }
}

// schemaVersion is stored in PRAGMA user_version; Open migrates older files up to it.
const schemaVersion = 4

// migrations[i] brings a database from user_version i to i+1.
var migrations = []string{
	`
CREATE TABLE events (
	id         TEXT PRIMARY KEY,
	set_name   TEXT NOT NULL,
	type       TEXT NOT NULL,
	payload    BLOB NOT NULL,
	user_id    TEXT NOT NULL,
	idem_key   TEXT NOT NULL,
	req_hash   TEXT NOT NULL,
	deliveries TEXT NOT NULL,    -- JSON array of {endpoint, url, firstAttemptId}
	created_at INTEGER NOT NULL, -- Unix milliseconds
	expires_at INTEGER NOT NULL  -- Unix milliseconds, 0: never
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_idem ON events (set_name, idem_key) WHERE idem_key != '';
CREATE INDEX events_set ON events (set_name, id);
CREATE INDEX events_expires ON events (expires_at) WHERE expires_at > 0;

CREATE TABLE attempts (
	event_id        TEXT NOT NULL,
	endpoint        TEXT NOT NULL,
	number          INTEGER NOT NULL,
	id              TEXT NOT NULL,
	started_at      INTEGER NOT NULL, -- Unix milliseconds
	duration_ns     INTEGER NOT NULL,
	request_headers TEXT NOT NULL,    -- JSON object
	response_status INTEGER NOT NULL,
	response_body   TEXT NOT NULL,
	error           TEXT NOT NULL,
	outcome         TEXT NOT NULL,
	next_attempt_at INTEGER NOT NULL, -- Unix milliseconds, 0: none
	next_attempt_id TEXT NOT NULL,
	PRIMARY KEY (event_id, endpoint, number)
) WITHOUT ROWID;

CREATE TABLE queue (
	id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: message ids stay unique
	body          BLOB NOT NULL,
	visible_at    INTEGER NOT NULL, -- Unix milliseconds
	receipt       TEXT NOT NULL,    -- of the current lease, '' before the first receive
	receive_count INTEGER NOT NULL,
	created_at    INTEGER NOT NULL  -- Unix milliseconds
);
CREATE INDEX queue_visible ON queue (visible_at);

CREATE TABLE user_secrets (
	set_name            TEXT NOT NULL,
	user_id             TEXT NOT NULL,
	current_value       TEXT NOT NULL,
	current_created_at  INTEGER NOT NULL, -- Unix milliseconds
	previous_value      TEXT,             -- NULL until the first rotation
	previous_created_at INTEGER,
	PRIMARY KEY (set_name, user_id)
) WITHOUT ROWID;

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
`,
	`
CREATE INDEX events_user ON events (set_name, user_id, id) WHERE user_id != '';

CREATE TABLE endpoints (
	set_name           TEXT NOT NULL,
	user_id            TEXT NOT NULL,    -- '' for the state of a static endpoint
	name               TEXT NOT NULL,
	url                TEXT NOT NULL,
	event_types        TEXT NOT NULL,    -- JSON array
	description        TEXT NOT NULL,
	status             TEXT NOT NULL,
	disabled_reason    TEXT NOT NULL,
	disabled_at        INTEGER NOT NULL, -- Unix milliseconds, 0: none
	last_success_at    INTEGER NOT NULL,
	last_failure_at    INTEGER NOT NULL,
	consecutive_failed INTEGER NOT NULL,
	failing_since      INTEGER NOT NULL,
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL,
	version            INTEGER NOT NULL,
	PRIMARY KEY (set_name, user_id, name)
) WITHOUT ROWID;

CREATE TABLE holds (
	set_name   TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	endpoint   TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	number     INTEGER NOT NULL,
	job        BLOB NOT NULL,     -- the queue message; emptied once released
	held_at    INTEGER NOT NULL,  -- Unix milliseconds
	released   INTEGER NOT NULL,  -- 1 once released or ended: the row stays as the event's hold mark
	expires_at INTEGER NOT NULL,  -- the event's; a released row is purged with its event, a held one never
	PRIMARY KEY (set_name, user_id, endpoint, event_id, number)
) WITHOUT ROWID;
CREATE INDEX holds_event ON holds (event_id);
`,
	// 3: a user secret keeps every previous value still within its rotation window, not only the last one.
	`
ALTER TABLE user_secrets ADD COLUMN previous TEXT NOT NULL DEFAULT '[]'; -- JSON [{"value","createdAt" ms}], newest first
UPDATE user_secrets SET previous = json_array(json_object('value', previous_value, 'createdAt', previous_created_at))
	WHERE previous_value IS NOT NULL;
ALTER TABLE user_secrets DROP COLUMN previous_value;
ALTER TABLE user_secrets DROP COLUMN previous_created_at;
`,
	// 4: an idempotency key is reserved (idem_keys) before the send's messages are queued and its event is
	// written. Keys of events already stored keep an empty req_hash: such a key was written with its event,
	// before the messages were queued, and its replay looks at the event (webhook.Service, legacy replay).
	`
CREATE TABLE idem_keys (
	set_name   TEXT NOT NULL,
	idem_key   TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	req_hash   TEXT NOT NULL,    -- of the reserving send; '' for keys of events stored before this table
	created_at INTEGER NOT NULL, -- of the reserving send's event, Unix milliseconds; 0 likewise
	expires_at INTEGER NOT NULL, -- the event's, Unix milliseconds; 0: never
	PRIMARY KEY (set_name, idem_key)
) WITHOUT ROWID;
CREATE INDEX idem_keys_expires ON idem_keys (expires_at) WHERE expires_at > 0;
INSERT INTO idem_keys SELECT set_name, idem_key, id, '', 0, expires_at FROM events WHERE idem_key != '';
DROP INDEX events_idem;
`,
}

// Open opens the database file at path, creating it and its schema if needed.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open %s: the path may not contain '?'", path)
	}
	if err := private(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// synchronous=NORMAL in WAL mode: a commit is durable once written to the WAL file, which survives the
	// process being killed (SIGKILL, a crash: what the durability test checks). Only a power loss or OS
	// crash can lose the last commits, which FULL would cost an fsync per commit to prevent.
	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", "NORMAL")
	params.Set("_busy_timeout", "10000")
	params.Set("_txlock", "immediate")
	params.Add("_pragma", "journal_size_limit(67108864)") // after a burst, truncate the WAL back to 64 MiB
	write, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	if err := migrate(ctx, write); err != nil {
		return nil, errors.Join(fmt.Errorf("open %s: %w", path, err), write.Close())
	}

	params.Del("_journal_mode") // already WAL: it is a property of the file
	params.Del("_txlock")
	params.Set("_query_only", "true")
	read, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open %s for reading: %w", path, err), write.Close())
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)

	conn, err := write.Conn(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open %s: %w", path, err), read.Close(), write.Close())
	}
	db := &DB{write: write, conn: conn, read: read, now: time.Now}
	db.notify = newNotifier(db)
	for _, o := range opts {
		o(db)
	}
	if err := db.stmts.prepare(ctx, conn, read); err != nil {
		db.stmts.close()
		return nil, errors.Join(fmt.Errorf("open %s: %w", path, err), conn.Close(), read.Close(), write.Close())
	}
	db.w = newWriter(&db.stmts)
	return db, nil
}

// private makes the database readable and writable by its owner only, since it holds the API key and users'
// signing secrets: it creates the file with mode 0600 before SQLite does (SQLite would create it 0644, and
// gives the -wal and -shm files the database file's permissions), and takes the group and other bits off an
// existing database and its -wal and -shm files.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close() // an empty file is an empty SQLite database
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create the database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check the permissions of %s: %w", p, err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, info.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("make %s readable by its owner only: %w", p, err)
			}
		}
	}
	return nil
}

// migrate creates or upgrades the schema inside one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this binary's %d", version, schemaVersion)
	}
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// Close closes the database: writes made after it fail, the batch being written is finished.
func (db *DB) Close() error {
	var err error
	db.closed.Do(func() {
		db.notify.close()
		db.w.close()
		db.stmts.close()
		err = errors.Join(db.conn.Close(), db.read.Close(), db.write.Close())
	})
	return err
}

// Setting returns the persisted value of key. The first call for a key stores what init returns; later calls
// (also after a restart) return that value. Used for values generated once, like the local API key.
func (db *DB) Setting(ctx context.Context, key string, init func() (string, error)) (string, error) {
	var value string
	err := db.stmts.getSetting.QueryRowContext(ctx, key).Scan(&value)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	value, err = init()
	if err != nil {
		return "", fmt.Errorf("initialise setting %s: %w", key, err)
	}
	// If another caller stored the key first, the insert does nothing and the winner's value is read back.
	err = db.w.do(ctx, func(ctx context.Context) error {
		_, err := db.stmts.insertSetting.ExecContext(ctx, key, value)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store setting %s: %w", key, err)
	}
	if err := db.stmts.getSetting.QueryRowContext(ctx, key).Scan(&value); err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	return value, nil
}

// interpretError translates driver errors into a port's sentinels: no row becomes notFound, a violated
// primary key or unique constraint becomes conflict. Other errors are returned as they are.
func interpretError(err error, notFound, conflict error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	var se *sqlitedriver.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return conflict
		}
	}
	return err
}
