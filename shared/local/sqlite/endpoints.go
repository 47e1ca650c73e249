package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/outhook/outhook/shared/store"
)

// Endpoints, their state and the held deliveries are rare writes and small reads: plain statements on the
// writer's connection (inside the writer's transaction) and on the read pool, not prepared ones.

const endpointColumns = `set_name, user_id, name, url, event_types, description, status, disabled_reason,
	disabled_at, last_success_at, last_failure_at, consecutive_failed, failing_since, created_at, updated_at, version`

func scanEndpoint(row scanner) (store.Endpoint, error) {
	var (
		ep                                        store.Endpoint
		types                                     []byte
		status                                    string
		disabledAt, lastOK, lastFail, since, c, u int64
	)
	err := row.Scan(&ep.Set, &ep.UserID, &ep.Name, &ep.URL, &types, &ep.Description, &status, &ep.DisabledReason,
		&disabledAt, &lastOK, &lastFail, &ep.Health.ConsecutiveFailed, &since, &c, &u, &ep.Version)
	if err != nil {
		return store.Endpoint{}, err
	}
	if err := json.Unmarshal(types, &ep.EventTypes); err != nil {
		return store.Endpoint{}, fmt.Errorf("decode event types of endpoint %s: %w", ep.Name, err)
	}
	ep.Status = store.EndpointStatus(status)
	ep.DisabledAt = fromUnixMs(disabledAt)
	ep.Health.LastSuccessAt, ep.Health.LastFailureAt = fromUnixMs(lastOK), fromUnixMs(lastFail)
	ep.Health.FailingSince = fromUnixMs(since)
	ep.CreatedAt, ep.UpdatedAt = fromUnixMs(c), fromUnixMs(u)
	return ep, nil
}

// endpointArgs are the values of endpointColumns, in order.
func endpointArgs(ep store.Endpoint) ([]any, error) {
	types, err := json.Marshal(ep.EventTypes)
	if err != nil {
		return nil, fmt.Errorf("encode event types of endpoint %s: %w", ep.Name, err)
	}
	if ep.EventTypes == nil {
		types = []byte("[]")
	}
	return []any{ep.Set, ep.UserID, ep.Name, ep.URL, types, ep.Description, string(ep.Status), ep.DisabledReason,
		unixMs(ep.DisabledAt), unixMs(ep.Health.LastSuccessAt), unixMs(ep.Health.LastFailureAt),
		ep.Health.ConsecutiveFailed, unixMs(ep.Health.FailingSince), unixMs(ep.CreatedAt), unixMs(ep.UpdatedAt),
		ep.Version}, nil
}

const replaceEndpointSQL = `INSERT OR REPLACE INTO endpoints (` + endpointColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// replaceEndpoint writes ep's row, whether or not it exists; it runs inside a write of the single writer.
func (s eventStore) replaceEndpoint(ctx context.Context, ep store.Endpoint) error {
	args, err := endpointArgs(ep)
	if err != nil {
		return err
	}
	_, err = s.db.conn.ExecContext(ctx, replaceEndpointSQL, args...)
	return err
}

