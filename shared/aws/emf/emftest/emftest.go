// Package emftest checks CloudWatch Embedded Metric Format lines against the format's specification, for the
// tests of the functions that write them.
package emftest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Line is one parsed EMF line.
type Line struct {
	Timestamp int64
	// Directives are the line's CloudWatchMetrics.
	Directives []Directive
	// Values are the root members of the line that the directives name: dimension values (strings) and
	// metric values (a number, or an array of up to 100 numbers: Metrics holds their sum, Values each one).
	Dimensions map[string]string
	Metrics    map[string]float64
	Values     map[string][]float64
}

// Directive is an EMF MetricDirective.
type Directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []Metric
}

// Metric is an EMF MetricDefinition.
type Metric struct {
	Name string
	Unit string
}

// units are the values the specification allows for a metric's Unit.
var units = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

// Parse checks that line is one EMF document and returns it: a JSON object whose _aws member has a
// millisecond Timestamp and CloudWatchMetrics directives, each with a Namespace, dimension sets of at most
// 30 keys that name string members of the root, and at most 100 metrics that name number members of the
// root (or arrays of 1 to 100 numbers), with a valid Unit.
func Parse(line string) (Line, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &root); err != nil {
		return Line{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string     `json:"Namespace"`
			Dimensions *[][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit string  `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	raw, ok := root["_aws"]
	if !ok {
		return Line{}, fmt.Errorf("no _aws member")
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return Line{}, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil || *meta.Timestamp < 1e12 {
		return Line{}, fmt.Errorf("_aws.Timestamp: want milliseconds since the epoch")
	}
	if len(meta.CloudWatchMetrics) == 0 {
		return Line{}, fmt.Errorf("_aws.CloudWatchMetrics: empty")
	}
	out := Line{Timestamp: *meta.Timestamp, Dimensions: map[string]string{}, Metrics: map[string]float64{}, Values: map[string][]float64{}}
	for i, d := range meta.CloudWatchMetrics {
		where := fmt.Sprintf("_aws.CloudWatchMetrics[%d]", i)
		if d.Namespace == nil || strings.TrimSpace(*d.Namespace) == "" {
			return Line{}, fmt.Errorf("%s.Namespace: missing", where)
		}
		if d.Dimensions == nil {
			return Line{}, fmt.Errorf("%s.Dimensions: missing", where)
		}
		dir := Directive{Namespace: *d.Namespace, Dimensions: *d.Dimensions}
		for _, set := range *d.Dimensions {
			if len(set) > 30 {
				return Line{}, fmt.Errorf("%s.Dimensions: a set of %d keys (at most 30)", where, len(set))
			}
			for _, key := range set {
				var v string
				if err := json.Unmarshal(root[key], &v); err != nil {
					return Line{}, fmt.Errorf("%s: dimension %q is not a string member of the root", where, key)
				}
				out.Dimensions[key] = v
			}
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return Line{}, fmt.Errorf("%s.Metrics: %d metrics (1 to 100)", where, len(d.Metrics))
		}
		for _, m := range d.Metrics {
			if m.Name == nil || *m.Name == "" {
				return Line{}, fmt.Errorf("%s.Metrics: a metric without a Name", where)
			}
			if m.Unit != "" && !slices.Contains(units, m.Unit) {
				return Line{}, fmt.Errorf("%s.Metrics: %s: unit %q", where, *m.Name, m.Unit)
			}
			var v float64
			var vs []float64
			if err := json.Unmarshal(root[*m.Name], &v); err == nil {
				vs = []float64{v}
			} else if err := json.Unmarshal(root[*m.Name], &vs); err != nil || len(vs) == 0 || len(vs) > 100 {
				return Line{}, fmt.Errorf("%s: metric %q is not a number member of the root, nor an array of 1 to 100", where, *m.Name)
			}
			v = 0
			for _, x := range vs {
				v += x
			}
			out.Metrics[*m.Name], out.Values[*m.Name] = v, vs
			dir.Metrics = append(dir.Metrics, Metric{Name: *m.Name, Unit: m.Unit})
		}
		out.Directives = append(out.Directives, dir)
	}
	return out, nil
}

// Lines parses every line of output that has an _aws member and skips the others (log lines).
func Lines(output string) ([]Line, error) {
	var out []Line
	for _, line := range strings.Split(output, "\n") {
		if !strings.Contains(line, `"_aws"`) {
			continue
		}
		l, err := Parse(strings.TrimSpace(line))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", line, err)
		}
		out = append(out, l)
	}
	return out, nil
}
