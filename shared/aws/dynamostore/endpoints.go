package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/outhook/outhook/shared/store"
)

// Endpoints live in one partition per user of a set ("N#<set>#<user>", the static endpoints' states under
// user ""), so that a send with a userId reads a user's endpoints with one strongly consistent Query. A user's
// endpoint count is an item of that partition, kept in the same transactions as the creations and deletions,
// so that concurrent registrations cannot pass maxPerUser.

// maxEndpointTries bounds the read-then-write rounds of PutEndpoint when concurrent writers move the version.
const maxEndpointTries = 5

func endpointKey(ref store.EndpointRef) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PartitionKey: str(endpointsPK(ref.Set, ref.UserID)), SortKey: str(ref.Name)}
}

func (s *Store) PutEndpoint(ctx context.Context, ep store.Endpoint, maxPerUser int) (store.Endpoint, bool, error) {
	ep.CreatedAt, ep.UpdatedAt = fromMs(toMs(ep.CreatedAt)), fromMs(toMs(ep.UpdatedAt))
	for try := 1; ; try++ {
		existing, err := s.GetEndpoint(ctx, ep.EndpointRef)
		switch {
		case err == nil:
			stored := existing
			stored.URL, stored.EventTypes, stored.Description = ep.URL, ep.EventTypes, ep.Description
			stored.UpdatedAt = ep.UpdatedAt
			stored.Version = existing.Version + 1
			err = s.putEndpointItem(ctx, stored, existing.Version)
			if err == nil {
				return normalizeTypes(stored), false, nil
			}
		case errors.Is(err, store.ErrNotFound):
			stored := ep
			stored.Status, stored.Version = store.EndpointEnabled, 1
			stored.Health, stored.DisabledReason = store.Health{}, ""
			err = s.createEndpoint(ctx, stored, maxPerUser)
			if err == nil {
				return normalizeTypes(stored), true, nil
			}
		}
		if !errors.Is(err, store.ErrConflict) || try == maxEndpointTries {
			return store.Endpoint{}, false, fmt.Errorf("put endpoint %s of user %s in set %s: %w", ep.Name, ep.UserID, ep.Set, err)
		}
	}
}

func normalizeTypes(ep store.Endpoint) store.Endpoint {
	if ep.EventTypes == nil {
		ep.EventTypes = []string{}
	}
	return ep
}

// createEndpoint writes a new user endpoint and counts it, in one transaction: ErrLimit if the count is at
// maxPerUser, ErrConflict if the endpoint appeared meanwhile.
func (s *Store) createEndpoint(ctx context.Context, ep store.Endpoint, maxPerUser int) error {
	item, err := attributevalue.MarshalMap(newEndpointItem(ep))
	if err != nil {
		return fmt.Errorf("marshal endpoint: %w", err)
	}
	_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                 &s.table,
			Key:                       map[string]types.AttributeValue{PartitionKey: str(endpointsPK(ep.Set, ep.UserID)), SortKey: str(countSK)},
			UpdateExpression:          aws.String("ADD n :one"),
			ConditionExpression:       aws.String("attribute_not_exists(n) OR n < :max"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": number(1), ":max": number(int64(maxPerUser))},
		}},
		{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}})
	var canceled *types.TransactionCanceledException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &canceled):
		return fmt.Errorf("create endpoint: %w", err)
	case reasonIs(canceled.CancellationReasons, 0, "ConditionalCheckFailed"):
		return fmt.Errorf("create endpoint: %w", store.ErrLimit)
	default:
		return fmt.Errorf("create endpoint: %w", store.ErrConflict)
	}
}

// putEndpointItem replaces the endpoint item if its stored version is still version (0: no item).
func (s *Store) putEndpointItem(ctx context.Context, ep store.Endpoint, version int64) error {
	item, err := attributevalue.MarshalMap(newEndpointItem(ep))
	if err != nil {
		return fmt.Errorf("marshal endpoint: %w", err)
	}
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if version != 0 {
		in.ConditionExpression = aws.String("v = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": number(version)}
	}
	if _, err := s.api.PutItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("write endpoint at version %d: %w", version, store.ErrConflict)
		}
		return fmt.Errorf("write endpoint: %w", err)
	}
	return nil
}

