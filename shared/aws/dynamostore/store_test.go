package dynamostore_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/dynamostore"
	"github.com/outhook/outhook/shared/store"
	"github.com/outhook/outhook/shared/store/storetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestStore_Conformance(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	table := awstest.Table(t, cfg, dynamostore.TableDefinition)
	s := dynamostore.New(dynamodb.NewFromConfig(cfg), table, dynamostore.Options{})
	storetest.Run(t, func(t *testing.T) store.Store { return s })
}
