package dynamostore_test

import (
	"context"
	"encoding/json"
	"errors"
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
	keyed.IdempotencyKey = "order-1"
	_, err = b.store.CreateEvent(ctx, keyed)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"DynamoDB.TransactWriteItems": 1}, b.counter.Counts(), "a send with a key is one transaction")
}

func TestStore_TTL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ev := event("billing", 3)
	ev.IdempotencyKey = "k"
	_, err := b.store.CreateEvent(ctx, ev)
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
		again := ev
		again.Type = "other"
		_, err = b.store.CreateEvent(ctx, again)
		require.ErrorIs(t, err, store.ErrConflict)
		again.IdempotencyKey = "fresh"
		_, err = b.store.CreateEvent(ctx, again)
		require.ErrorIs(t, err, store.ErrConflict, "also in a transaction")
		_, err = b.store.ListEvents(ctx, "billing", store.ListOptions{Limit: 10})
		require.NoError(t, err)
		// The transaction wrote nothing: the key is still free.
		fresh := event("billing", 11)
		fresh.IdempotencyKey = "fresh"
		_, err = b.store.CreateEvent(ctx, fresh)
		require.NoError(t, err)
	})

	t.Run("expired key is free", func(t *testing.T) {
		old := event("billing", 12)
		old.IdempotencyKey = "reused"
		now := old.ExpiresAt.Add(-time.Minute)
		clocked := dynamostore.New(b.client, b.table, dynamostore.Options{Now: func() time.Time { return now }})
		_, err := clocked.CreateEvent(ctx, old)
		require.NoError(t, err)

		ev := event("billing", 13)
		ev.IdempotencyKey = "reused"
		got, err := clocked.CreateEvent(ctx, ev)
		require.ErrorIs(t, err, store.ErrDuplicate, "the key holds until its item expires")
		require.Equal(t, old.ID, got.ID)

		now = old.ExpiresAt.Add(time.Minute) // expired; TTL has not deleted the item yet
		got, err = clocked.CreateEvent(ctx, ev)
		require.NoError(t, err)
		require.Equal(t, ev.ID, got.ID)
	})
}

// conflictingAPI passes calls to DynamoDB, but the first `conflicts` transactions lose to a concurrent one
// (TransactionConflict) without being sent, and with noReasons every cancellation comes without reasons,
// as some emulators answer.
type conflictingAPI struct {
	dynamostore.API
	conflicts    int
	noReasons    bool
	transactions int
}

func (c *conflictingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.transactions++
	if c.conflicts > 0 {
		c.conflicts--
		return nil, &types.TransactionCanceledException{Message: aws.String("conflict"), CancellationReasons: []types.CancellationReason{
			{Code: aws.String("None")}, {Code: aws.String("TransactionConflict")},
		}}
	}
	out, err := c.API.TransactWriteItems(ctx, in, opts...)
	var canceled *types.TransactionCanceledException
	if c.noReasons && errors.As(err, &canceled) {
		return nil, &types.TransactionCanceledException{Message: canceled.Message}
	}
	return out, err
}

func TestStore_CreateEventTransactionConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	api := &conflictingAPI{API: b.client, conflicts: 2}
	s := dynamostore.New(api, b.table, dynamostore.Options{})
	ev := event("billing", 20)
	ev.IdempotencyKey = "conflicted"
	got, err := s.CreateEvent(ctx, ev)
	require.NoError(t, err, "a transaction that lost to a concurrent one is tried again")
	require.Equal(t, ev, got)
	require.Equal(t, 3, api.transactions)

	api = &conflictingAPI{API: b.client, conflicts: 10}
	s = dynamostore.New(api, b.table, dynamostore.Options{})
	again := event("billing", 21)
	again.IdempotencyKey = "always-conflicted"
	_, err = s.CreateEvent(ctx, again)
	require.ErrorContains(t, err, "after 5 tries")
	require.Equal(t, 5, api.transactions)
}

func TestStore_CreateEventWithoutCancellationReasons(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := dynamostore.New(&conflictingAPI{API: b.client, noReasons: true}, b.table, dynamostore.Options{})

	first := event("billing", 30)
	first.IdempotencyKey = "k"
	_, err := s.CreateEvent(ctx, first)
	require.NoError(t, err)

	second := event("billing", 31)
	second.IdempotencyKey = "k"
	got, err := s.CreateEvent(ctx, second)
	require.ErrorIs(t, err, store.ErrDuplicate, "the key's item tells a duplicate")
	require.Equal(t, first, got)

	taken := event("billing", 30) // the id of first, another key
	taken.IdempotencyKey = "other"
	_, err = s.CreateEvent(ctx, taken)
	require.Error(t, err)
	require.NotErrorIs(t, err, store.ErrDuplicate)
}
