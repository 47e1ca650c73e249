package webhook

import (
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/store"
)

// Metrics receives what the service does, for dashboards and alarms: the local server exposes it in the
// Prometheus text format, the Lambdas write CloudWatch Embedded Metric Format lines. Calls happen on the
// request or delivery path, so an implementation must be quick and must not fail.
type Metrics interface {
	// EventAccepted is called once per event send stored and queued (not for an idempotent replay).
	EventAccepted(set string)
	// AttemptRecorded is called once per delivery attempt recorded in the event log.
	AttemptRecorded(a AttemptMetric)
}

// AttemptMetric is one recorded delivery attempt.
type AttemptMetric struct {
	Set string
	// Endpoint names a static endpoint of the config; it is empty for an endpoint a user registered, so
	// that no metric is kept per user.
	Endpoint string
	// Outcome is StatusDelivered, StatusRetrying (another attempt is queued) or StatusFailed (no attempt left).
	Outcome  string
	Duration time.Duration
}

// noMetrics is the default: it records nothing.
type noMetrics struct{}

func (noMetrics) EventAccepted(string)          {}
func (noMetrics) AttemptRecorded(AttemptMetric) {}

// recordAttempt reports a recorded attempt of job j to the metrics. An endpoint a user registered is reported
// without its name.
func (s *Service) recordAttempt(set *config.ResolvedSet, j job, a store.Attempt) {
	m := AttemptMetric{Set: set.Name, Duration: a.Duration}
	if j.User == "" {
		m.Endpoint = a.Endpoint
	}
	m.Outcome, _, _, _ = statusOf(a)
	s.metrics.AttemptRecorded(m)
}
