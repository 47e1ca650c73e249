package awstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Table creates a table from def(<unique name>), waits until it is active and deletes it when the test ends.
// It returns the table's name.
func Table(t testing.TB, cfg aws.Config, def func(name string) *dynamodb.CreateTableInput) string {
	t.Helper()
	name := UniqueName("outhook-test-")
	client := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	// The name is this test's own, so "already exists" can only mean that the SDK retried a CreateTable whose
	// first answer was lost (seen with moto under load): the table is ours.
	var inUse *types.ResourceInUseException
	if _, err := client.CreateTable(ctx, def(name)); err != nil && !errors.As(err, &inUse) {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, time.Minute); err != nil {
		t.Fatalf("wait for table %s: %v", name, err)
	}
	return name
}

// Queue creates a standard SQS queue with the given attributes (e.g. "VisibilityTimeout": "30"), deletes
// it when the test ends, and returns its URL.
func Queue(t testing.TB, cfg aws.Config, attributes map[string]string) string {
	t.Helper()
	name := UniqueName("outhook-test-")
	client := sqs.NewFromConfig(cfg)
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name, Attributes: attributes})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}); err != nil {
			t.Errorf("delete queue %s: %v", name, err)
		}
	})
	return aws.ToString(out.QueueUrl)
}