func (s *Store) GetEndpoint(ctx context.Context, ref store.EndpointRef) (store.Endpoint, error) {
	var it endpointItem
	found, err := s.getItem(ctx, endpointsPK(ref.Set, ref.UserID), ref.Name, &it)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("get endpoint %s of set %s: %w", ref.Name, ref.Set, err)
	}
	if !found {
		return store.Endpoint{}, fmt.Errorf("get endpoint %s of set %s: %w", ref.Name, ref.Set, store.ErrNotFound)
	}
	return it.endpoint(), nil
}

// ListEndpoints reads the partition with one strongly consistent Query (more only past 1 MB).
func (s *Store) ListEndpoints(ctx context.Context, set, userID string) ([]store.Endpoint, error) {
	out := []store.Endpoint{}
	var startKey map[string]types.AttributeValue
	for {
		res, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(endpointsPK(set, userID))},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         startKey,
		})
		if err != nil {
			return nil, fmt.Errorf("query endpoints of set %s: %w", set, err)
		}
		for _, item := range res.Items {
			if sk, ok := item[SortKey].(*types.AttributeValueMemberS); ok && sk.Value == countSK {
				continue
			}
			var it endpointItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("unmarshal endpoint of set %s: %w", set, err)
			}
			out = append(out, it.endpoint())
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		startKey = res.LastEvaluatedKey
	}
}

func (s *Store) DeleteEndpoint(ctx context.Context, ref store.EndpointRef) error {
	del := &types.Delete{TableName: &s.table, Key: endpointKey(ref), ConditionExpression: aws.String("attribute_exists(pk)")}
	var err error
	if ref.UserID == "" {
		_, err = s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: del.TableName, Key: del.Key,
			ConditionExpression: del.ConditionExpression})
		if isConditionFailed(err) {
			return fmt.Errorf("delete endpoint %s of set %s: %w", ref.Name, ref.Set, store.ErrNotFound)
		}
	} else {
		_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Delete: del},
			{Update: &types.Update{
				TableName:                 &s.table,
				Key:                       map[string]types.AttributeValue{PartitionKey: str(endpointsPK(ref.Set, ref.UserID)), SortKey: str(countSK)},
				UpdateExpression:          aws.String("ADD n :minus"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":minus": number(-1)},
			}},
		}})
		var canceled *types.TransactionCanceledException
		if errors.As(err, &canceled) && reasonIs(canceled.CancellationReasons, 0, "ConditionalCheckFailed") {
			return fmt.Errorf("delete endpoint %s of set %s: %w", ref.Name, ref.Set, store.ErrNotFound)
		}
	}
	if err != nil {
		return fmt.Errorf("delete endpoint %s of set %s: %w", ref.Name, ref.Set, err)
	}
	return nil
}

// UpdateEndpoint rewrites the state attributes with one UpdateItem on condition of the version (a static
// endpoint's first state is a conditional PutItem).
func (s *Store) UpdateEndpoint(ctx context.Context, ep store.Endpoint) (store.Endpoint, error) {
	if ep.Version == 0 {
		if ep.UserID != "" {
			return store.Endpoint{}, fmt.Errorf("update endpoint %s of set %s: %w", ep.Name, ep.Set, store.ErrNotFound)
		}
		out := store.Endpoint{EndpointRef: ep.EndpointRef, Status: ep.Status, DisabledReason: ep.DisabledReason,
			DisabledAt: fromMs(toMs(ep.DisabledAt)), Health: ep.Health, CreatedAt: fromMs(toMs(ep.UpdatedAt)),
			UpdatedAt: fromMs(toMs(ep.UpdatedAt)), Version: 1}
		if err := s.putEndpointItem(ctx, out, 0); err != nil {
			return store.Endpoint{}, fmt.Errorf("update endpoint %s of set %s: %w", ep.Name, ep.Set, err)
		}
		return s.GetEndpoint(ctx, ep.EndpointRef)
	}
	it := newEndpointItem(ep)
	values := map[string]types.AttributeValue{
		":v": number(ep.Version), ":next": number(ep.Version + 1), ":st": str(it.Status),
		":dr": str(it.DisabledReason), ":da": number(it.DisabledAt), ":ls": number(it.LastSuccessAt),
		":lf": number(it.LastFailureAt), ":cf": number(int64(it.Failed)), ":fs": number(it.FailingSince),
		":up": number(it.UpdatedAt),
	}
	res, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       endpointKey(ep.EndpointRef),
		UpdateExpression:          aws.String("SET st = :st, dr = :dr, da = :da, ls = :ls, lf = :lf, cf = :cf, fs = :fs, up = :up, v = :next"),
		ConditionExpression:       aws.String("v = :v"),
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		if isConditionFailed(err) {
			return store.Endpoint{}, fmt.Errorf("update endpoint %s of set %s at version %d: %w", ep.Name, ep.Set,
				ep.Version, store.ErrConflict)
		}
		return store.Endpoint{}, fmt.Errorf("update endpoint %s of set %s: %w", ep.Name, ep.Set, err)
	}
	var out endpointItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &out); err != nil {
		return store.Endpoint{}, fmt.Errorf("unmarshal endpoint %s of set %s: %w", ep.Name, ep.Set, err)
	}
	return out.endpoint(), nil
}

