package dynamostore

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table's key schema and TTL attribute. docs/aws.md explains the design; the CDK construct mirrors
// TableDefinition and enables TTL on TTLAttribute. There is no secondary index.
const (
	PartitionKey = "pk"        // S: "<set>#<shard>" (events, attempts) or "I#<set>#<key>" (idempotency item)
	SortKey      = "sk"        // S: "<event id>" (event), "<event id>#<endpoint>#<number>" (attempt), "I" (idempotency)
	TTLAttribute = "expiresAt" // N: epoch seconds, on every item
)

// Shards is how many partitions the events of one set are spread over: an event and its attempts live in
// partition "<set>#<shard>" with shard = the first 4 bytes of SHA-256(event id) mod Shards. One set thus
// takes Shards x 1,000 write units/s, and ListEvents reads Shards partitions per page.
//
// Shards is part of the table's data layout: GetEvent and PutAttempt compute the partition from the id
// alone, so changing Shards on a table that holds events makes the events written before unreachable
// (GetEvent answers not found, deliveries of them fail). To change it, deploy the new value with a new,
// empty table (or copy every item into a new table under the new keys) and switch the functions over.
const Shards = 16

// TableDefinition is the CreateTableInput of the events table: on-demand, (pk, sk) keys, no index. TTL
// cannot be set at creation; enable it on TTLAttribute (the CDK construct does).
func TableDefinition(name string) *dynamodb.CreateTableInput {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(PartitionKey), str(SortKey)},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(SortKey), KeyType: types.KeyTypeRange},
		},
	}
}

// ShardKey is the partition of an event and its attempts: its set and a shard picked by hashing its id.
func ShardKey(set, id string) string {
	sum := sha256.Sum256([]byte(id))
	return setShard(set, int(binary.BigEndian.Uint32(sum[:4])%Shards))
}

func setShard(set string, shard int) string { return fmt.Sprintf("%s#%02d", set, shard) }

// setOf is the set of a "<set>#<shard>" partition key (set names never contain '#').
func setOf(pk string) string {
	set, _, _ := strings.Cut(pk, "#")
	return set
}

// Sort keys. Event ids and endpoint names never contain '#', which sorts below every character they use,
// so an event's attempts sort right after it ("<id>" < "<id>#...") and before any newer event, and
// "sk < <id>" selects exactly the items of the events older than id.
const (
	idemSK = "I"
	skSep  = "#"
)

func attemptSK(eventID, endpoint string, number int) string {
	return fmt.Sprintf("%s#%s#%06d", eventID, endpoint, number)
}

// eventIDOf is the event id an event or attempt sort key belongs to.
func eventIDOf(sk string) string {
	id, _, _ := strings.Cut(sk, skSep)
	return id
}

func idemPK(set, key string) string { return "I#" + set + "#" + key }
