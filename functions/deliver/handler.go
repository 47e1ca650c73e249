package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Processor makes the delivery attempt one queue message stands for; *webhook.Service implements it.
// A nil error acknowledges the message (retries are queued by the processor as new delayed messages);
// an error leaves it to SQS to deliver again.
type Processor interface {
	Process(ctx context.Context, body []byte) error
}

// deadlineMargin is kept free at the end of an invocation: attempts still running when it starts are
// cancelled and reported as failures, so the function answers before Lambda kills it.
const deadlineMargin = 2 * time.Second

// handler processes SQS batches.
type handler struct {
	proc Processor
	log  *slog.Logger
}

// handle processes every record of the batch concurrently (a batch is about as slow as its slowest POST)
// and reports the records that failed, so SQS deletes the others and delivers only those again.
func (h *handler) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
		defer cancel()
	}
	failed := make([]bool, len(ev.Records))
	var wg sync.WaitGroup
	for i, rec := range ev.Records {
		wg.Go(func() {
			if err := h.process(ctx, rec); err != nil {
				h.log.ErrorContext(ctx, "delivery message failed; SQS will deliver it again",
					slog.String("messageId", rec.MessageId), slog.String("receiveCount", rec.Attributes["ApproximateReceiveCount"]),
					slog.Any("error", err))
				failed[i] = true
			}
		})
	}
	wg.Wait()
	var resp events.SQSEventResponse
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	return resp, nil
}

// process runs one record; a panic fails that record instead of the whole batch.
func (h *handler) process(ctx context.Context, rec events.SQSMessage) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while processing message %s: %v", rec.MessageId, p)
		}
	}()
	return h.proc.Process(ctx, []byte(rec.Body))
}
