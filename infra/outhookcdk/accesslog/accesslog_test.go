package accesslog_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/infra/outhookcdk/accesslog"
)

// TestExample: the example fills in every variable of the format and is one JSON object per line, with
// the fields an audit needs.
func TestExample(t *testing.T) {
	t.Parallel()
	line := accesslog.Example()
	require.NotContains(t, line, "$context", "every variable has an example value")
	require.Regexp(t, `^\{[^\n]*\}\n$`, line, "one line")
	var fields map[string]string
	require.NoError(t, json.Unmarshal([]byte(line), &fields))
	require.Equal(t, map[string]string{
		"id": "Pq3a8jVHoAMEbvQ=", "t": "1796143905123", "ip": "203.0.113.7",
		"arn": "arn:aws:iam::123456789012:user/billing-service", "req": "POST /v1/webhooks/billing-events/events",
		"st": "202", "ms": "31", "fnSt": "200", "err": "-", "fnErr": "-",
	}, fields)
	require.Len(t, regexp.MustCompile(`\$context\.`).FindAllString(accesslog.Format, -1), 11, "one example value each")
	t.Logf("%d bytes: %s", len(line), line)
}
