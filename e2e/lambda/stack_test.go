//go:build linux

package lambda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/dynamostore"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/httpapi/route"
	"github.com/outhook/outhook/shared/webhook"
)

// visibilityTimeout of the test queues: how soon a message that deliver failed on is delivered again.
// Short, so that the crash tests see redeliveries soon.
const visibilityTimeout = 2 * time.Second

// stack is one deployment: a table, a queue, secret prefixes and a config file, with the functions'
// AWS requests going through a counting proxy in front of the AWS-compatible endpoint.
type stack struct {
	t        *testing.T
	aws      aws.Config // straight to the endpoint: the test's own requests are not counted
	counter  *awstest.Counter
	proxyURL string
	table    string
	queueURL string
	users    string // user-secret name prefix
	named    string // named-secret name prefix
	config   string // path of the config file
	dir      string
}

// crmStack is a stack whose set "billing" has one endpoint, "crm", signed with a named secret and posting to
// a new receiver's /crm, with deliver started and polled.
func crmStack(t *testing.T) (*stack, *receiver) {
	t.Helper()
	rcv := newReceiver(t, nil)
	crm := endpoint("crm", rcv.URL+"/crm")
	crm.Signing = crmSigning
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "billing", Endpoints: []config.Endpoint{crm}}}},
		map[string]string{crmSecretName: crmSecretValue}, visibilityTimeout)
	s.poll(s.start(variantProd, "deliver"))
	return s, rcv
}

// newStack creates the resources of a deployment serving cfg, with the named secrets given, and removes
// them when the test ends. Its queue's visibility timeout is visibility.
func newStack(t *testing.T, cfg config.Config, namedSecrets map[string]string, visibility time.Duration) *stack {
	t.Helper()
	awsCfg := awstest.Config(t)
	counter := awstest.NewCounter()
	proxy, err := counter.Proxy(awstest.Endpoint(t))
	require.NoError(t, err)
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)

	s := &stack{
		t: t, aws: awsCfg, counter: counter, proxyURL: srv.URL,
		table:    awstest.Table(t, awsCfg, dynamostore.TableDefinition),
		queueURL: awstest.Queue(t, awsCfg, map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibility.Seconds()))}),
		dir:      t.TempDir(),
	}
	prefix := "outhook/" + awstest.UniqueName("e2e-")
	s.users, s.named = prefix+"/users/", prefix+"/named/"
	sm := secretsmanager.NewFromConfig(awsCfg)
	for name, value := range namedSecrets {
		_, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
			Name: aws.String(s.named + name), SecretString: aws.String(value),
		})
		require.NoError(t, err, "create named secret %s", name)
	}
	t.Cleanup(func() { s.deleteSecrets(sm, prefix) })

	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	s.config = filepath.Join(s.dir, "webhooks.json")
	require.NoError(t, os.WriteFile(s.config, raw, 0o644))
	return s
}

func (s *stack) deleteSecrets(sm *secretsmanager.Client, prefix string) {
	ctx := context.Background()
	pages := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			s.t.Logf("list secrets to clean up: %v", err)
			return
		}
		for _, sec := range page.SecretList {
			if strings.HasPrefix(aws.ToString(sec.Name), prefix) {
				_, _ = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: sec.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
			}
		}
	}
}

// env is the functions' environment: the variables the CDK app sets, and the SDK pointed at the proxy
// with static credentials. Nothing of the test process's AWS settings leaks in.
func (s *stack) env(overrides ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "OUTHOOK_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ENDPOINT_URL="+s.proxyURL,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION="+awstest.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		lambdaenv.ConfigFile+"="+s.config,
		lambdaenv.Table+"="+s.table,
		lambdaenv.QueueURL+"="+s.queueURL,
		lambdaenv.UserSecretPrefix+"="+s.users,
		lambdaenv.NamedSecretPrefix+"="+s.named,
	)
	return append(env, overrides...)
}

// start runs function fn (variant prod or fault) of this stack.
func (s *stack) start(variant, fn string, overrides ...string) *function {
	s.t.Helper()
	return startFunction(s.t, fn, bootstrap(s.t, variant, fn), s.env(overrides...))
}

// apiResponse is what API Gateway would answer the client.
type apiResponse struct {
	status int    // the HTTP status, or the emulator's 502 when the function crashed
	body   []byte // the response body (or the emulator's error)
	header map[string]string
}

