package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/syncbuf"
)

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDUITEST/\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=(\S+), Signature=([0-9a-f]{64})$`)

// verifySigV4 recomputes the request's signature with the test's credentials: the signed headers, the body
// and the time it claims must give the signature it carries.
func verifySigV4(t *testing.T, r *http.Request, body []byte) {
	t.Helper()
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	require.NotNil(t, m, "Authorization: %q", r.Header.Get("Authorization"))
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	require.NoError(t, err)
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	require.NoError(t, err)
	for _, name := range strings.Split(m[1], ";") {
		switch name {
		case "host":
		case "content-length": // the signer reads it from the request's ContentLength
			again.ContentLength = r.ContentLength
		default:
			again.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: "AKIDUITEST", SecretAccessKey: "ui-test-secret"}
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", at))
	require.Equal(t, m[2], authRE.FindStringSubmatch(again.Header.Get("Authorization"))[2], "the signature verifies (signed headers %s)", m[1])
}

// TestUI_AWS runs `outhook ui --aws` against a stand-in for API Gateway that checks each request's SigV4
// signature. Not parallel: it sets the process environment (the default credential chain reads it).
func TestUI_AWS(t *testing.T) {
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDUITEST", "AWS_SECRET_ACCESS_KEY": "ui-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "HOME": home,
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
	} {
		t.Setenv(k, v)
	}
	type seen struct {
		path, body string
		header     http.Header
	}
	got := make(chan seen, 10)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		verifySigV4(t, r, body)
		got <- seen{r.URL.RequestURI(), string(body), r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"sets":[]}`)
	}))
	t.Cleanup(api.Close)

	ctx, cancel := context.WithCancel(t.Context())
	stderr := &syncbuf.Buffer{}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, e, []string{"ui", "--aws", "--url", api.URL, "--addr", "127.0.0.1:0"}) }()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, 0, <-done, stderr.String())
	})
	var base string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`dashboard: (http://127\.0\.0\.1:\d+)/ui/`).FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, stderr.String())

	call := func(method, path, host string, header map[string]string, body string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}

	status, body := call(http.MethodGet, "/ui/config.json", "", nil, "")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"auth":"proxy"}`, body, "the page asks for no key")
	status, body = call(http.MethodGet, "/ui/", "", nil, "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `<script type="module" src="app.js">`)

	// The page's calls are signed and forwarded, body and query intact; the browser's credentials stay behind.
	status, body = call(http.MethodGet, "/v1/webhooks?x=1", "", map[string]string{"X-Outhook-UI": "1", "Cookie": "session=1"}, "")
	require.Equal(t, http.StatusOK, status, body)
	first := <-got
	require.Equal(t, "/v1/webhooks?x=1", first.path)
	require.Empty(t, first.header.Get("Cookie"))
	status, _ = call(http.MethodPost, "/v1/webhooks/orders/events/whevt_1/retry", "",
		map[string]string{"X-Outhook-UI": "1", "Content-Type": "application/json", "Authorization": "Bearer not-forwarded"}, `{"endpoint":"crm"}`)
	require.Equal(t, http.StatusOK, status)
	second := <-got
	require.Equal(t, `{"endpoint":"crm"}`, second.body)
	require.Equal(t, "application/json", second.header.Get("Content-Type"))
	require.NotContains(t, second.header.Get("Authorization"), "not-forwarded")

	// Calls that are not the page's are refused before anything is signed.
	status, _ = call(http.MethodPost, "/v1/webhooks/orders/users/u/secret/rotate", "", nil, "")
	require.Equal(t, http.StatusForbidden, status, "no X-Outhook-UI: another site's form")
	status, _ = call(http.MethodGet, "/v1/webhooks", "attacker.example:80", map[string]string{"X-Outhook-UI": "1"}, "")
	require.Equal(t, http.StatusForbidden, status, "a DNS-rebinding Host")
	require.Empty(t, got, "nothing refused reached the API")
}

func TestUI_Usage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"ui", "--url", "https://abc.execute-api.eu-west-1.amazonaws.com"},
		{"ui", "--aws", "--url", "ftp://x"},
		{"ui", "--aws", "--url", "https://abc.execute-api.eu-west-1.amazonaws.com", "--addr", "0.0.0.0:8090"},
	} {
		var stderr strings.Builder
		e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
		require.Equal(t, 2, run(t.Context(), e, args), "%v: %s", args, stderr.String())
	}
}
