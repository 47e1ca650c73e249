//go:build linux

package lambda

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/smsecret"
	"github.com/outhook/outhook/shared/config"
)

// List prices (USD) of issue 3, us-east-1, on-demand.
const (
	priceHTTPAPI     = 1.00 / 1e6     // per API Gateway HTTP API request
	priceLambdaReq   = 0.20 / 1e6     // per Lambda invocation
	priceLambdaGBs   = 0.0000133334   // per GB-second, arm64
	priceSQS         = 0.40 / 1e6     // per SQS request (64 KB chunk)
	priceDynamoWrite = 0.625 / 1e6    // per write request unit (1 KB; transactional x2)
	priceDynamoRead  = 0.125 / 1e6    // per read request unit (4 KB strongly consistent)
	priceSecrets     = 0.05 / 10000.0 // per Secrets Manager API call
)

// measureRound is how many events are sent before waiting for their deliveries.
const measureRound = 100

// measureEvents is how many events each run sends: one round in `make test`, OUTHOOK_MEASURE_EVENTS=1000
// for the figures of docs/aws.md.
func measureEvents(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("OUTHOOK_MEASURE_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "OUTHOOK_MEASURE_EVENTS")
		return n
	}
	return measureRound
}

// TestLambda_RequestsPerDelivery sends events (100; 1,000 with OUTHOOK_MEASURE_EVENTS=1000) to a set of one
// endpoint and to a set of five through
// the real send bootstraps, lets the deliver bootstraps deliver them, counts every AWS request the
// functions make (at the counting proxy in front of the endpoint) and the event source's own SQS requests,
// and prints the requests per delivered event and the cost per million deliveries at list prices.
//
//	OUTHOOK_MEASURE_EVENTS=1000 go test -count=1 -v -timeout 30m -run TestLambda_RequestsPerDelivery ./e2e/lambda/
func TestLambda_RequestsPerDelivery(t *testing.T) {
	t.Parallel()
	awstest.Endpoint(t) // skips under -short
	n := measureEvents(t)
	var results []measurement
	for _, endpoints := range []int{1, 5} {
		// A subtest each, so that a run's functions, pollers and resources are gone before the next.
		t.Run(strconv.Itoa(endpoints)+"-endpoints", func(t *testing.T) { results = append(results, measure(t, n, endpoints)) })
	}
	require.Len(t, results, 2)
	t.Log("\n" + report(results))
	for _, m := range results {
		perDelivery := func(op string) float64 { return float64(m.functions[op]) / float64(m.deliveries) }
		perEvent := func(op string) float64 { return float64(m.functions[op]) / float64(m.events) }
		// What the design promises, with 10% for duplicates (moto, like SQS, sometimes hands a message out
		// twice): send writes the event once and queues all its deliveries in one batch; deliver writes
		// one attempt per delivery and reads nothing (the message carries the event).
		require.InDelta(t, 1, perEvent("SQS.SendMessageBatch"), 0.1, "%d endpoint(s)", m.endpoints)
		require.InDelta(t, 1+1/float64(m.endpoints), perDelivery("DynamoDB.PutItem"), 0.1, "%d endpoint(s)", m.endpoints)
		require.Less(t, perDelivery("DynamoDB.Query")+perDelivery("DynamoDB.GetItem"), 0.1, "%d endpoint(s)", m.endpoints)
		require.LessOrEqual(t, m.functions["Secrets Manager.GetSecretValue"], m.deliverEnvs*(1+int(m.elapsed/smsecret.DefaultNamedTTL)),
			"the named secret is read once per deliver environment and cache TTL, not per delivery")
		require.Zero(t, m.functions["DynamoDB.TransactWriteItems"], "no idempotency key, no transaction")
	}
}

// measurement is what one run counted.
type measurement struct {
	endpoints, events, deliveries int
	functions                     map[string]int // AWS requests of the functions by "Service.Operation"
	poller                        map[string]int // the event source's SQS requests
	sendInvokes, deliverInvokes   int
	sendMs, deliverMs             float64 // billed milliseconds (each invocation rounded up to 1 ms)
	writeUnits, readUnits         float64
	eventBytes, attemptBytes      float64 // average item sizes
	deliverEnvs                   int     // deliver execution environments
	elapsed                       time.Duration
}

