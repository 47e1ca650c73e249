package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/local/localserver/localservertest"
)

// saver is a receiver that writes each request to a file as `outhook listen --save` does, and answers 204.
type saver struct {
	dir   string
	mu    sync.Mutex
	files []string
}

func (s *saver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, filepath.Base(r.URL.Path)+"-"+strings.Repeat("x", len(s.files))+".http")
	if err := os.WriteFile(path, rawRequest(r, body), 0o600); err == nil {
		s.files = append(s.files, path)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *saver) wait(t *testing.T, n int) []string {
	t.Helper()
	var files []string
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		files = append([]string(nil), s.files...)
		return len(files) >= n
	}, 15*time.Second, 10*time.Millisecond)
	return files
}

// cli runs the command in-process against the server, with stdin.
func cli(t *testing.T, srv *localservertest.Server, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"OUTHOOK_URL": srv.URL, "OUTHOOK_API_KEY": localservertest.APIKey}
	e := &env{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	code := run(t.Context(), e, args)
	return code, stdout.String(), stderr.String()
}

func TestRemoteCommands_AgainstTheLocalServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recv := &saver{dir: dir}
	rs := httptest.NewServer(recv)
	t.Cleanup(rs.Close)
	srv := localservertest.Start(t, `
sets:
  - name: customer-events
    endpoints:
      - name: customer
        url: `+rs.URL+`/customer
        allowPrivateNetwork: true
  - name: partner-events
    endpoints:
      - name: partner
        url: `+rs.URL+`/partner
        allowPrivateNetwork: true
        signing: {header: x-partner-signature, timestampHeader: x-partner-timestamp, signedPayload: timestamp.rawBody, encoding: hex, secret: PARTNER_SECRET}
`, localservertest.Secrets{"PARTNER_SECRET": "partner-raw-secret"})

	// send: --data, table output.
	code, out, errOut := cli(t, srv, "", "send", "customer-events", "customer.updated", "--data", `{"customerId":"cus_1"}`, "--user", "user_123")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^event\s+whevt_\w{26}\n\nENDPOINT\s+STATUS\s+ATTEMPT\ncustomer\s+queued\s+whatt_\w{26}\n$`, out)
	eventID := strings.Fields(out)[1]

	// send: stdin (flags after the arguments), --json, idempotent replay.
	code, out, errOut = cli(t, srv, `{"invoiceId": "in_1"}`, "send", "partner-events", "invoice.paid", "--idempotency-key", "k1", "--json")
	require.Equal(t, 0, code, errOut)
	var sent client.SendResult
	require.NoError(t, json.Unmarshal([]byte(out), &sent))
	code, out, _ = cli(t, srv, `{"invoiceId": "in_1"}`, "send", "--json", "--idempotency-key", "k1", "partner-events", "invoice.paid")
	require.Equal(t, 0, code)
	var replay client.SendResult
	require.NoError(t, json.Unmarshal([]byte(out), &replay))
	require.Equal(t, sent.EventID, replay.EventID)

	// send: --data @file.
	payloadFile := filepath.Join(dir, "payload.json")
	require.NoError(t, os.WriteFile(payloadFile, []byte(`{"customerId":"cus_2"}`), 0o600))
	code, _, errOut = cli(t, srv, "", "send", "customer-events", "customer.deleted", "--data", "@"+payloadFile)
	require.Equal(t, 0, code, errOut)

	// events get: waits for the delivery, then shows it.
	require.Eventually(t, func() bool {
		code, out, _ = cli(t, srv, "", "events", "get", "customer-events", eventID, "--json")
		var ev client.Event
		return code == 0 && json.Unmarshal([]byte(out), &ev) == nil && ev.Status == "delivered"
	}, 15*time.Second, 20*time.Millisecond)
	code, out, errOut = cli(t, srv, "", "events", "get", "customer-events", eventID)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "status   delivered")
	require.Contains(t, out, `"customerId": "cus_1"`)
	require.Regexp(t, `(?m)^customer\s+delivered\s+1\s+-\s+-$`, out)
	require.Regexp(t, `customer\s+#1 whatt_\w{26}\s+\S+\s+succeeded\s+204\s+\d+ms\s+-`, out)

	// events list: a page of one with a cursor, then the next page.
	code, out, errOut = cli(t, srv, "", "events", "list", "customer-events", "--limit", "1")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^ID\s+TYPE\s+STATUS\s+CREATED\s+DELIVERIES\nwhevt_\w{26}\s+customer.deleted\s+`, out)
	m := regexpCursor.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	code, out, errOut = cli(t, srv, "", "events", "list", "customer-events", "--limit", "1", "--cursor", m[1])
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, eventID)
	require.Contains(t, out, "customer:delivered")

	// secrets get and rotate.
	code, out, errOut = cli(t, srv, "", "secrets", "get", "customer-events", "user_123", "--json")
	require.Equal(t, 0, code, errOut)
	var secret client.UserSecret
	require.NoError(t, json.Unmarshal([]byte(out), &secret))
	code, out, errOut = cli(t, srv, "", "secrets", "rotate", "customer-events", "user_123")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `VERSION\s+SECRET\s+CREATED\s+EXPIRES\ncurrent\s+whcms_\S+\s+\S+\s+-\nprevious\s+`+regexpQuote(secret.Current.Value)+`\s+\S+\s+\d{4}-`, out)

	// resend the delivered event to its endpoint.
	code, out, errOut = cli(t, srv, "", "resend", "customer-events", eventID, "--endpoint", "customer")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "event  "+eventID)

	// verify: the saved requests, raw HTTP as listen --save writes them.
	files := recv.wait(t, 3)
	var customerFile, partnerFile string
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.Contains(string(data), "cus_1") && customerFile == "" {
			customerFile = f // the user-signed one
		}
		if strings.Contains(f, "partner-") {
			partnerFile = f
		}
	}
	require.NotEmpty(t, customerFile)
	require.NotEmpty(t, partnerFile)
	code, out, errOut = cli(t, srv, "", "verify", "--secret", secret.Current.Value, customerFile)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "verified: the signature matches (webhook-id "+eventID)
	code, _, errOut = cli(t, srv, "", "verify", "--secret", "whcms_AAAA", customerFile)
	require.Equal(t, exitVerifyFailed, code)
	require.Contains(t, errOut, "verification failed")
	scheme := []string{"--scheme", "header=x-partner-signature,timestampHeader=x-partner-timestamp,signedPayload=timestamp.rawBody,encoding=hex"}
	code, _, errOut = cli(t, srv, "", append(append([]string{"verify", "--secret", "partner-raw-secret"}, scheme...), partnerFile)...)
	require.Equal(t, 0, code, errOut)
	code, _, _ = cli(t, srv, "", append(append([]string{"verify", "--secret", "wrong"}, scheme...), partnerFile)...)
	require.Equal(t, exitVerifyFailed, code)

	// verify: the JSON form, from stdin; a tampered body fails.
	raw, err := os.ReadFile(customerFile)
	require.NoError(t, err)
	head, body, ok := strings.Cut(string(raw), "\r\n\r\n")
	require.True(t, ok)
	headers := map[string]string{}
	for _, line := range strings.Split(head, "\r\n")[1:] {
		k, v, _ := strings.Cut(line, ": ")
		headers[k] = v
	}
	saved, err := json.Marshal(map[string]any{"headers": headers, "body": body})
	require.NoError(t, err)
	code, _, errOut = cli(t, srv, string(saved), "verify", "--secret", secret.Current.Value, "-")
	require.Equal(t, 0, code, errOut)
	tampered, err := json.Marshal(map[string]any{"headers": headers, "body": strings.Replace(body, "cus_1", "cus_9", 1)})
	require.NoError(t, err)
	code, _, _ = cli(t, srv, string(tampered), "verify", "--secret", secret.Current.Value, "-")
	require.Equal(t, exitVerifyFailed, code)
}

func TestRemoteCommands_ExitCodes(t *testing.T) {
	t.Parallel()
	srv := localservertest.Start(t, `
