// Package sqsqueue implements the delivery-queue port (queue.Queue) on an SQS standard queue: batched sends
// with a per-message delay (up to SQS's 900 s; the domain hops longer waits), long-polled receives with a
// visibility timeout, deletes and visibility changes.
package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/outhook/outhook/shared/queue"
)

// API is the part of the SQS client the queue uses (*sqs.Client implements it).
type API interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// SQS limits.
const (
	maxDelay      = 900 * time.Second
	maxVisibility = 12 * time.Hour
	maxBatch      = 10        // entries per SendMessageBatch
	maxBatchBytes = 256 << 10 // bytes per SendMessageBatch, all bodies together
)

// Options tune a Queue. The zero value is usable.
type Options struct {
	// WaitTime is how long Receive long-polls when nothing is visible, in whole seconds (0..20). Default 1 s.
	WaitTime time.Duration
	// SendTries is how often Send tries an entry that SQS failed on its side. Default 4.
	SendTries int
	// Backoff is the wait before the second try of failed entries; it doubles after each try. Default 50 ms.
	Backoff time.Duration
}

// Queue is an SQS standard queue.
type Queue struct {
	api  API
	url  string
	opts Options
}

var _ queue.Queue = (*Queue)(nil)

// New returns the queue at url.
func New(api API, url string, opts Options) *Queue {
	if opts.WaitTime <= 0 {
		opts.WaitTime = time.Second
	}
	if opts.SendTries <= 0 {
		opts.SendTries = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 50 * time.Millisecond
	}
	return &Queue{api: api, url: url, opts: opts}
}

// MaxDelay is SQS's longest message delay, 900 s.
func (q *Queue) MaxDelay() time.Duration { return maxDelay }

// Send enqueues msgs with SendMessageBatch, ten (and at most 256 KiB) per call. Entries that SQS fails on
// its side are tried again with backoff; Send returns an error if any entry is still not sent, or one was
// refused as the sender's fault.
func (q *Queue) Send(ctx context.Context, msgs ...queue.Message) error {
	for start := 0; start < len(msgs); {
		end, size := start, 0
		for end < len(msgs) && end-start < maxBatch && (end == start || size+len(msgs[end].Body) <= maxBatchBytes) {
			size += len(msgs[end].Body)
			end++
		}
		if err := q.sendBatch(ctx, msgs[start:end]); err != nil {
			return fmt.Errorf("send messages %d-%d of %d: %w", start+1, end, len(msgs), err)
		}
		start = end
	}
	return nil
}

func (q *Queue) sendBatch(ctx context.Context, msgs []queue.Message) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.SendMessageBatchRequestEntry{
			Id:           aws.String(strconv.Itoa(i)),
			MessageBody:  aws.String(string(m.Body)),
			DelaySeconds: seconds(min(m.Delay, maxDelay)),
		}
	}
	backoff := q.opts.Backoff
	for try := 1; ; try++ {
		out, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return fmt.Errorf("send message batch: %w", err)
		}
		sent := make(map[string]bool, len(out.Successful))
		for _, ok := range out.Successful {
			sent[aws.ToString(ok.Id)] = true
		}
		entries = slices.DeleteFunc(entries, func(e types.SendMessageBatchRequestEntry) bool { return sent[aws.ToString(e.Id)] })
		if len(entries) == 0 {
			return nil
		}
		var last types.BatchResultErrorEntry
		for _, f := range out.Failed {
			if f.SenderFault {
				return fmt.Errorf("send message batch: entry refused: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			}
			last = f
		}
		if try == q.opts.SendTries {
			return fmt.Errorf("send message batch: %d entries failed after %d tries, last: %s: %s",
				len(entries), try, aws.ToString(last.Code), aws.ToString(last.Message))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("send message batch: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// Receive long-polls for up to WaitTime and returns up to limit (at most 10) messages, each leased for
// visibility, with SQS's ApproximateReceiveCount as ReceiveCount.
func (q *Queue) Receive(ctx context.Context, limit int, visibility time.Duration) ([]queue.Received, error) {
	out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.url,
		MaxNumberOfMessages:         int32(min(max(limit, 1), 10)),
		VisibilityTimeout:           seconds(min(visibility, maxVisibility)),
		WaitTimeSeconds:             seconds(min(q.opts.WaitTime, 20*time.Second)),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive messages: %w", err)
	}
	got := make([]queue.Received, 0, len(out.Messages))
	for _, m := range out.Messages {
		count, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		if err != nil {
			return nil, fmt.Errorf("receive messages: message %s has no receive count: %w", aws.ToString(m.MessageId), err)
		}
		got = append(got, queue.Received{
			ID:           aws.ToString(m.MessageId),
			Receipt:      aws.ToString(m.ReceiptHandle),
			Body:         []byte(aws.ToString(m.Body)),
			ReceiveCount: count,
		})
	}
	return got, nil
}

// Delete deletes the message of a receipt; an invalid receipt gives queue.ErrNotFound.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	_, err := q.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &q.url, ReceiptHandle: &receipt})
	if err != nil {
		return fmt.Errorf("delete message: %w", receiptError(err))
	}
	return nil
}

// ChangeVisibility makes the message of a receipt visible again after d (at most 12 h); an invalid
// receipt, or one whose message is no longer in flight, gives queue.ErrNotFound.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &q.url, ReceiptHandle: &receipt, VisibilityTimeout: seconds(min(d, maxVisibility)),
	})
	if err != nil {
		return fmt.Errorf("change message visibility: %w", receiptError(err))
	}
	return nil
}

// receiptError turns SQS's answers to a bad or stale receipt into queue.ErrNotFound.
func receiptError(err error) error {
	var invalid *types.ReceiptHandleIsInvalid
	var notInFlight *types.MessageNotInflight
	if errors.As(err, &invalid) || errors.As(err, &notInFlight) {
		return fmt.Errorf("%w: %w", queue.ErrNotFound, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "InvalidParameterValue" {
		// SQS answers a malformed receipt handle with InvalidParameterValue.
		return fmt.Errorf("%w: %w", queue.ErrNotFound, err)
	}
	return err
}

// seconds is d in whole seconds, rounded up (a message is never visible early), as SQS takes it.
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32(math.Ceil(d.Seconds()))
}
