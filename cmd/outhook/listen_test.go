package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/syncbuf"
)

// newTestListener serves a listener over a real HTTP server; its printout goes to the returned buffer.
func newTestListener(t *testing.T, scheme string, secrets []string, fail int, saveDir string) (*httptest.Server, *syncbuf.Buffer) {
	t.Helper()
	sf := newSchemeFlag()
	require.NoError(t, sf.Set(scheme))
	var keys [][]byte
	for _, s := range secrets {
		k, err := signing.Key(s)
		require.NoError(t, err)
		keys = append(keys, k)
	}
	out := &syncbuf.Buffer{}
	l := &listener{out: out, scheme: sf.scheme, keys: keys, tolerance: time.Minute,
		failLeft: fail, saveDir: saveDir, now: time.Now}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return srv, out
}

func post(t *testing.T, url string, h http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
	return res.StatusCode
}

func TestListener_ServeHTTP(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := signing.Key(secret)
	require.NoError(t, err)
	body := []byte(`{"id":"whevt_1","type":"a.b","timestamp":"2026-11-27T12:00:00Z","data":{"n":1}}`)
	signed := signing.Sign(signing.Standard, "whevt_1", time.Now(), body, [][]byte{key})
	signed.Set("webhook-id", "whevt_1")

	tests := []struct {
		name    string
		secrets []string
		header  http.Header
		body    []byte
		status  int
		printed string
	}{
		{"verified", []string{secret}, signed, body, 200, "signature: verified"},
		{"one of several secrets", []string{"whsec_b3RoZXI=", secret}, signed, body, 200, "signature: verified"},
		{"tampered body", []string{secret}, signed, append([]byte(" "), body...), 400, "signature: INVALID"},
		{"wrong secret", []string{"whsec_b3RoZXI="}, signed, body, 400, "signature: INVALID"},
		{"unsigned", []string{secret}, http.Header{"Webhook-Id": {"whevt_1"}}, body, 200, "signature: none (unsigned)"},
		{"no secret given", nil, signed, body, 200, "signature: present, not verified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, out := newTestListener(t, "standard", tc.secrets, 0, "")
			require.Equal(t, tc.status, post(t, srv.URL+"/hooks", tc.header, tc.body))
			require.Contains(t, out.String(), tc.printed)
			require.Contains(t, out.String(), "POST /hooks")
			require.Contains(t, out.String(), `  "type": "a.b"`, "the body is pretty-printed")
		})
	}
}

func TestListener_ServeHTTPConfigurableScheme(t *testing.T) {
	t.Parallel()
	srv, out := newTestListener(t,
		"header=x-outhook-signature,timestampHeader=x-outhook-timestamp,signedPayload=timestamp.rawBody,encoding=hex",
		[]string{"crm-secret"}, 0, "")
	scheme, err := signing.Resolve(&signing.Block{Header: "x-outhook-signature", TimestampHeader: "x-outhook-timestamp",
		SignedPayload: signing.PayloadTimestampRawBody, Encoding: signing.EncodingHex})
	require.NoError(t, err)
	body := []byte(`{"n":1}`)
	h := signing.Sign(scheme, "whevt_1", time.Now(), body, [][]byte{[]byte("crm-secret")})
	require.Equal(t, 200, post(t, srv.URL+"/crm", h, body))
	require.Contains(t, out.String(), "signature: verified")

	h.Set("x-outhook-timestamp", "1000000000") // far outside the tolerance
	require.Equal(t, 400, post(t, srv.URL+"/crm", h, body))
}

func TestListener_ServeHTTPFailsFirstN(t *testing.T) {
	t.Parallel()
	srv, out := newTestListener(t, "standard", nil, 2, "")
	statuses := []int{}
	for range 3 {
		statuses = append(statuses, post(t, srv.URL, nil, []byte(`{}`)))
	}
	require.Equal(t, []int{500, 500, 200}, statuses)
	require.Contains(t, out.String(), "--fail")
}

func TestListener_ServeHTTPSaves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, _ := newTestListener(t, "standard", nil, 0, dir)
	body := []byte(`{"id":"whevt_1"}`)
	require.Equal(t, 200, post(t, srv.URL+"/hooks?x=1", http.Header{"Webhook-Id": {"whevt_1"}}, body))

	require.Equal(t, 200, post(t, srv.URL+"/crm/v2", http.Header{"Webhook-Id": {"whevt_2"}}, body))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"000001-hooks.http", "000002-crm-v2.http"}, names, "the file names carry the path")

	data, err := os.ReadFile(filepath.Join(dir, "000001-hooks.http"))
	require.NoError(t, err)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	require.NoError(t, err)
	got, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	require.Equal(t, body, got)
	require.Equal(t, "/hooks?x=1", req.URL.RequestURI())
	require.Equal(t, "whevt_1", req.Header.Get("webhook-id"))
}

func TestSavedName(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/":                            "000007-root.http",
		"":                             "000007-root.http",
		"/hooks/crm":                   "000007-hooks-crm.http",
		"/a b/../c%2F":                 "000007-a-b-..-c-2F.http",
		"/v1/webhooks/x.y_z":           "000007-v1-webhooks-x.y_z.http",
		"/" + strings.Repeat("a", 200): "000007-" + strings.Repeat("a", 80) + ".http",
	} {
		require.Equal(t, want, savedName(7, path), path)
	}
}

func TestSchemeFlag(t *testing.T) {
	t.Parallel()
	f := newSchemeFlag()
	require.Equal(t, signing.Standard, f.scheme, "the default")
	require.NoError(t, f.Set("standard"))
	require.Nil(t, f.block)
	require.Equal(t, signing.Standard, f.scheme)

	require.NoError(t, f.Set("header=x-sig,timestampHeader=x-ts"))
	require.Equal(t, &signing.Block{Header: "x-sig", TimestampHeader: "x-ts"}, f.block, "the block as given")
	require.Equal(t, signing.Scheme{Header: "X-Sig", TimestampHeader: "X-Ts", SignedPayload: "id.timestamp.rawBody",
		Encoding: "base64"}, f.scheme, "defaults as in the config")

	require.NoError(t, f.Set("header=x-sig"))
	require.Equal(t, signing.Scheme{Header: "X-Sig", SignedPayload: "rawBody", Encoding: "base64"}, f.scheme,
		"a header alone signs the body, as in the config")

	for bad, msg := range map[string]string{
		"":                             "is not key=value",
		"x-sig":                        "is not key=value",
		"header=x-sig,encoding=base32": `encoding: "base32" is not supported`,
		"timestampHeader=x-ts":         "header=NAME is required",
		"header=x-sig,colour=red":      "is not key=value",
		"header=x sig":                 "not a valid HTTP header name",
		"header=x-sig,signedPayload=timestamp.rawBody": "timestampHeader: is required",
	} {
		require.ErrorContains(t, newSchemeFlag().Set(bad), msg, bad)
	}
}
