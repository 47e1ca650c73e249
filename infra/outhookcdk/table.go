package outhookcdk

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/jsii-runtime-go"

	"github.com/outhook/outhook/shared/aws/dynamostore"
)

// newTable creates the event log from dynamostore.TableDefinition, the same definition the store's tests
// create their tables from, so the deployed keys and indexes cannot drift from what the adapter queries:
// on-demand billing, point-in-time recovery, TTL on dynamostore.TTLAttribute.
func newTable(w *webhooks, removal awscdk.RemovalPolicy) (awsdynamodb.Table, error) {
	def := dynamostore.TableDefinition("")
	if def.BillingMode != types.BillingModePayPerRequest {
		return nil, fmt.Errorf("table definition: billing mode %q, the construct deploys PAY_PER_REQUEST", def.BillingMode)
	}
	attrs := map[string]awsdynamodb.AttributeType{}
	for _, a := range def.AttributeDefinitions {
		t, err := attributeType(a.AttributeType)
		if err != nil {
			return nil, fmt.Errorf("table definition: attribute %s: %w", *a.AttributeName, err)
		}
		attrs[*a.AttributeName] = t
	}
	pk, sk, err := keys(def.KeySchema, attrs)
	if err != nil {
		return nil, fmt.Errorf("table definition: %w", err)
	}
	t := awsdynamodb.NewTable(w, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        pk,
		SortKey:             sk,
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(dynamostore.TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		RemovalPolicy: removal,
	})
	for _, g := range def.GlobalSecondaryIndexes {
		pk, sk, err := keys(g.KeySchema, attrs)
		if err != nil {
			return nil, fmt.Errorf("table definition: index %s: %w", *g.IndexName, err)
		}
		props := &awsdynamodb.GlobalSecondaryIndexProps{IndexName: g.IndexName, PartitionKey: pk, SortKey: sk}
		switch g.Projection.ProjectionType {
		case types.ProjectionTypeKeysOnly:
			props.ProjectionType = awsdynamodb.ProjectionType_KEYS_ONLY
		case types.ProjectionTypeAll:
			props.ProjectionType = awsdynamodb.ProjectionType_ALL
		case types.ProjectionTypeInclude:
			props.ProjectionType = awsdynamodb.ProjectionType_INCLUDE
			props.NonKeyAttributes = jsii.Strings(g.Projection.NonKeyAttributes...)
		default:
			return nil, fmt.Errorf("table definition: index %s: projection %q", *g.IndexName, g.Projection.ProjectionType)
		}
		t.AddGlobalSecondaryIndex(props)
	}
	return t, nil
}

func attributeType(t types.ScalarAttributeType) (awsdynamodb.AttributeType, error) {
	switch t {
	case types.ScalarAttributeTypeS:
		return awsdynamodb.AttributeType_STRING, nil
	case types.ScalarAttributeTypeN:
		return awsdynamodb.AttributeType_NUMBER, nil
	case types.ScalarAttributeTypeB:
		return awsdynamodb.AttributeType_BINARY, nil
	}
	return "", fmt.Errorf("unknown attribute type %q", t)
}

// keys turns a key schema into the construct's partition and (optional) sort key.
func keys(schema []types.KeySchemaElement, attrs map[string]awsdynamodb.AttributeType) (pk, sk *awsdynamodb.Attribute, err error) {
	for _, k := range schema {
		t, ok := attrs[*k.AttributeName]
		if !ok {
			return nil, nil, fmt.Errorf("key %s has no attribute definition", *k.AttributeName)
		}
		a := &awsdynamodb.Attribute{Name: k.AttributeName, Type: t}
		switch k.KeyType {
		case types.KeyTypeHash:
			pk = a
		case types.KeyTypeRange:
			sk = a
		}
	}
	if pk == nil {
		return nil, nil, errors.New("no partition key")
	}
	return pk, sk, nil
}

// tableArn is the table's ARN; indexArns those of its global secondary indexes.
func (w *webhooks) tableArn() []string { return []string{*w.table.TableArn()} }

func (w *webhooks) indexArns() []string {
	var arns []string
	for _, g := range dynamostore.TableDefinition("").GlobalSecondaryIndexes {
		arns = append(arns, *w.table.TableArn()+"/index/"+*g.IndexName)
	}
	return arns
}