// HoldDelivery writes the held delivery and the event's hold mark in one transaction that also checks the
// endpoint's version and status.
func (s *Store) HoldDelivery(ctx context.Context, h store.Hold, endpointVersion int64) error {
	hold, err := attributevalue.MarshalMap(holdItem{PK: holdsPK(h.Endpoint), SK: holdSK(h.EventID, h.Number),
		EventID: h.EventID, Number: h.Number, Job: h.Job, HeldAt: toMs(h.HeldAt), EventExpt: toMs(h.EventExpiresAt)})
	if err != nil {
		return fmt.Errorf("marshal hold: %w", err)
	}
	mark, err := attributevalue.MarshalMap(holdMarkItem{PK: ShardKey(h.Endpoint.Set, h.EventID),
		SK: holdMarkSK(h.EventID, h.Endpoint.Name, h.Number), Endpoint: h.Endpoint.Name, Number: h.Number,
		HeldAt: toMs(h.HeldAt), ExpiresAt: ttl(h.EventExpiresAt)})
	if err != nil {
		return fmt.Errorf("marshal hold mark: %w", err)
	}
	_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{ // the endpoint is still paused or disabled, at the version read
			TableName:           &s.table,
			Key:                 endpointKey(h.Endpoint),
			ConditionExpression: aws.String("v = :v AND st <> :enabled"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":v": number(endpointVersion), ":enabled": str(string(store.EndpointEnabled)),
			},
		}},
		{Put: &types.Put{TableName: &s.table, Item: hold}},
		{Put: &types.Put{TableName: &s.table, Item: mark}},
	}})
	var canceled *types.TransactionCanceledException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &canceled):
		return fmt.Errorf("hold attempt %d of event %s to %s: %w", h.Number, h.EventID, h.Endpoint.Name, store.ErrConflict)
	default:
		return fmt.Errorf("hold attempt %d of event %s to %s: %w", h.Number, h.EventID, h.Endpoint.Name, err)
	}
}

func (s *Store) ListHolds(ctx context.Context, ref store.EndpointRef, limit int) ([]store.Hold, error) {
	res, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(holdsPK(ref))},
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(int32(min(limit, maxQueryLimit))),
	})
	if err != nil {
		return nil, fmt.Errorf("query holds of endpoint %s: %w", ref.Name, err)
	}
	out := make([]store.Hold, 0, len(res.Items))
	for _, item := range res.Items {
		var it holdItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fmt.Errorf("unmarshal hold of endpoint %s: %w", ref.Name, err)
		}
		out = append(out, store.Hold{Endpoint: ref, EventID: it.EventID, Number: it.Number, Job: it.Job,
			HeldAt: fromMs(it.HeldAt), EventExpiresAt: fromMs(it.EventExpt)})
	}
	return out, nil
}

// DeleteHolds deletes the held deliveries one DeleteItem each (releases are rare) and marks their hold marks
// released with one UpdateItem each (on condition that the mark is still there: TTL may have taken it).
func (s *Store) DeleteHolds(ctx context.Context, holds []store.Hold) error {
	for _, h := range holds {
		_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.table,
			Key: map[string]types.AttributeValue{
				PartitionKey: str(ShardKey(h.Endpoint.Set, h.EventID)), SortKey: str(holdMarkSK(h.EventID, h.Endpoint.Name, h.Number)),
			},
			UpdateExpression:          aws.String("SET rl = :t"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
		})
		if err != nil && !isConditionFailed(err) {
			return fmt.Errorf("mark the hold of event %s released: %w", h.EventID, err)
		}
		_, err = s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &s.table,
			Key: map[string]types.AttributeValue{
				PartitionKey: str(holdsPK(h.Endpoint)), SortKey: str(holdSK(h.EventID, h.Number)),
			},
		})
		if err != nil {
			return fmt.Errorf("delete hold of event %s (attempt %s): %w", h.EventID, strconv.Itoa(h.Number), err)
		}
	}
	return nil
}
