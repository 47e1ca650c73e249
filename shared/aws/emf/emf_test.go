package emf_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/cwmetric"
	"github.com/outhook/outhook/shared/aws/emf"
	"github.com/outhook/outhook/shared/aws/emf/emftest"
	"github.com/outhook/outhook/shared/webhook"
)

func TestWriter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	w := emf.New(&buf, "Outhook/test", func() time.Time { return now })
	w.EventAccepted("orders")
	w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Endpoint: "crm", Outcome: webhook.StatusDelivered, Duration: 120 * time.Millisecond})
	w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Endpoint: "crm", Outcome: webhook.StatusRetrying, Duration: 3 * time.Second})
	w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Outcome: webhook.StatusFailed, Duration: 5 * time.Millisecond})
	w.DeliveryHeld("orders", "crm")
	w.EndpointDisabled("orders", "")

	require.Equal(t, 6, strings.Count(buf.String(), "\n"), "one line per call")
	lines, err := emftest.Lines(buf.String())
	require.NoError(t, err)
	require.Len(t, lines, 6)
	for _, l := range lines {
		require.Equal(t, now.UnixMilli(), l.Timestamp)
		require.Len(t, l.Directives, 1)
		require.Equal(t, "Outhook/test", l.Directives[0].Namespace)
		require.Equal(t, "orders", l.Dimensions[cwmetric.DimensionSet])
	}

	accepted := lines[0]
	require.Equal(t, map[string]float64{cwmetric.EventsAccepted: 1}, accepted.Metrics)
	require.Equal(t, [][]string{{}, {"set"}}, accepted.Directives[0].Dimensions)

	delivered := lines[1]
	require.Equal(t, map[string]float64{cwmetric.Delivered: 1, cwmetric.AttemptDuration: 120}, delivered.Metrics)
	require.Equal(t, [][]string{{}, {"set"}, {"set", "endpoint"}}, delivered.Directives[0].Dimensions)
	require.Equal(t, "crm", delivered.Dimensions[cwmetric.DimensionEndpoint])
	require.Equal(t, []emftest.Metric{{Name: cwmetric.Delivered, Unit: "Count"}, {Name: cwmetric.AttemptDuration, Unit: "Milliseconds"}},
		delivered.Directives[0].Metrics)

	require.Equal(t, map[string]float64{cwmetric.RetriesQueued: 1, cwmetric.AttemptDuration: 3000}, lines[2].Metrics)

	// A user's endpoint: no endpoint dimension, so no metric per user.
	user := lines[3]
	require.Equal(t, map[string]float64{cwmetric.Failed: 1, cwmetric.AttemptDuration: 5}, user.Metrics)
	require.Equal(t, [][]string{{}, {"set"}}, user.Directives[0].Dimensions)
	require.NotContains(t, user.Dimensions, cwmetric.DimensionEndpoint)

	require.Equal(t, map[string]float64{cwmetric.DeliveriesHeld: 1}, lines[4].Metrics)
	require.Equal(t, [][]string{{}, {"set"}, {"set", "endpoint"}}, lines[4].Directives[0].Dimensions)
	require.Equal(t, map[string]float64{cwmetric.EndpointsDisabled: 1}, lines[5].Metrics)
	require.Equal(t, [][]string{{}, {"set"}}, lines[5].Directives[0].Dimensions)
}

func TestEmftest_RefusesMalformedLines(t *testing.T) {
	t.Parallel()
	for name, line := range map[string]string{
		"not json":          `metrics`,
		"no _aws":           `{"Delivered":1}`,
		"no timestamp":      `{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":1}`,
		"seconds timestamp": `{"_aws":{"Timestamp":1764590400,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":1}`,
		"no namespace":      `{"_aws":{"Timestamp":1764590400000,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":1}`,
		"missing dimension": `{"_aws":{"Timestamp":1764590400000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["set"]],"Metrics":[{"Name":"M"}]}]},"M":1}`,
		"missing value":     `{"_aws":{"Timestamp":1764590400000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]}}`,
		"string value":      `{"_aws":{"Timestamp":1764590400000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":"1"}`,
		"bad unit":          `{"_aws":{"Timestamp":1764590400000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"ms"}]}]},"M":1}`,
	} {
		_, err := emftest.Parse(line)
		require.Error(t, err, name)
	}
	_, err := emftest.Parse(`{"_aws":{"Timestamp":1764590400000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["set"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"M":1,"set":"s"}`)
	require.NoError(t, err)
}

// TestWriter_Buffered: a buffered writer writes nothing until Flush, then one line per set of events accepted
// and one per set and endpoint of attempts, with the same sums and every duration; held deliveries are
// written at once.
func TestWriter_Buffered(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	w := emf.NewBuffered(&buf, "Outhook/test", func() time.Time { return now })
	for range 3 {
		w.EventAccepted("orders")
	}
	w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Endpoint: "crm", Outcome: webhook.StatusDelivered, Duration: 120 * time.Millisecond})
	w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Endpoint: "crm", Outcome: webhook.StatusRetrying, Duration: 3 * time.Second})
	w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Endpoint: "crm", Outcome: webhook.StatusDelivered, Duration: 80 * time.Millisecond})
	w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Outcome: webhook.StatusFailed, Duration: 5 * time.Millisecond})
	require.Empty(t, buf.String(), "nothing before Flush")
	w.DeliveryHeld("orders", "crm")
	require.Equal(t, 1, strings.Count(buf.String(), "\n"), "a held delivery is written at once")

	w.Flush()
	lines, err := emftest.Lines(buf.String())
	require.NoError(t, err)
	require.Len(t, lines, 4, "held, accepted, crm's attempts, the user endpoints' attempts")
	require.Equal(t, map[string]float64{cwmetric.EventsAccepted: 3}, lines[1].Metrics)
	crm := lines[2]
	require.Equal(t, "crm", crm.Dimensions[cwmetric.DimensionEndpoint])
	require.Equal(t, map[string]float64{cwmetric.Delivered: 2, cwmetric.RetriesQueued: 1, cwmetric.AttemptDuration: 3200}, crm.Metrics)
	require.Equal(t, []float64{120, 3000, 80}, crm.Values[cwmetric.AttemptDuration], "every duration, for the percentiles")
	require.Equal(t, [][]string{{}, {"set"}, {"set", "endpoint"}}, crm.Directives[0].Dimensions)
	require.Equal(t, map[string]float64{cwmetric.Failed: 1, cwmetric.AttemptDuration: 5}, lines[3].Metrics)
	require.NotContains(t, lines[3].Dimensions, cwmetric.DimensionEndpoint)

	buf.Reset()
	w.Flush()
	require.Empty(t, buf.String(), "a Flush writes what was summed since the last one")
	for range 250 {
		w.AttemptRecorded(webhook.AttemptMetric{Set: "orders", Endpoint: "crm", Outcome: webhook.StatusDelivered, Duration: time.Millisecond})
	}
	w.Flush()
	lines, err = emftest.Lines(buf.String())
	require.NoError(t, err, "at most 100 values per metric")
	require.Len(t, lines, 3)
	total := 0.0
	for _, l := range lines {
		total += l.Metrics[cwmetric.Delivered]
	}
	require.Equal(t, 250.0, total)
}