sets:
  - name: s
    endpoints:
      - {name: e, url: "http://127.0.0.1:9/hooks", allowPrivateNetwork: true}
`, nil)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown set", []string{"send", "nope", "t", "--data", "1"}, exitNotFound, "unknown_set"},
		{"unknown event", []string{"events", "get", "s", "whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7"}, exitNotFound, "event_not_found"},
		{"resend unknown event", []string{"resend", "s", "whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7"}, exitNotFound, "event_not_found"},
		{"bad limit", []string{"events", "list", "s", "--limit", "101"}, 1, "invalid_limit"},
		{"limit 0", []string{"events", "list", "s", "--limit", "0"}, 2, "--limit must be between 1 and 100"},
		{"events help shows the list flags", []string{"events", "-h"}, 0, "-limit int"},
		{"events help shows the cursor", []string{"events", "-h"}, 0, "-cursor string"},
		{"bad user id", []string{"secrets", "get", "s", "not valid"}, 1, "invalid_user_id"},
		{"invalid JSON data", []string{"send", "s", "t", "--data", "{nope"}, 2, "not valid JSON"},
		{"missing data file", []string{"send", "s", "t", "--data", "@/nonexistent/payload.json"}, 2, "no such file"},
		{"missing type", []string{"send", "s"}, 2, "missing <type>"},
		{"extra argument", []string{"events", "get", "s", "id", "more"}, 2, `unexpected argument "more"`},
		{"unknown subcommand", []string{"events", "delete", "s"}, 2, `unknown subcommand "delete"`},
		{"secrets without subcommand", []string{"secrets"}, 2, "missing subcommand"},
		{"unknown flag", []string{"send", "s", "t", "--colour"}, 2, "flag provided but not defined"},
		{"bad URL", []string{"events", "list", "s", "--url", "localhost"}, 2, "want http(s)://"},
		{"verify without secret", []string{"verify", "file"}, 2, "missing --secret"},
		{"verify scheme without header", []string{"verify", "--secret", "s", "--scheme", "encoding=hex", "file"}, 2, "header=NAME is required"},
		{"verify payload without timestamp header", []string{"verify", "--secret", "s", "--scheme", "header=x-sig,signedPayload=id.timestamp.rawBody", "file"}, 2, "timestampHeader: is required"},
		{"verify missing file", []string{"verify", "--secret", "s", "/nonexistent/req.http"}, 2, "no such file"},
		{"verify garbage", []string{"verify", "--secret", "s", "-"}, 2, "neither JSON nor a raw HTTP request"},
		{"help", []string{"send", "-h"}, 0, "usage: outhook send"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := cli(t, srv, "garbage", tc.args...)
			require.Equal(t, tc.code, code, "stderr: %s", stderr)
			require.Contains(t, stderr, tc.stderr)
		})
	}

	// No API key: the server answers 401, exit 1.
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		return map[string]string{"OUTHOOK_URL": srv.URL}[k]
	}}
	require.Equal(t, 1, run(t.Context(), e, []string{"events", "list", "s"}))
	require.Contains(t, stderr.String(), "unauthorized")
}

var regexpCursor = regexp.MustCompile(`next page: --cursor (\S+)`)

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }

// TestRemoteCommands_AWSSignsWithSigV4 runs `send --aws` with credentials from the environment (the default
// chain) and checks what reaches the server. Not parallel: it sets the process environment.
func TestRemoteCommands_AWSSignsWithSigV4(t *testing.T) {
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDCLITEST", "AWS_SECRET_ACCESS_KEY": "cli-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "HOME": home,
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
	} {
		t.Setenv(k, v)
	}
	got := make(chan http.Header, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"eventId":"whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7","deliveries":[]}`))
	}))
	t.Cleanup(api.Close)

	var stdout, stderr bytes.Buffer
	vars := map[string]string{"OUTHOOK_API_KEY": "must-not-be-sent"}
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	code := run(t.Context(), e, []string{"send", "billing-events", "invoice.paid", "--data", `{"n":1}`, "--aws", "--url", api.URL})
	require.Equal(t, 0, code, stderr.String())
	h := <-got
	require.Regexp(t, `^AWS4-HMAC-SHA256 Credential=AKIDCLITEST/\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$`, h.Get("Authorization"))
	require.NotEmpty(t, h.Get("X-Amz-Date"))
	require.Contains(t, stdout.String(), "whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7")
}

