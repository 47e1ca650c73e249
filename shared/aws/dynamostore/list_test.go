package dynamostore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/dynamostore"
	"github.com/outhook/outhook/shared/store"
)

// listAll walks every page of set with limit and returns the records; only the last page may be short.
func listAll(t *testing.T, s *dynamostore.Store, set string, limit int) []store.Record {
	t.Helper()
	var all []store.Record
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "pagination ends")
		page, err := s.ListEvents(context.Background(), set, store.ListOptions{Limit: limit, Cursor: cursor})
		require.NoError(t, err)
		all = append(all, page.Records...)
		if page.NextCursor == "" {
			return all
		}
		require.Len(t, page.Records, limit, "only the last page may be short")
		cursor = page.NextCursor
	}
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// newestFirst reverses records made oldest first.
func newestFirst(records []store.Record) []store.Record {
	out := make([]store.Record, len(records))
	for i, r := range records {
		out[len(records)-1-i] = r
	}
	return out
}

// sameShard returns n events of set, numbered from start on, whose ids all fall in one partition.
func sameShard(set string, start, n int) []store.Event {
	var events []store.Event
	for i := start; len(events) < n; i++ {
		ev := event(set, i)
		if len(events) == 0 || dynamostore.ShardKey(set, ev.ID) == dynamostore.ShardKey(set, events[0].ID) {
			events = append(events, ev)
		}
	}
	return events
}

// partitionItems reads every item of one partition as stored.
func partitionItems(t *testing.T, b testBundle, pk string) []map[string]types.AttributeValue {
	t.Helper()
	p := dynamodb.NewQueryPaginator(b.client, &dynamodb.QueryInput{
		TableName:                 &b.table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	var items []map[string]types.AttributeValue
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		require.NoError(t, err)
		items = append(items, out.Items...)
	}
	return items
}

func TestStore_ListEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	// 30 events, oldest first; every third has two attempts, which sort between it and the next event.
	const n = 30
	records := make([]store.Record, n)
	for i := range records {
		ev := event("busy", 100+i)
		_, err := b.store.CreateEvent(ctx, ev)
		require.NoError(t, err)
		records[i].Event = ev
		if i%3 == 0 {
			for number := 1; number <= 2; number++ {
				a := attempt(ev, number)
				require.NoError(t, b.store.PutAttempt(ctx, a))
				records[i].Attempts = append(records[i].Attempts, a)
			}
		}
	}
	_, err := b.store.CreateEvent(ctx, event("quiet", 99)) // another set's event never shows up
	require.NoError(t, err)
	want := newestFirst(records)

	t.Run("shard spread", func(t *testing.T) {
		events, used := 0, 0
		for shard := range dynamostore.Shards {
			pk := fmt.Sprintf("busy#%02d", shard)
			items := partitionItems(t, b, pk)
			if len(items) > 0 {
				used++
			}
			for _, item := range items {
				sk := item[dynamostore.SortKey].(*types.AttributeValueMemberS).Value
				id, _, _ := strings.Cut(sk, "#")
				require.Equal(t, pk, dynamostore.ShardKey("busy", id), "an event and its attempts share its partition")
				if id == sk {
					events++
				}
			}
		}
		require.Equal(t, n, events, "every event is in exactly one partition")
		require.GreaterOrEqual(t, used, 12, "one set's events spread over the partitions")
	})

	t.Run("newest first across shards", func(t *testing.T) {
		b.counter.Reset()
		page, err := b.store.ListEvents(ctx, "busy", store.ListOptions{Limit: 5})
		require.NoError(t, err)
		require.Equal(t, want[:5], page.Records, "newest first, attempts included")
		require.NotEmpty(t, page.NextCursor)
		require.Equal(t, []string{"DynamoDB.Query"}, keys(b.counter.Counts()), "Queries only")
		queries := b.counter.Count("DynamoDB", "Query")
		require.GreaterOrEqual(t, queries, dynamostore.Shards, "every partition is read")
		require.LessOrEqual(t, queries, dynamostore.Shards+2, "a partition is read on only where the page needs it")
	})

	t.Run("pagination across shards", func(t *testing.T) {
		for _, limit := range []int{1, 2, 3, 50} {
			require.Equal(t, want, listAll(t, b.store, "busy", limit), "limit %d lists every event once, newest first", limit)
		}
	})

	t.Run("cursor of another set", func(t *testing.T) {
		page, err := b.store.ListEvents(ctx, "busy", store.ListOptions{Limit: 5})
		require.NoError(t, err)
		_, err = b.store.ListEvents(ctx, "other", store.ListOptions{Limit: 5, Cursor: page.NextCursor})
		require.ErrorIs(t, err, store.ErrInvalidCursor)
	})
}

