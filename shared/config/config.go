// Package config loads and validates the webhook-set configuration: the sets, their endpoints, and each
// endpoint's signing, retry and timeout rules. The same structure is read from YAML by the local server and
// the CDK app, or built in Go.
package config

import (
	"fmt"

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
}

// Signing is an endpoint's signing rule: the YAML form of a signing.Block plus the secret. With no Signing
// block, deliveries signed with a user's managed secret use the Standard Webhooks scheme, and deliveries
// without a user are unsigned. Package signing owns the values and the defaults (signing.Resolve).
type Signing struct {
	Header          string            `yaml:"header,omitempty" json:"header,omitempty"`
	TimestampHeader string            `yaml:"timestampHeader,omitempty" json:"timestampHeader,omitempty"`
	SignedPayload   signing.Payload   `yaml:"signedPayload,omitempty" json:"signedPayload,omitempty"` // rawBody | timestamp.rawBody | id.timestamp.rawBody
	Algorithm       signing.Algorithm `yaml:"algorithm,omitempty" json:"algorithm,omitempty"`         // hmac-sha256
	Encoding        signing.Encoding  `yaml:"encoding,omitempty" json:"encoding,omitempty"`           // hex | base64
	Secret          string            `yaml:"secret,omitempty" json:"secret,omitempty"`               // name of the signing secret
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
)