// call sends an HTTP API request through the function as API Gateway would: payload format 2.0, the route
// key of the route of the table that matches, IAM-authorized, headers lower-cased.
func (f *function) call(t testing.TB, method, target string, body any, headers ...string) apiResponse {
	t.Helper()
	return f.serve(t, apiGatewayEvent(t, method, target, body, headers...))
}

// callURL sends the request through the function as its Lambda function URL would (functionURLEvent).
func (f *function) callURL(t testing.TB, method, target string, body any, headers ...string) apiResponse {
	t.Helper()
	return f.serve(t, functionURLEvent(t, method, target, body, headers...))
}

// serve invokes the function with an HTTP event and reads its answer.
func (f *function) serve(t testing.TB, ev events.APIGatewayV2HTTPRequest) apiResponse {
	t.Helper()
	status, out := f.invoke(t, ev)
	if status != http.StatusOK {
		return apiResponse{status: status, body: out}
	}
	var resp events.APIGatewayV2HTTPResponse
	require.NoError(t, json.Unmarshal(out, &resp), "response of %s: %s", f.name, out)
	require.False(t, resp.IsBase64Encoded, "the API answers JSON text")
	return apiResponse{status: resp.StatusCode, body: []byte(resp.Body), header: resp.Headers}
}

// Hosts of the test events.
const (
	apiDomain = "abc123def4.execute-api.us-east-1.amazonaws.com"
	urlID     = "abcdefghijklmnopqrstuvwxyz012345"
	urlDomain = urlID + ".lambda-url.us-east-1.on.aws"
)

// apiGatewayEvent is the event API Gateway's HTTP API sends for the request: its routeKey is the route of
// the table (shared/httpapi/route) that matches, as API Gateway matched it, or "METHOD /path" for a path that
// is no route.
func apiGatewayEvent(t testing.TB, method, target string, body any, headers ...string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	ev := httpEvent(t, method, target, body, headers...)
	ev.RouteKey = method + " " + ev.RawPath
	r := httptest.NewRequest(method, target, nil)
	if _, pattern := apiRoutes.Handler(r); pattern != "" {
		ev.RouteKey = pattern
	}
	ev.RequestContext.RouteKey = ev.RouteKey
	ev.RequestContext.APIID, ev.RequestContext.DomainName, ev.RequestContext.DomainPrefix = "abc123def4", apiDomain, "abc123def4"
	ev.Headers["host"] = apiDomain
	return ev
}

// functionURLEvent is the event a Lambda function URL with AWS_IAM auth sends for the request: payload format
// 2.0 as API Gateway's, but routeKey "$default" (the route is only in rawPath and requestContext.http.method)
// and the URL's own domain. body is marshalled to JSON unless nil; headers are name, value pairs.
func functionURLEvent(t testing.TB, method, target string, body any, headers ...string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	ev := httpEvent(t, method, target, body, headers...)
	ev.RouteKey, ev.RequestContext.RouteKey = "$default", "$default"
	ev.RequestContext.APIID, ev.RequestContext.DomainName, ev.RequestContext.DomainPrefix = urlID, urlDomain, urlID
	ev.Headers["host"] = urlDomain
	ev.Headers["x-forwarded-proto"] = "https"
	return ev
}

// httpEvent is what API Gateway and function URL events share: payload format 2.0, IAM-authorized, the stage
// $default, headers lower-cased, a JSON body.
func httpEvent(t testing.TB, method, target string, body any, headers ...string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: u.EscapedPath(), RawQueryString: u.RawQuery,
		Headers: map[string]string{"user-agent": "outhook-e2e"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", Stage: "$default", RequestID: randomID(),
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccountID: "123456789012", UserARN: "arn:aws:iam::123456789012:user/e2e"},
			},
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: u.Path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: "outhook-e2e",
			},
			TimeEpoch: time.Now().UnixMilli(),
		},
	}
	for i := 0; i+1 < len(headers); i += 2 {
		ev.Headers[strings.ToLower(headers[i])] = headers[i+1]
	}
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		ev.Body = string(raw)
		ev.Headers["content-type"] = "application/json"
	}
	return ev
}

// apiRoutes matches a request to the route of the table that API Gateway would match it to.
var apiRoutes = func() *http.ServeMux {
	mux := http.NewServeMux()
	for _, r := range route.All() {
		if r.Function != "" {
			mux.Handle(r.Pattern(), http.NotFoundHandler())
		}
	}
	return mux
}()

