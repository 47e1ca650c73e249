package dynamostore

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/outhook/outhook/shared/store"
)

// The table's key schema, TTL attribute and index. docs/aws.md explains the design; the CDK construct mirrors
// TableDefinition and enables TTL on TTLAttribute.
const (
	// PartitionKey is S: "<set>#<shard>" (events, attempts, hold marks), "I#<set>#<key>" (idempotency item),
	// "N#<set>#<user>" (endpoints of a user, or with no user the states of the static endpoints) or
	// "H#<set>#<user>#<endpoint>" (held deliveries of an endpoint).
	PartitionKey = "pk"
	// SortKey is S: "<event id>" (event), "<event id>#<endpoint>#<number>" (attempt), "<event id>#<endpoint>#H<number>"
	// (hold mark), "I" (idempotency), "<name>" (endpoint), "#n" (a user's endpoint count) or
	// "<event id>#<number>" (held delivery).
	SortKey = "sk"
	// TTLAttribute is N: epoch seconds, on every item except endpoints and held deliveries, which never expire.
	TTLAttribute = "expiresAt"
	// UserIndex is the sparse index of the events that have a user: key (UserAttribute, SortKey), keys only.
	UserIndex = "user"
	// UserAttribute is S: "<set>#<user>", on event items with a user only.
	UserAttribute = "us"
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
		AttributeDefinitions: []types.AttributeDefinition{str(PartitionKey), str(SortKey), str(UserAttribute)},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(SortKey), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(UserIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(UserAttribute), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(SortKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
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

func holdMarkSK(eventID, endpoint string, number int) string {
	return fmt.Sprintf("%s#%s#H%06d", eventID, endpoint, number)
}

// isHoldMarkSK tells a hold mark's sort key from an attempt's.
func isHoldMarkSK(sk string) bool {
	i := strings.LastIndex(sk, skSep)
	return i >= 0 && strings.HasPrefix(sk[i+1:], "H")
}

func endpointsPK(set, user string) string { return "N#" + set + "#" + user }

// countSK is the sort key of a user's endpoint count, in the user's endpoints partition; it sorts before
// every endpoint name.
const countSK = "#n"

func holdsPK(ref store.EndpointRef) string { return "H#" + ref.Set + "#" + ref.UserID + "#" + ref.Name }

func holdSK(eventID string, number int) string { return fmt.Sprintf("%s#%06d", eventID, number) }

func userKey(set, user string) string { return set + "#" + user }
