package outhookcdk

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/outhook/outhook/shared/aws/cwmetric"
	"github.com/outhook/outhook/shared/config"
)

// metricsPeriod is the period of the failure-ratio alarm and of the dashboard's graphs.
const metricsPeriod = 5

// namespaceUnsafe are the characters of a name prefix that a CloudWatch namespace does not allow.
var namespaceUnsafe = regexp.MustCompile(`[^A-Za-z0-9._/#: -]`)

// metricsNamespace is the deployment's CloudWatch namespace: Outhook/<NamePrefix>, so that two deployments in
// one account and region keep their metrics apart.
func metricsNamespace(namePrefix string) string {
	return cwmetric.Namespace + "/" + namespaceUnsafe.ReplaceAllString(namePrefix, "-")
}

// metric is one of the functions' EMF metrics in the deployment's namespace, summed (or stat) over the period.
func (w *webhooks) metric(name, stat string, minutes float64, dims map[string]string) awscloudwatch.Metric {
	var dimensions *map[string]*string
	if len(dims) > 0 {
		m := map[string]*string{}
		for k, v := range dims {
			m[k] = jsii.String(v)
		}
		dimensions = &m
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(w.namespace),
		MetricName:    jsii.String(name),
		Statistic:     jsii.String(stat),
		Period:        awscdk.Duration_Minutes(jsii.Number(minutes)),
		DimensionsMap: dimensions,
	})
}

// failureRatio is the percentage of deliveries that ended failed among those that ended, for the whole
// deployment, over periods of minutes; 0 when none ended.
func (w *webhooks) failureRatio(minutes float64) awscloudwatch.MathExpression {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("IF(FILL(failed, 0) + FILL(delivered, 0) > 0, 100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(delivered, 0)), 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"failed":    w.metric(cwmetric.Failed, "Sum", minutes, nil),
			"delivered": w.metric(cwmetric.Delivered, "Sum", minutes, nil),
		},
		Label:  jsii.String("failed deliveries (%)"),
		Period: awscdk.Duration_Minutes(jsii.Number(minutes)),
	})
}

// newFailureRatioAlarm fires when more than p.FailureRatioAlarmPercent of the deliveries that ended in each of
// two consecutive periods ended failed.
func newFailureRatioAlarm(w *webhooks, p Props) awscloudwatch.Alarm {
	return w.failureRatio(metricsPeriod).CreateAlarm(w, jsii.String("FailureRatioAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription: jsii.String(fmt.Sprintf("outhook: more than %g%% of the deliveries that ended failed (every attempt failed), "+
			"in two consecutive %d-minute periods", p.FailureRatioAlarmPercent, metricsPeriod)),
		Threshold:          jsii.Number(p.FailureRatioAlarmPercent),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}

// newDashboard graphs the functions' metrics: events accepted, deliveries by outcome (and held) and endpoints
// disabled per minute, the
// failure ratio with its alarm, deliveries per set, attempt latency p50 and p99 per static endpoint, and the
// queue's backlog.
func newDashboard(w *webhooks, cfg *config.Resolved, ratioAlarm awscloudwatch.Alarm) awscloudwatch.Dashboard {
	graph := func(title string, stacked bool, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(12), Height: jsii.Number(6), Stacked: jsii.Bool(stacked),
		})
	}
	labeled := func(m awscloudwatch.Metric, label string) awscloudwatch.IMetric {
		return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
	}
	var perSet, latency []awscloudwatch.IMetric
	for _, s := range cfg.Sets {
		set := map[string]string{cwmetric.DimensionSet: s.Name}
		perSet = append(perSet,
			labeled(w.metric(cwmetric.Delivered, "Sum", 1, set), s.Name+" delivered"),
			labeled(w.metric(cwmetric.Failed, "Sum", 1, set), s.Name+" failed"))
		for _, e := range s.Endpoints {
			ep := map[string]string{cwmetric.DimensionSet: s.Name, cwmetric.DimensionEndpoint: e.Name}
			latency = append(latency,
				labeled(w.metric(cwmetric.AttemptDuration, "p50", 1, ep), s.Name+"/"+e.Name+" p50"),
				labeled(w.metric(cwmetric.AttemptDuration, "p99", 1, ep), s.Name+"/"+e.Name+" p99"))
		}
	}
	rows := [][]awscloudwatch.IWidget{
		{
			graph("Deliveries per minute by outcome", true,
				labeled(w.metric(cwmetric.Delivered, "Sum", 1, nil), "delivered"),
				labeled(w.metric(cwmetric.Failed, "Sum", 1, nil), "failed"),
				labeled(w.metric(cwmetric.RetriesQueued, "Sum", 1, nil), "retries queued"),
				labeled(w.metric(cwmetric.DeliveriesHeld, "Sum", 1, nil), "held (endpoint paused or disabled)")),
			graph("Events accepted and endpoints disabled per minute", false,
				labeled(w.metric(cwmetric.EventsAccepted, "Sum", 1, nil), "events accepted"),
				labeled(w.metric(cwmetric.EndpointsDisabled, "Sum", 1, nil), "endpoints disabled")),
		},
		{
			awscloudwatch.NewAlarmWidget(&awscloudwatch.AlarmWidgetProps{
				Title: jsii.String("Failed deliveries (% of those that ended)"), Alarm: ratioAlarm,
				Width: jsii.Number(12), Height: jsii.Number(6),
			}),
			graph("Deliveries per minute by set", false, perSet...),
		},
		{
			graph("Attempt latency per endpoint (ms)", false, latency...),
			graph("Delivery queue", false,
				w.queue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Label: jsii.String("oldest message age (s)")}),
				w.dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Label: jsii.String("dead-letter messages")})),
		},
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	return awscloudwatch.NewDashboard(w, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         &widgets,
	})
}
