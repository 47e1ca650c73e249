//go:build linux

package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/infra/outhookcdk/accesslog"
	"github.com/outhook/outhook/shared/aws/awsapp"
	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/smsecret"
	"github.com/outhook/outhook/shared/config"
)

// List prices (USD), us-east-1, on-demand, as of 2026-12-01.
const (
	priceHTTPAPI     = 1.00 / 1e6     // per API Gateway HTTP API request (first 300 million a month)
	priceLambdaReq   = 0.20 / 1e6     // per Lambda invocation
	priceLambdaGBs   = 0.0000133334   // per GB-second, arm64 (first 7.5 billion GB-s a month)
	priceSQS         = 0.40 / 1e6     // per SQS standard queue request (64 KB chunk; first 100 billion a month)
	priceDynamoWrite = 0.625 / 1e6    // per on-demand write request unit (1 KB; transactional x2)
	priceDynamoRead  = 0.125 / 1e6    // per on-demand read request unit (4 KB strongly consistent)
	priceSecrets     = 0.05 / 10000.0 // per Secrets Manager API call
	priceLogsGB      = 0.50           // per GB ingested into CloudWatch Logs (standard class)
)

// The functions' memory as infra/outhookcdk deploys them by default (DefaultAPIMemoryMiB,
// DefaultDeliverMemoryMiB), which their GB-seconds are priced at.
const (
	apiMemoryMiB     = 256
	deliverMemoryMiB = 128
)

// accessLogLine is one line of the API's access log (accesslog.Format, which infra/outhookcdk deploys) filled
// in for a send, as API Gateway writes it to CloudWatch Logs once per request: the functions do not see it,
// so the cost counts this many bytes per API request.
var accessLogLine = accesslog.Example()

// measureRound is how many events are sent before waiting for their deliveries.
const measureRound = 100

// measureDeliveries is how many deliveries each run makes (1,000 events to one endpoint, 200 to five): 100
// in `make test`, OUTHOOK_MEASURE_DELIVERIES=1000 for the figures of docs/aws.md (`make cost`).
func measureDeliveries(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("OUTHOOK_MEASURE_DELIVERIES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "OUTHOOK_MEASURE_DELIVERIES")
		require.Positive(t, n, "OUTHOOK_MEASURE_DELIVERIES")
		return n
	}
	return measureRound
}

// defaultMeasureRate is the rate at which every scenario queues its deliveries, in deliveries per second
// (events per second times endpoints): how fast messages reach the queue decides how full the event
// source's batches are, so the scenarios are compared at one rate. 50 a second is about 130 million
// deliveries a month, where the cost per million matters.
const defaultMeasureRate = 50

// measureRate is the deliveries per second the runs send at: defaultMeasureRate, or OUTHOOK_MEASURE_RATE
// (`make cost COST_RATE=5`).
func measureRate(t *testing.T) float64 {
	t.Helper()
	if s := os.Getenv("OUTHOOK_MEASURE_RATE"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, "OUTHOOK_MEASURE_RATE")
		require.Positive(t, r, "OUTHOOK_MEASURE_RATE")
		return r
	}
	return defaultMeasureRate
}

// sendEnvs is how many execution environments of send a run starts: enough for every scenario to keep up
// with the rate (a keyed send takes about 40 ms against moto on a loaded machine), as Lambda would scale
// them.
const sendEnvs = 4

// scenario is one way of sending that the cost benchmark prices.
type scenario struct {
	name      string
	endpoints int           // endpoints of the set, each signed with a named secret
	key       bool          // every send carries an Idempotency-Key
	batch     int           // events per request: 1 is the single-send route, more the batch route
	window    time.Duration // the event source's batching window (infra/outhookcdk's DeliverBatchWindow)
	funcURL   bool          // sent through send's function URL: no API Gateway request, no access log line
	inTest    bool          // measured (and asserted) in `make test` too; the others only under OUTHOOK_COST=1
}

