package smsecret

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/outhook/outhook/shared/secret"
)

// validName is what a set name or user id may be: exactly the characters Secrets Manager allows in names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_.@+=-]{1,128}$`)

// UserOptions tune a UserStore. The zero value is usable.
type UserOptions struct {
	// CacheTTL, if positive, serves Get from memory for that long. Only the deliver path should set it: a
	// rotation made elsewhere is then seen up to CacheTTL late, which the rotation window (hours) covers,
	// because the previous value keeps being accepted by receivers meanwhile. The secrets API reads uncached.
	CacheTTL time.Duration
	Now      func() time.Time // the clock of the cache; default time.Now
}

// UserStore keeps each user's managed secret as the Secrets Manager secret "<prefix><set>/<userID>",
// whose AWSCURRENT value is the JSON {"value":"whcms_...","createdAt":"<RFC 3339>","previous":[{"value",
// "createdAt"}, ...]}: the current value and every previous one still in its rotation window, newest
// first, so that Get is one GetSecretValue. Create is CreateSecret (a lost race is
// ResourceExistsException: secret.ErrConflict). Rotate reads AWSCURRENT and puts the rotated JSON with
// PutSecretValue, whose ClientRequestToken is derived from the version it read: of two rotations that read
// the same version only one can put (Secrets Manager refuses a token reused with another value), and the
// other reads again and rotates on top of it.
//
// Values written before the previous list existed have no "previous" key; their one previous value is the
// AWSPREVIOUS version, which Get and Rotate read in that case.
type UserStore struct {
	api    API
	prefix string
	cache  *cache[secret.User]
}

var _ secret.UserStore = (*UserStore)(nil)

// NewUserStore returns a UserStore keeping secrets under prefix (e.g. "outhook/prod/users/").
func NewUserStore(api API, prefix string, opts UserOptions) *UserStore {
	return &UserStore{api: api, prefix: prefix, cache: newCache[secret.User](opts.CacheTTL, opts.Now)}
}

// maxRotateTries bounds how often Rotate reads again after losing a race to another rotation.
const maxRotateTries = 8

// stored is the JSON value of a secret version.
type stored struct {
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"createdAt"`
	// Previous is nil in a value written before the list existed (see UserStore).
	Previous *[]storedVersion `json:"previous,omitempty"`
}

type storedVersion struct {
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"createdAt"`
}

func (s *UserStore) name(set, userID string) (string, error) {
	if !validName.MatchString(set) {
		return "", fmt.Errorf("set name %q: want 1-128 of A-Z a-z 0-9 _ . @ + = -", set)
	}
	if !validName.MatchString(userID) {
		return "", fmt.Errorf("user id %q: want 1-128 of A-Z a-z 0-9 _ . @ + = -", userID)
	}
	return s.prefix + set + "/" + userID, nil
}

// Get returns the user's current and previous values: one GetSecretValue of AWSCURRENT (through the cache
// if CacheTTL is set).
func (s *UserStore) Get(ctx context.Context, set, userID string) (secret.User, error) {
	name, err := s.name(set, userID)
	if err != nil {
		return secret.User{}, err
	}
	return s.cache.get(ctx, name, func(ctx context.Context) (secret.User, error) {
		u, _, err := s.read(ctx, name)
		return u, err
	})
}

// read returns the user's secret and the version id of its AWSCURRENT value.
func (s *UserStore) read(ctx context.Context, name string) (secret.User, string, error) {
	cur, versionID, found, err := s.stage(ctx, name, "AWSCURRENT")
	if err != nil {
		return secret.User{}, "", err
	}
	if !found {
		return secret.User{}, "", fmt.Errorf("user secret %s: %w", name, secret.ErrNotFound)
	}
	user := secret.User{Current: secret.Version{Value: cur.Value, CreatedAt: cur.CreatedAt.UTC()}}
	if cur.Previous != nil {
		for _, p := range *cur.Previous {
			user.Previous = append(user.Previous, secret.Version{Value: p.Value, CreatedAt: p.CreatedAt.UTC()})
		}
		return user, versionID, nil
	}
	prev, _, found, err := s.stage(ctx, name, "AWSPREVIOUS")
	if err != nil {
		return secret.User{}, "", err
	}
	if found {
		user.Previous = []secret.Version{{Value: prev.Value, CreatedAt: prev.CreatedAt.UTC()}}
	}
	return user, versionID, nil
}