func (s eventStore) PutEndpoint(ctx context.Context, ep store.Endpoint, maxPerUser int) (store.Endpoint, bool, error) {
	ep.CreatedAt, ep.UpdatedAt = toMs(ep.CreatedAt), toMs(ep.UpdatedAt)
	var (
		stored  store.Endpoint
		created bool
	)
	err := s.writeEndpoints(ctx, func(ctx context.Context) error {
		// Conditions first: an error returned after a write would leave the write in a shared batch.
		existing, err := scanEndpoint(s.db.conn.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE set_name = ? AND user_id = ? AND name = ?`, ep.Set, ep.UserID, ep.Name))
		switch {
		case err == nil:
			stored, created = existing, false
			stored.URL, stored.EventTypes, stored.Description = ep.URL, ep.EventTypes, ep.Description
			stored.UpdatedAt = ep.UpdatedAt
			stored.Version++
		case errors.Is(err, sql.ErrNoRows):
			var n int
			if err := s.db.conn.QueryRowContext(ctx, `SELECT count(*) FROM endpoints WHERE set_name = ? AND user_id = ?`,
				ep.Set, ep.UserID).Scan(&n); err != nil {
				return fmt.Errorf("count endpoints: %w", err)
			}
			if n >= maxPerUser {
				return fmt.Errorf("user %s already has %d endpoints: %w", ep.UserID, n, store.ErrLimit)
			}
			stored, created = ep, true
			stored.Status, stored.Version = store.EndpointEnabled, 1
			stored.Health = store.Health{}
			stored.DisabledReason, stored.DisabledAt = "", ep.DisabledAt
		default:
			return fmt.Errorf("read endpoint: %w", err)
		}
		return s.replaceEndpoint(ctx, stored)
	})
	if err != nil {
		return store.Endpoint{}, false, fmt.Errorf("put endpoint %s of user %s in set %s: %w", ep.Name, ep.UserID, ep.Set, err)
	}
	return stored, created, nil
}

// GetEndpoint answers from the DB's endpoint cache when it can (see endpointCache).
func (s eventStore) GetEndpoint(ctx context.Context, ref store.EndpointRef) (store.Endpoint, error) {
	c, ok, gen := s.db.endpoints.get(ref)
	if !ok {
		ep, err := scanEndpoint(s.db.stmts.getEndpoint.QueryRowContext(ctx, ref.Set, ref.UserID, ref.Name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			s.db.endpoints.put(ref, store.Endpoint{}, false, gen)
		case err != nil:
			return store.Endpoint{}, fmt.Errorf("get endpoint %s of set %s: %w", ref.Name, ref.Set, err)
		default:
			s.db.endpoints.put(ref, ep, true, gen)
		}
		c = cachedEndpoint{ep: ep, found: err == nil}
	}
	if !c.found {
		return store.Endpoint{}, fmt.Errorf("get endpoint %s of set %s: %w", ref.Name, ref.Set, store.ErrNotFound)
	}
	return c.ep, nil
}

// writeEndpoints runs fn, a write to the endpoints table, in the writer, and invalidates the endpoint cache
// once it has committed or failed.
func (s eventStore) writeEndpoints(ctx context.Context, fn func(ctx context.Context) error) error {
	defer s.db.endpoints.invalidate()
	return s.db.w.do(ctx, fn)
}

func (s eventStore) ListEndpoints(ctx context.Context, set, userID string) ([]store.Endpoint, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE set_name = ? AND user_id = ? ORDER BY name`, set, userID)
	if err != nil {
		return nil, fmt.Errorf("list endpoints of set %s: %w", set, err)
	}
	defer rows.Close() //nolint:errcheck // rows.Err reports what matters
	out := []store.Endpoint{}
	for rows.Next() {
		ep, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list endpoints of set %s: %w", set, err)
		}
		out = append(out, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list endpoints of set %s: %w", set, err)
	}
	return out, nil
}

func (s eventStore) DeleteEndpoint(ctx context.Context, ref store.EndpointRef) error {
	var n int64
	err := s.writeEndpoints(ctx, func(ctx context.Context) error {
		res, err := s.db.conn.ExecContext(ctx, `DELETE FROM endpoints WHERE set_name = ? AND user_id = ? AND name = ?`,
			ref.Set, ref.UserID, ref.Name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete endpoint %s of set %s: %w", ref.Name, ref.Set, err)
	}
	if n == 0 {
		return fmt.Errorf("delete endpoint %s of set %s: %w", ref.Name, ref.Set, store.ErrNotFound)
	}
	return nil
}

func (s eventStore) UpdateEndpoint(ctx context.Context, ep store.Endpoint) (store.Endpoint, error) {
	ep.UpdatedAt = toMs(ep.UpdatedAt)
	ep.DisabledAt = toMs(ep.DisabledAt)
	ep.Health.LastSuccessAt, ep.Health.LastFailureAt = toMs(ep.Health.LastSuccessAt), toMs(ep.Health.LastFailureAt)
	ep.Health.FailingSince = toMs(ep.Health.FailingSince)
	var out store.Endpoint
	err := s.writeEndpoints(ctx, func(ctx context.Context) error {
		existing, err := scanEndpoint(s.db.conn.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE set_name = ? AND user_id = ? AND name = ?`, ep.Set, ep.UserID, ep.Name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if ep.Version != 0 {
				return store.ErrConflict
			}
			if ep.UserID != "" {
				return store.ErrNotFound
			}
			out = store.Endpoint{EndpointRef: ep.EndpointRef, CreatedAt: ep.UpdatedAt}
		case err != nil:
			return fmt.Errorf("read endpoint: %w", err)
		case existing.Version != ep.Version:
			return store.ErrConflict
		default:
			out = existing
		}
		out.Status, out.DisabledReason, out.DisabledAt = ep.Status, ep.DisabledReason, ep.DisabledAt
		out.Health, out.UpdatedAt = ep.Health, ep.UpdatedAt
		out.Version = ep.Version + 1
		return s.replaceEndpoint(ctx, out)
	})
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("update endpoint %s of set %s: %w", ep.Name, ep.Set, err)
	}
	return out, nil
}

func (s eventStore) HoldDelivery(ctx context.Context, h store.Hold, endpointVersion int64) error {
	err := s.writeEndpoints(ctx, func(ctx context.Context) error {
		var (
			version int64
			status  string
		)
		err := s.db.conn.QueryRowContext(ctx, `SELECT version, status FROM endpoints
			WHERE set_name = ? AND user_id = ? AND name = ?`, h.Endpoint.Set, h.Endpoint.UserID, h.Endpoint.Name).
			Scan(&version, &status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrConflict
		case err != nil:
			return fmt.Errorf("read endpoint: %w", err)
		case version != endpointVersion || store.EndpointStatus(status) == store.EndpointEnabled:
			return store.ErrConflict
		}
		_, err = s.db.conn.ExecContext(ctx, `INSERT INTO holds (set_name, user_id, endpoint, event_id, number, job,
			held_at, released, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT DO UPDATE SET job = excluded.job, held_at = excluded.held_at, released = 0`,
			h.Endpoint.Set, h.Endpoint.UserID, h.Endpoint.Name, h.EventID, h.Number, h.Job, unixMs(h.HeldAt),
			unixMs(h.EventExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("hold attempt %d of event %s to %s: %w", h.Number, h.EventID, h.Endpoint.Name, err)
	}
	return nil
}

func (s eventStore) ListHolds(ctx context.Context, ref store.EndpointRef, limit int) ([]store.Hold, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT event_id, number, job, held_at, expires_at FROM holds
		WHERE set_name = ? AND user_id = ? AND endpoint = ? AND released = 0 ORDER BY event_id, number LIMIT ?`,
		ref.Set, ref.UserID, ref.Name, limit)
	if err != nil {
		return nil, fmt.Errorf("list holds of endpoint %s: %w", ref.Name, err)
	}
	defer rows.Close() //nolint:errcheck // rows.Err reports what matters
	var out []store.Hold
	for rows.Next() {
		h := store.Hold{Endpoint: ref}
		var held, expires int64
		if err := rows.Scan(&h.EventID, &h.Number, &h.Job, &held, &expires); err != nil {
			return nil, fmt.Errorf("list holds of endpoint %s: %w", ref.Name, err)
		}
		h.HeldAt, h.EventExpiresAt = fromUnixMs(held), fromUnixMs(expires)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list holds of endpoint %s: %w", ref.Name, err)
	}
	return out, nil
}

func (s eventStore) DeleteHolds(ctx context.Context, holds []store.Hold) error {
	if len(holds) == 0 {
		return nil
	}
	err := s.db.w.do(ctx, func(ctx context.Context) error {
		for _, h := range holds {
			if _, err := s.db.conn.ExecContext(ctx, `UPDATE holds SET released = 1, job = x''
				WHERE set_name = ? AND user_id = ? AND endpoint = ? AND event_id = ? AND number = ?`,
				h.Endpoint.Set, h.Endpoint.UserID, h.Endpoint.Name, h.EventID, h.Number); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release %d holds: %w", len(holds), err)
	}
	return nil
}
