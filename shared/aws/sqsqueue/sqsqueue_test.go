package sqsqueue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/sqsqueue"
	"github.com/outhook/outhook/shared/queue"
	"github.com/outhook/outhook/shared/queue/queuetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestQueue_Conformance(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	client := sqs.NewFromConfig(cfg)
	queuetest.Run(t, func(t *testing.T) queue.Queue {
		return sqsqueue.New(client, awstest.Queue(t, cfg, nil), sqsqueue.Options{})
	})
}

// flakyAPI passes calls to SQS but makes SQS's side fail the first try of the entries whose body is in
// failOnce, as SendMessageBatch does under internal errors.
type flakyAPI struct {
	sqsqueue.API
	failOnce map[string]bool
	calls    int
}

func (f *flakyAPI) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.calls++
	var pass []types.SendMessageBatchRequestEntry
	var failed []types.BatchResultErrorEntry
	for _, e := range in.Entries {
		if f.failOnce[*e.MessageBody] {
			delete(f.failOnce, *e.MessageBody)
			failed = append(failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		pass = append(pass, e)
	}
	out, err := f.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: in.QueueUrl, Entries: pass}, opts...)
	if err != nil {
		return nil, err
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

func receiveAll(t *testing.T, q *sqsqueue.Queue, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		got, err := q.Receive(context.Background(), 10, time.Minute)
		require.NoError(t, err)
		for _, m := range got {
			seen[string(m.Body)]++
		}
	}
	return seen
}

func TestQueue_Send(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	url := awstest.Queue(t, cfg, nil)
	counter := awstest.NewCounter()
	counter.Instrument(&cfg)
	q := sqsqueue.New(sqs.NewFromConfig(cfg), url, sqsqueue.Options{})

	msgs := make([]queue.Message, 25)
	for i := range msgs {
		msgs[i] = queue.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	require.NoError(t, q.Send(context.Background(), msgs...))
	require.Equal(t, 3, counter.Count("SQS", "SendMessageBatch"), "25 messages take 3 batches")

	seen := receiveAll(t, q, len(msgs))
	require.Len(t, seen, len(msgs))
	for body, n := range seen {
		require.Equal(t, 1, n, "message %s", body)
	}
}

func TestQueue_SendRetriesFailedEntries(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	url := awstest.Queue(t, cfg, nil)
	api := &flakyAPI{API: sqs.NewFromConfig(cfg), failOnce: map[string]bool{`{"n":1}`: true, `{"n":3}`: true}}
	q := sqsqueue.New(api, url, sqsqueue.Options{Backoff: time.Millisecond})

	msgs := make([]queue.Message, 5)
	for i := range msgs {
		msgs[i] = queue.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	require.NoError(t, q.Send(context.Background(), msgs...))
	require.Equal(t, 2, api.calls, "the failed entries are sent again, once")

	seen := receiveAll(t, q, len(msgs))
	require.Len(t, seen, len(msgs))
	for body, n := range seen {
		require.Equal(t, 1, n, "message %s arrives once", body)
	}
}

func TestQueue_SendGivesUp(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	url := awstest.Queue(t, cfg, nil)
	api := &alwaysFailing{API: sqs.NewFromConfig(cfg)}
	q := sqsqueue.New(api, url, sqsqueue.Options{SendTries: 3, Backoff: time.Millisecond})

	err := q.Send(context.Background(), queue.Message{Body: []byte(`{}`)})
	require.ErrorContains(t, err, "1 entries failed after 3 tries")
	require.Equal(t, 3, api.calls)
}

// alwaysFailing fails every entry, on SQS's side or, with senderFault, as the sender's fault.
type alwaysFailing struct {
	sqsqueue.API
	senderFault bool
	calls       int
}

func (f *alwaysFailing) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.calls++
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("down"), SenderFault: f.senderFault})
	}
	return out, nil
}

func TestQueue_InvalidReceipt(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	q := sqsqueue.New(sqs.NewFromConfig(cfg), awstest.Queue(t, cfg, nil), sqsqueue.Options{})
	ctx := context.Background()

	require.ErrorIs(t, q.Delete(ctx, "not-a-receipt"), queue.ErrNotFound)
	require.ErrorIs(t, q.ChangeVisibility(ctx, "not-a-receipt", time.Second), queue.ErrNotFound)
}

func TestQueue_DelayClampedToMax(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	url := awstest.Queue(t, cfg, nil)
	q := sqsqueue.New(sqs.NewFromConfig(cfg), url, sqsqueue.Options{})
	require.Equal(t, 900*time.Second, q.MaxDelay())

	// SQS refuses DelaySeconds over 900; a longer delay is sent as 900 s, and the message is delayed.
	require.NoError(t, q.Send(context.Background(), queue.Message{Body: []byte(`{}`), Delay: 2 * time.Hour}))
	out, err := sqs.NewFromConfig(cfg).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesDelayed},
	})
	require.NoError(t, err)
	require.Equal(t, "1", out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)])
}

func TestQueue_SendRefused(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	api := &alwaysFailing{API: sqs.NewFromConfig(cfg), senderFault: true}
	q := sqsqueue.New(api, awstest.Queue(t, cfg, nil), sqsqueue.Options{Backoff: time.Millisecond})

	err := q.Send(context.Background(), queue.Message{Body: []byte(`{}`)})
	require.ErrorContains(t, err, "entry refused: InternalError: down")
	require.Equal(t, 1, api.calls, "an entry refused as the sender's fault is not tried again")
}
