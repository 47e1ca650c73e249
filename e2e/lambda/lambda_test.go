//go:build linux

package lambda

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awsapp"
	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/cwmetric"
	"github.com/outhook/outhook/shared/aws/emf/emftest"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/webhook"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	awstest.Stop()
	os.Exit(code)
}

const (
	crmSecretName  = "CRM_WEBHOOK_SIGNING_SECRET"
	crmSecretValue = "crm-signing-secret-used-as-raw-bytes"
	userID         = "user_42"
)

// crmSigning is the configurable scheme of the crm endpoint, as on the reference page.
var crmSigning = &config.Signing{
	Header: "x-outhook-signature", TimestampHeader: "x-outhook-timestamp", SignedPayload: "timestamp.rawBody",
	Algorithm: "hmac-sha256", Encoding: "hex", Secret: crmSecretName,
}

// received is one request a receiver got.
type received struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a real HTTP receiver. failFirst[path] is how many first requests to that path get a 503.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	got       []received
	failFirst map[string]int
}

func newReceiver(t *testing.T, failFirst map[string]int) *receiver {
	t.Helper()
	r := &receiver{failFirst: failFirst}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := 0
		for _, g := range r.got {
			if g.path == req.URL.Path {
				n++
			}
		}
		r.got = append(r.got, received{path: req.URL.Path, header: req.Header.Clone(), body: body, at: time.Now()})
		fail := n < r.failFirst[req.URL.Path]
		r.mu.Unlock()
		if fail {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// requests returns what path received, in order.
func (r *receiver) requests(path string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if g.path == path {
			out = append(out, g)
		}
	}
	return out
}

func endpoint(name, url string) config.Endpoint {
	return config.Endpoint{Name: name, URL: url, AllowPrivateNetwork: true, TimeoutSeconds: 5}
}

// quickRetry retries after about a second, three attempts in all.
var quickRetry = &config.Retry{Attempts: 3, Backoff: "fixed", InitialDelaySeconds: 1, MaxDelaySeconds: 2}

func key(t testing.TB, secret string) []byte {
	t.Helper()
	k, err := signing.Key(secret)
	require.NoError(t, err)
	return k
}

// verifies checks a received delivery's signature against keys with the scheme of s.
func verifies(t testing.TB, s *config.Signing, got received, keys ...[]byte) {
	t.Helper()
	scheme, err := s.Scheme()
	require.NoError(t, err)
	require.NoError(t, signing.Verify(scheme, got.header, got.body, keys, 5*time.Minute, time.Now()),
		"signature of the delivery to %s", got.path)
}

func TestLambda_EndToEnd(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, map[string]int{"/flaky": 2})
	cfg := config.Config{Sets: []config.Set{
		{Name: "billing-events", Endpoints: []config.Endpoint{
			func() config.Endpoint { e := endpoint("crm", rcv.URL+"/crm"); e.Signing = crmSigning; return e }(),
			func() config.Endpoint { e := endpoint("flaky", rcv.URL+"/flaky"); e.Retry = quickRetry; return e }(),
		}},
		{Name: "customer-events", RotationWindowSeconds: 3600, Endpoints: []config.Endpoint{endpoint("customer", rcv.URL+"/customer")}},
	}}
	s := newStack(t, cfg, map[string]string{crmSecretName: crmSecretValue}, visibilityTimeout)
	send, query, secrets := s.start(variantProd, "send"), s.start(variantProd, "query"), s.start(variantProd, "secrets")
	// deliver caches user secrets for awsapp.DefaultUserSecretCacheTTL: the rotation below reaches deliveries
	// within it.
	const userSecretCache = awsapp.DefaultUserSecretCacheTTL
	deliver := s.start(variantProd, "deliver")
	inits := map[string]time.Duration{}
	for _, f := range []*function{send, query, secrets} {
		// A route the function does not serve: answered before any AWS request.
		inits[f.name] = f.coldStart(t, events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/healthz",
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet}}})
	}
	inits[deliver.name] = deliver.coldStart(t, events.SQSEvent{})
	s.poll(deliver)

	// The user's managed secret is created on first use, through the secrets function.
	var sec webhook.UserSecret
	secrets.call(t, http.MethodGet, "/v1/webhooks/customer-events/users/"+userID+"/secret", nil).decode(t, http.StatusOK, &sec)
	require.True(t, strings.HasPrefix(sec.Current.Value, "whcms_"), sec.Current.Value)
	require.Nil(t, sec.Previous)

	var billing, customer webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/billing-events/events",
		map[string]any{"type": "invoice.paid", "payload": map[string]any{"invoiceId": "inv_1", "amount": 4200}}).
		decode(t, http.StatusAccepted, &billing)
	require.True(t, strings.HasPrefix(billing.EventID, "whevt_"))
	require.Len(t, billing.Deliveries, 2)
	for _, d := range billing.Deliveries {
		require.Equal(t, webhook.StatusQueued, d.Status)
		require.True(t, strings.HasPrefix(d.AttemptID, "whatt_"))
	}
	send.call(t, http.MethodPost, "/v1/webhooks/customer-events/events",
		map[string]any{"type": "customer.updated", "payload": map[string]any{"customerId": "cus_1"}, "userId": userID}).
		decode(t, http.StatusAccepted, &customer)

	// Signed deliveries reach the receiver and verify.
	s.waitStatus(t, query, "customer-events", customer.EventID, webhook.StatusDelivered, 30*time.Second)
	got := rcv.requests("/customer")
	require.Len(t, got, 1)
	require.Equal(t, customer.EventID, got[0].header.Get("webhook-id"))
	verifies(t, nil, got[0], key(t, sec.Current.Value))
	var body struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got[0].body, &body))
	require.Equal(t, customer.EventID, body.ID)
	require.JSONEq(t, `{"customerId":"cus_1"}`, string(body.Data))

	// The failing receiver is retried with the configured delay; events get shows every attempt.
	ev := s.waitStatus(t, query, "billing-events", billing.EventID, webhook.StatusDelivered, 60*time.Second)
	crm := rcv.requests("/crm")
	require.Len(t, crm, 1)
	verifies(t, crmSigning, crm[0], []byte(crmSecretValue))
	flaky := rcv.requests("/flaky")
	require.Len(t, flaky, 3)
	for i := 1; i < len(flaky); i++ {
		gap := flaky[i].at.Sub(flaky[i-1].at)
		require.GreaterOrEqual(t, gap, 900*time.Millisecond, "retry %d came too early", i)
		require.Less(t, gap, 6*time.Second, "retry %d came too late", i)
		require.Equal(t, billing.EventID, flaky[i].header.Get("webhook-id"), "the same id on every retry")
	}
	require.Len(t, ev.Deliveries, 2)
	require.Equal(t, "crm", ev.Deliveries[0].Endpoint)
	require.Len(t, ev.Deliveries[0].Attempts, 1)
	require.Equal(t, http.StatusNoContent, ev.Deliveries[0].Attempts[0].ResponseStatus)
	require.Equal(t, "flaky", ev.Deliveries[1].Endpoint)
	require.Equal(t, webhook.StatusDelivered, ev.Deliveries[1].Status)
	var statuses []int
	for i, a := range ev.Deliveries[1].Attempts {
		require.Equal(t, i+1, a.Number)
		statuses = append(statuses, a.ResponseStatus)
	}
	require.Equal(t, []int{503, 503, 204}, statuses)
	requireMetrics(t, send, map[string]float64{"billing-events/" + cwmetric.EventsAccepted: 1})
	requireMetrics(t, deliver, map[string]float64{
		"billing-events/crm/" + cwmetric.Delivered:       1,
		"billing-events/flaky/" + cwmetric.RetriesQueued: 2,
		"billing-events/flaky/" + cwmetric.Delivered:     1,
	})
	// Deliver logs the two failed attempts at WARN, and no line for a successful one: it is in the event log
	// and the metrics, and CloudWatch Logs bills every byte.
	attempts := logLines(t, deliver, "delivery attempt")
	require.Len(t, attempts, 2, "flaky's two 503s only")
	for _, l := range attempts {
		require.Equal(t, "WARN", l["level"])
		require.Equal(t, "retrying", l["outcome"])
		require.Equal(t, "flaky", l["endpoint"])
	}
	require.Equal(t, billing.Deliveries[1].AttemptID, ev.Deliveries[1].Attempts[0].ID)
	require.JSONEq(t, `{"invoiceId":"inv_1","amount":4200}`, string(ev.Payload))

	var list webhook.EventList
	query.call(t, http.MethodGet, "/v1/webhooks/billing-events/events?direction=outbound&limit=10", nil).decode(t, http.StatusOK, &list)
	require.Len(t, list.Events, 1)
	require.Equal(t, billing.EventID, list.Events[0].ID)

	// Rotation: the previous secret stays valid, and deliveries carry both signatures.
	var rotated webhook.UserSecret
	secrets.call(t, http.MethodPost, "/v1/webhooks/customer-events/users/"+userID+"/secret/rotate", nil).decode(t, http.StatusOK, &rotated)
	require.NotEqual(t, sec.Current.Value, rotated.Current.Value)
	require.NotNil(t, rotated.Previous)
	require.Equal(t, sec.Current.Value, rotated.Previous.Value)
	require.NotNil(t, rotated.Previous.ExpiresAt)
	var again webhook.UserSecret
	secrets.call(t, http.MethodGet, "/v1/webhooks/customer-events/users/"+userID+"/secret", nil).decode(t, http.StatusOK, &again)
	require.Equal(t, rotated.Current.Value, again.Current.Value)

	time.Sleep(userSecretCache)
	var after webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/customer-events/events",
		map[string]any{"type": "customer.updated", "payload": map[string]any{"customerId": "cus_2"}, "userId": userID}).
		decode(t, http.StatusAccepted, &after)
	s.waitStatus(t, query, "customer-events", after.EventID, webhook.StatusDelivered, 30*time.Second)
	got = rcv.requests("/customer")
	require.Len(t, got, 2)
	verifies(t, nil, got[1], key(t, rotated.Current.Value))
	verifies(t, nil, got[1], key(t, sec.Current.Value))

	// Errors come back as the API's JSON, through API Gateway's event shape.
	bad := send.call(t, http.MethodPost, "/v1/webhooks/no-such-set/events", map[string]any{"type": "x", "payload": map[string]any{}})
	require.Equal(t, http.StatusNotFound, bad.status)
	require.JSONEq(t, `{"error":{"code":"unknown_set","message":"webhook set \"no-such-set\" does not exist"}}`, string(bad.body))
	bad = send.call(t, http.MethodPost, "/v1/webhooks/billing-events/events", map[string]any{"payload": map[string]any{}})
	require.Equal(t, http.StatusBadRequest, bad.status, "%s", bad.body)
	bad = query.call(t, http.MethodPost, "/v1/webhooks/billing-events/events", map[string]any{"type": "x", "payload": map[string]any{}})
	require.Equal(t, http.StatusNotFound, bad.status, "the query function does not serve send")
	for _, f := range []*function{send, query, secrets, deliver} {
		t.Logf("%s: init %s (cold minus warm Duration of a no-op invocation under the emulator)", f.name, inits[f.name].Round(10*time.Microsecond))
	}
}

