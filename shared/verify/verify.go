// Package verify checks, on the receiver's side, that a webhook was sent by outhook: the signature of its
// body under one of the receiver's secrets, in the endpoint's signing scheme, with a timestamp not older
// (or newer) than a tolerance.
//
// Both schemes outhook sends are understood: Standard Webhooks (webhook-id, webhook-timestamp,
// webhook-signature: v1,<base64> over id.timestamp.body, the default) and the configurable scheme of an
// endpoint's signing block (a signature header, an optional timestamp header, the signed payload and the
// hex or base64 encoding), given as a signing.Block with the same keys and defaults as the configuration. During a secret rotation a delivery carries several signatures; one match is
// enough. The HMAC work is package signing's, the same code that signs.
package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/outhook/outhook/shared/signing"
)

// DefaultTolerance is the largest accepted distance between a delivery's timestamp and now.
const DefaultTolerance = 5 * time.Minute

// MaxBodyBytes bounds the body Request reads: outhook's payload limit (256 KiB) plus the envelope.
const MaxBodyBytes = 512 << 10

// Options say how to verify.
type Options struct {
	// Secrets are the secrets to try: whsec_... or whcms_... (prefix + base64 of the key), or any other
	// string, used as raw bytes. Pass the previous secret too while you roll your own.
	Secrets []string
	// Scheme is the endpoint's signing block exactly as written in outhook's configuration (empty fields
	// take the same defaults as on the sending side: signing.Resolve); nil means Standard Webhooks.
	Scheme *signing.Block
	// Tolerance bounds how far the timestamp may be from now. 0 means DefaultTolerance; a negative value
	// skips the check (to check a saved request later). Schemes without a timestamp are never checked.
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Reasons for a failed verification: every error of Payload and Request wraps one of them in an *Error.
var (
	ErrNoSecret       = errors.New("no usable secret")
	ErrScheme         = errors.New("invalid signing scheme")
	ErrMissingHeader  = errors.New("missing signature or webhook-id header")
	ErrTimestamp      = errors.New("timestamp missing, malformed or outside the tolerance")
	ErrNoMatch        = errors.New("no signature matches")
	ErrBodyUnreadable = errors.New("body unreadable or too large")
)

// Error is a failed verification. Kind is one of the Err* reasons; Err the detail.
type Error struct {
	Kind error
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "verify webhook: " + e.Kind.Error()
	}
	return fmt.Sprintf("verify webhook: %s: %s", e.Kind, e.Err)
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Request reads r's body (at most MaxBodyBytes), verifies it with r's headers, and returns it. r.Body is
// restored so that later handlers can read it again.
func Request(r *http.Request, opts Options) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: ErrBodyUnreadable, Err: err}
	}
	if len(body) > MaxBodyBytes {
		return nil, &Error{Kind: ErrBodyUnreadable, Err: fmt.Errorf("over %d bytes", MaxBodyBytes)}
	}
	if err := Payload(r.Header, body, opts); err != nil {
		return nil, err
	}
	return body, nil
}

// Payload verifies a raw body (exactly the bytes received) against its request headers.
func Payload(h http.Header, body []byte, opts Options) error {
	scheme, err := signing.Resolve(opts.Scheme)
	if err != nil {
		return &Error{Kind: ErrScheme, Err: err}
	}
	keys := make([][]byte, 0, len(opts.Secrets))
	for i, s := range opts.Secrets {
		k, err := signing.Key(s)
		if err != nil {
			// The secret's value stays out of the error.
			return &Error{Kind: ErrNoSecret, Err: fmt.Errorf("secret %d: %w", i+1, err)}
		}
		if len(k) > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return &Error{Kind: ErrNoSecret}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	at := now()
	tolerance := opts.Tolerance
	switch {
	case tolerance == 0:
		tolerance = DefaultTolerance
	case tolerance < 0 && scheme.TimestampHeader != "":
		// Skip the age check: verify "now" at the request's own timestamp. A malformed one is left for
		// signing.Verify to report.
		if sec, err := strconv.ParseInt(h.Get(scheme.TimestampHeader), 10, 64); err == nil {
			at = time.Unix(sec, 0)
		}
		tolerance = DefaultTolerance
	}
	if err := signing.Verify(scheme, h, body, keys, tolerance, at); err != nil {
		return &Error{Kind: reason(err), Err: err}
	}
	return nil
}

// reason classifies an error of signing.Verify.
func reason(err error) error {
	switch {
	case errors.Is(err, signing.ErrNoSignature), errors.Is(err, signing.ErrMissingID):
		return ErrMissingHeader
	case errors.Is(err, signing.ErrMissingTimestamp), errors.Is(err, signing.ErrInvalidTimestamp),
		errors.Is(err, signing.ErrTimestampTolerance):
		return ErrTimestamp
	case errors.Is(err, signing.ErrNoKeys), errors.Is(err, signing.ErrInvalidSecret):
		return ErrNoSecret
	default:
		return ErrNoMatch
	}
}
