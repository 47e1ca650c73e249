package outhookcdk

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// DynamoDB and Secrets Manager actions per function: exactly the calls the adapters make (docs/aws.md, "IAM:
// what each adapter calls"). TransactWriteItems needs no action of its own: each Put in it is authorized as
// PutItem, and each Update or Delete as UpdateItem or DeleteItem. No function scans, tags or describes
// anything; only send deletes (user endpoints and released held deliveries).
var (
	// sendTableActions: CreateEvent (PutItem, or a transaction of Puts with an idempotency key), the
	// idempotency replay (GetItem), the retry route, which reads the event first (Query), a user's endpoints
	// on a send with a userId (Query); and the endpoint routes it serves: register (GetItem, then PutItem, or
	// a transaction of an UpdateItem of the user's count and a PutItem), delete (a transaction of a
	// DeleteItem and an UpdateItem; the held deliveries: DeleteItem, UpdateItem of their marks; the pending
	// ones among the user's events: Query on the user index, PutItem), pause and resume (GetItem,
	// UpdateItem or PutItem; the held deliveries: Query, DeleteItem, UpdateItem; those of a static endpoint
	// removed from the config end failed: PutItem), recover (Query, on the user index for a user's endpoint;
	// PutItem of each claim).
	sendTableActions = []string{"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem",
		"dynamodb:DeleteItem"}
	// queryTableActions: GetEvent and ListEvents (Query; on the table's indexes too), the endpoint lists
	// (Query) and one user endpoint (GetItem).
	queryTableActions = []string{"dynamodb:Query", "dynamodb:GetItem"}
	// deliverTableActions: the event and its attempts (Query), then the new attempt (PutItem); the endpoint's
	// state (GetItem, at most once per EndpointStateTTL) and its health when it changes (UpdateItem, or PutItem
	// for a static endpoint's first state); a held delivery (a transaction: ConditionCheckItem on the endpoint,
	// PutItem of the hold and its mark); a release message, past the page the resume released (Query of the
	// holds, DeleteItem of each, UpdateItem of its mark); the endpoint.disabled event (PutItem, GetItem and
	// Query as send).
	deliverTableActions = []string{"dynamodb:Query", "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
		"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"}
	// userSecretActions: the secrets function reads (Get), creates on first use (Create) and rotates
	// (GetSecretValue, then PutSecretValue) per-user secrets.
	userSecretActions = []string{"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret",
		"secretsmanager:PutSecretValue"}
	// deliverUserSecretActions: deliver reads a user's secret and creates it when a send for a new user is
	// delivered before any secrets call made it.
	deliverUserSecretActions = []string{"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret"}
)

// grant gives each function the actions it calls, on the resources it calls them on. Every statement is
// written out instead of using the L2 grant helpers, which would add actions the functions never call
// (e.g. BatchWriteItem, DeleteItem, PurgeQueue).
func (w *webhooks) grant(namedSecrets []string) {
	table := w.tableArn()
	queueArn := []string{*w.queue.QueueArn()}
	userSecrets := []string{w.secretArn(w.userPrefix + "*")}
	named := make([]string, 0, len(namedSecrets))
	for _, n := range namedSecrets {
		// Secrets Manager appends "-" and six random characters to every secret's ARN.
		named = append(named, w.secretArn(w.namedPrefix+n+"-??????"))
	}

	w.allow(FunctionSend, sendTableActions, table)
	w.allow(FunctionSend, []string{"dynamodb:Query"}, w.indexArns())
	w.allow(FunctionSend, []string{"sqs:SendMessage"}, queueArn)

	w.allow(FunctionQuery, queryTableActions, table)
	w.allow(FunctionQuery, []string{"dynamodb:Query"}, w.indexArns())
	w.allow(FunctionQuery, []string{"secretsmanager:GetSecretValue"}, []string{*w.cursorKey.SecretArn()})

	w.allow(FunctionSecrets, userSecretActions, userSecrets)

	w.allow(FunctionDeliver, deliverTableActions, table)
	w.allow(FunctionDeliver, []string{"sqs:SendMessage"}, queueArn)
	w.allow(FunctionDeliver, deliverUserSecretActions, userSecrets)
	if len(named) > 0 {
		w.allow(FunctionDeliver, []string{"secretsmanager:GetSecretValue"}, named)
	}
}

func (w *webhooks) allow(f Function, actions, resources []string) {
	w.functions[f].AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resources...),
	}))
}

// secretArn is the ARN pattern of the secrets whose name matches namePattern, in this stack's account and region.
func (w *webhooks) secretArn(namePattern string) string {
	return *awscdk.Stack_Of(w).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("secretsmanager"),
		Resource:     jsii.String("secret"),
		ResourceName: jsii.String(namePattern),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}