func measure(t *testing.T, events, endpoints int) measurement {
	t.Helper()
	start := time.Now()
	rcv := newReceiver(t, nil)
	set := config.Set{Name: "load"}
	for i := range endpoints {
		e := endpoint("e"+strconv.Itoa(i), rcv.URL+"/e"+strconv.Itoa(i))
		e.Signing = crmSigning
		set.Endpoints = append(set.Endpoints, e)
	}
	// A visibility timeout well above deliver's time per batch, as AWS recommends for event sources
	// (the CDK app sets six times the function timeout), so that no message is delivered twice.
	s := newStack(t, config.Config{Sets: []config.Set{set}}, map[string]string{crmSecretName: crmSecretValue}, time.Minute)

	// Two execution environments of each function, as Lambda would scale them.
	senders := []*function{s.start(variantProd, "send"), s.start(variantProd, "send")}
	delivers := []*function{s.start(variantProd, "deliver"), s.start(variantProd, "deliver")}
	var pollers []*poller
	for _, d := range delivers {
		pollers = append(pollers, s.poll(d))
	}

	// Rounds of measureRound events, each delivered before the next is sent: the counts are those of one
	// run of all the events, and moto stays fast (with 5,000 messages queued it served 2 requests/s).
	deliveries := events * endpoints
	var next atomic.Int64
	for sent := 0; sent < events; sent += measureRound {
		last := int64(min(sent+measureRound, events))
		var wg sync.WaitGroup
		for _, send := range senders {
			wg.Go(func() {
				for i := next.Add(1); i <= last; i = next.Add(1) {
					resp := send.call(t, http.MethodPost, "/v1/webhooks/load/events",
						map[string]any{"type": "invoice.paid", "payload": map[string]any{"invoiceId": "inv_" + strconv.FormatInt(i, 10), "amountCents": 4200, "currency": "EUR"}})
					if resp.status != http.StatusAccepted {
						t.Errorf("send %d: %d %s", i, resp.status, resp.body)
						return
					}
				}
			})
		}
		wg.Wait()
		require.False(t, t.Failed())
		next.Store(last)
		require.Eventually(t, func() bool { return len(rcv.distinct()) >= int(last)*endpoints }, 3*time.Minute, 100*time.Millisecond,
			"every delivery of the first %d events reaches the receiver", last)
	}
	s.waitQueueEmpty(t)
	verifies(t, crmSigning, rcv.requests("/e0")[0], []byte(crmSecretValue))

	m := measurement{endpoints: endpoints, events: events, deliveries: deliveries, functions: s.counter.Counts(), poller: map[string]int{}}
	for _, p := range pollers {
		for k, v := range p.counter.Counts() {
			m.poller[k] += v
		}
	}
	for _, f := range senders {
		m.sendInvokes, m.sendMs = m.sendInvokes+len(f.invocations()), m.sendMs+billedMs(f.invocations())
	}
	for _, f := range delivers {
		m.deliverInvokes, m.deliverMs = m.deliverInvokes+len(f.invocations()), m.deliverMs+billedMs(f.invocations())
	}
	s.tableUnits(t, &m)
	m.deliverEnvs, m.elapsed = len(delivers), time.Since(start)
	t.Logf("%d events x %d endpoints measured in %s", events, endpoints, time.Since(start).Round(time.Second))
	return m
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
// each event item written once, each attempt item written once, and each
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
			size := itemSize(item)
			eventID, _, isAttempt := strings.Cut(key.SK, "#")
			switch {
			case !strings.HasPrefix(eventID, "whevt_"): // an idempotency key's item: none in this run
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
	m.eventBytes, m.attemptBytes = float64(eventBytes)/float64(events), float64(attemptBytes)/float64(attempts)
}

func units(size, unit int) float64 { return math.Ceil(float64(size) / float64(unit)) }

// itemSize is an item's size as DynamoDB bills it: attribute names plus values (strings and binaries by
// length, numbers about one byte per two digits plus one, maps and lists 3 bytes plus their elements).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(v.Value), "0")
		return (len(digits)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberM:
		return 3 + itemSize(v.Value) + len(v.Value)
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	default: // BOOL, NULL, and sets (not used by the store)
		return 1
	}
}

