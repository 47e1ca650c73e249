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

// Writer writes one EMF line per call to an io.Writer, or, made by NewBuffered, sums the events accepted and
// the attempts until Flush. It is safe for concurrent use.
type Writer struct {
	mu        sync.Mutex
	out       io.Writer
	namespace string
	now       func() time.Time
	buffered  bool
	accepted  map[string]int                 // set -> events accepted since the last Flush
	attempts  map[attemptKey]*attemptSummary // attempts recorded since the last Flush
	order     []attemptKey                   // the keys of attempts in their first-seen order
}

// attemptKey groups attempts on one line: a static endpoint of a set, or the set's user endpoints.
type attemptKey struct{ set, endpoint string }

// attemptSummary is what the attempts of one key add up to: counts by metric name and every duration.
type attemptSummary struct {
	counts    map[string]int
	durations []int64
}

// maxValues is how many values one EMF metric member may hold (the format's limit for an array).
const maxValues = 100

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

// NewBuffered is New for a Lambda function: EventAccepted and AttemptRecorded are summed until Flush, which
// the function calls at the end of each invocation, and written as one line per set (events) and per set and
// endpoint (attempts: their counts, and their durations as an array of values). A batch of ten deliveries is
// one line instead of ten: CloudWatch Logs bills the bytes ingested, and CloudWatch computes the same sums
// and percentiles. Held deliveries and disabled endpoints, rare, are written at once.
func NewBuffered(out io.Writer, namespace string, now func() time.Time) *Writer {
	w := New(out, namespace, now)
	w.buffered = true
	return w
}

// EventAccepted writes EventsAccepted = 1 for the set and the deployment.
func (w *Writer) EventAccepted(set string) {
	if w.buffered {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.accepted == nil {
			w.accepted = make(map[string]int)
		}
		w.accepted[set]++
		return
	}
	w.write(map[string]any{cwmetric.DimensionSet: set, cwmetric.EventsAccepted: 1},
		[]metric{{cwmetric.EventsAccepted, "Count"}}, false)
}

// Flush writes what a buffered Writer summed since the last Flush; it does nothing on an unbuffered one.
func (w *Writer) Flush() {
	if !w.buffered {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for set, n := range w.accepted {
		w.writeLocked(map[string]any{cwmetric.DimensionSet: set, cwmetric.EventsAccepted: n},
			[]metric{{cwmetric.EventsAccepted, "Count"}}, false)
	}
	for _, k := range w.order {
		w.writeSummaryLocked(k, w.attempts[k])
	}
	w.accepted, w.attempts, w.order = nil, nil, nil
}

// addAttempt sums an attempt into its key's summary; a summary holding maxValues durations is written at once.
func (w *Writer) addAttempt(k attemptKey, name string, ms int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.attempts == nil {
		w.attempts = make(map[attemptKey]*attemptSummary)
	}
	sum := w.attempts[k]
	if sum == nil {
		sum = &attemptSummary{counts: map[string]int{}}
		w.attempts[k] = sum
		w.order = append(w.order, k)
	}
	sum.counts[name]++
	sum.durations = append(sum.durations, ms)
	if len(sum.durations) == maxValues {
		w.writeSummaryLocked(k, sum)
		*sum = attemptSummary{counts: map[string]int{}}
	}
}

// writeSummaryLocked writes one key's attempts as one line, if there are any.
func (w *Writer) writeSummaryLocked(k attemptKey, sum *attemptSummary) {
	if len(sum.durations) == 0 {
		return
	}
	fields := map[string]any{cwmetric.DimensionSet: k.set, cwmetric.AttemptDuration: sum.durations}
	var metrics []metric
	for _, name := range []string{cwmetric.Delivered, cwmetric.Failed, cwmetric.RetriesQueued} {
		if n := sum.counts[name]; n > 0 {
			fields[name] = n
			metrics = append(metrics, metric{name, "Count"})
		}
	}
	metrics = append(metrics, metric{cwmetric.AttemptDuration, "Milliseconds"})
	if k.endpoint != "" {
		fields[cwmetric.DimensionEndpoint] = k.endpoint
	}
	w.writeLocked(fields, metrics, k.endpoint != "")
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
	if w.buffered {
		w.addAttempt(attemptKey{a.Set, a.Endpoint}, name, a.Duration.Milliseconds())
		return
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
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeLocked(fields, metrics, perEndpoint)
}

// writeLocked is write with w.mu held.
func (w *Writer) writeLocked(fields map[string]any, metrics []metric, perEndpoint bool) {
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
	_, _ = w.out.Write(line) // a lost metric line must not fail a delivery
}
