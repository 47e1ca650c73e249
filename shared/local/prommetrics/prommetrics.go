// Package prommetrics records outhook's metrics in the local server's memory and serves them in the
// Prometheus text exposition format (GET /metrics). The series are those the Lambdas emit to CloudWatch
// (package emf): events accepted, deliveries by outcome, retries queued and attempt durations, deliveries held
// and endpoints disabled, per set and per static endpoint. The counters start at zero with each start of the
// server.
package prommetrics

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/outhook/outhook/shared/webhook"
)

// Buckets are the upper bounds, in seconds, of the attempt duration histogram.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Registry holds the series. It is safe for concurrent use; the zero value is not usable (use New).
type Registry struct {
	mu        sync.Mutex
	accepted  map[string]uint64      // by set
	delivered map[endpointKey]uint64 // deliveries that ended delivered
	failed    map[endpointKey]uint64 // deliveries that ended failed
	retries   map[endpointKey]uint64 // attempts after which a retry was queued
	held      map[endpointKey]uint64 // deliveries held (endpoint paused or disabled)
	disabled  map[endpointKey]uint64 // auto-disables
	durations map[endpointKey]*histogram
}

var _ webhook.Metrics = (*Registry)(nil)

// endpointKey labels a series: the set and the static endpoint ("" for the endpoints users register).
type endpointKey struct{ set, endpoint string }

func (k endpointKey) compare(o endpointKey) int {
	return cmp.Or(strings.Compare(k.set, o.set), strings.Compare(k.endpoint, o.endpoint))
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last one is +Inf
	sum    float64
	count  uint64
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{
		accepted:  map[string]uint64{},
		delivered: map[endpointKey]uint64{},
		failed:    map[endpointKey]uint64{},
		retries:   map[endpointKey]uint64{},
		held:      map[endpointKey]uint64{},
		disabled:  map[endpointKey]uint64{},
		durations: map[endpointKey]*histogram{},
	}
}

// EventAccepted counts an event accepted by send.
func (r *Registry) EventAccepted(set string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accepted[set]++
}

// AttemptRecorded counts the attempt's outcome and observes its duration.
func (r *Registry) AttemptRecorded(a webhook.AttemptMetric) {
	k := endpointKey{a.Set, a.Endpoint}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch a.Outcome {
	case webhook.StatusDelivered:
		r.delivered[k]++
	case webhook.StatusFailed:
		r.failed[k]++
	default:
		r.retries[k]++
	}
	h := r.durations[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(Buckets)+1)}
		r.durations[k] = h
	}
	s := a.Duration.Seconds()
	i, _ := slices.BinarySearch(Buckets, s) // the first bound >= s, or len(Buckets): +Inf
	h.counts[i]++
	h.sum += s
	h.count++
}

// DeliveryHeld counts a delivery held because its endpoint is paused or disabled.
func (r *Registry) DeliveryHeld(set, endpoint string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[endpointKey{set, endpoint}]++
}

// EndpointDisabled counts an auto-disable.
func (r *Registry) EndpointDisabled(set, endpoint string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disabled[endpointKey{set, endpoint}]++
}

// ServeHTTP answers the exposition of every series.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = r.Write(w)
}

// Write writes every series in the Prometheus text format, sorted by labels.
func (r *Registry) Write(out io.Writer) error {
	var b strings.Builder
	r.mu.Lock()
	b.WriteString("# HELP outhook_events_accepted_total Events stored and queued by send.\n")
	b.WriteString("# TYPE outhook_events_accepted_total counter\n")
	for _, set := range slices.Sorted(maps.Keys(r.accepted)) {
		fmt.Fprintf(&b, "outhook_events_accepted_total{set=%s} %d\n", quote(set), r.accepted[set])
	}
	b.WriteString("# HELP outhook_deliveries_total Deliveries that ended, by outcome (delivered: a 2xx; failed: no attempt left).\n")
	b.WriteString("# TYPE outhook_deliveries_total counter\n")
	for _, o := range []struct {
		name   string
		counts map[endpointKey]uint64
	}{{webhook.StatusDelivered, r.delivered}, {webhook.StatusFailed, r.failed}} {
		for _, k := range sortedKeys(o.counts) {
			fmt.Fprintf(&b, "outhook_deliveries_total{%s,outcome=%s} %d\n", k.labels(), quote(o.name), o.counts[k])
		}
	}
	for _, c := range []struct {
		name, help string
		counts     map[endpointKey]uint64
	}{
		{"outhook_retries_queued_total", "Failed attempts after which another attempt was queued.", r.retries},
		{"outhook_deliveries_held_total", "Deliveries held because their endpoint is paused or disabled.", r.held},
		{"outhook_endpoints_disabled_total", "Endpoints turned off by auto-disable.", r.disabled},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
		for _, k := range sortedKeys(c.counts) {
			fmt.Fprintf(&b, "%s{%s} %d\n", c.name, k.labels(), c.counts[k])
		}
	}
	b.WriteString("# HELP outhook_attempt_duration_seconds Duration of each delivery attempt.\n")
	b.WriteString("# TYPE outhook_attempt_duration_seconds histogram\n")
	for _, k := range sortedKeys(r.durations) {
		h := r.durations[k]
		var cumulative uint64
		for i, bound := range Buckets {
			cumulative += h.counts[i]
			fmt.Fprintf(&b, "outhook_attempt_duration_seconds_bucket{%s,le=%s} %d\n", k.labels(),
				quote(strconv.FormatFloat(bound, 'g', -1, 64)), cumulative)
		}
		fmt.Fprintf(&b, "outhook_attempt_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", k.labels(), h.count)
		fmt.Fprintf(&b, "outhook_attempt_duration_seconds_sum{%s} %s\n", k.labels(), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "outhook_attempt_duration_seconds_count{%s} %d\n", k.labels(), h.count)
	}
	r.mu.Unlock()
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[endpointKey]V) []endpointKey {
	return slices.SortedFunc(maps.Keys(m), endpointKey.compare)
}

func (k endpointKey) labels() string {
	return "set=" + quote(k.set) + ",endpoint=" + quote(k.endpoint)
}

// quote is a label value in the exposition format: backslash, double quote and newline escaped.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}
