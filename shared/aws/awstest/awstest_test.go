package awstest_test

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func tableDef(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            &name,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	}
}

func TestEndpoint_StartsMotoQuickly(t *testing.T) {
	t.Parallel()
	start := time.Now()
	url := awstest.Endpoint(t)
	elapsed := time.Since(start)
	require.NotEmpty(t, url)
	t.Logf("endpoint %s ready after %s", url, elapsed)
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		// One server per process: a second call returns the same URL at once.
		require.Equal(t, url, awstest.Endpoint(t))
	}
}

func TestCounter_Instrument(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	name := awstest.Table(t, cfg, tableDef)
	counter := awstest.NewCounter()
	counter.Instrument(&cfg)

	client := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	for range 3 {
		_, err := client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: &name,
			Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "x"}},
		})
		require.NoError(t, err)
	}
	require.Equal(t, 3, counter.Count("DynamoDB", "GetItem"))
	require.Equal(t, 3, counter.Total(), counter.String())

	counter.Reset()
	require.Zero(t, counter.Total())
}

func TestCounter_Proxy(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	queueURL := awstest.Queue(t, cfg, nil)

	counter := awstest.NewCounter()
	handler, err := counter.Proxy(awstest.Endpoint(t))
	require.NoError(t, err)
	proxy := httptest.NewServer(handler)
	t.Cleanup(proxy.Close)

	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(proxy.URL) })
	_, err = client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String("hello")})
	require.NoError(t, err)
	_, err = client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &queueURL})
	require.NoError(t, err)

	require.Equal(t, map[string]int{"SQS.SendMessage": 1, "SQS.GetQueueAttributes": 1}, counter.Counts())
}
