package dynamostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

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

// ListEvents merges the Shards partitions of the set newest first. Each partition is read with Queries in
// descending sort-key order (below the cursor's id, if any), which yields every event with its attempts
// just before it; the first round queries every partition in parallel with a small item Limit, sized for
// the page, and later rounds read on only the partitions that could still hold an event newer than the
// next one to list. The page ends at limit events; one more, if found, makes the cursor.
func (s *Store) ListEvents(ctx context.Context, set string, opts store.ListOptions) (store.Page, error) {
	before := opts.UntilID
	if opts.Cursor != "" {
		c, err := decodeCursor(set, opts.Cursor)
		if err != nil {
			return store.Page{}, err
		}
		if before == "" || c.Before < before {
			before = c.Before
		}
	}
	limit := max(opts.Limit, 1)
	if opts.UserID != "" {
		return s.listUser(ctx, set, opts, before, limit)
	}

	// About two items per event (the event and one attempt), for the page's share of each partition and
	// one event to spare. A partition that needs more is read on with twice the Limit each time.
	first := int32(2 * ((limit+1+Shards-1)/Shards + 1))
	readers := make([]*partitionReader, Shards)
	for i := range readers {
		readers[i] = &partitionReader{pk: setShard(set, i), before: before, since: opts.SinceID, limit: first,
			match: opts.Match}
	}
	records := make([]store.Record, 0, limit+1)
	for len(records) <= limit {
		next := newestHead(readers)
		var blocked []*partitionReader
		for _, r := range readers {
			// A partition with nothing buffered blocks the merge while its unread events could be newer
			// than the next event to list (events are never in two partitions, so ids never tie); one
			// that has returned no item yet could hold anything.
			if !r.done && len(r.records) == 0 && (r.last == "" || next == nil || r.last > next.records[0].Event.ID) {
				blocked = append(blocked, r)
			}
		}
		if len(blocked) == 0 {
			if next == nil {
				break
			}
			records = append(records, next.records[0])
			next.records = next.records[1:]
			continue
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(s.opts.Concurrency)
		for _, r := range blocked {
			g.Go(func() error { return r.read(gctx, s) })
		}
		if err := g.Wait(); err != nil {
			return store.Page{}, fmt.Errorf("list events of set %s: %w", set, err)
		}
	}
	return pageOf(set, records, limit, opts), nil
}

// pageOf is store.PageOf with the cursor of set.
func pageOf(set string, records []store.Record, limit int, opts store.ListOptions) store.Page {
	return store.PageOf(records, limit, opts, func(lastID string) string {
		return encodeCursor(cursor{Version: cursorVersion, Set: set, Before: lastID})
	})
}

// listUser lists one user's events through the sparse user index (keys only, newest first), then reads
// each event with GetEvent: reads grow with the user's events, not the set's.
func (s *Store) listUser(ctx context.Context, set string, opts store.ListOptions, before string, limit int) (store.Page, error) {
	cond := UserAttribute + " = :u"
	values := map[string]types.AttributeValue{":u": str(userKey(set, opts.UserID))}
	switch {
	case before != "" && opts.SinceID != "":
		cond += " AND sk BETWEEN :since AND :before"
		values[":since"], values[":before"] = str(opts.SinceID), str(before)
	case before != "":
		cond += " AND sk < :before"
		values[":before"] = str(before)
	case opts.SinceID != "":
		cond += " AND sk >= :since"
		values[":since"] = str(opts.SinceID)
	}
	records := make([]store.Record, 0, limit+1)
	var startKey map[string]types.AttributeValue
	for len(records) <= limit {
		res, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			IndexName:                 aws.String(UserIndex),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeValues: values,
			ScanIndexForward:          aws.Bool(false),
			Limit:                     aws.Int32(int32(min(limit+1-len(records), maxQueryLimit))),
			ExclusiveStartKey:         startKey,
		})
		if err != nil {
			return store.Page{}, fmt.Errorf("query the events of user %s in set %s: %w", opts.UserID, set, err)
		}
		var ids []string
		for _, item := range res.Items {
			if sk, ok := item[SortKey].(*types.AttributeValueMemberS); ok && sk.Value != before {
				ids = append(ids, sk.Value)
			}
		}
		batch := make([]store.Record, len(ids))
		found := make([]bool, len(ids))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(s.opts.Concurrency)
		for i, id := range ids {
			g.Go(func() error {
				rec, err := s.GetEvent(gctx, set, id)
				switch {
				case errors.Is(err, store.ErrNotFound): // expired since the index was read
					return nil
				case err != nil:
					return err
				}
				batch[i], found[i] = rec, true
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return store.Page{}, fmt.Errorf("list events of user %s in set %s: %w", opts.UserID, set, err)
		}
		for i, rec := range batch {
			if found[i] && (opts.Match == nil || opts.Match(rec)) && len(records) <= limit {
				records = append(records, rec)
			}
		}
		startKey = res.LastEvaluatedKey
		if len(startKey) == 0 {
			break
		}
	}
	return pageOf(set, records, limit, opts), nil
}

// newestHead is the reader whose next buffered event is the newest, or nil if none has one buffered.
func newestHead(readers []*partitionReader) *partitionReader {
	var best *partitionReader
	for _, r := range readers {
		if len(r.records) > 0 && (best == nil || r.records[0].Event.ID > best.records[0].Event.ID) {
			best = r
		}
	}
	return best
}

// maxQueryLimit caps the item Limit of one partition Query (a page also ends at 1 MB).
const maxQueryLimit = 1000

// partitionReader reads one partition of a set newest first, one Query page per read. In descending order
// an event's attempts come just before the event's own item, so an event is complete when its item is read;
// attempts read before a page ended wait in pending for the next page.
type partitionReader struct {
	pk       string
	before   string // read only sort keys below this event id; "" for all
	limit    int32  // item Limit of the next Query
	startKey map[string]types.AttributeValue

	done    bool             // every item has been read
	last    string           // the event id of the last item read: unread events are not newer
	pending []store.Attempt  // attempts of event last, whose own item is not read yet
	marks   []store.HoldMark // hold marks of event last
	since   string           // read only sort keys from this event id on; "" for all
	match   func(store.Record) bool
	records []store.Record // complete events not merged yet, newest first
}

// read queries the next page of the partition.
func (r *partitionReader) read(ctx context.Context, s *Store) error {
	cond := "pk = :pk"
	values := map[string]types.AttributeValue{":pk": str(r.pk)}
	switch {
	case r.before != "" && r.since != "":
		// BETWEEN includes the item "before" itself (never its attempts, which sort after it): skipped below.
		cond += " AND sk BETWEEN :since AND :before"
		values[":since"], values[":before"] = str(r.since), str(r.before)
	case r.before != "":
		cond += " AND sk < :before"
		values[":before"] = str(r.before)
	case r.since != "":
		cond += " AND sk >= :since"
		values[":since"] = str(r.since)
	}
	res, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(r.limit),
		ExclusiveStartKey:         r.startKey,
	})
	if err != nil {
		return fmt.Errorf("query partition %s: %w", r.pk, err)
	}
	for _, item := range res.Items {
		p, err := decodePart(item)
		if err != nil {
			return fmt.Errorf("partition %s: %w", r.pk, err)
		}
		if p.eventID == r.before {
			continue
		}
		if p.eventID != r.last {
			r.pending, r.marks = nil, nil // attempts of an event whose item has expired: never listed
		}
		r.last = p.eventID
		switch {
		case p.mark != nil:
			r.marks = append(r.marks, *p.mark)
			continue
		case p.event == nil:
			r.pending = append(r.pending, *p.attempt)
			continue
		}
		rec := store.Record{Event: *p.event, Attempts: r.pending, Holds: r.marks}
		sortAttempts(rec)
		if r.match == nil || r.match(rec) {
			r.records = append(r.records, rec)
		}
		r.pending, r.marks = nil, nil
	}
	r.startKey = res.LastEvaluatedKey
	r.done = len(r.startKey) == 0
	r.limit = min(2*r.limit, maxQueryLimit)
	return nil
}
