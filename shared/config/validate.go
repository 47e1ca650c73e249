package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/outhook/outhook/shared/signing"
)

// Values accepted by the retry fields (package signing owns the signing fields' values).
const (
	BackoffExponential = "exponential"
	BackoffFixed       = "fixed"
)

// Limits enforced by Validate.
const (
	MaxNameLength       = 64
	MaxSecretNameLength = 512
	MaxAttempts         = 50
	MaxDelaySeconds     = 7 * 86400
	// MaxTimeoutSeconds bounds one POST. On AWS the deliver function gets the longest endpoint timeout plus a
	// margin for its own reads and writes, and that must fit in a Lambda invocation's 900 s: package
	// outhookcdk checks at compile time that this bound and its margin do.
	MaxTimeoutSeconds        = 600
	MaxRotationWindowSeconds = 365 * 86400
	MaxRetentionDays         = 3650
	MaxEventTypeLength       = 256
	MaxEventTypePatterns     = 100
	MaxPerUserLimit          = 1000
	MaxAfterFailedDeliveries = 10000
	MaxAfterSeconds          = 365 * 86400
)

var (
	nameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)
)

// FieldError is one invalid field: Path is the field's path in the file, e.g.
// `sets[1].endpoints[0].retry.attempts`.
type FieldError struct {
	Path    string
	Message string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Message }

// Validate checks the whole configuration and returns it resolved: a copy with every default applied. It
// reports every invalid field at once (errors.Join of *FieldError, in file order). c is left as written.
//
// Defaults and rules worth knowing:
//   - rotationWindowSeconds 0 means the default 86400: a rotation window cannot be switched off, only shortened
//     (1 second at least);
//   - retentionDays 0 means 30; timeoutSeconds 0 means 15;
//   - an endpoint without a retry block gets attempts 5, exponential, 30 s initial, 3600 s max; in a retry block
//     attempts is required, backoff defaults to exponential, initialDelaySeconds 0 means retry at once, and
//     maxDelaySeconds 0 means 3600;
//   - a signing block says which secret signs: `secret` (a named secret) or `userSecret: true` (the managed
//     secret of the send's userId: a send without one is refused); an endpoint without a signing block is
//     signed with the user's managed secret when send gets a userId, and is unsigned otherwise;
//   - the rest of a signing block is resolved by signing.Resolve, which owns its defaults: with only `secret`
//     (and optionally `algorithm`) it signs with the Standard Webhooks headers; otherwise `header` is
//     required, encoding defaults to base64, and signedPayload to id.timestamp.rawBody with a
//     timestampHeader, rawBody without one (the reference page's `header` + `encoding` block). The resolved
//     block carries the resolved algorithm, encoding and signedPayload.
func (c *Config) Validate() (*Resolved, error) {
	if c == nil {
		return nil, errors.New("config is nil")
	}
	cp := c.clone()
	c = &cp // the validator fills in the copy's defaults
	v := &validator{}
	if len(c.Sets) == 0 {
		v.fail("sets", "at least one set is required")
	}
	setNames := map[string]int{}
	for i := range c.Sets {
		s := &c.Sets[i]
		p := fmt.Sprintf("sets[%d]", i)
		if v.name(p+".name", s.Name) {
			if j, dup := setNames[s.Name]; dup {
				v.fail(p+".name", fmt.Sprintf("duplicate set name %q (also sets[%d])", s.Name, j))
			}
			setNames[s.Name] = i
		}
		v.set(p, s)
	}
	for i, s := range c.Sets {
		if s.OnEndpointDisabled == nil {
			continue
		}
		p := fmt.Sprintf("sets[%d].onEndpointDisabled.set", i)
		if _, ok := setNames[s.OnEndpointDisabled.Set]; !ok {
			v.fail(p, fmt.Sprintf("%q is not a set of this config", s.OnEndpointDisabled.Set))
		}
	}
	if err := errors.Join(v.errs...); err != nil {
		return nil, err
	}
	return c.resolved(), nil
}

type validator struct {
	errs []error
}

func (v *validator) fail(path, msg string) {
	v.errs = append(v.errs, &FieldError{Path: path, Message: msg})
}

// ValidName reports whether name is an acceptable set or endpoint name.
func ValidName(name string) bool { return len(name) <= MaxNameLength && nameRE.MatchString(name) }