// scenarios are the cost benchmark's runs, all with a 700-byte payload (payload700).
var scenarios = []scenario{
	{name: "single send", endpoints: 1, batch: 1, inTest: true},
	{name: "single send, key", endpoints: 1, key: true, batch: 1, inTest: true},
	{name: "batch of 100", endpoints: 1, batch: 100, inTest: true},
	{name: "5 endpoints", endpoints: 5, batch: 1, inTest: true},
	{name: "single send, 2 s window", endpoints: 1, batch: 1, window: 2 * time.Second},
	{name: "single send via function URL", endpoints: 1, batch: 1, funcURL: true},
	{name: "batch of 100 via function URL", endpoints: 1, batch: 100, funcURL: true},
	// The cheapest way to send one event at a time: no API Gateway, and full event-source batches.
	{name: "single send via function URL, 2 s window", endpoints: 1, batch: 1, funcURL: true, window: 2 * time.Second},
	{name: "single send, key, via function URL, 2 s window", endpoints: 1, key: true, batch: 1, funcURL: true,
		window: 2 * time.Second},
}

// TestLambda_RequestsPerDelivery sends events through the real send bootstraps in the ways of scenarios, lets
// the deliver bootstraps deliver them, counts every AWS request the functions make (at the counting proxy in
// front of the endpoint) and the event source's own SQS requests, asserts the request counts the design
// promises, and prints the requests per delivery and the cost per million deliveries at list prices.
// Every run queues measureRate deliveries per second. `make test` runs the scenarios marked inTest with 100
// deliveries each; `make cost` runs them all with 1,000:
//
//	OUTHOOK_COST=1 OUTHOOK_MEASURE_DELIVERIES=1000 go test -count=1 -v -timeout 60m -run TestLambda_RequestsPerDelivery ./e2e/lambda/
func TestLambda_RequestsPerDelivery(t *testing.T) {
	t.Parallel()
	awstest.Endpoint(t) // skips under -short
	n, rate := measureDeliveries(t), measureRate(t)
	all := os.Getenv("OUTHOOK_COST") != ""
	var results []measurement
	for _, sc := range scenarios {
		if !sc.inTest && !all {
			continue
		}
		// A subtest each, so that a run's functions, pollers and resources are gone before the next.
		t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) {
			results = append(results, measure(t, sc, n/sc.endpoints, rate/float64(sc.endpoints)))
		})
	}
	require.False(t, t.Failed())
	if all {
		fmt.Printf("\n%s\n", report(results)) // `make cost` prints it without the test's log prefix
	} else {
		t.Log("\n" + report(results))
	}
	for _, m := range results {
		perDelivery := func(op string) float64 { return float64(m.functions[op]) / float64(m.deliveries) }
		perEvent := func(op string) float64 { return float64(m.functions[op]) / float64(m.events) }
		name := m.scenario.name
		// What the design promises, with 10% for duplicates (moto, like SQS, sometimes hands a message out
		// twice): send writes the event once and queues all its deliveries in one batch (a batch send: ten
		// messages per request); deliver writes one attempt per delivery and reads nothing (the message
		// carries the event). A key adds its item, written before the messages are queued (the event, written
		// after them, is the note that they are).
		require.InDelta(t, 1/float64(m.scenario.batch), perEvent("SQS.SendMessageBatch"), 0.1, name)
		if m.scenario.batch > 1 {
			require.InDelta(t, 0.1, perEvent("SQS.SendMessageBatch"), 0.01, "%s: full batches of ten messages", name)
		}
		putItems := 1 + 1/float64(m.scenario.endpoints)
		if m.scenario.key {
			putItems += 1 / float64(m.scenario.endpoints) // the key's item
		}
		require.InDelta(t, putItems, perDelivery("DynamoDB.PutItem"), 0.1, name)
		require.Less(t, perDelivery("DynamoDB.Query"), 0.01, "%s: deliver reads no event (the message carries it)", name)
		// An endpoint's state is read once per endpoint, deliver environment and awsapp.EndpointStateTTL,
		// however many deliveries (concurrent ones share the read), and once more after a health write that
		// conflicted with another environment's: not a per-delivery cost, so bounded as such.
		require.LessOrEqual(t, m.functions["DynamoDB.GetItem"], m.scenario.endpoints*m.deliverEnvs*(2+int(m.elapsed/awsapp.EndpointStateTTL)),
			"%s: endpoint state reads", name)
		require.LessOrEqual(t, m.functions["Secrets Manager.GetSecretValue"], m.deliverEnvs*(1+int(m.elapsed/smsecret.DefaultNamedTTL)),
			"%s: the named secret is read once per deliver environment and cache TTL, not per delivery", name)
		require.Zero(t, m.functions["DynamoDB.TransactWriteItems"], "%s: no transaction, with or without a key", name)
		require.Positive(t, m.deliverLogBytes+m.sendLogBytes, "%s: the functions' log output is counted", name)
	}
}