// requireMetrics checks the EMF lines f wrote: each is valid EMF in outhook's namespace, and the sums of
// their metrics by set, endpoint and name ("set/endpoint/name", or "set/name" without an endpoint) include
// want. The functions write them when an invocation ends, which may be just after its effects are seen.
func requireMetrics(t *testing.T, f *function, want map[string]float64) {
	t.Helper()
	var got map[string]float64
	match := func() bool {
		lines, err := emftest.Lines(f.out.String())
		require.NoError(t, err, "the EMF lines of %s", f.name)
		got = map[string]float64{}
		for _, l := range lines {
			require.Equal(t, cwmetric.Namespace, l.Directives[0].Namespace, "the default namespace")
			prefix := l.Dimensions[cwmetric.DimensionSet] + "/"
			if ep := l.Dimensions[cwmetric.DimensionEndpoint]; ep != "" {
				prefix += ep + "/"
			}
			for name, v := range l.Metrics {
				got[prefix+name] += v
			}
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(10 * time.Second)
	for !match() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for k, v := range want {
		require.Equal(t, v, got[k], "%s in the EMF lines of %s: %v", k, f.name, got)
	}
}

// logLines returns the log lines of f (JSON objects with a "msg", unlike EMF lines) whose msg is msg.
func logLines(t *testing.T, f *function, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(f.out.String()) {
		var l map[string]any
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &l) != nil {
			continue // the emulator's START, END and REPORT lines
		}
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// crashStack is a stack with a receiver whose first failFirst requests fail, a deliver fed by the poller,
// and a query function.
func crashStack(t *testing.T, failFirst int) (*stack, *receiver, *function) {
	t.Helper()
	rcv := newReceiver(t, map[string]int{"/hook": failFirst})
	e := endpoint("hook", rcv.URL+"/hook")
	e.Retry = quickRetry
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "orders", Endpoints: []config.Endpoint{e}}}}, nil, visibilityTimeout)
	return s, rcv, s.start(variantProd, "query")
}

