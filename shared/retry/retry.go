// Package retry computes when a failed delivery is attempted again: the attempts budget (including the
// first attempt), exponential or fixed backoff with jitter, capped at a maximum, and Retry-After.
// Randomness is injected, so delays are exact in tests.
package retry

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/config"
)

// Kind is a backoff kind.
type Kind string

// Backoff kinds; the zero Kind behaves as Exponential.
const (
	Exponential Kind = config.BackoffExponential
	Fixed       Kind = config.BackoffFixed
)

// Jitter bounds: an exponential delay is its base times a factor drawn uniformly from [JitterMin, JitterMax).
const (
	JitterMin = 0.8
	JitterMax = 1.2
)

// Policy is an endpoint's retry policy.
type Policy struct {
	// Attempts is the total number of attempts, including the first.
	Attempts int
	Backoff  Kind
	// Initial is the delay after the first failure (exponential) or after every failure (fixed).
	Initial time.Duration
	// Max caps every delay, Retry-After included.
	Max time.Duration
}

// FromConfig builds the policy of a validated retry block.
func FromConfig(r config.Retry) Policy {
	return Policy{
		Attempts: r.Attempts,
		Backoff:  Kind(r.Backoff),
		Initial:  time.Duration(r.InitialDelaySeconds) * time.Second,
		Max:      time.Duration(r.MaxDelaySeconds) * time.Second,
	}
}

// Delay is called when attempt number attempt (1-based) has just failed. It returns the wait before the next
// attempt, and false when the policy has no attempt left.
//
//   - exponential: base = Initial × 2^(attempt-1), capped at Max, then multiplied by a jitter factor
//     JitterMin + (JitterMax-JitterMin) × rnd() and capped at Max again (so a delay at the cap is never
//     lengthened, only shortened by up to 20 %). With Initial 0 every delay is 0.
//   - fixed: Initial every time, without jitter (capped at Max): fixed means predictable.
//
// retryAfter, the receiver's Retry-After already parsed (0 when absent), replaces the computed delay when it
// is longer, still capped at Max. rnd returns a value in [0, 1); nil means no jitter (factor 1).
func (p Policy) Delay(attempt int, retryAfter time.Duration, rnd func() float64) (time.Duration, bool) {
	if attempt >= p.Attempts {
		return 0, false
	}
	attempt = max(attempt, 1)
	maxDelay := max(p.Max, 0)

	d := min(max(p.Initial, 0), maxDelay)
	if p.Backoff != Fixed {
		for i := 1; i < attempt && d < maxDelay; i++ {
			if d > maxDelay/2 {
				d = maxDelay
			} else {
				d *= 2
			}
		}
		d = jitter(d, maxDelay, rnd)
	}
	if retryAfter > d {
		d = min(retryAfter, maxDelay)
	}
	return d, true
}

func jitter(d, maxDelay time.Duration, rnd func() float64) time.Duration {
	if rnd == nil || d == 0 {
		return d
	}
	r := min(max(rnd(), 0), 1)
	f := float64(d) * (JitterMin + (JitterMax-JitterMin)*r)
	if f >= float64(maxDelay) {
		return maxDelay
	}
	return time.Duration(f)
}

// maxRetryAfterSeconds keeps a parsed Retry-After representable as a time.Duration.
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// ParseRetryAfter parses a Retry-After header value, either delay-seconds or an HTTP date, into a wait from
// now. An absent, malformed or past value gives 0.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if h[0] >= '0' && h[0] <= '9' {
		n, err := strconv.ParseInt(h, 10, 64)
		switch {
		case err == nil:
			return time.Duration(min(n, maxRetryAfterSeconds)) * time.Second
		case strings.Trim(h, "0123456789") == "": // all digits, too large for int64
			return time.Duration(maxRetryAfterSeconds) * time.Second
		}
	}
	t, err := http.ParseTime(h)
	if err != nil || !t.After(now) {
		return 0
	}
	return t.Sub(now)
}