// measurement is what one run counted.
type measurement struct {
	scenario                      scenario
	events, deliveries, requests  int            // requests: send's requests (API Gateway's, or its function URL's)
	functions                     map[string]int // AWS requests of the functions by "Service.Operation"
	poller                        map[string]int // the event source's SQS requests
	sendInvokes, deliverInvokes   int
	sendMs, deliverMs             float64 // billed milliseconds (each invocation rounded up to 1 ms)
	sendCPU, deliverCPU           time.Duration
	sendRSS, deliverRSS           int64 // the largest peak resident set of an execution environment, bytes
	sendLogBytes, deliverLogBytes int   // what the functions wrote to stdout and stderr
	writeUnits, readUnits         float64
	eventBytes, attemptBytes      float64 // average item sizes
	deliverEnvs                   int     // deliver execution environments
	elapsed                       time.Duration
	rate                          float64       // the rate asked for, events per second
	sending                       time.Duration // each round's first send to its last answer (or schedule's end), summed
}

// payload700 is event i's payload: a JSON object of exactly 700 bytes.
func payload700(i int64) json.RawMessage {
	head := fmt.Sprintf(`{"invoiceId":"inv_%08d","amountCents":4200,"currency":"EUR","note":"`, i)
	return json.RawMessage(head + strings.Repeat("x", 700-len(head)-2) + `"}`)
}