// TestRemoteCommands_SendURLSignsForLambda: `send --aws` with --send-url (or OUTHOOK_SEND_URL) sends single
// and batch sends to the function URL, signed for the service lambda, and nothing to the API. Not parallel: it
// sets the process environment.
func TestRemoteCommands_SendURLSignsForLambda(t *testing.T) {
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDCLITEST", "AWS_SECRET_ACCESS_KEY": "cli-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "HOME": home,
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
	} {
		t.Setenv(k, v)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the API got %s %s: sends go to the function URL", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(api.Close)
	type seen struct {
		path string
		auth string
	}
	got := make(chan seen, 2)
	fnURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("Authorization")}
		w.WriteHeader(http.StatusAccepted)
		if strings.HasSuffix(r.URL.Path, "/batch") {
			_, _ = w.Write([]byte(`{"results":[{"eventId":"whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R8","deliveries":[]}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"eventId":"whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7","deliveries":[]}`))
	}))
	t.Cleanup(fnURL.Close)
	lambdaScope := `^AWS4-HMAC-SHA256 Credential=AKIDCLITEST/\d{8}/eu-west-1/lambda/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$`

	var stdout, stderr bytes.Buffer
	vars := map[string]string{}
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	code := run(t.Context(), e, []string{"send", "billing-events", "invoice.paid", "--data", `{"n":1}`, "--aws", "--url", api.URL,
		"--send-url", fnURL.URL})
	require.Equal(t, 0, code, stderr.String())
	s := <-got
	require.Equal(t, "/v1/webhooks/billing-events/events", s.path)
	require.Regexp(t, lambdaScope, s.auth)
	require.Contains(t, stdout.String(), "whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7")

	vars = map[string]string{"OUTHOOK_URL": api.URL, "OUTHOOK_SEND_URL": fnURL.URL}
	e.stdin = strings.NewReader(`{"type":"invoice.paid","payload":{"n":2}}` + "\n")
	code = run(t.Context(), e, []string{"send", "billing-events", "--batch", "-", "--aws"})
	require.Equal(t, 0, code, stderr.String())
	s = <-got
	require.Equal(t, "/v1/webhooks/billing-events/events/batch", s.path)
	require.Regexp(t, lambdaScope, s.auth)

	// Without --aws the URL cannot be used: it takes IAM auth only.
	code = run(t.Context(), e, []string{"send", "billing-events", "invoice.paid", "--data", `{}`, "--send-url", fnURL.URL})
	require.Equal(t, 2, code)
	require.Contains(t, stderr.String(), "--send-url (or OUTHOOK_SEND_URL) needs --aws")
}

