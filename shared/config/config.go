// Package config loads and validates the webhook-set configuration: the sets, their endpoints, and each
// endpoint's signing, retry and timeout rules. The same structure is read from YAML by the local server and
// the CDK app, or built in Go.
package config

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/outhook/outhook/shared/signing"
)

// Config is the whole configuration file: `sets:` at the top level.
type Config struct {
	Sets []Set `yaml:"sets" json:"sets"`
}

// Set is a named webhook set: every send to it fans out to all of its endpoints.
type Set struct {
	Name      string     `yaml:"name" json:"name"`
	Endpoints []Endpoint `yaml:"endpoints" json:"endpoints"`
	// RotationWindowSeconds is how long a user's previous managed secret keeps signing after a rotation.
	// Default 86400.
	RotationWindowSeconds int `yaml:"rotationWindowSeconds,omitempty" json:"rotationWindowSeconds,omitempty"`
	// RetentionDays is how long events and attempts are kept. Default 30.
	RetentionDays int `yaml:"retentionDays,omitempty" json:"retentionDays,omitempty"`
	// UserEndpoints lets the users of this set register their own endpoints at runtime.
	UserEndpoints *UserEndpoints `yaml:"userEndpoints,omitempty" json:"userEndpoints,omitempty"`
	// OnEndpointDisabled names the set that receives an `endpoint.disabled` event when auto-disable fires.
	OnEndpointDisabled *EndpointDisabledHook `yaml:"onEndpointDisabled,omitempty" json:"onEndpointDisabled,omitempty"`
}

// UserEndpoints is a set's rule for endpoints registered at runtime by its users. Registered endpoints are
// always signed with the user's managed secret (Standard Webhooks headers) and always behind the SSRF guard
// unless AllowPrivateNetwork is set.
type UserEndpoints struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// MaxPerUser bounds the endpoints one user may register. Default 10.
	MaxPerUser int `yaml:"maxPerUser,omitempty" json:"maxPerUser,omitempty"`
	// TimeoutSeconds bounds one POST. Default 15.
	TimeoutSeconds int          `yaml:"timeoutSeconds,omitempty" json:"timeoutSeconds,omitempty"`
	Retry          *Retry       `yaml:"retry,omitempty" json:"retry,omitempty"`
	AutoDisable    *AutoDisable `yaml:"autoDisable,omitempty" json:"autoDisable,omitempty"`
	// AllowPrivateNetwork also allows http:// URLs and private, loopback and link-local addresses: for local
	// development and tests only.
	AllowPrivateNetwork bool `yaml:"allowPrivateNetwork,omitempty" json:"allowPrivateNetwork,omitempty"`
}

// AutoDisable disables an endpoint whose last AfterFailedDeliveries deliveries all ended failed, the first of
// them at least AfterSeconds ago. Without the block: 5 deliveries and 5 days (432000 s), like the hosted
// webhook products that disable an endpoint after about five days of continuous failure.
type AutoDisable struct {
	AfterFailedDeliveries int `yaml:"afterFailedDeliveries" json:"afterFailedDeliveries"`
	AfterSeconds          int `yaml:"afterSeconds" json:"afterSeconds"`
}

// EndpointDisabledHook names the set an `endpoint.disabled` event is sent to.
type EndpointDisabledHook struct {
	Set string `yaml:"set" json:"set"`
}

// Endpoint is one destination of a set.
type Endpoint struct {
	Name    string   `yaml:"name" json:"name"`
	URL     string   `yaml:"url" json:"url"`
	Signing *Signing `yaml:"signing,omitempty" json:"signing,omitempty"`
	Retry   *Retry   `yaml:"retry,omitempty" json:"retry,omitempty"`
	// TimeoutSeconds bounds one POST (connect to last byte). Default 15.
	TimeoutSeconds int `yaml:"timeoutSeconds,omitempty" json:"timeoutSeconds,omitempty"`
	// AllowPrivateNetwork lets the sender reach private, loopback, link-local and metadata addresses.
	AllowPrivateNetwork bool `yaml:"allowPrivateNetwork,omitempty" json:"allowPrivateNetwork,omitempty"`
	// EventTypes selects the event types delivered to the endpoint: exact types (`invoice.paid`) or prefixes
	// ending in `*` (`invoice.*`). Empty, or `*`, means every type.
	EventTypes  []string     `yaml:"eventTypes,omitempty" json:"eventTypes,omitempty"`
	AutoDisable *AutoDisable `yaml:"autoDisable,omitempty" json:"autoDisable,omitempty"`
}

