// Package dynamostore implements the event-log port (store.Store) on one DynamoDB table.
//
// An event is one item and each attempt another, in one of Shards partitions of the event's set, the
// attempts sorted right after their event: GetEvent is one strongly consistent Query, attempts never grow
// the event item, and ListEvents merges the set's partitions newest first, attempts included, without a
// secondary index. docs/aws.md has the design, its costs and its limits.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/outhook/outhook/shared/store"
)

// API is the part of the DynamoDB client the store uses (*dynamodb.Client implements it).
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Options tune a Store. The zero value is usable.
type Options struct {
	// Concurrency bounds the parallel requests of one ListEvents. Default 16.
	Concurrency int
	// Now is the clock that decides whether an idempotency key's item has expired. Default time.Now.
	Now func() time.Time
}

// Store is the DynamoDB event log.
type Store struct {
	api   API
	table string
	opts  Options
}

var _ store.Store = (*Store)(nil)

// New returns a Store on table, which must have the shape of TableDefinition.
func New(api API, table string, opts Options) *Store {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{api: api, table: table, opts: opts}
}

// CreateEvent writes the event item with one conditional PutItem. An event with an idempotency key has its
// key's item written before (ReserveKey): if the id holds an event already, the event of that key is the
// answer, with ErrDuplicate.
func (s *Store) CreateEvent(ctx context.Context, ev store.Event) (store.Event, error) {
	ev.CreatedAt, ev.ExpiresAt = fromMs(toMs(ev.CreatedAt)), fromMs(toMs(ev.ExpiresAt))
	err := s.putEvent(ctx, ev)
	switch {
	case isConditionFailed(err) && ev.IdempotencyKey != "":
		var it eventItem
		found, err := s.getItem(ctx, ShardKey(ev.Set, ev.ID), ev.ID, &it)
		if err != nil {
			return store.Event{}, fmt.Errorf("read event %s that holds the reserved id: %w", ev.ID, err)
		}
		if found && it.IdemKey == ev.IdempotencyKey {
			return it.event(), store.ErrDuplicate
		}
		return store.Event{}, fmt.Errorf("put event %s: id taken: %w", ev.ID, store.ErrConflict)
	case isConditionFailed(err):
		return store.Event{}, fmt.Errorf("put event %s: id taken: %w", ev.ID, store.ErrConflict)
	case err != nil:
		return store.Event{}, err
	}
	return ev, nil
}

// putEvent writes the event item unless an item holds its id.
func (s *Store) putEvent(ctx context.Context, ev store.Event) error {
	item, err := attributevalue.MarshalMap(newEventItem(ev))
	if err != nil {
		return fmt.Errorf("marshal event %s: %w", ev.ID, err)
	}
	return s.putNew(ctx, item, "attribute_not_exists(pk)", nil, "put event "+ev.ID)
}

// putNew writes item with one PutItem on condition cond. A write that fails its condition on an item equal
// to this one succeeded: the SDK retried a PutItem whose first answer was lost (a timeout, a dropped
// connection) after it had been applied; it returns nil then. what names the write in errors.
func (s *Store) putNew(ctx context.Context, item map[string]types.AttributeValue, cond string,
	values map[string]types.AttributeValue, what string) error {
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: item, ConditionExpression: aws.String(cond), ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && reflect.DeepEqual(ccf.Item, item) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ReserveKey writes the key's item with one conditional PutItem: new, or in place of an item whose TTL has
// passed (DynamoDB deletes expired items lazily). When the key is held, the item that holds it comes back
// with the failed condition: no read.
func (s *Store) ReserveKey(ctx context.Context, ev store.Event) (store.Reservation, error) {
	r := store.Reservation{EventID: ev.ID, RequestHash: ev.RequestHash, CreatedAt: fromMs(toMs(ev.CreatedAt))}
	item, err := attributevalue.MarshalMap(idemItem{PK: idemPK(ev.Set, ev.IdempotencyKey), SK: idemSK, EventID: ev.ID,
		ReqHash: ev.RequestHash, CreatedAt: toMs(ev.CreatedAt), ExpiresAt: ttl(ev.ExpiresAt)})
	if err != nil {
		return store.Reservation{}, fmt.Errorf("marshal idempotency item of event %s: %w", ev.ID, err)
	}
	err = s.putNew(ctx, item, "attribute_not_exists(pk) OR expiresAt < :now",
		map[string]types.AttributeValue{":now": number(s.opts.Now().Unix())}, "reserve idempotency key for event "+ev.ID)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return s.heldKey(ctx, ev, ccf.Item)
	case err != nil:
		return store.Reservation{}, err
	}
	return r, nil
}

// heldKey is the reservation of ev's key held by an earlier call: item, the key's item that came back with
// the failed condition, or, if none came back, the item read.
func (s *Store) heldKey(ctx context.Context, ev store.Event, item map[string]types.AttributeValue) (store.Reservation, error) {
	var held idemItem
	if item != nil {
		if err := attributevalue.UnmarshalMap(item, &held); err != nil {
			return store.Reservation{}, fmt.Errorf("unmarshal idempotency item of set %s: %w", ev.Set, err)
		}
	} else {
		found, err := s.getItem(ctx, idemPK(ev.Set, ev.IdempotencyKey), idemSK, &held)
		switch {
		case err != nil:
			return store.Reservation{}, fmt.Errorf("read idempotency key of set %s: %w", ev.Set, err)
		case !found:
			// Its TTL deleted it between the write and the read: the client's retry finds the key free.
			return store.Reservation{}, fmt.Errorf("idempotency key of set %s expired while it was read", ev.Set)
		}
	}
	r := store.Reservation{EventID: held.EventID, RequestHash: held.ReqHash}
	if held.CreatedAt > 0 {
		r.CreatedAt = fromMs(held.CreatedAt)
	}
	return r, store.ErrDuplicate
}

