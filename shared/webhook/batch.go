package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// MaxBatchEvents is the most events one batch send takes.
const MaxBatchEvents = 100

// batchWorkers bounds the events of a batch that are stored at once: enough to hide the store's round trip,
// few enough not to burst a DynamoDB partition or the SQLite writer's queue.
const batchWorkers = 10

// BatchEntry is one event's answer in a batch send: its result, or Err (an *Error for bad input, anything
// else an internal failure) when the event was not accepted.
type BatchEntry struct {
	Result SendResult
	Err    error
}

// SendBatch sends several events to one set: each entry is validated, stored and queued as Send does, and
// answered in the input's order. An entry that fails validation fails alone. Every entry answered with a
// result is stored and queued before SendBatch returns, as with Send; the queue messages of all the new
// events go out together, in full batches. An entry whose idempotency key an earlier entry of the same batch
// holds gets that entry's answer: replayed when the requests are the same, idempotency_key_reused when not.
// The error is for the batch as a whole: an unknown set, or no or too many entries.
func (s *Service) SendBatch(ctx context.Context, setName string, reqs []SendRequest) ([]BatchEntry, error) {
	set, err := s.set(setName)
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 || len(reqs) > MaxBatchEvents {
		return nil, invalid("invalid_batch_size", "a batch holds 1 to %d events; this one holds %d", MaxBatchEvents, len(reqs))
	}
	out := make([]BatchEntry, len(reqs))
	admitted := make([]*admission, len(reqs)) // the events whose messages are to be queued
	firstOf := make(map[string]int)           // idempotency key -> the first entry that holds it
	repeats := make(map[int]int)              // entry -> the earlier entry whose key it repeats
	var todo []int
	for i, req := range reqs {
		if req.IdempotencyKey != "" {
			if j, seen := firstOf[req.IdempotencyKey]; seen {
				repeats[i] = j
				continue
			}
			firstOf[req.IdempotencyKey] = i
		}
		todo = append(todo, i)
	}

	// Validate each event and make its writes before queueing (its event, or its key's reservation); a key
	// reserved by an earlier call replays that call.
	s.each(todo, func(i int) {
		ev, reg, err := s.prepare(ctx, set, reqs[i])
		if err != nil {
			out[i].Err = err
			return
		}
		a, err := s.admit(ctx, ev, reg, false)
		switch {
		case err != nil:
			out[i].Err = err
		case a.answer != nil:
			out[i].Result = *a.answer
		default:
			admitted[i] = &a
		}
	})

	// Queue the deliveries of every admitted event at once. If that fails, none of them is answered as accepted.
	var jobs []job
	var queued []int
	for i, a := range admitted {
		if a != nil {
			jobs = append(jobs, a.jobs...)
			queued = append(queued, i)
		}
	}
	if err := s.enqueue(ctx, jobs...); err != nil {
		err = fmt.Errorf("queue the deliveries of a batch: %w", err)
		for _, i := range queued {
			out[i].Err = err
		}
		queued = nil
	}
	// Then write the events of the keyed ones.
	s.each(queued, func(i int) { out[i].Result, out[i].Err = s.settle(ctx, *admitted[i]) })

	for i, j := range repeats {
		out[i] = repeatAnswer(reqs[i], reqs[j], out[j])
	}
	s.log.LogAttrs(ctx, levelDebug, "batch answered", attrSet(set.Name), slog.Int("events", len(reqs)),
		slog.Int("accepted", len(queued)))
	return out, nil
}

// repeatAnswer answers an entry of a batch that repeats the idempotency key of an earlier entry, firstReq,
// answered first.
func repeatAnswer(req, firstReq SendRequest, first BatchEntry) BatchEntry {
	payload, err := validateSend(req)
	if err != nil {
		return BatchEntry{Err: err}
	}
	firstPayload, err := validateSend(firstReq)
	if err != nil || requestHash(req.Type, req.UserID, payload) != requestHash(firstReq.Type, firstReq.UserID, firstPayload) {
		return BatchEntry{Err: &Error{Kind: ErrConflict, Code: "idempotency_key_reused",
			Message: "this Idempotency-Key was already used with a different request (an earlier event of this batch)"}}
	}
	if first.Err != nil {
		return first
	}
	first.Result.Replayed = true
	return first
}

// each runs fn for every index of idx, batchWorkers at a time, and returns when all have returned.
func (s *Service) each(idx []int, fn func(i int)) {
	sem := make(chan struct{}, batchWorkers)
	var wg sync.WaitGroup
	for _, i := range idx {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}
