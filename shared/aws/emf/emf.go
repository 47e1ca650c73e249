// Package emf records outhook's metrics on AWS as CloudWatch Embedded Metric Format lines: one JSON object
// per line on the function's standard output, which Lambda sends to CloudWatch Logs, which extracts the
// metrics (names in package cwmetric) without any PutMetricData call.
package emf

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/outhook/outhook/shared/aws/cwmetric"
	"github.com/outhook/outhook/shared/webhook"
)

// Writer writes one EMF line per call to an io.Writer. It is safe for concurrent use.
type Writer struct {
	mu        sync.Mutex
	out       io.Writer
	namespace string
	now       func() time.Time
}

var _ webhook.Metrics = (*Writer)(nil)

// New returns a Writer of metrics in namespace (cwmetric.Namespace, or the deployment's namespace that the
// CDK construct sets) to out (os.Stdout in a Lambda function). now is the clock of the lines' timestamps; nil
// means time.Now.
func New(out io.Writer, namespace string, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	return &Writer{out: out, namespace: namespace, now: now}
}

// EventAccepted writes EventsAccepted = 1 for the set and the deployment.
func (w *Writer) EventAccepted(set string) {
	w.write(map[string]any{cwmetric.DimensionSet: set, cwmetric.EventsAccepted: 1},
		[]metric{{cwmetric.EventsAccepted, "Count"}}, false)
}

// AttemptRecorded writes the attempt's duration and, by its outcome, Delivered, Failed or RetriesQueued = 1,
// for the set, the deployment and, for a static endpoint, the endpoint.
func (w *Writer) AttemptRecorded(a webhook.AttemptMetric) {
	name := cwmetric.RetriesQueued
	switch a.Outcome {
	case webhook.StatusDelivered:
		name = cwmetric.Delivered
	case webhook.StatusFailed:
		name = cwmetric.Failed
	}
	fields := map[string]any{
		cwmetric.DimensionSet:    a.Set,
		name:                     1,
		cwmetric.AttemptDuration: a.Duration.Milliseconds(),
	}
	if a.Endpoint != "" {
		fields[cwmetric.DimensionEndpoint] = a.Endpoint
	}
	w.write(fields, []metric{{name, "Count"}, {cwmetric.AttemptDuration, "Milliseconds"}}, a.Endpoint != "")
}

// DeliveryHeld writes DeliveriesHeld = 1.
func (w *Writer) DeliveryHeld(set, endpoint string) { w.count(cwmetric.DeliveriesHeld, set, endpoint) }

// EndpointDisabled writes EndpointsDisabled = 1.
func (w *Writer) EndpointDisabled(set, endpoint string) {
	w.count(cwmetric.EndpointsDisabled, set, endpoint)
}

// count writes name = 1 for the set, the deployment and, when endpoint is not "", the endpoint.
func (w *Writer) count(name, set, endpoint string) {
	fields := map[string]any{cwmetric.DimensionSet: set, name: 1}
	if endpoint != "" {
		fields[cwmetric.DimensionEndpoint] = endpoint
	}
	w.write(fields, []metric{{name, "Count"}}, endpoint != "")
}

// metric is an EMF MetricDefinition.
type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// directive is an EMF MetricDirective.
type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

// write adds the _aws metadata to fields and writes them as one line. The metrics are aggregated for the
// whole deployment (the empty dimension set), per set and, with perEndpoint, per set and endpoint.
func (w *Writer) write(fields map[string]any, metrics []metric, perEndpoint bool) {
	dims := [][]string{{}, {cwmetric.DimensionSet}}
	if perEndpoint {
		dims = append(dims, []string{cwmetric.DimensionSet, cwmetric.DimensionEndpoint})
	}
	fields["_aws"] = map[string]any{
		"Timestamp":         w.now().UnixMilli(),
		"CloudWatchMetrics": []directive{{Namespace: w.namespace, Dimensions: dims, Metrics: metrics}},
	}
	line, err := json.Marshal(fields)
	if err != nil {
		return // strings and numbers only: cannot fail
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.out.Write(line) // a lost metric line must not fail a delivery
}