// Signing is an endpoint's signing rule: the YAML form of a signing.Block plus the secret, which is either a
// named secret (Secret) or the managed secret of the send's user (UserSecret: a send without a userId is then
// refused with missing_user_id). With no Signing block, a delivery is signed with the user's managed secret
// when the send names a user, and unsigned otherwise. Package signing owns the values and the defaults of
// the scheme (signing.Resolve).
type Signing struct {
	Header          string            `yaml:"header,omitempty" json:"header,omitempty"`
	TimestampHeader string            `yaml:"timestampHeader,omitempty" json:"timestampHeader,omitempty"`
	SignedPayload   signing.Payload   `yaml:"signedPayload,omitempty" json:"signedPayload,omitempty"` // rawBody | timestamp.rawBody | id.timestamp.rawBody
	Algorithm       signing.Algorithm `yaml:"algorithm,omitempty" json:"algorithm,omitempty"`         // hmac-sha256
	Encoding        signing.Encoding  `yaml:"encoding,omitempty" json:"encoding,omitempty"`           // hex | base64
	Secret          string            `yaml:"secret,omitempty" json:"secret,omitempty"`               // name of the signing secret
	// UserSecret signs with the managed secret of the send's userId, which every send must then give.
	UserSecret bool `yaml:"userSecret,omitempty" json:"userSecret,omitempty"`
}

// Block is the signing block less its secret, as package signing reads it; nil for a nil s.
func (s *Signing) Block() *signing.Block {
	if s == nil {
		return nil
	}
	return &signing.Block{Header: s.Header, TimestampHeader: s.TimestampHeader, SignedPayload: s.SignedPayload,
		Encoding: s.Encoding, Algorithm: s.Algorithm}
}

// Scheme is the scheme deliveries to the endpoint are signed with (signing.Standard for a nil s).
func (s *Signing) Scheme() (signing.Scheme, error) {
	sc, err := signing.Resolve(s.Block())
	if err != nil {
		return signing.Scheme{}, fmt.Errorf("signing block: %w", err)
	}
	return sc, nil
}

// Retry is an endpoint's retry policy.
type Retry struct {
	Attempts            int    `yaml:"attempts" json:"attempts"`                   // total, including the first
	Backoff             string `yaml:"backoff,omitempty" json:"backoff,omitempty"` // exponential | fixed
	InitialDelaySeconds int    `yaml:"initialDelaySeconds,omitempty" json:"initialDelaySeconds,omitempty"`
	MaxDelaySeconds     int    `yaml:"maxDelaySeconds,omitempty" json:"maxDelaySeconds,omitempty"`
}

// Defaults applied by Validate to fields left empty.
const (
	DefaultRotationWindowSeconds = 86400
	DefaultRetentionDays         = 30
	DefaultTimeoutSeconds        = 15
	DefaultAttempts              = 5
	DefaultInitialDelaySeconds   = 30
	DefaultMaxDelaySeconds       = 3600
	DefaultMaxPerUser            = 10
	DefaultAfterFailedDeliveries = 5
	DefaultAfterSeconds          = 5 * 86400
)

// MatchEventTypes reports whether typ matches one of patterns: an exact type, or a prefix ending in `*`.
// No patterns, or `*`, match every type.
func MatchEventTypes(patterns []string, typ string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(typ, prefix) {
				return true
			}
		} else if p == typ {
			return true
		}
	}
	return false
}

// CheckEventTypePattern returns why p is not an acceptable eventTypes pattern, or "" if it is.
func CheckEventTypePattern(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case utf8.RuneCountInString(p) > MaxEventTypeLength: // characters, like the event type it matches
		return fmt.Sprintf("must be at most %d characters", MaxEventTypeLength)
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return fmt.Sprintf("%q: `*` may only end a pattern (`invoice.*`) or stand alone", p)
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return fmt.Sprintf("%q must not contain spaces or control characters", p)
		}
	}
	return ""
}
