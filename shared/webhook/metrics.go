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
	// DeliveryHeld is called when a delivery is held because its endpoint is paused or disabled; endpoint is
	// "" for an endpoint a user registered.
	DeliveryHeld(set, endpoint string)
	// EndpointDisabled is called when auto-disable turns an endpoint off; endpoint is "" for a user's.
	EndpointDisabled(set, endpoint string)
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

func (noMetrics) EventAccepted(string)            {}
func (noMetrics) AttemptRecorded(AttemptMetric)   {}
func (noMetrics) DeliveryHeld(string, string)     {}
func (noMetrics) EndpointDisabled(string, string) {}

// staticName is the endpoint's name for the metrics: "" for an endpoint a user registered.
func staticName(userID, name string) string {
	if userID != "" {
		return ""
	}
	return name
}

// recordAttempt reports a recorded attempt of job j to the metrics. An endpoint a user registered is reported
// without its name.
func (s *Service) recordAttempt(set *config.ResolvedSet, j job, a store.Attempt) {
	m := AttemptMetric{Set: set.Name, Endpoint: staticName(j.User, a.Endpoint), Duration: a.Duration}
	m.Outcome, _, _, _ = statusOf(a)
	s.metrics.AttemptRecorded(m)
}
