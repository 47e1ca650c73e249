package awstest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Counter counts AWS requests by "Service.Operation" (e.g. "DynamoDB.PutItem", "SQS.SendMessageBatch",
// "Secrets Manager.GetSecretValue"). It counts HTTP requests, retries included, as AWS bills them.
// Instrument counts the calls of clients in this process; Proxy counts the calls of other processes
// (Lambda binaries) that are pointed at it instead of at the endpoint.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewCounter returns an empty counter.
func NewCounter() *Counter { return &Counter{counts: make(map[string]int)} }

func (c *Counter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

// Count returns how many requests of service and operation were counted.
func (c *Counter) Count(service, operation string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[service+"."+operation]
}

// Counts returns a copy of all counts keyed by "Service.Operation".
func (c *Counter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of requests counted.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.counts = make(map[string]int)
	c.mu.Unlock()
}

// String lists the counts sorted by key, one "Service.Operation=N" per line.
func (c *Counter) String() string {
	counts := c.Counts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d\n", k, counts[k])
	}
	return b.String()
}

// Instrument makes every client built from cfg afterwards count its requests in c.
func (c *Counter) Instrument(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		// After the retry middleware of the finalize step: once per HTTP request sent.
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("outhookRequestCounter",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// targetServices maps the X-Amz-Target prefixes of the JSON protocols to the SDK's service ids.
var targetServices = map[string]string{
	"DynamoDB_20120810": "DynamoDB",
	"AmazonSQS":         "SQS",
	"secretsmanager":    "Secrets Manager",
}

// Proxy returns an http.Handler that forwards every request to endpoint and counts it by its X-Amz-Target
// header (DynamoDB, SQS and Secrets Manager all use the JSON protocols); other requests count as
// "other.<METHOD>". Serve it with httptest.NewServer and give its URL to the processes to count as their
// AWS_ENDPOINT_URL.
func (c *Counter) Proxy(endpoint string) (http.Handler, error) {
	target, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("parse endpoint %q: %w", endpoint, err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add(requestKey(r))
		proxy.ServeHTTP(w, r)
	}), nil
}

func requestKey(r *http.Request) string {
	prefix, op, ok := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	if !ok {
		return "other." + r.Method
	}
	if svc, ok := targetServices[prefix]; ok {
		return svc + "." + op
	}
	return prefix + "." + op
}
