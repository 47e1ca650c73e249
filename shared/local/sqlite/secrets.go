package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/outhook/outhook/shared/secret"
)

// userSecrets is the secret.UserStore of a DB.
type userSecrets struct{ db *DB }

var _ secret.UserStore = userSecrets{}

// UserSecrets returns the per-user secrets kept in db.
func (db *DB) UserSecrets() secret.UserStore { return userSecrets{db: db} }

func (s userSecrets) Get(ctx context.Context, set, userID string) (secret.User, error) {
	u, err := scanUser(s.db.stmts.getSecret.QueryRowContext(ctx, set, userID))
	if err != nil {
		return secret.User{}, fmt.Errorf("get secret of user %s in %s: %w", userID, set,
			interpretError(err, secret.ErrNotFound, secret.ErrConflict))
	}
	return u, nil
}

func (s userSecrets) Create(ctx context.Context, set, userID string, v secret.Version) (secret.User, error) {
	v.CreatedAt = toMs(v.CreatedAt)
	err := s.db.w.do(ctx, func(ctx context.Context) error {
		_, err := s.db.stmts.insertSecret.ExecContext(ctx, set, userID, v.Value, unixMs(v.CreatedAt))
		return err
	})
	if err != nil {
		return secret.User{}, fmt.Errorf("create secret of user %s in %s: %w", userID, set,
			interpretError(err, secret.ErrNotFound, secret.ErrConflict))
	}
	return secret.User{Current: v}, nil
}

// Rotate reads and rewrites the secret inside one write of the single writer, so rotations of one secret
// apply one after the other.
func (s userSecrets) Rotate(ctx context.Context, set, userID string, v secret.Version, keepSince time.Time) (secret.User, error) {
	v.CreatedAt = toMs(v.CreatedAt)
	var u secret.User
	err := s.db.w.do(ctx, func(ctx context.Context) error {
		old, err := scanUser(s.db.stmts.getSecretForWrite.QueryRowContext(ctx, set, userID))
		if err != nil {
			return err
		}
		if u, err = old.Rotated(v, keepSince); err != nil {
			return err
		}
		previous, err := encodePrevious(u.Previous)
		if err != nil {
			return err
		}
		_, err = s.db.stmts.rotateSecret.ExecContext(ctx, v.Value, unixMs(v.CreatedAt), previous, set, userID)
		return err
	})
	if err != nil {
		return secret.User{}, fmt.Errorf("rotate secret of user %s in %s: %w", userID, set,
			interpretError(err, secret.ErrNotFound, secret.ErrConflict))
	}
	return u, nil
}

// storedVersion is a previous value in the previous column's JSON array.
type storedVersion struct {
	Value     string `json:"value"`
	CreatedAt int64  `json:"createdAt"` // Unix milliseconds
}

func encodePrevious(vs []secret.Version) (string, error) {
	stored := make([]storedVersion, len(vs))
	for i, v := range vs {
		stored[i] = storedVersion{Value: v.Value, CreatedAt: unixMs(v.CreatedAt)}
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return "", fmt.Errorf("encode previous secrets: %w", err)
	}
	return string(b), nil
}

func scanUser(row *sql.Row) (secret.User, error) {
	var (
		u        secret.User
		current  int64
		previous string
	)
	if err := row.Scan(&u.Current.Value, &current, &previous); err != nil {
		return secret.User{}, err
	}
	u.Current.CreatedAt = fromUnixMs(current)
	var stored []storedVersion
	if err := json.Unmarshal([]byte(previous), &stored); err != nil {
		// The column holds secret values: the error says only that it is malformed.
		return secret.User{}, errors.New("previous secrets: malformed JSON")
	}
	for _, p := range stored {
		u.Previous = append(u.Previous, secret.Version{Value: p.Value, CreatedAt: fromUnixMs(p.CreatedAt)})
	}
	return u, nil
}
