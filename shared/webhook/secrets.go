package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/secret"
)

// managedSecretPrefix starts every managed per-user secret; the rest is the base64 of 32 random bytes
// (the Standard Webhooks form, so receivers hand the part after the prefix to any library).
const managedSecretPrefix = "whcms_"

// UserSecret returns a user's managed signing secret, creating it on first use. The previous value is
// included while its rotation window lasts.
func (s *Service) UserSecret(ctx context.Context, setName, userID string) (UserSecret, error) {
	set, err := s.secretSet(setName, userID)
	if err != nil {
		return UserSecret{}, err
	}
	us, err := s.userSecret(ctx, set, userID)
	if err != nil {
		return UserSecret{}, fmt.Errorf("get secret: %w", err)
	}
	return viewSecret(us, set), nil
}

// RotateUserSecret makes a new current secret for the user; the old one stays valid (deliveries carry
// both signatures) for the set's rotation window, counted from now. Values replaced by earlier rotations
// keep the end of their own windows; if secret.MaxPrevious of them are still valid, the rotation is refused
// (409 too_many_rotations) rather than cutting a window short.
func (s *Service) RotateUserSecret(ctx context.Context, setName, userID string) (UserSecret, error) {
	set, err := s.secretSet(setName, userID)
	if err != nil {
		return UserSecret{}, err
	}
	if s.users == nil {
		return UserSecret{}, errors.New("rotate secret: no user secret store configured")
	}
	v, err := s.newSecretVersion()
	if err != nil {
		return UserSecret{}, err
	}
	us, err := s.users.Rotate(ctx, set.Name, userID, v, s.now().Add(-set.RotationWindow))
	if errors.Is(err, secret.ErrNotFound) {
		us, err = s.createUserSecret(ctx, set.Name, userID, v)
	}
	if errors.Is(err, secret.ErrTooManyPrevious) {
		return UserSecret{}, &Error{Kind: ErrConflict, Code: "too_many_rotations", Message: fmt.Sprintf(
			"%d previous secrets are still within their rotation window; rotate again once the oldest expires",
			secret.MaxPrevious)}
	}
	if err != nil {
		return UserSecret{}, fmt.Errorf("rotate secret: %w", err)
	}
	s.log.InfoContext(ctx, "user secret rotated", attrSet(set.Name))
	return viewSecret(s.live(us, set), set), nil
}

func (s *Service) secretSet(setName, userID string) (*config.ResolvedSet, error) {
	set, err := s.set(setName)
	if err != nil {
		return nil, err
	}
	if !ValidUserID(userID) {
		return nil, invalidUserID()
	}
	return set, nil
}

// userSecret gets or creates the user's secret and drops a previous value whose window has passed.
func (s *Service) userSecret(ctx context.Context, set *config.ResolvedSet, userID string) (secret.User, error) {
	if s.users == nil {
		return secret.User{}, errors.New("no user secret store configured")
	}
	us, err := s.users.Get(ctx, set.Name, userID)
	if errors.Is(err, secret.ErrNotFound) {
		v, verr := s.newSecretVersion()
		if verr != nil {
			return secret.User{}, verr
		}
		us, err = s.createUserSecret(ctx, set.Name, userID, v)
	}
	if err != nil {
		return secret.User{}, err
	}
	return s.live(us, set), nil
}

// createUserSecret creates the first value; if another caller won the race, its value is returned.
func (s *Service) createUserSecret(ctx context.Context, set, userID string, v secret.Version) (secret.User, error) {
	us, err := s.users.Create(ctx, set, userID, v)
	if errors.Is(err, secret.ErrConflict) {
		return s.users.Get(ctx, set, userID)
	}
	return us, err
}

// live drops each previous value whose rotation window (from when it was replaced) has passed.
func (s *Service) live(us secret.User, set *config.ResolvedSet) secret.User {
	for i := range us.Previous {
		if !s.now().Before(us.ReplacedAt(i).Add(set.RotationWindow)) {
			us.Previous = us.Previous[:i:i] // replaced in time order: the older ones have passed too
			break
		}
	}
	return us
}

func (s *Service) newSecretVersion() (secret.Version, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.ids.rand, b[:]); err != nil {
		return secret.Version{}, fmt.Errorf("generate secret: %w", err)
	}
	// Seconds: the precision every secret store keeps.
	return secret.Version{
		Value:     managedSecretPrefix + base64.StdEncoding.EncodeToString(b[:]),
		CreatedAt: s.now().Truncate(time.Second),
	}, nil
}

func viewSecret(us secret.User, set *config.ResolvedSet) UserSecret {
	out := UserSecret{Current: SecretVersion{Value: us.Current.Value, CreatedAt: us.Current.CreatedAt.UTC()}}
	for i, p := range us.Previous {
		expires := us.ReplacedAt(i).Add(set.RotationWindow).UTC()
		v := SecretVersion{Value: p.Value, CreatedAt: p.CreatedAt.UTC(), ExpiresAt: &expires}
		if i == 0 {
			out.Previous = &v
		} else {
			out.Older = append(out.Older, v)
		}
	}
	return out
}
