//go:build linux

package lambda

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/webhook"
)

// awsError is an error answer of an AWS service's JSON protocol.
type awsError struct {
	status int
	code   string // the body's __type
}

// The answers of each service to requests it cannot serve (throttling, an internal error, unavailable), as
// its API reference lists them. A front gives them in turn.
var (
	dynamoDBDown = []awsError{
		{http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"},
		{http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError"},
		{http.StatusServiceUnavailable, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"},
	}
	sqsDown            = []awsError{{http.StatusInternalServerError, "InternalFailure"}, {http.StatusServiceUnavailable, "ServiceUnavailable"}}
	secretsManagerDown = []awsError{{http.StatusServiceUnavailable, "ServiceUnavailableException"}}
)

// dynamoDBWrites are the DynamoDB actions that write.
var dynamoDBWrites = []string{"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

// serviceFront is one AWS service as a function sees it through AWS_ENDPOINT_URL_<SERVICE>: the stack's
// endpoint, except that during an outage the requests it covers get the service's error answers in turn.
type serviceFront struct {
	url     string
	answers []awsError
	failing atomic.Pointer[func(action string) bool] // the actions the outage covers; nil: the service is up
	mu      sync.Mutex
	counts  map[frontCount]int // requests so far
}

// frontCount counts the requests of one action that a front refused, or forwarded.
type frontCount struct {
	action  string
	refused bool
}

// front starts a front for one service of the stack, up until down is called.
func (s *stack) front(t *testing.T, answers []awsError) *serviceFront {
	t.Helper()
	target, err := url.Parse(s.proxyURL)
	require.NoError(t, err)
	forward := httputil.NewSingleHostReverseProxy(target)
	f := &serviceFront{answers: answers, counts: map[frontCount]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The JSON protocols name the action in X-Amz-Target: "DynamoDB_20120810.PutItem", "AmazonSQS.SendMessageBatch".
		target := r.Header.Get("X-Amz-Target")
		action := target[strings.LastIndex(target, ".")+1:]
		failing := f.failing.Load()
		refused := failing != nil && (*failing)(action)
		f.mu.Lock()
		n := f.counts[frontCount{action, true}] // this action's answers in turn
		f.counts[frontCount{action, refused}]++
		f.mu.Unlock()
		if !refused {
			forward.ServeHTTP(w, r)
			return
		}
		answer := f.answers[n%len(f.answers)]
		body := fmt.Sprintf(`{"__type":%q,"message":"injected outage"}`, answer.code)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
		w.WriteHeader(answer.status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	f.url = srv.URL
	return f
}

// down starts an outage of the given actions; of every action if none is given.
func (f *serviceFront) down(actions ...string) {
	failing := func(action string) bool { return len(actions) == 0 || slices.Contains(actions, action) }
	f.failing.Store(&failing)
}

// up ends the outage.
func (f *serviceFront) up() { f.failing.Store(nil) }

// refused and passed count the requests of the given actions (every action if none is given) that the
// front failed or forwarded.
func (f *serviceFront) refused(actions ...string) int { return f.count(true, actions) }
func (f *serviceFront) passed(actions ...string) int  { return f.count(false, actions) }

func (f *serviceFront) count(refused bool, actions []string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for c, v := range f.counts {
		if c.refused == refused && (len(actions) == 0 || slices.Contains(actions, c.action)) {
			n += v
		}
	}
	return n
}

// twoAttempts leaves a delivery one retry: an attempt spent on an outage would show.
var twoAttempts = &config.Retry{Attempts: 2, Backoff: "fixed", InitialDelaySeconds: 1, MaxDelaySeconds: 1}

// webhookIDs returns the webhook-id of each request path received, in order.
func (r *receiver) webhookIDs(path string) []string {
	var ids []string
	for _, g := range r.requests(path) {
		ids = append(ids, g.header.Get("webhook-id"))
	}
	return ids
}

// TestLambda_SecretsManagerOutage: deliver's Secrets Manager requests fail (503) for a while; the deliveries
// that need a secret (a named one, a user's) are retried by SQS without an attempt recorded or a POST, and
// once Secrets Manager answers each is delivered by its first attempt, with attempts: 2 left whole.
func TestLambda_SecretsManagerOutage(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	crm := endpoint("crm", rcv.URL+"/crm")
	crm.Signing, crm.Retry = crmSigning, twoAttempts
	customer := endpoint("customer", rcv.URL+"/customer")
	customer.Retry = twoAttempts
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "billing", Endpoints: []config.Endpoint{crm, customer}}}},
		map[string]string{crmSecretName: crmSecretValue}, visibilityTimeout)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")
	sm := s.front(t, secretsManagerDown)
	sm.down()
	s.poll(s.start(variantProd, "deliver", "AWS_ENDPOINT_URL_SECRETS_MANAGER="+sm.url))

	var res webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/billing/events",
		map[string]any{"type": "invoice.paid", "payload": map[string]string{"invoiceId": "in_1"}, "userId": userID}).
		decode(t, http.StatusAccepted, &res)
	// Several receives of each message meet the outage (visibility timeout 2 s).
	require.Eventually(t, func() bool { return sm.refused() >= 12 }, 60*time.Second, 50*time.Millisecond)
	require.Empty(t, rcv.requests("/crm"), "no POST without the secret")
	require.Empty(t, rcv.requests("/customer"), "no POST without the secret")
	during := s.event(t, query, "billing", res.EventID)
	for _, d := range during.Deliveries {
		require.Empty(t, d.Attempts, "no attempt recorded during the outage: %s", d.Endpoint)
		require.Equal(t, webhook.StatusQueued, d.Status)
	}

	sm.up()
	ev := s.waitStatus(t, query, "billing", res.EventID, webhook.StatusDelivered, 60*time.Second)
	for _, d := range ev.Deliveries {
		require.Len(t, d.Attempts, 1, d.Endpoint)
		require.Equal(t, 1, d.Attempts[0].Number)
		require.Equal(t, http.StatusNoContent, d.Attempts[0].ResponseStatus, d.Endpoint)
	}
	require.Len(t, rcv.requests("/crm"), 1)
	verifies(t, crmSigning, rcv.requests("/crm")[0], []byte(crmSecretValue))
	require.Len(t, rcv.requests("/customer"), 1)
}

// TestLambda_DynamoDBOutage: deliver's DynamoDB requests fail (throttled, 500, 503: for longer than the SDK
// retries them) in two stages. First every request fails: deliver cannot read the endpoint's state, which it
// reads before the POST, and makes none. Then only the endpoint's state can be read: the message that
// carries its event POSTs but cannot record the attempt, and the one whose payload is too large for the
// message cannot read its event and makes no POST. Either way SQS delivers the messages again
// (BatchItemFailures) and no attempt is recorded; once DynamoDB answers, each delivery is recorded as
// delivered by its first attempt, attempts: 2 left whole, and the receiver saw no more POSTs than the
// messages' receives allow, each under its event's webhook-id.
func TestLambda_DynamoDBOutage(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	hook := endpoint("hook", rcv.URL+"/hook")
	hook.Retry = twoAttempts
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{hook}}}}, nil, visibilityTimeout)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")
	ddb := s.front(t, dynamoDBDown)
	ddb.down()
	p := s.poll(s.start(variantProd, "deliver", "AWS_ENDPOINT_URL_DYNAMODB="+ddb.url))

	var small, large webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid).decode(t, http.StatusAccepted, &small)
	send.call(t, http.MethodPost, "/v1/webhooks/orders/events",
		map[string]any{"type": "order.exported", "payload": map[string]string{"rows": strings.Repeat("x", 50<<10)}}).
		decode(t, http.StatusAccepted, &large)
	ids := []string{small.EventID, large.EventID}
	noAttempt := func(stage string) {
		t.Helper()
		for _, id := range ids {
			ev := s.event(t, query, "orders", id)
			require.Equal(t, webhook.StatusQueued, ev.Deliveries[0].Status, "%s: %s", stage, id)
			require.Empty(t, ev.Deliveries[0].Attempts, "%s: no attempt recorded for %s", stage, id)
		}
	}
	posts := func(id string) int {
		n := 0
		for _, got := range rcv.webhookIDs("/hook") {
			if got == id {
				n++
			}
		}
		return n
	}
	retried := func(since map[string]int) bool {
		for _, id := range ids {
			if p.retries(id) <= since[id] {
				return false
			}
		}
		return true
	}

	// Every request fails: no message gets past the endpoint's state, and SQS delivers each again.
	require.Eventually(t, func() bool { return retried(nil) }, 60*time.Second, 50*time.Millisecond)
	require.Empty(t, rcv.requests("/hook"), "no POST without the endpoint's state")
	require.GreaterOrEqual(t, ddb.refused("GetItem"), 4, "the state reads failed for longer than the SDK retries them (4 attempts)")
	noAttempt("every request failing")

	// The endpoint's state (GetItem) can be read, the event (Query) cannot, writes fail.
	before := map[string]int{small.EventID: p.retries(small.EventID), large.EventID: p.retries(large.EventID)}
	ddb.down(append([]string{"Query"}, dynamoDBWrites...)...)
	require.Eventually(t, func() bool { return posts(small.EventID) > 0 && retried(before) }, 60*time.Second, 50*time.Millisecond)
	require.Positive(t, ddb.refused("PutItem"), "the attempt record was refused")
	require.Positive(t, ddb.refused("Query"), "the large event's read was refused")
	require.Zero(t, posts(large.EventID), "no POST without the event")
	noAttempt("reads of the event and writes failing")

	ddb.up()
	for _, id := range ids {
		ev := s.waitStatus(t, query, "orders", id, webhook.StatusDelivered, 60*time.Second)
		attempts := ev.Deliveries[0].Attempts
		require.Len(t, attempts, 1, "%s: the outage spent no attempt", id)
		require.Equal(t, 1, attempts[0].Number)
		require.Equal(t, http.StatusNoContent, attempts[0].ResponseStatus)
		require.Empty(t, attempts[0].Error)
	}
	// A POST whose attempt was not recorded is made again by the next receive of its message (at least
	// once): the small event's message POSTed on each receive since its state could be read.
	require.GreaterOrEqual(t, posts(small.EventID), 2)
	require.LessOrEqual(t, posts(small.EventID), p.retries(small.EventID)-before[small.EventID]+1)
	require.Equal(t, 1, posts(large.EventID), "the large event's message POSTed only once it could read the event")
	require.Len(t, rcv.requests("/hook"), posts(small.EventID)+posts(large.EventID), "every POST carries its event's webhook-id")
}

