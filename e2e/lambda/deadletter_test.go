//go:build linux

package lambda

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
	"github.com/outhook/outhook/shared/webhook"
)

// TestLambda_DeadLettered: a message that deliver crashed on at every receive (here: received and never
// deleted, which is what the event source does with the batch of a crashed or timed-out invocation) reaches
// the dead-letter queue with its delivery queued. deliver, fed by the dead-letter queue too, ends that
// delivery failed with the reason, without POSTing, and deletes the message; a resend then delivers it.
func TestLambda_DeadLettered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rcv, query := crashStack(t, 0)
	client := sqs.NewFromConfig(s.aws)
	dlqURL := awstest.Queue(t, s.aws, map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibilityTimeout.Seconds()))})
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &dlqURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	require.NoError(t, err)
	policy, err := json.Marshal(map[string]string{"deadLetterTargetArn": attrs.Attributes["QueueArn"], "maxReceiveCount": "1"})
	require.NoError(t, err)
	_, err = client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: &s.queueURL, Attributes: map[string]string{"RedrivePolicy": string(policy)},
	})
	require.NoError(t, err)

	send := s.start(variantProd, "send")
	var res webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/orders/events", orderPaid).decode(t, http.StatusAccepted, &res)

	// The one receive the queue allows, by an invocation that crashed: the message is not deleted, and the
	// next receive after its visibility timeout moves it to the dead-letter queue.
	got, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &s.queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 5})
	require.NoError(t, err)
	require.Len(t, got.Messages, 1)
	require.Eventually(t, func() bool {
		_, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &s.queueURL, WaitTimeSeconds: 1})
		return err == nil && queueDepth(t, client, dlqURL) == 1
	}, 30*time.Second, 200*time.Millisecond, "the message reaches the dead-letter queue")
	require.Equal(t, webhook.StatusQueued, s.event(t, query, "orders", res.EventID).Deliveries[0].Status,
		"the gap: queued, with no message left in the delivery queue")

	deliver := s.start(variantProd, "deliver", lambdaenv.MaxReceiveCount+"=1", lambdaenv.DeadLetterARN+"="+sourceARN(dlqURL))
	s.poll(deliver)
	s.pollQueue(deliver, dlqURL, 0)

	ev := s.waitStatus(t, query, "orders", res.EventID, webhook.StatusFailed, 30*time.Second)
	require.Contains(t, ev.Deliveries[0].Reason, "its queue message failed 1 times: dead-lettered")
	require.Empty(t, rcv.requests("/hook"), "a dead-lettered message is never attempted")
	require.Eventually(t, func() bool { return queueDepth(t, client, dlqURL) == 0 }, 30*time.Second, 200*time.Millisecond,
		"the message whose delivery ended is deleted from the dead-letter queue")

	var again webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/orders/events/"+res.EventID+"/retry", nil).decode(t, http.StatusAccepted, &again)
	s.waitStatus(t, query, "orders", res.EventID, webhook.StatusDelivered, 30*time.Second)
	require.Len(t, rcv.requests("/hook"), 1, "the resend delivered it")
}

// queueDepth is the number of messages in the queue, visible or in flight.
func queueDepth(t *testing.T, client *sqs.Client, queueURL string) int {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	require.NoError(t, err)
	n := 0
	for _, name := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		v, err := strconv.Atoi(out.Attributes[string(name)])
		require.NoError(t, err)
		n += v
	}
	return n
}