// measure runs scenario sc on a fresh stack: events events, sent at rate events per second.
func measure(t *testing.T, sc scenario, events int, rate float64) measurement {
	t.Helper()
	start := time.Now()
	rcv := newReceiver(t, nil)
	set := config.Set{Name: "load"}
	for i := range sc.endpoints {
		e := endpoint("e"+strconv.Itoa(i), rcv.URL+"/e"+strconv.Itoa(i))
		e.Signing = crmSigning
		set.Endpoints = append(set.Endpoints, e)
	}
	// A visibility timeout well above deliver's time per batch, as AWS recommends for event sources
	// (the CDK app sets six times the function timeout), so that no message is delivered twice.
	s := newStack(t, config.Config{Sets: []config.Set{set}}, map[string]string{crmSecretName: crmSecretValue}, time.Minute)

	// Execution environments of each function, as Lambda would scale them: sendEnvs of send, two of deliver.
	var senders []*function
	for range sendEnvs {
		senders = append(senders, s.start(variantProd, "send"))
	}
	delivers := []*function{s.start(variantProd, "deliver"), s.start(variantProd, "deliver")}
	var pollers []*poller
	for _, d := range delivers {
		pollers = append(pollers, s.pollQueue(d, s.queueURL, sc.window))
	}

	// Rounds of measureRound events, each delivered before the next is sent: the counts are those of one
	// run of all the events, and moto stays fast (with 5,000 messages queued it served 2 requests/s). The
	// events are sent on a schedule of rate per second: a request is sent when its first event is due (a
	// batch of 100 every 100/rate seconds), or as soon as an environment is free if it is late; a round starts
	// when the previous one's schedule ends or its deliveries have all arrived, whichever is later.
	deliveries := events * sc.endpoints
	interval := time.Duration(float64(time.Second) / rate) // between two events
	var next atomic.Int64                                  // the last event number taken by a sender
	var requests atomic.Int64
	var scheduleEnd time.Time // of the last round
	var sending time.Duration // the rounds', without the waits for their deliveries
	for sent := 0; sent < events; sent += measureRound {
		first, last := int64(sent+1), int64(min(sent+measureRound, events))
		roundStart := time.Now()
		if roundStart.Before(scheduleEnd) {
			roundStart = scheduleEnd
		}
		scheduleEnd = roundStart.Add(time.Duration(last-first+1) * interval)
		var wg sync.WaitGroup
		for _, send := range senders {
			wg.Go(func() {
				for {
					to := next.Add(int64(sc.batch))
					from := to - int64(sc.batch) + 1
					if from > last {
						return
					}
					to = min(to, last)
					time.Sleep(time.Until(roundStart.Add(time.Duration(from-first) * interval)))
					requests.Add(1)
					if err := sendEvents(t, send, sc, from, to); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		sending += max(time.Since(roundStart), scheduleEnd.Sub(roundStart))
		require.False(t, t.Failed())
		next.Store(last)
		require.Eventually(t, func() bool { return len(rcv.distinct()) >= int(last)*sc.endpoints }, 3*time.Minute, 100*time.Millisecond,
			"every delivery of the first %d events reaches the receiver", last)
	}
	s.waitQueueEmpty(t)
	verifies(t, crmSigning, rcv.requests("/e0")[0], []byte(crmSecretValue))

	m := measurement{scenario: sc, events: events, deliveries: deliveries, requests: int(requests.Load()),
		functions: s.counter.Counts(), poller: map[string]int{}}
	for _, p := range pollers {
		for k, v := range p.counter.Counts() {
			m.poller[k] += v
		}
	}
	for _, f := range senders {
		u := f.usage(t)
		m.sendInvokes, m.sendMs = m.sendInvokes+len(f.invocations()), m.sendMs+billedMs(f.invocations())
		m.sendCPU, m.sendRSS, m.sendLogBytes = m.sendCPU+u.cpu, max(m.sendRSS, u.peakRSS), m.sendLogBytes+f.logBytes()
	}
	for _, f := range delivers {
		u := f.usage(t)
		m.deliverInvokes, m.deliverMs = m.deliverInvokes+len(f.invocations()), m.deliverMs+billedMs(f.invocations())
		m.deliverCPU, m.deliverRSS, m.deliverLogBytes = m.deliverCPU+u.cpu, max(m.deliverRSS, u.peakRSS), m.deliverLogBytes+f.logBytes()
	}
	s.tableUnits(t, &m)
	m.deliverEnvs, m.elapsed, m.rate = len(delivers), time.Since(start), rate
	m.sending = sending
	t.Logf("%s: %d events x %d endpoints measured in %s", sc.name, events, sc.endpoints, time.Since(start).Round(time.Second))
	return m
}

// sendEvents sends events from..to (numbers) of scenario sc in one request through send.
func sendEvents(t *testing.T, send *function, sc scenario, from, to int64) error {
	call := send.call // through API Gateway
	if sc.funcURL {
		call = send.callURL // the event functionURLEvent builds
	}
	event := func(i int64) map[string]any {
		return map[string]any{"type": "invoice.paid", "payload": payload700(i)}
	}
	key := func(i int64) string { return "invoice-" + strconv.FormatInt(i, 10) + "-paid" }
	if sc.batch == 1 {
		var headers []string
		if sc.key {
			headers = []string{"Idempotency-Key", key(from)}
		}
		resp := call(t, http.MethodPost, "/v1/webhooks/load/events", event(from), headers...)
		if resp.status != http.StatusAccepted {
			return fmt.Errorf("send %d: %d %s", from, resp.status, resp.body)
		}
		return nil
	}
	var batch []map[string]any
	for i := from; i <= to; i++ {
		e := event(i)
		if sc.key {
			e["idempotencyKey"] = key(i)
		}
		batch = append(batch, e)
	}
	resp := call(t, http.MethodPost, "/v1/webhooks/load/events/batch", map[string]any{"events": batch})
	if resp.status != http.StatusAccepted {
		return fmt.Errorf("send %d..%d: %d %s", from, to, resp.status, resp.body)
	}
	if n := strings.Count(string(resp.body), `"eventId"`); n != len(batch) {
		return fmt.Errorf("send %d..%d: %d events accepted: %s", from, to, n, resp.body)
	}
	return nil
}

func billedMs(ds []time.Duration) float64 {
	var ms float64
	for _, d := range ds {
		ms += math.Ceil(float64(d) / float64(time.Millisecond))
	}
	return ms
}

// distinct returns the (webhook-id, path) pairs received: one per delivery, whatever the duplicates.
func (r *receiver) distinct() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]bool, len(r.got))
	for _, g := range r.got {
		out[g.header.Get("webhook-id")+g.path] = true
	}
	return out
}

// waitQueueEmpty waits until no message is visible, delayed or in flight.
func (s *stack) waitQueueEmpty(t *testing.T) {
	t.Helper()
	client := sqs.NewFromConfig(s.aws)
	require.Eventually(t, func() bool {
		out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: &s.queueURL,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed},
		})
		if err != nil {
			return false
		}
		for _, v := range out.Attributes {
			if v != "0" {
				return false
			}
		}
		return true
	}, time.Minute, 200*time.Millisecond, "the queue drains")
}

