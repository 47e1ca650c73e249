package dynamostore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/dynamostore"
	"github.com/outhook/outhook/shared/store"
)

type testBundle struct {
	client  *dynamodb.Client
	table   string
	store   *dynamostore.Store
	counter *awstest.Counter
}

// setup makes a fresh table and a store on it whose requests are counted.
func setup(t *testing.T) testBundle {
	t.Helper()
	cfg := awstest.Config(t)
	table := awstest.Table(t, cfg, dynamostore.TableDefinition)
	counter := awstest.NewCounter()
	counter.Instrument(&cfg)
	client := dynamodb.NewFromConfig(cfg)
	return testBundle{
		client:  client,
		table:   table,
		store:   dynamostore.New(client, table, dynamostore.Options{}),
		counter: counter,
	}
}

func event(set string, n int) store.Event {
	created := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Millisecond)
	id := fmt.Sprintf("whevt_%013d%06d", created.UnixMilli(), n)
	return store.Event{
		ID: id, Set: set, Type: "invoice.paid", Payload: json.RawMessage(`{"n":` + strconv.Itoa(n) + `}`),
		Deliveries: []store.Delivery{{Endpoint: "crm", URL: "https://crm.example.com/hooks", FirstAttemptID: "whatt_" + id[6:]}},
		CreatedAt:  created,
		ExpiresAt:  created.Add(30*24*time.Hour + 500*time.Millisecond),
	}
}

func attempt(ev store.Event, n int) store.Attempt {
	return store.Attempt{
		Set: ev.Set, EventID: ev.ID, Endpoint: "crm", ID: fmt.Sprintf("whatt_%s_%d", ev.ID[6:], n), Number: n,
		StartedAt: ev.CreatedAt.Add(time.Second), Duration: 80 * time.Millisecond,
		RequestHeaders: map[string]string{"webhook-id": ev.ID}, ResponseStatus: 200, ResponseBody: "ok",
		Outcome: store.OutcomeSucceeded, ExpiresAt: ev.ExpiresAt,
	}
}

// rawItem reads an item as stored.
func rawItem(t *testing.T, b testBundle, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := b.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &b.table,
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	require.NoError(t, err)
	require.NotNil(t, out.Item, "item %s/%s exists", pk, sk)
	return out.Item
}

func numberAttr(t *testing.T, item map[string]types.AttributeValue, name string) int64 {
	t.Helper()
	v, ok := item[name].(*types.AttributeValueMemberN)
	require.True(t, ok, "attribute %s is a number", name)
	n, err := strconv.ParseInt(v.Value, 10, 64)
	require.NoError(t, err)
	return n
}

func TestStore_RequestsPerDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ev := event("billing", 1)

	_, err := b.store.CreateEvent(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"DynamoDB.PutItem": 1}, b.counter.Counts(), "a send without key is one PutItem")

	b.counter.Reset()
	_, err = b.store.GetEvent(ctx, "billing", ev.ID)
	require.NoError(t, err)
	require.NoError(t, b.store.PutAttempt(ctx, attempt(ev, 1)))
	require.Equal(t, map[string]int{"DynamoDB.Query": 1, "DynamoDB.PutItem": 1}, b.counter.Counts(),
		"a delivery reads the event with one Query and records the attempt with one PutItem")

	b.counter.Reset()
	keyed := event("billing", 2)
	keyed.IdempotencyKey, keyed.RequestHash = "order-1", "hash"
	_, err = b.store.ReserveKey(ctx, keyed)
	require.NoError(t, err)
	_, err = b.store.CreateEvent(ctx, keyed)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"DynamoDB.PutItem": 2}, b.counter.Counts(), "a send with a key is two PutItems, no transaction")

	b.counter.Reset()
	replay := event("billing", 3)
	replay.IdempotencyKey, replay.RequestHash = "order-1", "hash"
	r, err := b.store.ReserveKey(ctx, replay)
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, store.Reservation{EventID: keyed.ID, RequestHash: "hash", CreatedAt: keyed.CreatedAt}, r)
	require.Equal(t, map[string]int{"DynamoDB.PutItem": 1}, b.counter.Counts(),
		"the reservation that holds a key comes back with the failed condition: no read")
}

func TestStore_TTL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ev := event("billing", 3)
	ev.IdempotencyKey = "k"
	_, err := b.store.ReserveKey(ctx, ev)
	require.NoError(t, err)
	_, err = b.store.CreateEvent(ctx, ev)
	require.NoError(t, err)
	a := attempt(ev, 1)
	a.ExpiresAt = ev.ExpiresAt.Add(time.Hour)
	require.NoError(t, b.store.PutAttempt(ctx, a))

	// Epoch seconds, rounded up: the event's ExpiresAt has half a second.
	pk := dynamostore.ShardKey("billing", ev.ID)
	wantEvent := ev.ExpiresAt.Unix() + 1
	require.Equal(t, wantEvent, numberAttr(t, rawItem(t, b, pk, ev.ID), dynamostore.TTLAttribute))
	require.Equal(t, wantEvent, numberAttr(t, rawItem(t, b, "I#billing#k", "I"), dynamostore.TTLAttribute))
	require.Equal(t, wantEvent+3600, numberAttr(t, rawItem(t, b, pk, ev.ID+"#crm#000001"), dynamostore.TTLAttribute),
		"an attempt expires at its own ExpiresAt")

	rec, err := b.store.GetEvent(ctx, "billing", ev.ID)
	require.NoError(t, err)
	require.Equal(t, ev.ExpiresAt, rec.Event.ExpiresAt, "ExpiresAt keeps its milliseconds")
	require.Equal(t, []store.Attempt{a}, rec.Attempts)

	never := attempt(ev, 2)
	never.ExpiresAt = time.Time{}
	require.NoError(t, b.store.PutAttempt(ctx, never))
	require.NotContains(t, rawItem(t, b, pk, ev.ID+"#crm#000002"), dynamostore.TTLAttribute, "no expiry, no TTL")

	noSet := attempt(ev, 3)
	noSet.Set = ""
	require.ErrorContains(t, b.store.PutAttempt(ctx, noSet), "names no set")
}

