package sqlite

import (
	"context"
	"database/sql"
	"fmt"

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

func (s userSecrets) Rotate(ctx context.Context, set, userID string, v secret.Version) (secret.User, error) {
	var u secret.User
	err := s.db.w.do(ctx, func(ctx context.Context) error {
		var err error
		u, err = scanUser(s.db.stmts.rotateSecret.QueryRowContext(ctx, v.Value, unixMs(v.CreatedAt), set, userID))
		return err
	})
	if err != nil {
		return secret.User{}, fmt.Errorf("rotate secret of user %s in %s: %w", userID, set,
			interpretError(err, secret.ErrNotFound, secret.ErrConflict))
	}
	return u, nil
}

func scanUser(row *sql.Row) (secret.User, error) {
	var (
		u               secret.User
		current         int64
		previous        sql.NullString
		previousCreated sql.NullInt64
	)
	if err := row.Scan(&u.Current.Value, &current, &previous, &previousCreated); err != nil {
		return secret.User{}, err
	}
	u.Current.CreatedAt = fromUnixMs(current)
	if previous.Valid {
		u.Previous = &secret.Version{Value: previous.String, CreatedAt: fromUnixMs(previousCreated.Int64)}
	}
	return u, nil
}