// getItem reads one item with a strongly consistent GetItem into out; found is false if there is none.
func (s *Store) getItem(ctx context.Context, pk, sk string, out any) (found bool, err error) {
	res, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            map[string]types.AttributeValue{PartitionKey: str(pk), SortKey: str(sk)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fmt.Errorf("get item: %w", err)
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fmt.Errorf("unmarshal item: %w", err)
	}
	return true, nil
}

// GetEvent reads the event item and its attempts with one strongly consistent Query: they are the items of
// the event's partition whose sort key begins with its id (more pages only past 1 MB).
func (s *Store) GetEvent(ctx context.Context, set, id string) (store.Record, error) {
	var (
		rec      store.Record
		found    bool
		startKey map[string]types.AttributeValue
	)
	for {
		res, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:              &s.table,
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :id)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": str(ShardKey(set, id)), ":id": str(id),
			},
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: startKey,
		})
		if err != nil {
			return store.Record{}, fmt.Errorf("query event %s of set %s: %w", id, set, err)
		}
		for _, item := range res.Items {
			p, err := decodePart(item)
			if err != nil {
				return store.Record{}, fmt.Errorf("event %s of set %s: %w", id, set, err)
			}
			switch {
			case p.eventID != id: // an id that merely begins with id
			case p.event != nil:
				rec.Event, found = *p.event, true
			case p.mark != nil:
				rec.Holds = append(rec.Holds, *p.mark)
			default:
				rec.Attempts = append(rec.Attempts, *p.attempt)
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			break
		}
		startKey = res.LastEvaluatedKey
	}
	if !found {
		return store.Record{}, fmt.Errorf("event %s of set %s: %w", id, set, store.ErrNotFound)
	}
	sortAttempts(rec)
	return rec, nil
}

// part is one item of an event's partition, decoded: the event itself, one of its attempts or a hold mark.
type part struct {
	eventID string
	event   *store.Event
	attempt *store.Attempt
	mark    *store.HoldMark
}

// decodePart tells an event item from an attempt item by its sort key and decodes it.
func decodePart(item map[string]types.AttributeValue) (part, error) {
	sk, ok := item[SortKey].(*types.AttributeValueMemberS)
	if !ok {
		return part{}, errors.New("item without a string sort key")
	}
	p := part{eventID: eventIDOf(sk.Value)}
	if p.eventID == sk.Value {
		var it eventItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return part{}, fmt.Errorf("unmarshal event %s: %w", sk.Value, err)
		}
		ev := it.event()
		p.event = &ev
		return p, nil
	}
	if isHoldMarkSK(sk.Value) {
		var it holdMarkItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return part{}, fmt.Errorf("unmarshal hold mark %s: %w", sk.Value, err)
		}
		p.mark = &store.HoldMark{Endpoint: it.Endpoint, Number: it.Number, HeldAt: fromMs(it.HeldAt), Released: it.Released}
		return p, nil
	}
	var it attemptItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return part{}, fmt.Errorf("unmarshal attempt %s: %w", sk.Value, err)
	}
	a := it.attempt()
	p.attempt = &a
	return p, nil
}

// sortAttempts orders attempts by their endpoint's place in the deliveries, then by number, and hold marks
// by endpoint and number.
func sortAttempts(rec store.Record) {
	sort.Slice(rec.Holds, func(i, j int) bool {
		a, b := rec.Holds[i], rec.Holds[j]
		if a.Endpoint != b.Endpoint {
			return a.Endpoint < b.Endpoint
		}
		return a.Number < b.Number
	})
	order := make(map[string]int, len(rec.Event.Deliveries))
	for i, d := range rec.Event.Deliveries {
		order[d.Endpoint] = i
	}
	rank := func(endpoint string) int {
		if i, ok := order[endpoint]; ok {
			return i
		}
		return len(order)
	}
	sort.SliceStable(rec.Attempts, func(i, j int) bool {
		a, b := rec.Attempts[i], rec.Attempts[j]
		if ra, rb := rank(a.Endpoint), rank(b.Endpoint); ra != rb {
			return ra < rb
		}
		if a.Endpoint != b.Endpoint {
			return a.Endpoint < b.Endpoint
		}
		return a.Number < b.Number
	})
}

// PutAttempt writes the attempt item, in its event's partition (computed from a.Set and a.EventID, no
// read), with one PutItem on condition that its key is new or holds this attempt's placeholder. It expires
// with a.ExpiresAt.
func (s *Store) PutAttempt(ctx context.Context, a store.Attempt) error {
	if a.Set == "" {
		return fmt.Errorf("put attempt %d of event %s to %s: the attempt names no set", a.Number, a.EventID, a.Endpoint)
	}
	item, err := attributevalue.MarshalMap(newAttemptItem(a))
	if err != nil {
		return fmt.Errorf("marshal attempt %d of event %s to %s: %w", a.Number, a.EventID, a.Endpoint, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &s.table,
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#o = :scheduled AND #id = :id)"),
		ExpressionAttributeNames: map[string]string{"#o": "o", "#id": "id"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":scheduled": str(string(store.OutcomeScheduled)), ":id": str(a.ID),
		},
	})
	if err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("put attempt %d of event %s to %s: %w", a.Number, a.EventID, a.Endpoint, store.ErrConflict)
		}
		return fmt.Errorf("put attempt %d of event %s to %s: %w", a.Number, a.EventID, a.Endpoint, err)
	}
	return nil
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// reasonIs tells whether the i-th cancellation reason of a transaction has the code.
func reasonIs(reasons []types.CancellationReason, i int, code string) bool {
	return i < len(reasons) && aws.ToString(reasons[i].Code) == code
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