// faultEnv makes a faultinject binary crash once at point; the marker records that it did.
func faultEnv(t *testing.T, point string) (env []string, marker string) {
	marker = filepath.Join(t.TempDir(), "crashed")
	return []string{"OUTHOOK_FAULT=" + point, "OUTHOOK_FAULT_MARKER=" + marker}, marker
}

var orderPaid = map[string]any{"type": "order.paid", "payload": map[string]any{"orderId": "ord_7"}}

// TestLambda_SendCrash kills a keyed send between its DynamoDB write (the key's reservation) and its SQS
// send, and right after the SQS send (before the event write): the client sees the invocation fail, retries
// with the same Idempotency-Key, gets a 202 for the event the first call reserved, and the event is delivered.
func TestLambda_SendCrash(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"crash-after-store", "crash-after-enqueue"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			s, rcv, query := crashStack(t, 0)
			env, marker := faultEnv(t, point)
			send := s.start(variantFault, "send", env...)
			s.poll(s.start(variantProd, "deliver"))

			first := send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid, "Idempotency-Key", "order-7-paid")
			require.Equal(t, http.StatusBadGateway, first.status, "the crashed invocation fails: %s", first.body)
			require.Contains(t, string(first.body), "Runtime.ExitError")
			require.FileExists(t, marker)

			var res webhook.SendResult
			retry := send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid, "Idempotency-Key", "order-7-paid")
			retry.decode(t, http.StatusAccepted, &res)
			require.Equal(t, "true", retry.header["Idempotent-Replayed"], "the retry got the first call's result")

			ev := s.waitStatus(t, query, "orders", res.EventID, webhook.StatusDelivered, 30*time.Second)
			require.Len(t, ev.Deliveries[0].Attempts, 1)
			got := rcv.requests("/hook")
			require.NotEmpty(t, got)
			for _, g := range got {
				require.Equal(t, res.EventID, g.header.Get("webhook-id"), "only this event, under its stable id")
			}
			var list webhook.EventList
			query.call(t, http.MethodGet, "/v1/webhooks/orders/events", nil).decode(t, http.StatusOK, &list)
			require.Len(t, list.Events, 1, "the retry did not create a second event")
		})
	}
}

