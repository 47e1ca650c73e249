package config_test

import (
	"fmt"

	"github.com/outhook/outhook/shared/config"
)

func ExampleParse() {
	cfg, err := config.Parse([]byte(`
sets:
  - name: partner-events
    endpoints:
      - name: partner
        url: https://partner.example.com/webhooks
        retry: {attempts: 8, initialDelaySeconds: 10, maxDelaySeconds: 600}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resolved, err := cfg.Validate()
	if err != nil {
		fmt.Println(err)
		return
	}
	set, _ := resolved.Set("partner-events")
	ep, _ := set.Endpoint("partner")
	fmt.Println(ep.Retry.Backoff, ep.Timeout, set.RotationWindow)
	// Output: exponential 15s 24h0m0s
}

func ExampleConfig_Validate() {
	cfg := &config.Config{Sets: []config.Set{{
		Name: "billing-events",
		Endpoints: []config.Endpoint{{
			Name:  "crm",
			URL:   "crm.example.com/hooks",
			Retry: &config.Retry{Attempts: 0},
		}},
	}}}
	_, err := cfg.Validate()
	fmt.Println(err)
	// Output:
	// sets[0].endpoints[0].url: must be an absolute http or https URL
	// sets[0].endpoints[0].retry.attempts: must be at least 1 and at most 50 (the total, including the first)
}