// decode parses a 2xx JSON answer into out.
func (r apiResponse) decode(t testing.TB, want int, out any) {
	t.Helper()
	require.Equal(t, want, r.status, "answer: %s", r.body)
	require.NoError(t, json.Unmarshal(r.body, out), "answer: %s", r.body)
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// poller is the SQS event source mapping: it receives batches of up to ten messages, invokes deliver with
// them as an SQS event, and deletes the messages that deliver did not list in BatchItemFailures (none when
// the invocation itself failed: the visibility timeout then brings them back).
type poller struct {
	counter *awstest.Counter // the poller's own SQS requests
	crashes atomic.Int32     // invocations that failed (the function crashed)
	mu      sync.Mutex
	retried []string // the body of each record deliver reported in BatchItemFailures, once per report
	// window is the event source's MaximumBatchingWindowInSeconds: after a receive that did not fill the
	// batch, it receives again until the batch is full or the window since the first receive has passed.
	window time.Duration
}

// poll feeds deliver from the stack's queue until the test ends.
func (s *stack) poll(deliver *function) *poller { return s.pollQueue(deliver, s.queueURL, 0) }

// pollQueue feeds deliver from the queue at queueURL (the stack's, or its dead-letter queue) until the test ends.
func (s *stack) pollQueue(deliver *function, queueURL string, window time.Duration) *poller {
	s.t.Helper()
	p := &poller{counter: awstest.NewCounter(), window: window}
	cfg := s.aws.Copy()
	p.counter.Instrument(&cfg)
	client := sqs.NewFromConfig(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := p.once(ctx, client, queueURL, deliver); err != nil && ctx.Err() == nil {
				s.t.Logf("poller: %v", err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	s.t.Cleanup(func() { cancel(); <-done })
	return p
}

func (p *poller) once(ctx context.Context, client *sqs.Client, queueURL string, deliver *function) error {
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil || len(out.Messages) == 0 {
		return err
	}
	for until := time.Now().Add(p.window); len(out.Messages) < 10 && time.Now().Before(until); {
		more, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &queueURL, MaxNumberOfMessages: int32(10 - len(out.Messages)), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			break // deliver what was received
		}
		out.Messages = append(out.Messages, more.Messages...)
	}
	ev := events.SQSEvent{}
	for _, m := range out.Messages {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes, EventSource: "aws:sqs",
			EventSourceARN: sourceARN(queueURL),
			AWSRegion:      awstest.Region,
		})
	}
	status, raw, err := deliver.post(ev)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		p.crashes.Add(1)
		return errors.New("deliver failed: " + string(raw))
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return err
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	p.mu.Lock()
	for _, m := range out.Messages {
		if failed[aws.ToString(m.MessageId)] {
			p.retried = append(p.retried, aws.ToString(m.Body))
		}
	}
	p.mu.Unlock()
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(entries) == 0 {
		return nil
	}
	del, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &queueURL, Entries: entries})
	if err == nil && len(del.Failed) > 0 {
		err = errors.New("delete failed for " + strconv.Itoa(len(del.Failed)) + " messages")
	}
	return err
}

// retries returns how many times deliver reported a message of event id in BatchItemFailures (so SQS
// delivers it again).
func (p *poller) retries(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, body := range p.retried {
		if strings.Contains(body, `"eventId":"`+id+`"`) {
			n++
		}
	}
	return n
}

// sourceARN is the ARN the poller gives as the records' EventSourceARN for the queue at queueURL.
func sourceARN(queueURL string) string {
	return "arn:aws:sqs:" + awstest.Region + ":000000000000:" + queueURL[strings.LastIndex(queueURL, "/")+1:]
}

// event reads one event through the query function.
func (s *stack) event(t testing.TB, query *function, set, id string) webhook.Event {
	t.Helper()
	var ev webhook.Event
	query.call(t, http.MethodGet, "/v1/webhooks/"+set+"/events/"+id, nil).decode(t, http.StatusOK, &ev)
	return ev
}

// waitStatus waits until the event has the given status and returns it.
func (s *stack) waitStatus(t testing.TB, query *function, set, id, status string, timeout time.Duration) webhook.Event {
	t.Helper()
	var ev webhook.Event
	deadline := time.Now().Add(timeout)
	for {
		ev = s.event(t, query, set, id)
		if ev.Status == status {
			return ev
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(ev, "", "  ")
			t.Fatalf("event %s is %s, not %s, after %s:\n%s", id, ev.Status, status, timeout, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
