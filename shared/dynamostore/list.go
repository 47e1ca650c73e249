package dynamostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/outhook/outhook/shared/store"
)

// cursor is where a page ended: the next page lists the set's events with ids below Before. Ids are
// time-sortable and unique, so one id is a position in every shard at once.
type cursor struct {
	Version int    `json:"v"`
	Set     string `json:"s"`
	Before  string `json:"b"`
}

const cursorVersion = 1

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // a struct of strings and an int always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(set, s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("decode cursor: %w", store.ErrInvalidCursor)
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.Version != cursorVersion || c.Before == "" {
		return cursor{}, fmt.Errorf("decode cursor: %w", store.ErrInvalidCursor)
	}
	if c.Set != set {
		return cursor{}, fmt.Errorf("cursor of another set: %w", store.ErrInvalidCursor)
	}
	return c, nil
}

// ListEvents reads the newest limit+1 ids of every shard of the set from the keys-only index (one Query per
// shard, in parallel), keeps the newest limit+1 overall, and reads those events with their attempts (one
// eventually consistent Query each, in parallel). An event whose items expired in between is left out.
func (s *Store) ListEvents(ctx context.Context, set string, opts store.ListOptions) (store.Page, error) {
	var before string
	if opts.Cursor != "" {
		c, err := decodeCursor(set, opts.Cursor)
		if err != nil {
			return store.Page{}, err
		}
		before = c.Before
	}
	limit := max(opts.Limit, 1)

	shardIDs := make([][]string, Shards)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Concurrency)
	for shard := range Shards {
		g.Go(func() error {
			ids, err := s.shardIDs(gctx, setShard(set, shard), before, limit+1)
			shardIDs[shard] = ids
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return store.Page{}, fmt.Errorf("list events of set %s: %w", set, err)
	}
	var ids []string
	for _, part := range shardIDs {
		ids = append(ids, part...)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}

	records := make([]store.Record, len(ids))
	found := make([]bool, len(ids))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Concurrency)
	for i, id := range ids {
		g.Go(func() error {
			var err error
			records[i], found[i], err = s.record(gctx, id, false)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return store.Page{}, fmt.Errorf("list events of set %s: %w", set, err)
	}
	page := store.Page{Records: make([]store.Record, 0, len(ids))}
	for i, rec := range records {
		if found[i] {
			page.Records = append(page.Records, rec)
		}
	}
	if more {
		page.NextCursor = encodeCursor(cursor{Version: cursorVersion, Set: set, Before: ids[len(ids)-1]})
	}
	return page, nil
}

// shardIDs returns up to n ids of one index partition, newest first, below before if it is set.
func (s *Store) shardIDs(ctx context.Context, partition, before string, n int) ([]string, error) {
	cond := "setShard = :p"
	values := map[string]types.AttributeValue{":p": str(partition)}
	if before != "" {
		cond += " AND pk < :b"
		values[":b"] = str(before)
	}
	var (
		ids      []string
		startKey map[string]types.AttributeValue
	)
	for len(ids) < n {
		res, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			IndexName:                 aws.String(IndexName),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeValues: values,
			ScanIndexForward:          aws.Bool(false),
			Limit:                     aws.Int32(int32(n - len(ids))),
			ExclusiveStartKey:         startKey,
		})
		if err != nil {
			return nil, fmt.Errorf("query index partition %s: %w", partition, err)
		}
		for _, item := range res.Items {
			if id, ok := item[PartitionKey].(*types.AttributeValueMemberS); ok {
				ids = append(ids, id.Value)
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			break
		}
		startKey = res.LastEvaluatedKey
	}
	return ids, nil
}
