package smsecret

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/outhook/outhook/shared/secret"
)

// DefaultNamedTTL is how long Named keeps a value it read.
const DefaultNamedTTL = 5 * time.Minute

// NamedOptions tune Named. The zero value is usable.
type NamedOptions struct {
	TTL time.Duration    // how long a value is served from memory; default DefaultNamedTTL
	Now func() time.Time // the clock; default time.Now
}

// Named resolves the config's named signing secrets: name N is the secret "<prefix>N", read with
// GetSecretValue (AWSCURRENT) and kept in memory for the TTL. A secret changed in Secrets Manager is
// picked up within the TTL.
type Named struct {
	api    API
	prefix string
	cache  *cache[string]
}

var _ secret.Named = (*Named)(nil)

// NewNamed returns a Named reading secrets under prefix (e.g. "outhook/prod/named/", the CDK construct's NamedSecretPrefix).
func NewNamed(api API, prefix string, opts NamedOptions) *Named {
	if opts.TTL <= 0 {
		opts.TTL = DefaultNamedTTL
	}
	return &Named{api: api, prefix: prefix, cache: newCache[string](opts.TTL, opts.Now)}
}

// Named returns the value of the named secret, or secret.ErrNotFound.
func (n *Named) Named(ctx context.Context, name string) (string, error) {
	return n.cache.get(ctx, name, func(ctx context.Context) (string, error) {
		id := n.prefix + name
		out, err := n.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
		if err != nil {
			if isNotFound(err) {
				return "", fmt.Errorf("signing secret %s (%s): %w", name, id, secret.ErrNotFound)
			}
			return "", fmt.Errorf("read signing secret %s (%s): %w", name, id, err)
		}
		if out.SecretString != nil {
			return *out.SecretString, nil
		}
		return string(out.SecretBinary), nil
	})
}
