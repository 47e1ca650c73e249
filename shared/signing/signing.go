// Package signing signs outbound webhook requests and verifies them, with HMAC-SHA256 in two schemes:
//
//   - Standard Webhooks (https://www.standardwebhooks.com): `webhook-timestamp: <unix seconds>` and
//     `webhook-signature: v1,<base64 HMAC of id.timestamp.body>`, the id being the `webhook-id` header;
//   - a configurable scheme (a signing Block with a header): the signature header carries the bare hex or
//     base64 HMAC of rawBody, timestamp.rawBody or id.timestamp.rawBody (parts joined with "."), and the
//     timestamp header, when configured, carries unix seconds.
//
// Resolve turns an endpoint's signing block, as written in the configuration, into its Scheme: it alone
// owns the defaults, and the sender, the receiver-side package verify and the outhook CLI all call it.
//
// In both schemes, signing with several keys (during a secret rotation window) puts one signature per key in
// the signature header, separated by single spaces, in the order of the keys; a receiver accepts the request
// if any signature matches any key it holds. Sign never sets `webhook-id`: the sender always sends it itself.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is the timestamp tolerance Verify applies when given none.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify and Key. They never contain secret, key or signature values.
var (
	ErrNoKeys             = errors.New("signing: no verification keys")
	ErrNoSignature        = errors.New("signing: no signature header")
	ErrMissingID          = errors.New("signing: no webhook-id header")
	ErrMissingTimestamp   = errors.New("signing: no timestamp header")
	ErrInvalidTimestamp   = errors.New("signing: timestamp is not unix seconds")
	ErrTimestampTolerance = errors.New("signing: timestamp outside the tolerance")
	ErrSignatureMismatch  = errors.New("signing: no signature matches")
	ErrInvalidSecret      = errors.New("signing: invalid secret")
)

// Key turns a secret into HMAC key bytes: a `whsec_` or `whcms_` secret is the prefix followed by the
// standard base64 of the key; any other string is used as its raw bytes.
func Key(secret string) ([]byte, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	for _, prefix := range []string{"whsec_", "whcms_"} {
		if rest, ok := strings.CutPrefix(secret, prefix); ok {
			key, err := base64.StdEncoding.DecodeString(rest)
			if err != nil || len(key) == 0 {
				return nil, fmt.Errorf("%w: a %s secret must be followed by standard base64 key bytes",
					ErrInvalidSecret, prefix)
			}
			return key, nil
		}
	}
	return []byte(secret), nil
}

// Sign returns the headers that sign body for message msgID at time ts, one signature per key. With no keys
// it returns an empty header: the delivery goes out unsigned.
func Sign(s Scheme, msgID string, ts time.Time, body []byte, keys [][]byte) http.Header {
	h := http.Header{}
	if len(keys) == 0 {
		return h
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	prefix := signedPrefix(s, msgID, stamp)
	// The header value, signatures separated by spaces, built in one buffer.
	value := make([]byte, 0, len(keys)*(len(versionPrefix)+2*sha256.Size+1))
	for i, k := range keys {
		if i > 0 {
			value = append(value, ' ')
		}
		value = s.appendEncoded(value, mac(k, prefix, body))
	}
	h.Set(s.Header, string(value))
	if s.TimestampHeader != "" {
		h.Set(s.TimestampHeader, stamp)
	}
	return h
}

// Verify checks that h signs body under scheme s with one of keys. The signatures are the space-separated
// values of the signature header (several header lines are read as one list). When the scheme has a timestamp header,
// the timestamp must be within tolerance of now in either direction (tolerance <= 0 means DefaultTolerance).
// The message id, when signed, comes from the webhook-id header. Signatures are compared in constant time.
func Verify(s Scheme, h http.Header, body []byte, keys [][]byte, tolerance time.Duration, now time.Time) error {
	if len(keys) == 0 {
		return ErrNoKeys
	}
	sigs := strings.Fields(strings.Join(h.Values(s.Header), " "))
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	var stamp string
	if s.TimestampHeader != "" {
		stamp = h.Get(s.TimestampHeader)
		if stamp == "" {
			return ErrMissingTimestamp
		}
		sec, err := strconv.ParseInt(stamp, 10, 64)
		if err != nil {
			return ErrInvalidTimestamp
		}
		if tolerance <= 0 {
			tolerance = DefaultTolerance
		}
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return ErrTimestampTolerance
		}
	} else if s.SignedPayload != PayloadRawBody {
		return ErrMissingTimestamp
	}
	var msgID string
	if s.SignedPayload == PayloadIDTimestampRawBody {
		msgID = h.Get(IDHeader)
		if msgID == "" {
			return ErrMissingID
		}
	}

	var got [][]byte
	for _, sig := range sigs {
		if b, ok := s.decode(sig); ok {
			got = append(got, b)
		}
	}
	prefix := signedPrefix(s, msgID, stamp)
	for _, k := range keys {
		want := mac(k, prefix, body)
		for _, g := range got {
			if hmac.Equal(want, g) {
				return nil
			}
		}
	}
	return ErrSignatureMismatch
}

// signedPrefix is what the scheme's signed payload puts before the raw body: nothing, "timestamp." or
// "id.timestamp.".
func signedPrefix(s Scheme, msgID, stamp string) []byte {
	switch s.SignedPayload {
	case PayloadTimestampRawBody:
		return []byte(stamp + ".")
	case PayloadIDTimestampRawBody:
		return []byte(msgID + "." + stamp + ".")
	}
	return nil
}

// mac computes the HMAC-SHA256 of prefix followed by body, without copying the body.
func mac(key, prefix, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(prefix)
	m.Write(body)
	return m.Sum(nil)
}

// appendEncoded appends one signature, encoded as the scheme says, to dst.
func (s Scheme) appendEncoded(dst, sum []byte) []byte {
	if s.Versioned {
		dst = append(dst, versionPrefix...)
	}
	if s.Encoding == EncodingHex {
		return hex.AppendEncode(dst, sum)
	}
	return base64.StdEncoding.AppendEncode(dst, sum)
}

// decode parses one signature of the header; signatures of another version or encoding are skipped.
func (s Scheme) decode(sig string) ([]byte, bool) {
	if s.Versioned {
		v, ok := strings.CutPrefix(sig, versionPrefix)
		if !ok {
			return nil, false
		}
		sig = v
	}
	var (
		b   []byte
		err error
	)
	if s.Encoding == EncodingHex {
		b, err = hex.DecodeString(sig)
	} else {
		b, err = base64.StdEncoding.DecodeString(sig)
	}
	return b, err == nil
}
