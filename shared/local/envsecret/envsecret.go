// Package envsecret resolves the named signing secrets of the config (`secret: CRM_WEBHOOK_SIGNING_SECRET`)
// from the environment variable of that name. It is the local server's secret.Named.
package envsecret

import (
	"context"
	"fmt"
	"os"

	"github.com/outhook/outhook/shared/secret"
)

// Env reads named secrets from the process environment.
type Env struct{}

var _ secret.Named = Env{}

// Named returns the value of the environment variable name. An unset or empty variable is secret.ErrNotFound;
// the error names the variable, never a value.
func (Env) Named(_ context.Context, name string) (string, error) {
	value, ok := os.LookupEnv(name)
	if !ok {
		return "", fmt.Errorf("secret %s: environment variable not set: %w", name, secret.ErrNotFound)
	}
	if value == "" {
		return "", fmt.Errorf("secret %s: environment variable is empty: %w", name, secret.ErrNotFound)
	}
	return value, nil
}
