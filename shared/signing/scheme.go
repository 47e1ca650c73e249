package signing

import (
	"errors"
	"fmt"
	"net/textproto"
	"slices"
	"strings"
)

// Header names of the Standard Webhooks scheme.
const (
	IDHeader        = "Webhook-Id"
	TimestampHeader = "Webhook-Timestamp"
	SignatureHeader = "Webhook-Signature"
)

// Algorithm is the MAC algorithm of a signing block.
type Algorithm string

// AlgorithmHMACSHA256 is the only algorithm, and the default.
const AlgorithmHMACSHA256 Algorithm = "hmac-sha256"

// Encoding is how a signature is written in its header.
type Encoding string

// Encodings of a signature.
const (
	EncodingHex    Encoding = "hex"
	EncodingBase64 Encoding = "base64" // standard alphabet, padded
)

// Payload is what a signature covers; the parts are joined with ".".
type Payload string

// Signed payloads.
const (
	PayloadRawBody            Payload = "rawBody"
	PayloadTimestampRawBody   Payload = "timestamp.rawBody"
	PayloadIDTimestampRawBody Payload = "id.timestamp.rawBody"
)

// Block is an endpoint's signing block as written in the configuration, less the secret: any field may be
// left empty. Resolve turns it into the Scheme outhook signs with. The field names are the block's keys in
// the configuration file and in the CLI's --scheme flag.
type Block struct {
	Header          string
	TimestampHeader string
	SignedPayload   Payload
	Encoding        Encoding
	Algorithm       Algorithm
}

// Scheme says which headers carry the signature and the timestamp, what is signed and how the MAC is
// encoded. Get one from Resolve (or use Standard); the zero Scheme is not usable.
type Scheme struct {
	// Header carries the signatures (canonical MIME form).
	Header string
	// TimestampHeader carries the unix-seconds timestamp (canonical MIME form); "" for none.
	TimestampHeader string
	// SignedPayload is what the MAC covers.
	SignedPayload Payload
	// Encoding is how each MAC is written.
	Encoding Encoding
	// Versioned prefixes each signature with "v1," (the Standard Webhooks form).
	Versioned bool
}

// Standard is the Standard Webhooks scheme.
var Standard = Scheme{
	Header:          SignatureHeader,
	TimestampHeader: TimestampHeader,
	SignedPayload:   PayloadIDTimestampRawBody,
	Encoding:        EncodingBase64,
	Versioned:       true,
}

// versionPrefix starts each signature of a Versioned scheme.
const versionPrefix = "v1,"

// FieldError is an invalid field of a Block; Field is its key in the configuration (e.g. "signedPayload").
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// reservedHeaders are set by the sender itself; a signature or timestamp header may not replace them.
var reservedHeaders = []string{"content-length", "content-type", "connection", "host", "transfer-encoding",
	"user-agent", "webhook-id"}

// Resolve returns the scheme a signing block describes. It is the one place the defaults live:
//
//   - no block, or a block without header, timestampHeader, signedPayload and encoding (e.g. only a
//     secret): the Standard Webhooks scheme;
//   - otherwise header is required; encoding defaults to base64; signedPayload defaults to rawBody without
//     a timestampHeader (the plain `header` + `encoding` block) and to id.timestamp.rawBody with one;
//     timestamp.rawBody and id.timestamp.rawBody need a timestampHeader;
//   - algorithm, when given, must be hmac-sha256.
//
// An invalid block returns every problem at once, as errors.Join of *FieldError.
func Resolve(b *Block) (Scheme, error) {
	if b == nil {
		return Standard, nil
	}
	var errs []error
	fail := func(field, msg string) { errs = append(errs, &FieldError{Field: field, Message: msg}) }
	switch b.Algorithm {
	case "", AlgorithmHMACSHA256:
	default:
		fail("algorithm", fmt.Sprintf("%q is not supported (want %s)", b.Algorithm, AlgorithmHMACSHA256))
	}
	if b.Header == "" {
		if b.TimestampHeader != "" || b.SignedPayload != "" || b.Encoding != "" {
			fail("header", "is required when timestampHeader, signedPayload or encoding is set "+
				"(leave them all out to use the Standard Webhooks headers)")
		}
		if len(errs) > 0 {
			return Scheme{}, errors.Join(errs...)
		}
		return Standard, nil
	}

	s := Scheme{Header: textproto.CanonicalMIMEHeaderKey(b.Header), SignedPayload: b.SignedPayload, Encoding: b.Encoding}
	if msg := headerProblem(b.Header); msg != "" {
		fail("header", msg)
	}
	if b.TimestampHeader != "" {
		s.TimestampHeader = textproto.CanonicalMIMEHeaderKey(b.TimestampHeader)
		if msg := headerProblem(b.TimestampHeader); msg != "" {
			fail("timestampHeader", msg)
		} else if strings.EqualFold(b.TimestampHeader, b.Header) {
			fail("timestampHeader", "must differ from header")
		}
	}
	switch b.Encoding {
	case "":
		s.Encoding = EncodingBase64
	case EncodingHex, EncodingBase64:
	default:
		fail("encoding", fmt.Sprintf("%q is not supported (want hex or base64)", b.Encoding))
	}
	switch b.SignedPayload {
	case "":
		// The plain `header` + `encoding` block signs the body alone; with a timestamp header the id and
		// the timestamp are bound into the signature too.
		s.SignedPayload = PayloadRawBody
		if b.TimestampHeader != "" {
			s.SignedPayload = PayloadIDTimestampRawBody
		}
	case PayloadRawBody, PayloadTimestampRawBody, PayloadIDTimestampRawBody:
		if b.SignedPayload != PayloadRawBody && b.TimestampHeader == "" {
			fail("timestampHeader", fmt.Sprintf("is required when signedPayload is %s", b.SignedPayload))
		}
	default:
		fail("signedPayload", fmt.Sprintf("%q is not supported (want rawBody, timestamp.rawBody or "+
			"id.timestamp.rawBody)", b.SignedPayload))
	}
	if len(errs) > 0 {
		return Scheme{}, errors.Join(errs...)
	}
	return s, nil
}

// headerProblem says what is wrong with a signature or timestamp header name, or "".
func headerProblem(h string) string {
	for _, r := range h {
		if !isTokenChar(r) {
			return fmt.Sprintf("%q is not a valid HTTP header name", h)
		}
	}
	if slices.Contains(reservedHeaders, strings.ToLower(h)) {
		return fmt.Sprintf("%q is set by the sender and cannot carry a signature or timestamp", h)
	}
	return ""
}

// isTokenChar reports whether r may appear in an HTTP header name (an RFC 9110 token).
func isTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	default:
		return r < 128 && strings.ContainsRune("!#$%&'*+-.^_`|~", r)
	}
}

// Headers returns the names of the headers Sign sets, in canonical MIME form.
func (s Scheme) Headers() []string {
	if s.TimestampHeader == "" {
		return []string{s.Header}
	}
	return []string{s.Header, s.TimestampHeader}
}