// name checks a set or endpoint name and reports whether it is valid.
func (v *validator) name(path, name string) bool {
	switch {
	case name == "":
		v.fail(path, "is required")
	case len(name) > MaxNameLength:
		v.fail(path, fmt.Sprintf("must be at most %d characters", MaxNameLength))
	case !nameRE.MatchString(name):
		v.fail(path, fmt.Sprintf("%q must match [a-z0-9][a-z0-9._-]*", name))
	default:
		return true
	}
	return false
}

// orDefault sets *n to def when it is 0, and otherwise requires it to be between 1 and limit.
func (v *validator) orDefault(path string, n *int, def, limit int) {
	switch {
	case *n == 0:
		*n = def
	case *n < 0 || *n > limit:
		v.fail(path, fmt.Sprintf("must be between 1 and %d (0 means the default %d)", limit, def))
	}
}

func (v *validator) set(p string, s *Set) {
	v.orDefault(p+".rotationWindowSeconds", &s.RotationWindowSeconds, DefaultRotationWindowSeconds, MaxRotationWindowSeconds)
	v.orDefault(p+".retentionDays", &s.RetentionDays, DefaultRetentionDays, MaxRetentionDays)
	userEndpoints := s.UserEndpoints != nil && s.UserEndpoints.Enabled
	if len(s.Endpoints) == 0 && !userEndpoints {
		v.fail(p+".endpoints", "at least one endpoint is required (or userEndpoints.enabled)")
	}
	if s.UserEndpoints != nil {
		v.userEndpoints(p+".userEndpoints", s.UserEndpoints)
	}
	names := map[string]int{}
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		ep := fmt.Sprintf("%s.endpoints[%d]", p, i)
		if v.name(ep+".name", e.Name) {
			if j, dup := names[e.Name]; dup {
				v.fail(ep+".name", fmt.Sprintf("duplicate endpoint name %q (also endpoints[%d])", e.Name, j))
			}
			names[e.Name] = i
		}
		v.endpoint(ep, e)
	}
}

func (v *validator) endpoint(p string, e *Endpoint) {
	v.url(p+".url", e.URL)
	v.orDefault(p+".timeoutSeconds", &e.TimeoutSeconds, DefaultTimeoutSeconds, MaxTimeoutSeconds)
	if e.Signing != nil {
		v.signing(p+".signing", e.Signing)
	}
	v.eventTypes(p+".eventTypes", e.EventTypes)
	v.autoDisable(p+".autoDisable", &e.AutoDisable)
	v.retryOrDefault(p+".retry", &e.Retry)
}

func (v *validator) retryOrDefault(p string, r **Retry) {
	if *r == nil {
		*r = &Retry{
			Attempts:            DefaultAttempts,
			Backoff:             BackoffExponential,
			InitialDelaySeconds: DefaultInitialDelaySeconds,
			MaxDelaySeconds:     DefaultMaxDelaySeconds,
		}
		return
	}
	v.retry(p, *r)
}

func (v *validator) userEndpoints(p string, u *UserEndpoints) {
	v.orDefault(p+".maxPerUser", &u.MaxPerUser, DefaultMaxPerUser, MaxPerUserLimit)
	v.orDefault(p+".timeoutSeconds", &u.TimeoutSeconds, DefaultTimeoutSeconds, MaxTimeoutSeconds)
	v.autoDisable(p+".autoDisable", &u.AutoDisable)
	v.retryOrDefault(p+".retry", &u.Retry)
}

// EventTypesError returns why patterns are not an acceptable eventTypes list, or "" if they are. A message
// about one pattern starts with its index, e.g. `[2]: must not be empty`.
func EventTypesError(patterns []string) string {
	if len(patterns) > MaxEventTypePatterns {
		return fmt.Sprintf("must have at most %d patterns", MaxEventTypePatterns)
	}
	for i, pat := range patterns {
		if msg := CheckEventTypePattern(pat); msg != "" {
			return fmt.Sprintf("[%d]: %s", i, msg)
		}
	}
	return ""
}

func (v *validator) eventTypes(p string, patterns []string) {
	msg := EventTypesError(patterns)
	if msg == "" {
		return
	}
	if idx, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(idx, "[") {
		v.fail(p+idx, rest)
		return
	}
	v.fail(p, msg)
}