// TestLambda_DeliverCrash kills deliver between recording a failed attempt and queueing its retry: SQS
// delivers the message again after its visibility timeout, deliver finds the attempt recorded (its write
// conflicts) and queues the retry, and the event is delivered by the second attempt.
func TestLambda_DeliverCrash(t *testing.T) {
	t.Parallel()
	s, rcv, query := crashStack(t, 1)
	env, marker := faultEnv(t, "crash-after-store")
	send := s.start(variantProd, "send")
	p := s.poll(s.start(variantFault, "deliver", env...))

	var res webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid).decode(t, http.StatusAccepted, &res)
	ev := s.waitStatus(t, query, "orders", res.EventID, webhook.StatusDelivered, 45*time.Second)
	require.FileExists(t, marker)
	require.EqualValues(t, 1, p.crashes.Load(), "deliver crashed once")
	attempts := ev.Deliveries[0].Attempts
	require.Len(t, attempts, 2)
	require.Equal(t, http.StatusServiceUnavailable, attempts[0].ResponseStatus)
	require.Equal(t, http.StatusNoContent, attempts[1].ResponseStatus)
	// The redelivered message makes its attempt again (deliver reads nothing before POSTing), finds the
	// attempt recorded and queues the retry: the receiver may see the event more than twice, always under
	// its one webhook-id, and nothing is lost.
	got := rcv.requests("/hook")
	require.GreaterOrEqual(t, len(got), 2)
	for _, g := range got {
		require.Equal(t, res.EventID, g.header.Get("webhook-id"))
	}
}

// TestLambda_SQSOutage: while SQS is unreachable, send answers 5xx, never 2xx; once it is back, the
// client's retry with the same Idempotency-Key is accepted and delivered.
func TestLambda_SQSOutage(t *testing.T) {
	t.Parallel()
	s, rcv, query := crashStack(t, 0)
	closed := "http://" + freeAddr(t)
	down := s.start(variantProd, "send", lambdaenv.QueueURL+"="+closed+"/000000000000/outhook-deliveries", "AWS_ENDPOINT_URL_SQS="+closed)
	for range 2 {
		resp := down.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid, "Idempotency-Key", "order-7-paid")
		require.GreaterOrEqual(t, resp.status, 500, "%s", resp.body)
		require.JSONEq(t, `{"error":{"code":"internal","message":"internal error"}}`, string(resp.body))
	}
	require.Empty(t, rcv.requests("/hook"))

	up := s.start(variantProd, "send")
	s.poll(s.start(variantProd, "deliver"))
	var res webhook.SendResult
	resp := up.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid, "Idempotency-Key", "order-7-paid")
	resp.decode(t, http.StatusAccepted, &res)
	s.waitStatus(t, query, "orders", res.EventID, webhook.StatusDelivered, 30*time.Second)
	require.Len(t, rcv.requests("/hook"), 1)
}