// tableUnits reads every item back and prices the writes and reads made, with DynamoDB's item size rules:
// each event item written once, each attempt item written once, the other items written and read 1 unit
// each, and each
// delivery's strongly consistent Query reading its event and the attempts of that event (an upper bound:
// at read time later attempts do not exist yet).
func (s *stack) tableUnits(t *testing.T, m *measurement) {
	t.Helper()
	client := dynamodb.NewFromConfig(s.aws)
	eventReads := map[string]int{}
	var events, attempts, eventBytes, attemptBytes int
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: &s.table})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		require.NoError(t, err)
		for _, item := range page.Items {
			var key struct {
				PK string `dynamodbav:"pk"`
				SK string `dynamodbav:"sk"`
			}
			require.NoError(t, attributevalue.UnmarshalMap(item, &key))
			size := awstest.ItemSize(item)
			eventID, _, isAttempt := strings.Cut(key.SK, "#")
			switch {
			case !strings.HasPrefix(eventID, "whevt_"): // an idempotency key's item, an endpoint's state: priced by request
			case isAttempt:
				attempts++
				attemptBytes += size
				m.writeUnits += units(size, 1024)
				eventReads[eventID] += size
			default:
				events++
				eventBytes += size
				m.writeUnits += units(size, 1024)
				eventReads[eventID] += size
			}
		}
	}
	require.Equal(t, m.events, events)
	require.Equal(t, m.deliveries, attempts, "one attempt per delivery")
	queries := m.functions["DynamoDB.Query"]
	var perQuery float64
	for _, bytes := range eventReads {
		perQuery += units(bytes, 4096)
	}
	m.readUnits = float64(queries) * perQuery / float64(len(eventReads))
	// The other writes (an idempotency key's item, an endpoint's state) and reads (an endpoint's state,
	// consistent) are of items under 1 KB: 1 unit each.
	m.writeUnits += float64(m.functions["DynamoDB.PutItem"]-events-attempts) + float64(m.functions["DynamoDB.UpdateItem"])
	m.readUnits += float64(m.functions["DynamoDB.GetItem"])
	m.eventBytes, m.attemptBytes = float64(eventBytes)/float64(events), float64(attemptBytes)/float64(attempts)
}

func units(size, unit int) float64 { return math.Ceil(float64(size) / float64(unit)) }

// cost itemizes what the run cost, in USD.
func (m measurement) cost() map[string]float64 {
	sqsRequests, secrets := 0, 0
	for k, v := range m.functions {
		switch {
		case strings.HasPrefix(k, "SQS."):
			sqsRequests += v
		case strings.HasPrefix(k, "Secrets Manager."):
			secrets += v
		}
	}
	for _, v := range m.poller {
		sqsRequests += v
	}
	gbs := (m.sendMs*apiMemoryMiB + m.deliverMs*deliverMemoryMiB) / 1000 / 1024
	logBytes := m.sendLogBytes + m.deliverLogBytes + m.apiRequests()*len(accessLogLine)
	return map[string]float64{
		"API Gateway":     float64(m.apiRequests()) * priceHTTPAPI,
		"Lambda requests": float64(m.sendInvokes+m.deliverInvokes) * priceLambdaReq,
		"Lambda GB-s":     gbs * priceLambdaGBs,
		"SQS":             float64(sqsRequests) * priceSQS,
		"DynamoDB writes": m.writeUnits * priceDynamoWrite,
		"DynamoDB reads":  m.readUnits * priceDynamoRead,
		"Secrets Manager": float64(secrets) * priceSecrets,
		"CloudWatch Logs": float64(logBytes) / 1e9 * priceLogsGB,
	}
}