func TestStore_CreateEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("id taken", func(t *testing.T) {
		ev := event("billing", 10)
		_, err := b.store.CreateEvent(ctx, ev)
		require.NoError(t, err)
		// The same write again is what an SDK retry of a PutItem whose answer was lost sends: it succeeded.
		_, err = b.store.CreateEvent(ctx, ev)
		require.NoError(t, err, "a repeated identical write is not a conflict")
		again := ev
		again.Type = "other"
		_, err = b.store.CreateEvent(ctx, again)
		require.ErrorIs(t, err, store.ErrConflict)
		again.IdempotencyKey = "fresh"
		_, err = b.store.CreateEvent(ctx, again)
		require.ErrorIs(t, err, store.ErrConflict, "also with a key")
	})

	t.Run("expired key is free", func(t *testing.T) {
		old := event("billing", 12)
		old.IdempotencyKey = "reused"
		now := old.ExpiresAt.Add(-time.Minute)
		clocked := dynamostore.New(b.client, b.table, dynamostore.Options{Now: func() time.Time { return now }})
		_, err := clocked.ReserveKey(ctx, old)
		require.NoError(t, err)

		ev := event("billing", 13)
		ev.IdempotencyKey = "reused"
		r, err := clocked.ReserveKey(ctx, ev)
		require.ErrorIs(t, err, store.ErrDuplicate, "the key holds until its item expires")
		require.Equal(t, old.ID, r.EventID)

		now = old.ExpiresAt.Add(time.Minute) // expired; TTL has not deleted the item yet
		r, err = clocked.ReserveKey(ctx, ev)
		require.NoError(t, err)
		require.Equal(t, ev.ID, r.EventID)
	})

	t.Run("repeated reservation", func(t *testing.T) {
		// The same write again (an SDK retry whose first answer was lost) is the reservation it made.
		ev := event("billing", 14)
		ev.IdempotencyKey, ev.RequestHash = "retried", "hash"
		_, err := b.store.ReserveKey(ctx, ev)
		require.NoError(t, err)
		r, err := b.store.ReserveKey(ctx, ev)
		require.NoError(t, err)
		require.Equal(t, ev.ID, r.EventID)
	})
}

// TestStore_ReserveKeyOfAnEarlierVersion: the item of a key reserved by an earlier version of outhook has only
// the event id (that version wrote the key's item and then the event, before queueing); a replay reads it as
// a reservation without request hash and createdAt, and looks at the event.
func TestStore_ReserveKeyOfAnEarlierVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first := event("billing", 40)
	_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &b.table, Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "I#billing#crashed"}, "sk": &types.AttributeValueMemberS{Value: "I"},
		"ev": &types.AttributeValueMemberS{Value: first.ID},
	}})
	require.NoError(t, err)

	retry := event("billing", 41)
	retry.IdempotencyKey, retry.RequestHash = "crashed", "hash"
	r, err := b.store.ReserveKey(ctx, retry)
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, store.Reservation{EventID: first.ID}, r)
}

// TestStore_ListSkipsAttemptsWithoutTheirEvent: in one partition, attempts whose event item was never written
// (a keyed send died between queueing and writing its event) sit between events. In descending order each
// event's attempts come just before its own item: the orphans must be dropped, never given to the next event.
func TestStore_ListSkipsAttemptsWithoutTheirEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	events := sameShard("orphans", 300, 6)
	var want []store.Record
	for i, ev := range events {
		a := attempt(ev, 1)
		require.NoError(t, b.store.PutAttempt(ctx, a))
		if i%2 == 1 { // 1, 3 and 5 (the newest) have no event item
			continue
		}
		_, err := b.store.CreateEvent(ctx, ev)
		require.NoError(t, err)
		want = append([]store.Record{{Event: ev, Attempts: []store.Attempt{a}}}, want...)
	}
	for _, limit := range []int{1, 2, 3, 10} {
		require.Equal(t, want, listAll(t, b.store, "orphans", limit), "limit %d", limit)
	}
	oneByOne := dynamostore.New(oneItemPages{b.client}, b.table, dynamostore.Options{})
	for _, limit := range []int{1, 2} {
		require.Equal(t, want, listAll(t, oneByOne, "orphans", limit), "limit %d, one item per Query", limit)
	}
	for i, ev := range events {
		rec, err := b.store.GetEvent(ctx, "orphans", ev.ID)
		if i%2 == 1 {
			require.ErrorIs(t, err, store.ErrNotFound)
			continue
		}
		require.NoError(t, err)
		require.Len(t, rec.Attempts, 1)
	}
}
