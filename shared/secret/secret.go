// Package secret declares the secret ports: named signing secrets referenced by the config
// (`secret: CRM_WEBHOOK_SIGNING_SECRET`) and per-user managed secrets (`whcms_...`) with rotation.
//
// Adapters: environment variables and SQLite for the local server, Secrets Manager on AWS. User-secret
// adapters prove themselves with the conformance suite in package secrettest.
package secret

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every implementation.
var (
	ErrNotFound = errors.New("secret: not found")
	// ErrConflict: Create lost a race; the caller reads the winner with Get.
	ErrConflict = errors.New("secret: conflict")
)

// Named resolves a named signing secret to its value.
type Named interface {
	Named(ctx context.Context, name string) (string, error)
}

// Version is one value of a user secret.
type Version struct {
	Value     string
	CreatedAt time.Time
}

// User is a user's managed secret: the current value and, after a rotation, the one it replaced.
// When the previous value stops being used is the domain's decision (the set's rotation window).
type User struct {
	Current  Version
	Previous *Version
}

// UserStore keeps managed per-user secrets, keyed by (set, userID).
type UserStore interface {
	// Get returns the user's secret or ErrNotFound.
	Get(ctx context.Context, set, userID string) (User, error)
	// Create stores the first value. If the secret exists it returns ErrConflict and changes nothing.
	Create(ctx context.Context, set, userID string, v Version) (User, error)
	// Rotate makes v current and the old current previous (dropping an older previous).
	// It returns ErrNotFound if the secret does not exist.
	Rotate(ctx context.Context, set, userID string, v Version) (User, error)
}
