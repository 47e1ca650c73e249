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

// MaxPrevious bounds how many previous values a user secret keeps: a rotation that would keep more, because
// the earlier ones are still within their rotation window, fails with ErrTooManyPrevious.
const MaxPrevious = 10

// ErrTooManyPrevious: Rotate would keep more than MaxPrevious previous values; nothing changed.
var ErrTooManyPrevious = errors.New("secret: too many previous values within their rotation window")

// User is a user's managed secret: the current value and the values it replaced, newest first. Previous[0]
// was replaced by Current, Previous[i] by Previous[i-1] (ReplacedAt). When a previous value stops being used
// is the domain's decision (the set's rotation window, counted from ReplacedAt).
type User struct {
	Current  Version
	Previous []Version
}

// ReplacedAt is when Previous[i] stopped being current: the creation time of the value that replaced it.
func (u User) ReplacedAt(i int) time.Time {
	if i == 0 {
		return u.Current.CreatedAt
	}
	return u.Previous[i-1].CreatedAt
}

// Rotated is u after a rotation to v: v is current, the old current is the newest previous, and an older
// previous is kept only if it was replaced after keepSince (its rotation window is still open). It returns
// ErrTooManyPrevious if that keeps more than MaxPrevious. Every adapter's Rotate applies it.
func (u User) Rotated(v Version, keepSince time.Time) (User, error) {
	out := User{Current: v, Previous: []Version{u.Current}}
	for i, p := range u.Previous {
		if !u.ReplacedAt(i).After(keepSince) {
			break // replaced in time order: every older one was replaced earlier still
		}
		out.Previous = append(out.Previous, p)
	}
	if len(out.Previous) > MaxPrevious {
		return User{}, ErrTooManyPrevious
	}
	return out, nil
}

// UserStore keeps managed per-user secrets, keyed by (set, userID).
type UserStore interface {
	// Get returns the user's secret or ErrNotFound.
	Get(ctx context.Context, set, userID string) (User, error)
	// Create stores the first value. If the secret exists it returns ErrConflict and changes nothing.
	Create(ctx context.Context, set, userID string, v Version) (User, error)
	// Rotate makes v current as User.Rotated does: the old current becomes the newest previous, and older
	// previous values replaced at or before keepSince are dropped. Concurrent rotations of one secret apply
	// one after the other. It returns ErrNotFound if the secret does not exist, ErrTooManyPrevious (changing
	// nothing) if more than MaxPrevious previous values would be kept.
	Rotate(ctx context.Context, set, userID string, v Version, keepSince time.Time) (User, error)
}