// cost itemizes what the run cost, in USD.
func (m measurement) cost() map[string]float64 {
	sqsRequests := 0
	for k, v := range m.functions {
		if strings.HasPrefix(k, "SQS.") {
			sqsRequests += v
		}
	}
	for _, v := range m.poller {
		sqsRequests += v
	}
	secrets := 0
	for k, v := range m.functions {
		if strings.HasPrefix(k, "Secrets Manager.") {
			secrets += v
		}
	}
	return map[string]float64{
		"API Gateway":     float64(m.events) * priceHTTPAPI,
		"Lambda requests": float64(m.sendInvokes+m.deliverInvokes) * priceLambdaReq,
		"Lambda GB-s":     (m.sendMs + m.deliverMs) / 1000 * memoryMiB / 1024 * priceLambdaGBs,
		"SQS":             float64(sqsRequests) * priceSQS,
		"DynamoDB writes": m.writeUnits * priceDynamoWrite,
		"DynamoDB reads":  m.readUnits * priceDynamoRead,
		"Secrets Manager": float64(secrets) * priceSecrets,
	}
}

// perMillion is the cost of a million deliveries.
func (m measurement) perMillion() float64 {
	total := 0.0
	for _, c := range m.cost() {
		total += c
	}
	return total / float64(m.deliveries) * 1e6
}

// report formats the runs side by side: requests per delivered event by operation, then cost.
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
	header := func(title string) {
		fmt.Fprintf(&b, "%-44s", title)
		for _, m := range runs {
			fmt.Fprintf(&b, " %14s", fmt.Sprintf("%d endpoint(s)", m.endpoints))
		}
		b.WriteString("\n")
	}
	row := func(name, format string, value func(m measurement) float64) {
		fmt.Fprintf(&b, "%-44s", name)
		for _, m := range runs {
			fmt.Fprintf(&b, " %14s", fmt.Sprintf(format, value(m)))
		}
		b.WriteString("\n")
	}
	header(fmt.Sprintf("AWS requests per delivery (%d events)", runs[0].events))
	for _, k := range sorted {
		row(k, "%.3f", func(m measurement) float64 {
			service, op, _ := strings.Cut(strings.SplitN(k, ": ", 2)[1], ".")
			if strings.HasPrefix(k, "functions: ") {
				return float64(m.functions[service+"."+op]) / float64(m.deliveries)
			}
			return float64(m.poller[service+"."+op]) / float64(m.deliveries)
		})
	}
	row("Lambda invocations: send", "%.3f", func(m measurement) float64 { return float64(m.sendInvokes) / float64(m.deliveries) })
	row("Lambda invocations: deliver", "%.3f", func(m measurement) float64 { return float64(m.deliverInvokes) / float64(m.deliveries) })
	row("Lambda billed ms: send", "%.1f", func(m measurement) float64 { return m.sendMs / float64(m.deliveries) })
	row("Lambda billed ms: deliver", "%.1f", func(m measurement) float64 { return m.deliverMs / float64(m.deliveries) })
	row("DynamoDB write units", "%.3f", func(m measurement) float64 { return m.writeUnits / float64(m.deliveries) })
	row("DynamoDB read units", "%.3f", func(m measurement) float64 { return m.readUnits / float64(m.deliveries) })
	row("bytes per event item / attempt item", "%.0f", func(m measurement) float64 { return m.eventBytes })
	row("", "%.0f", func(m measurement) float64 { return m.attemptBytes })
	header(fmt.Sprintf("USD per million deliveries (%d MiB)", memoryMiB))
	for _, k := range []string{"API Gateway", "Lambda requests", "Lambda GB-s", "SQS", "DynamoDB writes", "DynamoDB reads", "Secrets Manager"} {
		row(k, "%.3f", func(m measurement) float64 { return m.cost()[k] / float64(m.deliveries) * 1e6 })
	}
	row("total", "%.3f", measurement.perMillion)
	return b.String()
}
