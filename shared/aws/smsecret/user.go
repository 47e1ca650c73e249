package smsecret

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/sync/errgroup"

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
// whose value is the JSON {"value":"whcms_...","createdAt":"<RFC 3339>"}. Create is CreateSecret (a lost
// race is ResourceExistsException: secret.ErrConflict), Rotate is PutSecretValue, which moves AWSCURRENT to
// the new version and AWSPREVIOUS to the old one, and Get reads both labels.
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

// version is the stored form of a secret.Version.
type version struct {
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

// Get returns the user's current and previous values: GetSecretValue of AWSCURRENT and AWSPREVIOUS,
// in parallel (through the cache if CacheTTL is set).
func (s *UserStore) Get(ctx context.Context, set, userID string) (secret.User, error) {
	name, err := s.name(set, userID)
	if err != nil {
		return secret.User{}, err
	}
	return s.cache.get(ctx, name, func(ctx context.Context) (secret.User, error) { return s.read(ctx, name) })
}

func (s *UserStore) read(ctx context.Context, name string) (secret.User, error) {
	var (
		user     secret.User
		previous secret.Version
		hasPrev  bool
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		v, found, err := s.stage(gctx, name, "AWSCURRENT")
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("user secret %s: %w", name, secret.ErrNotFound)
		}
		user.Current = v
		return nil
	})
	g.Go(func() error {
		var err error
		previous, hasPrev, err = s.stage(gctx, name, "AWSPREVIOUS")
		return err
	})
	if err := g.Wait(); err != nil {
		return secret.User{}, err
	}
	if hasPrev {
		user.Previous = &previous
	}
	return user, nil
}

// stage reads the version of a secret with a staging label; found is false if there is none.
func (s *UserStore) stage(ctx context.Context, name, label string) (v secret.Version, found bool, err error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: &label})
	if err != nil {
		if isNotFound(err) {
			return secret.Version{}, false, nil
		}
		return secret.Version{}, false, fmt.Errorf("read %s of user secret %s: %w", label, name, err)
	}
	var stored version
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &stored); err != nil || stored.Value == "" {
		// The value is a secret: the error says only that it is malformed.
		return secret.Version{}, false, fmt.Errorf("read %s of user secret %s: not a JSON {value, createdAt}", label, name)
	}
	return secret.Version{Value: stored.Value, CreatedAt: stored.CreatedAt.UTC()}, true, nil
}

func encode(v secret.Version) (string, error) {
	b, err := json.Marshal(version{Value: v.Value, CreatedAt: v.CreatedAt.UTC()})
	if err != nil {
		return "", fmt.Errorf("encode secret version: %w", err)
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
	value, err := encode(v)
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
	user := secret.User{Current: secret.Version{Value: v.Value, CreatedAt: v.CreatedAt.UTC()}}
	s.cache.put(name, user)
	return user, nil
}

// Rotate reads the current value (it becomes the previous one) and puts v with PutSecretValue and a new
// ClientRequestToken, so that Secrets Manager moves AWSCURRENT to v and AWSPREVIOUS to the old current.
func (s *UserStore) Rotate(ctx context.Context, set, userID string, v secret.Version) (secret.User, error) {
	name, err := s.name(set, userID)
	if err != nil {
		return secret.User{}, err
	}
	old, found, err := s.stage(ctx, name, "AWSCURRENT")
	if err != nil {
		return secret.User{}, err
	}
	if !found {
		return secret.User{}, fmt.Errorf("rotate user secret %s: %w", name, secret.ErrNotFound)
	}
	value, err := encode(v)
	if err != nil {
		return secret.User{}, err
	}
	token, err := requestToken()
	if err != nil {
		return secret.User{}, err
	}
	_, err = s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           &name,
		SecretString:       &value,
		ClientRequestToken: &token,
	})
	if err != nil {
		if isNotFound(err) {
			return secret.User{}, fmt.Errorf("rotate user secret %s: %w", name, secret.ErrNotFound)
		}
		return secret.User{}, fmt.Errorf("rotate user secret %s: %w", name, err)
	}
	user := secret.User{Current: secret.Version{Value: v.Value, CreatedAt: v.CreatedAt.UTC()}, Previous: &old}
	s.cache.put(name, user)
	return user, nil
}

// requestToken is a new ClientRequestToken: the version id of the value put, 32 hex characters.
func requestToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make client request token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
