package dynamostore

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/store"
)

// meter passes calls to DynamoDB and adds up the capacity units on-demand billing charges for them, from
// the sizes of the items written and read (itemSize): 1 write unit per KB of each item written (twice in a
// transaction); 1 read unit per 4 KB read by one request (at least one), half when eventually consistent.
type meter struct {
	API
	mu       sync.Mutex
	wru, rru float64
}

func (m *meter) add(wru, rru float64) {
	m.mu.Lock()
	m.wru += wru
	m.rru += rru
	m.mu.Unlock()
}

// take returns the units counted since the last take.
func (m *meter) take() (wru, rru float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wru, rru, m.wru, m.rru = m.wru, m.rru, 0, 0
	return wru, rru
}

func writeUnits(item map[string]types.AttributeValue) float64 {
	return math.Ceil(float64(itemSize(item)) / 1024)
}

func readUnits(items []map[string]types.AttributeValue, consistent *bool) float64 {
	size := 0
	for _, item := range items {
		size += itemSize(item)
	}
	units := max(1, math.Ceil(float64(size)/4096))
	if !aws.ToBool(consistent) {
		units /= 2
	}
	return units
}

func (m *meter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.add(writeUnits(in.Item), 0)
	return m.API.PutItem(ctx, in, opts...)
}

func (m *meter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		m.add(2*writeUnits(it.Put.Item), 0)
	}
	return m.API.TransactWriteItems(ctx, in, opts...)
}

func (m *meter) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := m.API.Query(ctx, in, opts...)
	if err == nil {
		m.add(0, readUnits(out.Items, in.ConsistentRead))
	}
	return out, err
}

func (m *meter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := m.API.GetItem(ctx, in, opts...)
	if err == nil {
		m.add(0, readUnits([]map[string]types.AttributeValue{out.Item}, in.ConsistentRead))
	}
	return out, err
}

// TestStore_Units measures the capacity units docs/aws.md quotes: a single-endpoint delivery (send without a
// key, then deliver: read the event, record the attempt), a send with an idempotency key, and list pages.
func TestStore_Units(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	table := awstest.Table(t, cfg, TableDefinition)
	m := &meter{API: dynamodb.NewFromConfig(cfg)}
	s := New(m, table, Options{})
	ctx := context.Background()

	// A typical event: 700 B payload, one endpoint; its attempt succeeded.
	typical := func(n int) store.Event {
		ev := sizedEvent(700, 1, 40)
		ev.ID = fmt.Sprintf("whevt_01KBG2M4Z7Q8X9Y0A1B2C%05d", n)
		return ev
	}
	ev := typical(0)
	_, err := s.CreateEvent(ctx, ev)
	require.NoError(t, err)
	sendW, sendR := m.take()
	_, err = s.GetEvent(ctx, ev.Set, ev.ID)
	require.NoError(t, err)
	a := sizedAttempt(2)
	a.EventID = ev.ID
	require.NoError(t, s.PutAttempt(ctx, a))
	deliverW, deliverR := m.take()
	t.Logf("single-endpoint delivery: send %.1f WRU %.1f RRU, deliver %.1f WRU %.1f RRU", sendW, sendR, deliverW, deliverR)
	require.Equal(t, []float64{1, 0, 1, 1}, []float64{sendW, sendR, deliverW, deliverR},
		"a delivery writes the event and the attempt (1 WRU each) and reads once (1 RRU)")

	keyed := typical(1)
	keyed.IdempotencyKey = "order-1"
	_, err = s.CreateEvent(ctx, keyed)
	require.NoError(t, err)
	keyW, keyR := m.take()
	t.Logf("send with an idempotency key: %.1f WRU %.1f RRU", keyW, keyR)
	require.Equal(t, []float64{4, 0}, []float64{keyW, keyR}, "two items in a transaction: 2 x 2 WRU")

	for n := 2; n < 150; n++ {
		ev := typical(n)
		_, err := s.CreateEvent(ctx, ev)
		require.NoError(t, err)
		a.EventID = ev.ID
		require.NoError(t, s.PutAttempt(ctx, a))
	}
	m.take()
	for _, limit := range []int{1, 10, 50, 100} {
		page, err := s.ListEvents(ctx, ev.Set, store.ListOptions{Limit: limit})
		require.NoError(t, err)
		require.Len(t, page.Records, limit)
		_, r := m.take()
		t.Logf("list page of %d events (with their attempts): %.1f RRU", limit, r)
		require.LessOrEqual(t, r, float64(Shards)/2+float64(limit)*0.5+4, "about 0.5 RRU per partition and per KB-event listed")
	}
}
