package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Processor makes the delivery attempt one queue message stands for; *webhook.Service implements it.
// A nil error acknowledges the message (retries are queued by the processor as new delayed messages);
// an error leaves it to SQS to deliver again. Abandon ends the delivery of a message that failed on its
// last receive before SQS moves it to the dead-letter queue (nil: the message can be deleted).
type Processor interface {
	Process(ctx context.Context, body []byte) error
	Abandon(ctx context.Context, body []byte, receives int, cause error) error
}

// deadlineMargin is kept free at the end of an invocation: attempts still running when it starts are
// cancelled and reported as failures, so the function answers before Lambda kills it.
const deadlineMargin = 2 * time.Second

// handler processes SQS batches.
type handler struct {
	proc Processor
	log  *slog.Logger
	// maxReceives is the queue's maxReceiveCount (0: unknown). A message that fails on that receive would
	// go to the dead-letter queue with its delivery still queued; the handler ends the delivery as failed
	// instead (Processor.Abandon), and only a message whose delivery cannot be ended goes there.
	maxReceives int
	// deadLetterARN is the ARN of the queue's dead-letter queue (empty: unknown), also an event source of
	// deliver: a message gets there when deliver crashed or timed out on its last receive, so it ended
	// nothing. Its records are never attempted: the handler ends their delivery as failed, and a record
	// whose delivery cannot be ended stays in the dead-letter queue (logged with metric DeadLetterNotEnded).
	deadLetterARN string
}

// errDeadLettered is the cause recorded on a delivery ended from the dead-letter queue.
var errDeadLettered = errors.New("dead-lettered: deliver crashed, timed out or could not end it on its last receive")

// DeadLetterNotEndedMetric is the value of the "metric" attribute of the log line written when the delivery
// of a dead-lettered message cannot be ended; the CDK construct counts those lines and alarms on them.
const DeadLetterNotEndedMetric = "DeadLetterNotEnded"

// handle processes every record of the batch concurrently (a batch is about as slow as its slowest POST)
// and reports the records that failed, so SQS deletes the others and delivers only those again.
func (h *handler) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	invocation := ctx // Abandon may use the margin the attempts leave
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
		defer cancel()
	}
	failed := make([]bool, len(ev.Records))
	var wg sync.WaitGroup
	for i, rec := range ev.Records {
		if h.deadLetterARN != "" && rec.EventSourceARN == h.deadLetterARN {
			wg.Go(func() { failed[i] = !h.endDeadLettered(invocation, rec) })
			continue
		}
		wg.Go(func() {
			err := h.process(ctx, rec)
			if err == nil {
				return
			}
			receives, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
			if h.maxReceives > 0 && receives >= h.maxReceives {
				aerr := h.abandon(invocation, rec, receives, err)
				if aerr == nil {
					return
				}
				err = errors.Join(err, aerr)
			}
			h.log.ErrorContext(ctx, "delivery message failed; SQS will deliver it again, or move it to the dead-letter queue",
				slog.String("messageId", rec.MessageId), slog.Int("receiveCount", receives), slog.Any("error", err))
			failed[i] = true
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

// endDeadLettered ends the delivery of a record from the dead-letter queue without attempting it, and
// reports whether it did (false: the record stays in the dead-letter queue).
func (h *handler) endDeadLettered(ctx context.Context, rec events.SQSMessage) bool {
	err := h.abandon(ctx, rec, h.maxReceives, errDeadLettered)
	if err == nil {
		return true
	}
	h.log.ErrorContext(ctx, "could not end the delivery of a dead-lettered message; it stays in the dead-letter queue",
		slog.String("messageId", rec.MessageId), slog.String("metric", DeadLetterNotEndedMetric), slog.Any("error", err))
	return false
}

// abandon ends the delivery of a record on its last receive; a panic is an error.
func (h *handler) abandon(ctx context.Context, rec events.SQSMessage, receives int, cause error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while ending the delivery of message %s: %v", rec.MessageId, p)
		}
	}()
	if err := h.proc.Abandon(ctx, []byte(rec.Body), receives, cause); err != nil {
		return fmt.Errorf("end the delivery of message %s: %w", rec.MessageId, err)
	}
	return nil
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
