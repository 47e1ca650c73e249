// Package cwmetric names outhook's CloudWatch metrics: the namespace, the metric names and the dimensions
// that the functions emit (package emf) and that the CDK construct graphs and alarms on (infra/outhookcdk).
// It imports nothing, so the CDK app can use it without linking the domain.
package cwmetric

// Namespace is the CloudWatch namespace of every outhook metric.
const Namespace = "Outhook"

// The metrics. Each is emitted per set (dimension set), per static endpoint (set and endpoint) and for the
// whole deployment (no dimension); EventsAccepted has no endpoint.
const (
	EventsAccepted  = "EventsAccepted"  // Count: events stored and queued by send
	Delivered       = "Delivered"       // Count: deliveries that ended delivered (a 2xx)
	Failed          = "Failed"          // Count: deliveries that ended failed (no attempt left, or refused)
	RetriesQueued   = "RetriesQueued"   // Count: failed attempts after which another attempt was queued
	AttemptDuration = "AttemptDuration" // Milliseconds: the duration of each attempt

	DeliveriesHeld    = "DeliveriesHeld"    // Count: deliveries held because their endpoint is paused or disabled
	EndpointsDisabled = "EndpointsDisabled" // Count: endpoints turned off by auto-disable
)

// The dimensions. Endpoint is set only for the endpoints of the config, never for the endpoints users
// register at runtime: one metric per user would cost per user.
const (
	DimensionSet      = "set"
	DimensionEndpoint = "endpoint"
)
