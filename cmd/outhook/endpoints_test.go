package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/local/localserver/localservertest"
)

func TestEndpointsCommand_AgainstTheLocalServer(t *testing.T) {
	t.Parallel()
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(recv.Close)
	srv := localservertest.Start(t, fmt.Sprintf(`
sets:
  - name: customer-events
    endpoints:
      - name: audit
        url: %s/audit
        allowPrivateNetwork: true
    userEndpoints: {enabled: true, allowPrivateNetwork: true}
`, recv.URL), nil)

	code, out, errOut := cli(t, srv, "", "endpoints", "put", "customer-events", "billing", "--user", "alice",
		"--endpoint-url", recv.URL+"/alice", "--types", "invoice.*,user.created", "--description", "billing")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `billing\s+alice\s+enabled\s+invoice\.\*,user\.created`, out)

	code, out, errOut = cli(t, srv, "", "endpoints", "pause", "customer-events", "billing", "--user", "alice", "--json")
	require.Equal(t, 0, code, errOut)
	var ep client.Endpoint
	require.NoError(t, json.Unmarshal([]byte(out), &ep))
	require.Equal(t, "paused", ep.Status)

	code, out, errOut = cli(t, srv, "", "endpoints", "list", "customer-events")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `audit\s+-\s+enabled\s+\*`, out)
	code, out, errOut = cli(t, srv, "", "endpoints", "resume", "customer-events", "billing", "--user", "alice")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "enabled")

	code, out, errOut = cli(t, srv, "", "send", "customer-events", "invoice.paid", "--user", "alice", "--data", `{"n":1}`)
	require.Equal(t, 0, code, "%s %s", out, errOut)
	require.Eventually(t, func() bool {
		_, out, _ = cli(t, srv, "", "events", "list", "customer-events", "--user", "alice", "--type", "invoice.*",
			"--status", "delivered", "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
		return regexp.MustCompile(`invoice\.paid\s+delivered`).MatchString(out)
	}, 15*time.Second, 20*time.Millisecond, out)

	code, out, errOut = cli(t, srv, "", "endpoints", "recover", "customer-events", "billing", "--user", "alice",
		"--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `requeued\s+0`, out)
	code, out, errOut = cli(t, srv, "", "endpoints", "delete", "customer-events", "billing", "--user", "alice")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "deleted")

	// Mistakes: a usage error (2), an API error with its code (404: exitNotFound).
	code, _, errOut = cli(t, srv, "", "endpoints", "put", "customer-events", "x", "--endpoint-url", "https://x.example.com/")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, "--user")
	code, _, errOut = cli(t, srv, "", "endpoints", "recover", "customer-events", "audit")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--since")
	code, _, errOut = cli(t, srv, "", "endpoints", "get", "customer-events", "nope", "--user", "alice")
	require.Equal(t, exitNotFound, code)
	require.Contains(t, errOut, "endpoint_not_found")
	code, _, errOut = cli(t, srv, "", "events", "list", "customer-events", "--since", "yesterday")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "RFC 3339")
}