// TestRemoteCommands_EventsGetShowsEachAttempt: each attempt row has its own result (a 500 reads "failed" even
// when a later attempt delivered), and a retrying delivery shows when its next attempt is due.
func TestRemoteCommands_EventsGetShowsEachAttempt(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		n := seen[r.URL.Path]
		mu.Unlock()
		if r.URL.Path == "/flaky" && n > 1 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(rs.Close)
	srv := localservertest.Start(t, `
sets:
  - name: s
    endpoints:
      - name: flaky
        url: `+rs.URL+`/flaky
        allowPrivateNetwork: true
        retry: {attempts: 3, backoff: fixed, initialDelaySeconds: 0}
      - name: down
        url: `+rs.URL+`/down
        allowPrivateNetwork: true
        retry: {attempts: 3, backoff: fixed, initialDelaySeconds: 3600, maxDelaySeconds: 3600}
`, nil)
	code, out, errOut := cli(t, srv, "", "send", "s", "t", "--data", `{"note":"a<b>&c"}`, "--json")
	require.Equal(t, 0, code, errOut)
	var sent client.SendResult
	require.NoError(t, json.Unmarshal([]byte(out), &sent))
	var ev client.Event
	require.Eventually(t, func() bool {
		code, out, _ = cli(t, srv, "", "events", "get", "s", sent.EventID, "--json")
		return code == 0 && json.Unmarshal([]byte(out), &ev) == nil &&
			ev.Deliveries[0].Status == "delivered" && ev.Deliveries[1].Status == "retrying"
	}, 15*time.Second, 20*time.Millisecond)
	require.NotNil(t, ev.Deliveries[1].NextAttemptAt)
	require.Contains(t, out, `"note": "a<b>&c"`, "--json prints the payload as sent, not HTML-escaped")

	code, out, errOut = cli(t, srv, "", "events", "get", "s", sent.EventID)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^flaky\s+delivered\s+2\s+-\s+-$`, out)
	require.Regexp(t, `(?m)^down\s+retrying\s+1\s+`+regexpQuote(ev.Deliveries[1].NextAttemptAt.UTC().Format(time.RFC3339))+
		` `+ev.Deliveries[1].NextAttemptID+`\s+-$`, out)
	require.Regexp(t, `(?m)^flaky\s+#1 whatt_\w{26}\s+\S+\s+failed\s+500\s+\d+ms\s+-$`, out)
	require.Regexp(t, `(?m)^flaky\s+#2 whatt_\w{26}\s+\S+\s+succeeded\s+204\s+\d+ms\s+-$`, out)
	require.Regexp(t, `(?m)^down\s+#1 whatt_\w{26}\s+\S+\s+failed\s+500\s+\d+ms\s+-$`, out)
	require.NotRegexp(t, `#1 whatt_\w{26}\s+\S+\s+delivered`, out)
}