// apiRequests is how many requests API Gateway served (and wrote an access log line for): none through the
// function URL.
func (m measurement) apiRequests() int {
	if m.scenario.funcURL {
		return 0
	}
	return m.requests
}

// costItems are the keys of cost, in the order of the report.
var costItems = []string{"API Gateway", "Lambda requests", "Lambda GB-s", "SQS", "DynamoDB writes", "DynamoDB reads", "Secrets Manager", "CloudWatch Logs"}

// perMillion is the cost of a million deliveries.
func (m measurement) perMillion() float64 {
	total := 0.0
	for _, c := range m.cost() {
		total += c
	}
	return total / float64(m.deliveries) * 1e6
}

// report formats the runs side by side: requests per delivery by operation, then what the functions used,
// then cost.
func report(runs []measurement) string {
	var b strings.Builder
	keys := map[string]bool{}
	for _, m := range runs {
		for k := range m.functions {
			keys["functions: "+k] = true
		}
		for k := range m.poller {
			keys["event source: "+k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	width := 0 // of a column: its scenario's name
	for _, m := range runs {
		width = max(width, len(m.scenario.name))
	}
	header := func(title string) {
		fmt.Fprintf(&b, "%-44s", title)
		for _, m := range runs {
			fmt.Fprintf(&b, " %*s", width, m.scenario.name)
		}
		b.WriteString("\n")
	}
	row := func(name, format string, value func(m measurement) float64) {
		fmt.Fprintf(&b, "%-44s", name)
		for _, m := range runs {
			fmt.Fprintf(&b, " %*s", width, fmt.Sprintf(format, value(m)))
		}
		b.WriteString("\n")
	}
	per := func(n float64, m measurement) float64 { return n / float64(m.deliveries) }
	header(fmt.Sprintf("per delivery (%d deliveries, 700 B payload)", runs[0].deliveries))
	row(fmt.Sprintf("deliveries queued per second (asked: %.0f)", runs[0].rate*float64(runs[0].scenario.endpoints)), "%.1f",
		func(m measurement) float64 { return float64(m.deliveries) / m.sending.Seconds() })
	row("events sent per second", "%.1f", func(m measurement) float64 { return float64(m.events) / m.sending.Seconds() })
	for _, k := range sorted {
		row(k, "%.3f", func(m measurement) float64 {
			service, op, _ := strings.Cut(strings.SplitN(k, ": ", 2)[1], ".")
			if strings.HasPrefix(k, "functions: ") {
				return per(float64(m.functions[service+"."+op]), m)
			}
			return per(float64(m.poller[service+"."+op]), m)
		})
	}
	row("API Gateway requests", "%.3f", func(m measurement) float64 { return per(float64(m.apiRequests()), m) })
	row("Lambda invocations: send", "%.3f", func(m measurement) float64 { return per(float64(m.sendInvokes), m) })
	row("Lambda invocations: deliver", "%.3f", func(m measurement) float64 { return per(float64(m.deliverInvokes), m) })
	row("Lambda billed ms: send", "%.2f", func(m measurement) float64 { return per(m.sendMs, m) })
	row("Lambda billed ms: deliver", "%.2f", func(m measurement) float64 { return per(m.deliverMs, m) })
	row("Lambda CPU ms: send", "%.2f", func(m measurement) float64 { return per(float64(m.sendCPU.Microseconds())/1000, m) })
	row("Lambda CPU ms: deliver", "%.2f", func(m measurement) float64 { return per(float64(m.deliverCPU.Microseconds())/1000, m) })
	row("log bytes: send + API access log", "%.0f", func(m measurement) float64 {
		return per(float64(m.sendLogBytes+m.apiRequests()*len(accessLogLine)), m)
	})
	row("log bytes: deliver", "%.0f", func(m measurement) float64 { return per(float64(m.deliverLogBytes), m) })
	row("DynamoDB write units", "%.3f", func(m measurement) float64 { return per(m.writeUnits, m) })
	row("DynamoDB read units", "%.3f", func(m measurement) float64 { return per(m.readUnits, m) })
	row("bytes per event item / attempt item", "%.0f", func(m measurement) float64 { return m.eventBytes })
	row("", "%.0f", func(m measurement) float64 { return m.attemptBytes })
	header("per invocation")
	row("Lambda billed ms: send", "%.1f", func(m measurement) float64 { return m.sendMs / float64(m.sendInvokes) })
	row("Lambda billed ms: deliver", "%.1f", func(m measurement) float64 { return m.deliverMs / float64(m.deliverInvokes) })
	row("Lambda CPU ms: send", "%.2f", func(m measurement) float64 {
		return float64(m.sendCPU.Microseconds()) / 1000 / float64(m.sendInvokes)
	})
	row("Lambda CPU ms: deliver", "%.2f", func(m measurement) float64 {
		return float64(m.deliverCPU.Microseconds()) / 1000 / float64(m.deliverInvokes)
	})
	row("peak RSS MiB: send", "%.1f", func(m measurement) float64 { return float64(m.sendRSS) / (1 << 20) })
	row("peak RSS MiB: deliver", "%.1f", func(m measurement) float64 { return float64(m.deliverRSS) / (1 << 20) })
	header(fmt.Sprintf("USD per million deliveries (send %d MiB, deliver %d MiB)", apiMemoryMiB, deliverMemoryMiB))
	for _, k := range costItems {
		row(k, "%.3f", func(m measurement) float64 { return m.cost()[k] / float64(m.deliveries) * 1e6 })
	}
	row("total", "%.3f", measurement.perMillion)
	return b.String()
}

// usage is what a function's process used over its life.
type usage struct {
	cpu     time.Duration // user + system CPU time of the bootstrap
	peakRSS int64         // its peak resident set (VmHWM), bytes
}

// usage reads the bootstrap's CPU time and peak resident set from /proc: the emulator's child process.
func (f *function) usage(t *testing.T) usage {
	t.Helper()
	// A child is listed under the thread that started it: any of the emulator's.
	lists, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", f.cmd.Process.Pid))
	require.NoError(t, err)
	var pids []string
	for _, list := range lists {
		children, err := os.ReadFile(list)
		require.NoError(t, err, "the emulator's children")
		pids = append(pids, strings.Fields(string(children))...)
	}
	var u usage
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + pid + "/stat")
		require.NoError(t, err)
		// The fields after the command name (in parentheses): utime and stime are the 12th and 13th.
		stat := string(raw)
		fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+2:])
		utime, err1 := strconv.ParseInt(fields[11], 10, 64)
		stime, err2 := strconv.ParseInt(fields[12], 10, 64)
		require.NoError(t, errors.Join(err1, err2), "parse /proc/%s/stat", pid)
		u.cpu += time.Duration(utime+stime) * time.Second / clockTicks
		status, err := os.ReadFile("/proc/" + pid + "/status")
		require.NoError(t, err)
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				require.NoError(t, err, "VmHWM of %s", pid)
				u.peakRSS = max(u.peakRSS, kb<<10)
			}
		}
	}
	if len(f.invocations()) > 0 { // the emulator starts the bootstrap on the first invocation
		require.Positive(t, u.peakRSS, "the bootstrap of %s runs under its emulator", f.name)
	}
	return u
}

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux for every architecture).
const clockTicks = 100

// logBytes is how many bytes the function wrote to stdout and stderr, which Lambda sends to CloudWatch Logs:
// the emulator's output without its own START, END and REPORT lines (the CDK app sets the system log level to
// WARN, so Lambda does not write those; they are INFO).
func (f *function) logBytes() int {
	n := 0
	for line := range strings.Lines(f.out.String()) {
		if !strings.HasPrefix(line, "START RequestId:") && !strings.HasPrefix(line, "END RequestId:") && !strings.HasPrefix(line, "REPORT RequestId:") {
			n += len(line)
		}
	}
	return n
}