// autoDisable fills in the default rule when the block is absent and checks it when present.
func (v *validator) autoDisable(p string, a **AutoDisable) {
	if *a == nil {
		*a = &AutoDisable{AfterFailedDeliveries: DefaultAfterFailedDeliveries, AfterSeconds: DefaultAfterSeconds}
		return
	}
	if n := (*a).AfterFailedDeliveries; n < 1 || n > MaxAfterFailedDeliveries {
		v.fail(p+".afterFailedDeliveries", fmt.Sprintf("must be between 1 and %d", MaxAfterFailedDeliveries))
	}
	if t := (*a).AfterSeconds; t < 0 || t > MaxAfterSeconds {
		v.fail(p+".afterSeconds", fmt.Sprintf("must be between 0 and %d", MaxAfterSeconds))
	}
}

func (v *validator) url(p, raw string) {
	if raw == "" {
		v.fail(p, "is required")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.fail(p, "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		v.fail(p, "must be an absolute http or https URL")
	case u.Host == "" || u.Hostname() == "":
		v.fail(p, "must have a host")
	case u.User != nil:
		v.fail(p, "must not contain credentials (they would be stored in the event log)")
	case u.Port() != "":
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			v.fail(p, fmt.Sprintf("port %s is not a TCP port (1 to 65535)", u.Port()))
		}
	}
}

func (v *validator) signing(p string, s *Signing) {
	switch {
	case s.Secret != "" && s.UserSecret:
		v.fail(p+".userSecret", "cannot be combined with secret: sign with a named secret or with the user's secret")
	case s.Secret == "" && !s.UserSecret:
		v.fail(p, "needs secret (the name of a signing secret) or userSecret: true (the managed secret of the "+
			"send's userId); without a signing block an endpoint is signed only for sends that name a user")
	case s.Secret == "":
	case len(s.Secret) > MaxSecretNameLength:
		v.fail(p+".secret", fmt.Sprintf("must be at most %d characters", MaxSecretNameLength))
	case !secretNameRE.MatchString(s.Secret):
		v.fail(p+".secret", "must be a secret name matching [A-Za-z0-9_./-]+")
	}
	sc, err := signing.Resolve(s.Block())
	if err != nil {
		var fields interface{ Unwrap() []error }
		if !errors.As(err, &fields) {
			v.fail(p, err.Error())
			return
		}
		for _, e := range fields.Unwrap() {
			var fe *signing.FieldError
			if errors.As(e, &fe) {
				v.fail(p+"."+fe.Field, fe.Message)
			} else {
				v.fail(p, e.Error())
			}
		}
		return
	}
	s.Algorithm = signing.AlgorithmHMACSHA256
	if s.Header != "" {
		s.SignedPayload, s.Encoding = sc.SignedPayload, sc.Encoding
	}
}

func (v *validator) retry(p string, r *Retry) {
	if r.Attempts < 1 || r.Attempts > MaxAttempts {
		v.fail(p+".attempts", fmt.Sprintf("must be at least 1 and at most %d (the total, including the first)",
			MaxAttempts))
	}
	switch r.Backoff {
	case "":
		r.Backoff = BackoffExponential
	case BackoffExponential, BackoffFixed:
	default:
		v.fail(p+".backoff", fmt.Sprintf("%q is not supported (want exponential or fixed)", r.Backoff))
	}
	if r.InitialDelaySeconds < 0 || r.InitialDelaySeconds > MaxDelaySeconds {
		v.fail(p+".initialDelaySeconds", fmt.Sprintf("must be between 0 and %d", MaxDelaySeconds))
		return
	}
	switch {
	case r.MaxDelaySeconds == 0:
		r.MaxDelaySeconds = DefaultMaxDelaySeconds
		if r.InitialDelaySeconds > r.MaxDelaySeconds {
			v.fail(p+".maxDelaySeconds", fmt.Sprintf("is required when initialDelaySeconds exceeds the default "+
				"maximum %d", DefaultMaxDelaySeconds))
		}
	case r.MaxDelaySeconds < 0 || r.MaxDelaySeconds > MaxDelaySeconds:
		v.fail(p+".maxDelaySeconds", fmt.Sprintf("must be between 1 and %d (0 means the default %d)",
			MaxDelaySeconds, DefaultMaxDelaySeconds))
	case r.InitialDelaySeconds > r.MaxDelaySeconds:
		v.fail(p+".initialDelaySeconds", fmt.Sprintf("must not exceed maxDelaySeconds (%d)", r.MaxDelaySeconds))
	}
}
