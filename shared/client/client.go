// Package client is the Go client of the outhook HTTP API: send events to a webhook set, list and inspect
// them, resend deliveries, and read or rotate a user's managed signing secret.
//
// It talks to the local server (`outhook serve`, bearer key: WithAPIKey) or to the deployed API Gateway
// (IAM auth: WithSigV4), and may send events through the deployment's send function URL (WithSendURL).
// Server errors (5xx), throttling (429) and network errors are retried with
// exponential backoff and jitter, honouring Retry-After; other 4xx answers are returned at once as *APIError.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Defaults of the retry behaviour; see WithRetry.
const (
	DefaultMaxAttempts  = 4
	DefaultInitialDelay = 250 * time.Millisecond
	DefaultMaxDelay     = 20 * time.Second
)

// maxResponseBytes bounds what the client reads of one answer: a page of 100 events of 256 KiB payloads
// plus their attempts fits well within it.
const maxResponseBytes = 64 << 20

// SigV4 service names: API Gateway's, and Lambda's for a function URL.
const (
	serviceAPI         = "execute-api"
	serviceFunctionURL = "lambda"
)

// Client calls one outhook API. It is safe for concurrent use.
type Client struct {
	base         *url.URL
	sendURL      string   // WithSendURL, as given
	sendBase     *url.URL // the send function URL, parsed; nil without WithSendURL
	http         *http.Client
	apiKey       string
	aws          *aws.Config
	signer       *v4.Signer
	maxAttempts  int
	initialDelay time.Duration
	maxDelay     time.Duration
	jitter       func() float64
	userAgent    string
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey authenticates with a bearer key (the local server's OUTHOOK_API_KEY).
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithSigV4 signs every request with AWS Signature Version 4 for the service "execute-api" (API Gateway with
// IAM auth), using cfg's credentials and region. Load cfg with config.LoadDefaultConfig for the default
// credential chain.
func WithSigV4(cfg aws.Config) Option {
	return func(c *Client) {
		c.aws = &cfg
		c.signer = v4.NewSigner()
	}
}

// WithSendURL sends events (Send and SendBatch) to the deployment's send function URL (the stack output
// SendFunctionUrl, e.g. https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/) instead of the
// API, signed with SigV4 for the service "lambda"; every other call still goes to the API, signed for
// "execute-api". It needs WithSigV4: the URL takes IAM auth only. The URL has no per-request charge, and no
// API Gateway throttling or access log (docs/aws.md, "The send function URL").
func WithSendURL(sendURL string) Option { return func(c *Client) { c.sendURL = sendURL } }

// WithHTTPClient replaces the HTTP client (default: one with a 60 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetry sets the total number of attempts per call (1 disables retries) and the backoff bounds: the
// n-th retry waits about initial × 2^(n-1), capped at max, with jitter; a Retry-After answer is honoured up to max.
func WithRetry(maxAttempts int, initial, max time.Duration) Option {
	return func(c *Client) {
		c.maxAttempts = maxAttempts
		c.initialDelay = initial
		c.maxDelay = max
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the API at baseURL (e.g. "http://127.0.0.1:8080" or the API Gateway stage URL).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := parseBase("base URL", baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:         u,
		http:         &http.Client{Timeout: 60 * time.Second},
		maxAttempts:  DefaultMaxAttempts,
		initialDelay: DefaultInitialDelay,
		maxDelay:     DefaultMaxDelay,
		jitter:       rand.Float64,
		userAgent:    "outhook-go",
	}
	for _, o := range opts {
		o(c)
	}
	if c.maxAttempts < 1 {
		return nil, fmt.Errorf("max attempts %d: want at least 1", c.maxAttempts)
	}
	if c.initialDelay <= 0 || c.maxDelay < c.initialDelay {
		return nil, fmt.Errorf("backoff %s..%s: want 0 < initial <= max", c.initialDelay, c.maxDelay)
	}
	if c.aws != nil {
		if c.aws.Credentials == nil {
			return nil, errors.New("sigv4: the AWS config has no credentials provider")
		}
		if c.aws.Region == "" {
			return nil, errors.New("sigv4: the AWS config has no region (set AWS_REGION)")
		}
		if c.apiKey != "" {
			return nil, errors.New("choose one of WithAPIKey and WithSigV4")
		}
	}
	if c.sendURL != "" {
		if c.aws == nil {
			return nil, errors.New("WithSendURL needs WithSigV4: the send function URL takes IAM auth only")
		}
		if c.sendBase, err = parseBase("send URL", c.sendURL); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseBase parses a base URL (what names it: e.g. "base URL"); calls append their path to it.
func parseBase(what, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", what, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s %q: want http(s)://host[:port][/path]", what, raw)
	}
	return u, nil
}

// APIError is an answer of the API other than 2xx: the HTTP status, the API's error code (e.g.
// "event_not_found") and message, and the request id when the server sent one.
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("outhook API: %d %s: %s", e.Status, e.Code, e.Message)
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// call is one API call.
type call struct {
	method string
	path   []string // unescaped segments
	query  url.Values
	header http.Header
	body   []byte
	// unsafe marks a call that must not run twice (rotate, resend): it is retried only after a 429, which
	// says the server did not act on it.
	unsafe bool
	// send marks a call that the send function URL serves (Send, SendBatch): it goes there with WithSendURL.
	send bool
	// onSuccess, when set, sees the status and headers of the 2xx answer.
	onSuccess func(status int, h http.Header)
}

// do sends one API call, retrying what is safe to retry, and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	method, segs, query, header, body := cl.method, cl.path, cl.query, cl.header, cl.body
	escaped := make([]string, len(segs))
	for i, s := range segs {
		escaped[i] = url.PathEscape(s)
	}
	path := "/" + strings.Join(escaped, "/")
	base, service := c.base, serviceAPI
	if cl.send && c.sendBase != nil {
		base, service = c.sendBase, serviceFunctionURL
	}
	rawURL := base.String() + path
	if len(query) > 0 {
		rawURL += "?" + query.Encode()
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, method, rawURL, service, header, body)
		var retryAfter time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || cl.unsafe {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
			lastErr = fmt.Errorf("%s %s: %w", method, path, err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if cl.onSuccess != nil {
				cl.onSuccess(resp.StatusCode, resp.Header)
			}
			if out == nil {
				resp.Body.Close()
				return nil
			}
			return decode(resp, out)
		default:
			apiErr := readError(resp)
			if resp.StatusCode != http.StatusTooManyRequests && (resp.StatusCode < 500 || cl.unsafe) {
				return apiErr
			}
			lastErr = apiErr
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		if attempt >= c.maxAttempts {
			return lastErr
		}
		t := time.NewTimer(c.delay(attempt, retryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w (after: %w)", method, path, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}

// once makes one HTTP request, signed for service with WithSigV4; the caller owns resp.Body only through
// decode/readError, which close it.
func (c *Client) once(ctx context.Context, method, rawURL, service string, header http.Header, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	if c.aws != nil {
		if err := signSigV4(ctx, c.signer, c.aws, req, service, body); err != nil {
			return nil, err
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	return resp, nil
}

// signSigV4 adds the SigV4 headers for service (execute-api for API Gateway, lambda for a function URL) over
// the body's SHA-256.
func signSigV4(ctx context.Context, signer *v4.Signer, cfg *aws.Config, req *http.Request, service string, body []byte) error {
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("sigv4: retrieve AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, cfg.Region, time.Now()); err != nil {
		return fmt.Errorf("sigv4: sign request: %w", err)
	}
	return nil
}

// SigV4Transport is an http.RoundTripper that signs each request it sends with AWS Signature Version 4 for
// API Gateway (service execute-api), as WithSigV4 does, and sends it with next (nil: http.DefaultTransport).
// It reads the request body to hash it. Use it to put the deployed API behind a proxy that signs, e.g.
// `outhook ui --aws`.
func SigV4Transport(cfg aws.Config, next http.RoundTripper) (http.RoundTripper, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("sigv4: the AWS config has no credentials provider")
	}
	if cfg.Region == "" {
		return nil, errors.New("sigv4: the AWS config has no region (set AWS_REGION)")
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &sigV4Transport{cfg: cfg, signer: v4.NewSigner(), next: next}, nil
}

type sigV4Transport struct {
	cfg    aws.Config
	signer *v4.Signer
	next   http.RoundTripper
}

func (t *sigV4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sigv4: read the request body: %w", err)
		}
	}
	out := req.Clone(req.Context()) // a RoundTripper must not modify the request it was given
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	if err := signSigV4(req.Context(), t.signer, &t.cfg, out, serviceAPI, body); err != nil {
		return nil, err
	}
	return t.next.RoundTrip(out)
}

// delay is the wait before the retry following attempt n: Retry-After when the server gave one (capped at
// maxDelay), else initial × 2^(n-1) capped at maxDelay, with "equal jitter" (between half and all of it).
func (c *Client) delay(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.maxDelay)
	}
	d := c.initialDelay
	for i := 1; i < n && d < c.maxDelay; i++ {
		d *= 2
	}
	d = min(d, c.maxDelay)
	return d/2 + time.Duration(c.jitter()*float64(d/2))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. 0 when absent or unusable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func decode(resp *http.Response, out any) error {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response (HTTP %d): %w", resp.StatusCode, err)
	}
	return nil
}

// readError turns a non-2xx answer into an *APIError. It understands outhook's {"error":{"code","message"}}
// and API Gateway's own {"message"} (e.g. a 403 for a bad signature).
func readError(resp *http.Response) *APIError {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &APIError{Status: resp.StatusCode, RequestID: requestID(resp.Header)}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil {
		if body.Error != nil {
			e.Code, e.Message = body.Error.Code, body.Error.Message
		} else {
			e.Message = body.Message
		}
	}
	if e.Code == "" {
		e.Code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(data))
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

func requestID(h http.Header) string {
	for _, k := range []string{"X-Request-Id", "Apigw-Requestid", "X-Amzn-Requestid"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}
