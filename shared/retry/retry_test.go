package retry_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/retry"
)

func constant(v float64) func() float64 { return func() float64 { return v } }

func TestFromConfig(t *testing.T) {
	t.Parallel()

	require.Equal(t, retry.Policy{Attempts: 8, Backoff: retry.Exponential, Initial: 10 * time.Second, Max: 600 * time.Second},
		retry.FromConfig(config.Retry{Attempts: 8, Backoff: "exponential", InitialDelaySeconds: 10, MaxDelaySeconds: 600}))
	require.Equal(t, retry.Policy{Attempts: 3, Backoff: retry.Fixed, Initial: time.Second, Max: time.Hour},
		retry.FromConfig(config.Retry{Attempts: 3, Backoff: "fixed", InitialDelaySeconds: 1, MaxDelaySeconds: 3600}))
}

func TestPolicy_Delay(t *testing.T) {
	t.Parallel()

	partner := retry.Policy{Attempts: 8, Backoff: retry.Exponential, Initial: 10 * time.Second, Max: 600 * time.Second}
	fixed := retry.Policy{Attempts: 3, Backoff: retry.Fixed, Initial: 30 * time.Second, Max: time.Minute}
	tests := []struct {
		name       string
		policy     retry.Policy
		attempt    int
		retryAfter time.Duration
		rnd        func() float64
		want       time.Duration
		more       bool
	}{
		{"exp 1 no jitter", partner, 1, 0, nil, 10 * time.Second, true},
		{"exp 2 no jitter", partner, 2, 0, nil, 20 * time.Second, true},
		{"exp 3 no jitter", partner, 3, 0, nil, 40 * time.Second, true},
		{"exp 6 no jitter", partner, 6, 0, nil, 320 * time.Second, true},
		{"exp 7 capped", partner, 7, 0, nil, 600 * time.Second, true},
		{"exp 8 is the last", partner, 8, 0, nil, 0, false},
		{"exp beyond the last", partner, 9, 0, nil, 0, false},
		{"exp 1 jitter low", partner, 1, 0, constant(0), 8 * time.Second, true},
		{"exp 1 jitter mid", partner, 1, 0, constant(0.5), 10 * time.Second, true},
		{"exp 1 jitter high", partner, 1, 0, constant(0.999), 11996 * time.Millisecond, true},
		{"exp 3 jitter quarter", partner, 3, 0, constant(0.25), 36 * time.Second, true},
		{"exp 6 jitter high", partner, 6, 0, constant(0.75), 352 * time.Second, true},
		{"exp capped jitter high stays at max", partner, 7, 0, constant(0.9), 600 * time.Second, true},
		{"exp capped jitter low shortens", partner, 7, 0, constant(0), 480 * time.Second, true},
		{"exp rnd out of range is clamped", partner, 1, 0, constant(7), 12 * time.Second, true},
		{"exp attempt 0 treated as 1", partner, 0, 0, nil, 10 * time.Second, true},
		{"retry-after longer wins", partner, 1, 90 * time.Second, constant(0), 90 * time.Second, true},
		{"retry-after shorter ignored", partner, 3, 5 * time.Second, nil, 40 * time.Second, true},
		{"retry-after capped at max", partner, 1, time.Hour, nil, 600 * time.Second, true},
		{"retry-after on last attempt", partner, 8, time.Minute, nil, 0, false},
		{"fixed 1", fixed, 1, 0, nil, 30 * time.Second, true},
		{"fixed 2 no jitter", fixed, 2, 0, constant(0), 30 * time.Second, true},
		{"fixed 3 is the last", fixed, 3, 0, nil, 0, false},
		{"fixed retry-after", fixed, 1, 45 * time.Second, nil, 45 * time.Second, true},
		{"fixed retry-after capped", fixed, 1, 2 * time.Minute, nil, time.Minute, true},
		{"fixed initial above max", retry.Policy{Attempts: 2, Backoff: retry.Fixed, Initial: time.Hour, Max: time.Minute},
			1, 0, nil, time.Minute, true},
		{"zero initial", retry.Policy{Attempts: 5, Initial: 0, Max: time.Minute}, 4, 0, constant(0.9), 0, true},
		{"zero initial retry-after", retry.Policy{Attempts: 5, Initial: 0, Max: time.Minute}, 4, time.Second, nil,
			time.Second, true},
		{"single attempt", retry.Policy{Attempts: 1, Initial: time.Second, Max: time.Minute}, 1, 0, nil, 0, false},
		{"huge max does not overflow", retry.Policy{Attempts: 50, Initial: time.Hour, Max: math.MaxInt64}, 49, 0, nil,
			math.MaxInt64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, more := tt.policy.Delay(tt.attempt, tt.retryAfter, tt.rnd)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.more, more)
		})
	}
}

func TestPolicy_Delay_Bounds(t *testing.T) {
	t.Parallel()

	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := retry.Policy{
			Attempts: 1 + r.IntN(50),
			Backoff:  []retry.Kind{retry.Exponential, retry.Fixed, ""}[r.IntN(3)],
			Initial:  time.Duration(r.Int64N(int64(8 * 24 * time.Hour))),
			Max:      time.Duration(r.Int64N(int64(8 * 24 * time.Hour))),
		}
		attempt := r.IntN(60)
		retryAfter := time.Duration(r.Int64N(int64(30 * 24 * time.Hour)))
		d, more := p.Delay(attempt, retryAfter, r.Float64)
		require.GreaterOrEqual(t, d, time.Duration(0), "%+v attempt %d", p, attempt)
		require.LessOrEqual(t, d, p.Max, "%+v attempt %d", p, attempt)
		require.Equal(t, attempt < p.Attempts, more)
		if more && retryAfter <= p.Max {
			require.GreaterOrEqual(t, d, retryAfter, "Retry-After is honoured up to Max")
		}
	}
}

func TestPolicy_Delay_GrowsUntilCap(t *testing.T) {
	t.Parallel()

	p := retry.Policy{Attempts: 20, Backoff: retry.Exponential, Initial: time.Second, Max: 5 * time.Minute}
	prev := time.Duration(0)
	for attempt := 1; attempt < p.Attempts; attempt++ {
		d, more := p.Delay(attempt, 0, nil)
		require.True(t, more)
		require.GreaterOrEqual(t, d, prev)
		prev = d
	}
	require.Equal(t, p.Max, prev)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999999", time.Duration(math.MaxInt64/int64(time.Second)) * time.Second},
		{"Fri, 27 Nov 2026 12:01:30 GMT", 90 * time.Second},
		{"Friday, 27-Nov-26 12:00:10 GMT", 10 * time.Second},
		{"Fri Nov 27 12:00:05 2026", 5 * time.Second},
		{"Fri, 27 Nov 2026 11:59:00 GMT", 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, retry.ParseRetryAfter(tt.in, now), tt.in)
	}
}
