package retry_test

import (
	"fmt"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/retry"
)

// The partner endpoint of the reference page: 8 attempts, exponential from 10 s, capped at 600 s. With nil
// randomness there is no jitter; in production each delay is scaled by a factor in [0.8, 1.2).
func ExamplePolicy_Delay() {
	p := retry.FromConfig(config.Retry{Attempts: 8, Backoff: "exponential", InitialDelaySeconds: 10, MaxDelaySeconds: 600})
	for attempt := 1; ; attempt++ {
		d, more := p.Delay(attempt, 0, nil)
		if !more {
			fmt.Printf("attempt %d failed: no attempt left\n", attempt)
			return
		}
		fmt.Printf("attempt %d failed: next in %v\n", attempt, d)
	}
	// Output:
	// attempt 1 failed: next in 10s
	// attempt 2 failed: next in 20s
	// attempt 3 failed: next in 40s
	// attempt 4 failed: next in 1m20s
	// attempt 5 failed: next in 2m40s
	// attempt 6 failed: next in 5m20s
	// attempt 7 failed: next in 10m0s
	// attempt 8 failed: no attempt left
}
