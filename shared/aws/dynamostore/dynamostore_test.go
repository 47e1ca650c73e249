package dynamostore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
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
	require.Equal(t, map[string]int{"DynamoDB.PutItem": 2}, b.counter.Counts(), "a send with a key is two PutItems, no transaction")
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
		_, err = b.store.ListEvents(ctx, "billing", store.ListOptions{Limit: 10})
		require.NoError(t, err)
		// The key's reservation was undone: the key is free.
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

// reserveKey writes the item of a keyed send that reserved id for key in set and then died, its event never
// written.
func reserveKey(t *testing.T, b testBundle, set, key, id string) {
	t.Helper()
	_, err := b.client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &b.table, Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "I#" + set + "#" + key}, "sk": &types.AttributeValueMemberS{Value: "I"},
		"ev": &types.AttributeValueMemberS{Value: id},
	}})
	require.NoError(t, err)
}

// TestStore_CreateEventClaimsAReservedKey is the crash point between the two writes of a keyed send: the
// key's item reserves an event id, the event was never written (the call died, answering nothing). The
// client's retry finds the key reserved and no event: it stores its event under the reserved id, as new;
// the next retry is a duplicate of it.
func TestStore_CreateEventClaimsAReservedKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first := event("billing", 40)
	reserveKey(t, b, "billing", "crashed", first.ID)

	retry := event("billing", 41)
	retry.IdempotencyKey = "crashed"
	got, err := b.store.CreateEvent(ctx, retry)
	require.NoError(t, err, "the reserved key is claimed: a new event")
	require.Equal(t, first.ID, got.ID, "under the id the key reserved")
	retry.ID = first.ID
	require.Equal(t, retry, got)
	rec, err := b.store.GetEvent(ctx, "billing", first.ID)
	require.NoError(t, err)
	require.Equal(t, retry, rec.Event)

	again := event("billing", 42)
	again.IdempotencyKey = "crashed"
	got, err = b.store.CreateEvent(ctx, again)
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, first.ID, got.ID)
}

// TestStore_CreateEventClaimRace: several retries claim one reserved key at once; all answer the one event
// stored under the reserved id, exactly one as new.
func TestStore_CreateEventClaimRace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	reserved := event("billing", 50)
	reserveKey(t, b, "billing", "race", reserved.ID)
	const n = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, dups := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := event("billing", 51+i)
			ev.IdempotencyKey = "race"
			got, err := b.store.CreateEvent(ctx, ev)
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, store.ErrDuplicate) {
				dups++
			} else {
				assert.NoError(t, err)
				created++
			}
			assert.Equal(t, reserved.ID, got.ID)
		}()
	}
	wg.Wait()
	require.Equal(t, 1, created)
	require.Equal(t, n-1, dups)
}
