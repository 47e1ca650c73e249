package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
)

func TestWithSigV4_SignsLikeTheSDKSigner(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, rawQuery string
		header                 http.Header
		body                   []byte
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), body}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"eventId":"whevt_1","deliveries":[]}`))
	}))
	t.Cleanup(srv.Close)

	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "session-token"}
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.StaticCredentialsProvider{Value: creds}}
	c, err := client.New(srv.URL+"/prod", client.WithSigV4(cfg))
	require.NoError(t, err)
	_, err = c.Set("billing events").Send(context.Background(), "invoice.paid", map[string]int{"n": 1}, client.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	s := <-got

	require.Equal(t, "/prod/v1/webhooks/billing%20events/events", s.path)
	sum := sha256.Sum256(s.body)
	auth := s.header.Get("Authorization")
	re := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/(\d{8})/eu-west-1/execute-api/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)
	m := re.FindStringSubmatch(auth)
	require.NotNil(t, m, auth)
	require.Contains(t, m[2], "host")
	require.Contains(t, m[2], "x-amz-date")
	require.Contains(t, m[2], "x-amz-security-token")
	require.Equal(t, "session-token", s.header.Get("X-Amz-Security-Token"))
	signedAt, err := time.Parse("20060102T150405Z", s.header.Get("X-Amz-Date"))
	require.NoError(t, err)
	require.Equal(t, signedAt.Format("20060102"), m[1])
	require.WithinDuration(t, time.Now(), signedAt, time.Minute)

	// Sign the same request with the SDK's signer at the same time: the signatures must match.
	req, err := http.NewRequest(s.method, srv.URL+s.path, bytes.NewReader(s.body))
	require.NoError(t, err)
	for _, k := range []string{"Content-Type", "Idempotency-Key", "Accept", "User-Agent"} {
		req.Header.Set(k, s.header.Get(k))
	}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", signedAt)
	require.NoError(t, err)
	require.Equal(t, req.Header.Get("Authorization"), auth)
}

func TestWithSigV4_NeedsRegionAndCredentials(t *testing.T) {
	t.Parallel()
	_, err := client.New("https://x.example", client.WithSigV4(aws.Config{Credentials: credentials.StaticCredentialsProvider{}}))
	require.ErrorContains(t, err, "no region")
	_, err = client.New("https://x.example", client.WithSigV4(aws.Config{Region: "us-east-1"}))
	require.ErrorContains(t, err, "no credentials")
}

// TestWithSendURL_SignsForLambda: with WithSendURL, Send and SendBatch go to the send function URL signed for
// the service lambda (as the SDK's signer signs them), and every other call goes to the API signed for
// execute-api.
func TestWithSendURL_SignsForLambda(t *testing.T) {
	t.Parallel()
	type seen struct {
		server, method, path string
		header               http.Header
		body                 []byte
	}
	got := make(chan seen, 3)
	serve := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			got <- seen{name, r.Method, r.URL.EscapedPath(), r.Header.Clone(), body}
			switch {
			case strings.HasSuffix(r.URL.Path, "/batch"):
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte(`{"results":[{"eventId":"whevt_2","deliveries":[]}]}`))
			case r.Method == http.MethodPost:
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte(`{"eventId":"whevt_1","deliveries":[]}`))
			default:
				_, _ = w.Write([]byte(`{"id":"whevt_1","type":"invoice.paid","payload":{},"deliveries":[]}`))
			}
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	api, fnURL := serve("api"), serve("url")

	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.StaticCredentialsProvider{Value: creds}}
	// A path prefix, as an emulator's path-based function URLs have (…/_aws/lambda-url/<id>/).
	c, err := client.New(api.URL, client.WithSigV4(cfg), client.WithSendURL(fnURL.URL+"/_aws/lambda-url/abc/"))
	require.NoError(t, err)
	ctx := context.Background()
	set := c.Set("billing-events")
	_, err = set.Send(ctx, "invoice.paid", map[string]int{"n": 1})
	require.NoError(t, err)
	_, err = set.SendBatch(ctx, []client.BatchEvent{{Type: "invoice.paid", Payload: map[string]int{"n": 2}}})
	require.NoError(t, err)
	_, err = set.Events.Get(ctx, "whevt_1")
	require.NoError(t, err)

	scope := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/eu-west-1/([a-z-]+)/aws4_request, `)
	for _, want := range []struct{ server, path, service string }{
		{"url", "/_aws/lambda-url/abc/v1/webhooks/billing-events/events", "lambda"},
		{"url", "/_aws/lambda-url/abc/v1/webhooks/billing-events/events/batch", "lambda"},
		{"api", "/v1/webhooks/billing-events/events/whevt_1", "execute-api"},
	} {
		s := <-got
		require.Equal(t, want.server, s.server, want.path)
		require.Equal(t, want.path, s.path)
		auth := s.header.Get("Authorization")
		m := scope.FindStringSubmatch(auth)
		require.NotNil(t, m, auth)
		require.Equal(t, want.service, m[1], "the credential scope of %s", want.path)

		// The SDK's signer, for that service at the same time, signs the request alike.
		signedAt, err := time.Parse("20060102T150405Z", s.header.Get("X-Amz-Date"))
		require.NoError(t, err)
		host := api.URL
		if s.server == "url" {
			host = fnURL.URL
		}
		req, err := http.NewRequest(s.method, host+s.path, bytes.NewReader(s.body))
		require.NoError(t, err)
		for _, k := range []string{"Content-Type", "Idempotency-Key", "Accept", "User-Agent"} {
			if v := s.header.Get(k); v != "" {
				req.Header.Set(k, v)
			}
		}
		sum := sha256.Sum256(s.body)
		require.NoError(t, v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), want.service, "eu-west-1", signedAt))
		require.Equal(t, req.Header.Get("Authorization"), auth)
	}
}

func TestWithSendURL_Invalid(t *testing.T) {
	t.Parallel()
	_, err := client.New("http://127.0.0.1:8080", client.WithAPIKey("k"), client.WithSendURL("https://x.lambda-url.us-east-1.on.aws/"))
	require.ErrorContains(t, err, "WithSendURL needs WithSigV4")
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.StaticCredentialsProvider{}}
	_, err = client.New("https://x.example", client.WithSigV4(cfg), client.WithSendURL("x.lambda-url.us-east-1.on.aws"))
	require.ErrorContains(t, err, `send URL "x.lambda-url.us-east-1.on.aws": want http(s)://host[:port][/path]`)
}