// TestStore_ListEventsAttemptsPaging puts an event with many attempts between two others of its partition:
// its attempts span several Query pages of the list (the first Queries ask for a few items only), and the
// record comes out whole whichever page ends in the middle of them.
func TestStore_ListEventsAttemptsPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	events := sameShard("retries", 200, 3)
	records := make([]store.Record, len(events))
	for i, ev := range events {
		_, err := b.store.CreateEvent(ctx, ev)
		require.NoError(t, err)
		records[i].Event = ev
	}
	middle := events[1]
	middle.Deliveries = append(middle.Deliveries, store.Delivery{Endpoint: "audit", URL: "https://audit.example.com/h"})
	var attempts []store.Attempt
	for _, endpoint := range []string{"crm", "audit"} {
		for number := 1; number <= 15; number++ {
			a := attempt(events[1], number)
			a.Endpoint = endpoint
			a.ID = fmt.Sprintf("whatt_%s_%d", endpoint, number)
			attempts = append(attempts, a)
		}
	}
	for _, a := range attempts {
		require.NoError(t, b.store.PutAttempt(ctx, a))
	}
	records[1].Attempts = attempts // crm before audit: the order of the event's deliveries ("crm" only)
	want := newestFirst(records)

	b.counter.Reset()
	rec, err := b.store.GetEvent(ctx, "retries", events[1].ID)
	require.NoError(t, err)
	require.Equal(t, records[1], rec)
	require.Equal(t, 1, b.counter.Count("DynamoDB", "Query"), "an event with 30 attempts is one Query")

	for _, limit := range []int{1, 2, 3} {
		b.counter.Reset()
		require.Equal(t, want, listAll(t, b.store, "retries", limit), "limit %d", limit)
		require.Greater(t, b.counter.Count("DynamoDB", "Query"), dynamostore.Shards, "the partition was read on")
	}

	// Pages of one item: every page ends in the middle of an event or of its attempts.
	oneByOne := dynamostore.New(oneItemPages{b.client}, b.table, dynamostore.Options{})
	for _, limit := range []int{1, 2} {
		require.Equal(t, want, listAll(t, oneByOne, "retries", limit), "limit %d, one item per Query", limit)
	}
}

// oneItemPages passes calls to DynamoDB, but every Query returns at most one item.
type oneItemPages struct{ dynamostore.API }

func (o oneItemPages) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.Limit = aws.Int32(1)
	return o.API.Query(ctx, in, opts...)
}

// TestStore_LargeItems lists events with 256 KiB payloads, several per partition, so that Query pages end at
// 1 MB rather than at their item Limit, and reads an event whose attempts alone pass 1 MB.
func TestStore_LargeItems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	payload := json.RawMessage(`{"blob":"` + strings.Repeat("x", 256<<10-11) + `"}`)
	require.Len(t, payload, 256<<10)
	events := sameShard("large", 300, 6)
	records := make([]store.Record, len(events))
	for i := range events {
		events[i].Payload = payload
		_, err := b.store.CreateEvent(ctx, events[i])
		require.NoError(t, err)
		records[i].Event = events[i]
	}
	want := newestFirst(records)
	for _, limit := range []int{1, 2, 3, 5, 6, 100} {
		require.Equal(t, want, listAll(t, b.store, "large", limit), "limit %d", limit)
	}

	// Attempts of 300 KB each (more than the domain ever writes): the event's items pass 1 MB.
	var attempts []store.Attempt
	for number := 1; number <= 4; number++ {
		a := attempt(events[0], number)
		a.ResponseBody = strings.Repeat("r", 300_000)
		require.NoError(t, b.store.PutAttempt(ctx, a))
		attempts = append(attempts, a)
	}
	b.counter.Reset()
	rec, err := b.store.GetEvent(ctx, "large", events[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.Record{Event: events[0], Attempts: attempts}, rec)
	require.Greater(t, b.counter.Count("DynamoDB", "Query"), 1, "GetEvent follows LastEvaluatedKey past 1 MB")

	records[0].Attempts = attempts
	want = newestFirst(records)
	for _, limit := range []int{1, 4, 6} {
		require.Equal(t, want, listAll(t, b.store, "large", limit), "limit %d, with the large attempts", limit)
	}
}

// One user's events are listed through the sparse user index: the requests grow with that user's events,
// not with the set's.
func TestStore_ListEvents_ByUserReadsOnlyTheUsersEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const set = "portal"
	var alice []string
	for i := range 120 {
		ev := event(set, i)
		ev.UserID = "bob"
		if i%40 == 7 {
			ev.UserID = "alice"
			alice = append([]string{ev.ID}, alice...)
		}
		_, err := b.store.CreateEvent(ctx, ev)
		require.NoError(t, err)
	}
	b.counter.Reset()
	page, err := b.store.ListEvents(ctx, set, store.ListOptions{Limit: 10, UserID: "alice"})
	require.NoError(t, err)
	require.Empty(t, page.NextCursor)
	got := make([]string, len(page.Records))
	for i, r := range page.Records {
		got[i] = r.Event.ID
	}
	require.Equal(t, alice, got)
	// One index Query, then one Query per listed event.
	require.Equal(t, 1+len(alice), b.counter.Count("DynamoDB", "Query"), b.counter.String())
	require.Equal(t, 1+len(alice), b.counter.Total(), b.counter.String())

	// Without a user the same list reads the whole set.
	b.counter.Reset()
	_, err = b.store.ListEvents(ctx, set, store.ListOptions{Limit: 10,
		Match: func(r store.Record) bool { return r.Event.UserID == "alice" }})
	require.NoError(t, err)
	require.Greater(t, b.counter.Count("DynamoDB", "Query"), 1+len(alice))
}