// TestLambda_DeliverSQSOutage: deliver's SQS requests fail (500, 503: for longer than the SDK retries them)
// while it queues the retry of a first attempt that got a 503. The attempt is recorded once; the message is
// not deleted but delivered again by SQS (BatchItemFailures), each receive POSTing again (at least once:
// it carries its small event) and finding the attempt recorded; once SQS answers, the retry is queued once
// and the delivery ends delivered by attempt 2, its attempts numbered 1 and 2.
func TestLambda_DeliverSQSOutage(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, map[string]int{"/hook": 1})
	hook := endpoint("hook", rcv.URL+"/hook")
	hook.Retry = twoAttempts
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{hook}}}}, nil, visibilityTimeout)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")
	sqsFront := s.front(t, sqsDown)
	sqsFront.down()
	p := s.poll(s.start(variantProd, "deliver", "AWS_ENDPOINT_URL_SQS="+sqsFront.url))

	var res webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid).decode(t, http.StatusAccepted, &res)
	// The first receive records attempt 1 and cannot queue attempt 2; a later receive cannot either.
	require.Eventually(t, func() bool { return p.retries(res.EventID) >= 2 }, 60*time.Second, 50*time.Millisecond)
	require.GreaterOrEqual(t, sqsFront.refused("SendMessageBatch", "SendMessage"), 6, "queueing failed for longer than the SDK retries it")
	require.Zero(t, sqsFront.passed())
	during := s.event(t, query, "orders", res.EventID)
	require.Equal(t, webhook.StatusRetrying, during.Deliveries[0].Status)
	require.Len(t, during.Deliveries[0].Attempts, 1, "attempt 1 is recorded once, whatever the receives")
	require.Equal(t, http.StatusServiceUnavailable, during.Deliveries[0].Attempts[0].ResponseStatus)

	sqsFront.up()
	ev := s.waitStatus(t, query, "orders", res.EventID, webhook.StatusDelivered, 60*time.Second)
	var numbers, statuses []int
	for _, a := range ev.Deliveries[0].Attempts {
		numbers, statuses = append(numbers, a.Number), append(statuses, a.ResponseStatus)
	}
	require.Equal(t, []int{1, 2}, numbers, "no attempt spent on the outage")
	require.Equal(t, []int{http.StatusServiceUnavailable, http.StatusNoContent}, statuses)
	require.Equal(t, 1, sqsFront.passed("SendMessageBatch", "SendMessage"), "the retry was queued once")
	posts := rcv.webhookIDs("/hook")
	require.GreaterOrEqual(t, len(posts), 3, "attempt 1, again on a receive during the outage, attempt 2")
	require.LessOrEqual(t, len(posts), p.retries(res.EventID)+2, "one POST per receive, plus attempt 2")
	for _, id := range posts {
		require.Equal(t, res.EventID, id)
	}
}
