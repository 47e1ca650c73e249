package dynamostore

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table's key schema, index and TTL attribute. docs/aws.md explains the design; the CDK construct
// mirrors TableDefinition and enables TTL on TTLAttribute.
const (
	PartitionKey      = "pk"         // S: the event id (event, attempts) or "I#<set>#<key>" (idempotency item)
	SortKey           = "sk"         // S: "E" (event), "A#<endpoint>#<number>" (attempt), "I" (idempotency)
	IndexName         = "bySet"      // sparse GSI over event items only, keys only
	IndexPartitionKey = "setShard"   // S: "<set>#<shard>", on event items only
	IndexSortKey      = PartitionKey // the event id, time-sortable
	TTLAttribute      = "expiresAt"  // N: epoch seconds, on every item
)

// Shards is how many index partitions the events of one set are spread over (shard = the first 4 bytes of
// SHA-256(id) mod Shards), so that one set takes Shards x 1,000 writes/s on the index. ListEvents reads
// every shard, so Shards may grow (old events stay in the lower shards it still reads) but never shrink.
const Shards = 16

// TableDefinition is the CreateTableInput of the events table: on-demand, (pk, sk) keys and the sparse,
// keys-only bySet index. TTL cannot be set at creation; enable it on TTLAttribute (the CDK construct does).
func TableDefinition(name string) *dynamodb.CreateTableInput {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(PartitionKey), str(SortKey), str(IndexPartitionKey)},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(SortKey), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexName),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(IndexPartitionKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(IndexSortKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	}
}

// shardKey is the index partition of an event: its set and a shard picked by hashing its id.
func shardKey(set, id string) string {
	sum := sha256.Sum256([]byte(id))
	return setShard(set, int(binary.BigEndian.Uint32(sum[:4])%Shards))
}

func setShard(set string, shard int) string { return fmt.Sprintf("%s#%02d", set, shard) }

// Sort keys.
const (
	eventSK = "E"
	idemSK  = "I"
)

func attemptSK(endpoint string, number int) string { return fmt.Sprintf("A#%s#%06d", endpoint, number) }

func idemPK(set, key string) string { return "I#" + set + "#" + key }
