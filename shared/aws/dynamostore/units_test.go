package dynamostore

import (
	"context"
	"fmt"
	"math"
	"strings"
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
// the sizes of the items written and read (awstest.ItemSize): 1 write unit per KB of each item written (twice in a
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
	return math.Ceil(float64(awstest.ItemSize(item)) / 1024)
}

func readUnits(items []map[string]types.AttributeValue, consistent *bool) float64 {
	size := 0
	for _, item := range items {
		size += awstest.ItemSize(item)
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
		if it.Put != nil {
			m.add(2*writeUnits(it.Put.Item), 0)
		} else {
			m.add(2, 0) // an update, delete or condition check of an item under 1 KB (endpoints, counts)
		}
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
	keyed.IdempotencyKey, keyed.RequestHash = "order-1", strings.Repeat("0", 64)
	_, err = s.ReserveKey(ctx, keyed)
	require.NoError(t, err)
	_, err = s.CreateEvent(ctx, keyed)
	require.NoError(t, err)
	keyW, keyR := m.take()
	t.Logf("send with an idempotency key: %.1f WRU %.1f RRU", keyW, keyR)
	require.Equal(t, []float64{2, 0}, []float64{keyW, keyR}, "two conditional PutItems, no transaction: 2 x 1 WRU")

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

func (m *meter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	m.add(1, 0) // every item updated here (endpoint states, counts, hold marks) is under 1 KB
	return m.API.UpdateItem(ctx, in, opts...)
}

func (m *meter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	m.add(1, 0) // the items deleted here (endpoints, held deliveries of small jobs) are under 1 KB
	return m.API.DeleteItem(ctx, in, opts...)
}

// TestStore_EndpointUnits measures the capacity units docs/aws.md quotes for the endpoint, health and
// held-delivery operations, and for listing one user's events through the user index.
func TestStore_EndpointUnits(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	table := awstest.Table(t, cfg, TableDefinition)
	m := &meter{API: dynamodb.NewFromConfig(cfg)}
	s := New(m, table, Options{})
	ctx := context.Background()
	ep := store.Endpoint{EndpointRef: store.EndpointRef{Set: "portal", UserID: "user_123", Name: "billing"},
		URL: "https://hooks.example.com/acme/billing", EventTypes: []string{"invoice.*"}, Description: "ACME billing"}
	measure := func(name string, want [2]float64, op func()) {
		t.Helper()
		m.take()
		op()
		w, r := m.take()
		t.Logf("%s: %.1f WRU %.1f RRU", name, w, r)
		require.Equal(t, want, [2]float64{w, r}, name)
	}
	measure("PutEndpoint, create", [2]float64{4, 1}, func() {
		_, created, err := s.PutEndpoint(ctx, ep, 10)
		require.NoError(t, err)
		require.True(t, created)
	})
	measure("PutEndpoint, replace", [2]float64{1, 1}, func() {
		_, created, err := s.PutEndpoint(ctx, ep, 10)
		require.NoError(t, err)
		require.False(t, created)
	})
	for _, name := range []string{"crm", "erp"} {
		other := ep
		other.Name = name
		_, _, err := s.PutEndpoint(ctx, other, 10)
		require.NoError(t, err)
	}
	measure("ListEndpoints of a user with 3 (a send with a userId)", [2]float64{0, 1}, func() {
		eps, err := s.ListEndpoints(ctx, "portal", "user_123")
		require.NoError(t, err)
		require.Len(t, eps, 3)
	})
	var state store.Endpoint
	measure("GetEndpoint (a delivery's state, once per cache period)", [2]float64{0, 1}, func() {
		var err error
		state, err = s.GetEndpoint(ctx, ep.EndpointRef)
		require.NoError(t, err)
	})
	measure("UpdateEndpoint (pause, resume, a health change)", [2]float64{1, 0}, func() {
		state.Status = store.EndpointPaused
		var err error
		state, err = s.UpdateEndpoint(ctx, state)
		require.NoError(t, err)
	})
	ev := sizedEvent(700, 1, 40)
	ev.ID = "whevt_01KBG2M4Z7Q8X9Y0A1B2C99999"
	ev.Set, ev.UserID = "portal", "user_123"
	_, err := s.CreateEvent(ctx, ev)
	require.NoError(t, err)
	hold := store.Hold{Endpoint: ep.EndpointRef, EventID: ev.ID, Number: 1, Job: make([]byte, 900), EventExpiresAt: ev.ExpiresAt}
	measure("HoldDelivery", [2]float64{6, 0}, func() { require.NoError(t, s.HoldDelivery(ctx, hold, state.Version)) })
	var holds []store.Hold
	measure("ListHolds", [2]float64{0, 1}, func() {
		holds, err = s.ListHolds(ctx, ep.EndpointRef, 100)
		require.NoError(t, err)
		require.Len(t, holds, 1)
	})
	measure("DeleteHolds, one hold", [2]float64{2, 0}, func() { require.NoError(t, s.DeleteHolds(ctx, holds)) })
	measure("ListEvents of one user with one event", [2]float64{0, 0.5 + 1}, func() {
		page, err := s.ListEvents(ctx, "portal", store.ListOptions{Limit: 10, UserID: "user_123"})
		require.NoError(t, err)
		require.Len(t, page.Records, 1)
	})
}
