// Package lambdaenv is the environment contract between the CDK construct (infra/outhookcdk), which sets these
// variables on the Lambda functions, and the functions (shared/aws/awsapp), which read them. It imports
// nothing, so the CDK app can use it without linking the Lambda runtime or the domain.
package lambdaenv

// The variables.
const (
	ConfigFile        = "OUTHOOK_CONFIG_FILE"           // the webhook-set config; relative to LAMBDA_TASK_ROOT if relative
	Table             = "OUTHOOK_TABLE"                 // the DynamoDB table of the event log
	QueueURL          = "OUTHOOK_QUEUE_URL"             // the SQS delivery queue
	UserSecretPrefix  = "OUTHOOK_USER_SECRET_PREFIX"    // Secrets Manager name prefix of per-user secrets
	NamedSecretPrefix = "OUTHOOK_NAMED_SECRET_PREFIX"   // Secrets Manager name prefix of named signing secrets
	CursorKey         = "OUTHOOK_CURSOR_KEY"            // optional: key that authenticates list cursors
	CursorKeySecret   = "OUTHOOK_CURSOR_KEY_SECRET"     // optional: ARN of a Secrets Manager secret holding that key
	UserSecretCache   = "OUTHOOK_USER_SECRET_CACHE"     // optional: deliver's per-user secret cache TTL (Go duration)
	MaxReceiveCount   = "OUTHOOK_MAX_RECEIVE_COUNT"     // deliver: the queue's maxReceiveCount, the receive that ends a delivery
	DeadLetterARN     = "OUTHOOK_DEAD_LETTER_QUEUE_ARN" // deliver: ARN of the dead-letter queue, whose messages it ends unattempted
	MetricsNamespace  = "OUTHOOK_METRICS_NAMESPACE"     // optional: CloudWatch namespace of the EMF metrics; default Outhook
	TaskRoot          = "LAMBDA_TASK_ROOT"              // set by Lambda: where the function package is unpacked
	LogLevel          = "AWS_LAMBDA_LOG_LEVEL"          // set by Lambda: the function's application log level (JSON log format)
)

// Required lists the variables every function needs; the construct sets each of them on every function.
var Required = []string{ConfigFile, Table, QueueURL, UserSecretPrefix, NamedSecretPrefix}