// stage reads the version of a secret with a staging label; found is false if there is none.
func (s *UserStore) stage(ctx context.Context, name, label string) (v stored, versionID string, found bool, err error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: &label})
	if err != nil {
		if isNotFound(err) {
			return stored{}, "", false, nil
		}
		return stored{}, "", false, fmt.Errorf("read %s of user secret %s: %w", label, name, err)
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.Value == "" {
		// The value is a secret: the error says only that it is malformed.
		return stored{}, "", false, fmt.Errorf("read %s of user secret %s: not a JSON {value, createdAt}", label, name)
	}
	return v, aws.ToString(out.VersionId), true, nil
}

func encode(u secret.User) (string, error) {
	previous := make([]storedVersion, len(u.Previous))
	for i, p := range u.Previous {
		previous[i] = storedVersion{Value: p.Value, CreatedAt: p.CreatedAt.UTC()}
	}
	b, err := json.Marshal(stored{Value: u.Current.Value, CreatedAt: u.Current.CreatedAt.UTC(), Previous: &previous})
	if err != nil {
		return "", fmt.Errorf("encode user secret: %w", err)
	}
	return string(b), nil
}

// Create stores the first value with CreateSecret. If the secret exists (another caller won the race) it
// returns secret.ErrConflict and changes nothing.
func (s *UserStore) Create(ctx context.Context, set, userID string, v secret.Version) (secret.User, error) {
	name, err := s.name(set, userID)
	if err != nil {
		return secret.User{}, err
	}
	user := secret.User{Current: secret.Version{Value: v.Value, CreatedAt: v.CreatedAt.UTC()}}
	value, err := encode(user)
	if err != nil {
		return secret.User{}, err
	}
	_, err = s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         &name,
		SecretString: &value,
		Description:  aws.String("outhook: a user's webhook signing secret"),
	})
	if err != nil {
		var exists *types.ResourceExistsException
		if errors.As(err, &exists) {
			return secret.User{}, fmt.Errorf("create user secret %s: %w", name, secret.ErrConflict)
		}
		return secret.User{}, fmt.Errorf("create user secret %s: %w", name, err)
	}
	s.cache.put(name, user)
	return user, nil
}

// Rotate reads AWSCURRENT, rotates it (secret.User.Rotated) and puts the result as the new AWSCURRENT with a
// ClientRequestToken derived from the version read. If another rotation put first from the same version,
// Secrets Manager refuses the token and Rotate starts again from the new current value.
func (s *UserStore) Rotate(ctx context.Context, set, userID string, v secret.Version, keepSince time.Time) (secret.User, error) {
	name, err := s.name(set, userID)
	if err != nil {
		return secret.User{}, err
	}
	v = secret.Version{Value: v.Value, CreatedAt: v.CreatedAt.UTC()}
	for range maxRotateTries {
		old, versionID, err := s.read(ctx, name)
		if err != nil {
			return secret.User{}, fmt.Errorf("rotate: %w", err)
		}
		user, err := old.Rotated(v, keepSince)
		if err != nil {
			return secret.User{}, fmt.Errorf("rotate user secret %s: %w", name, err)
		}
		value, err := encode(user)
		if err != nil {
			return secret.User{}, err
		}
		token := tokenAfter(versionID)
		_, err = s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           &name,
			SecretString:       &value,
			ClientRequestToken: &token,
		})
		var exists *types.ResourceExistsException
		switch {
		case err == nil:
			s.cache.put(name, user)
			return user, nil
		case errors.As(err, &exists):
			continue // another rotation put first from the same version: rotate on top of it
		case isNotFound(err):
			return secret.User{}, fmt.Errorf("rotate user secret %s: %w", name, secret.ErrNotFound)
		default:
			return secret.User{}, fmt.Errorf("rotate user secret %s: %w", name, err)
		}
	}
	return secret.User{}, fmt.Errorf("rotate user secret %s: %d concurrent rotations won first: %w", name,
		maxRotateTries, secret.ErrConflict)
}

// tokenAfter is the ClientRequestToken of the version that replaces versionID: 32 hex characters, the same
// for every rotation that read versionID, so that only one of them can put a value.
func tokenAfter(versionID string) string {
	sum := sha256.Sum256([]byte("outhook rotation after " + versionID))
	return hex.EncodeToString(sum[:16])
}
