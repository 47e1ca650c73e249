package outhookcdk

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"

	"github.com/outhook/outhook/shared/config"
)

// Props configure the outhook construct. Config and BuildDir are required; every other field has a default.
type Props struct {
	// Config is the webhook-set configuration, read from the same YAML as the local server (config.Load) or
	// built in Go. New validates it and ships it as written to every function as webhooks.json; the value
	// passed in is not modified.
	Config *config.Config

	// BuildDir holds the output of `make lambdas`: <BuildDir>/<function>/bootstrap for send, query, secrets and
	// deliver, built for linux and Architecture.
	BuildDir string

	// Architecture is the functions' instruction set, which the bootstraps in BuildDir must be built for
	// (`make lambdas LAMBDA_ARCH=x86_64`). Default: arm64 (Graviton), which costs less per GB-second.
	Architecture awslambda.Architecture

	// NamePrefix names the Secrets Manager prefixes the functions use: per-user secrets live under
	// outhook/<NamePrefix>/users/ and the named signing secrets of the config under outhook/<NamePrefix>/named/.
	// Default: the stack name.
	NamePrefix string

	// RemovalPolicy applies to the table, the queues and the log groups. Default: RETAIN, so that deleting the
	// stack keeps the event log.
	RemovalPolicy awscdk.RemovalPolicy

	// AlarmTopic, when set, is notified when an alarm goes into ALARM and back to OK.
	AlarmTopic awssns.ITopic

	// DeliverMaxConcurrency caps how many deliver invocations the SQS event source runs at once (2..1000), which
	// bounds the load put on receivers and on the account's Lambda concurrency. Default: 20.
	DeliverMaxConcurrency int

	// DeliverBatchWindow is how long the SQS event source may wait to fill a batch of 10 messages before it
	// invokes deliver (MaximumBatchingWindowInSeconds; whole seconds, 0..5 minutes). Default 0: a message is
	// handed over as soon as it is received, so at a low rate each batch holds one message. A window of a
	// second or two adds that much to a delivery's latency when the queue is quiet and saves deliver
	// invocations and DeleteMessageBatch requests (docs/aws.md, the cost benchmark).
	DeliverBatchWindow time.Duration

	// APIMemoryMiB is the memory of the send, query and secrets functions (128..10240). Default: 256, chosen by
	// measurement (docs/aws.md, "Right-sized functions"): they use about 20 MB, but Lambda gives CPU in
	// proportion to memory and an API answer waits on it (a batch of 100 events or a 5 MB list page).
	APIMemoryMiB int

	// DeliverMemoryMiB is the memory of the deliver function (128..10240). Default: 128, chosen by measurement
	// (docs/aws.md): deliver waits on receivers and AWS, uses about 1 ms of CPU per delivery and under 20 MB.
	DeliverMemoryMiB int

	// LogRetention of the functions' and the API's log groups. Default: one month.
	LogRetention awslogs.RetentionDays

	// MaxReceiveCount is how many times SQS hands a message to deliver before moving it to the dead-letter queue
	// (1..1000). Deliver retries failed POSTs itself by re-enqueueing, so SQS redelivers only messages whose
	// processing failed (throttling, a crash). Default: 5.
	MaxReceiveCount int

	// OldestMessageAlarmAge is the age of the oldest queued message above which the backlog alarm fires.
	// Retries wait at most 900 s per hop, so a healthy queue stays well below the default of 30 minutes.
	OldestMessageAlarmAge time.Duration

	// FailureRatioAlarmPercent is the share of ended deliveries that ended failed (0 < x <= 100) above which the
	// failure-ratio alarm fires, in two consecutive 5-minute periods. Default: 10.
	FailureRatioAlarmPercent float64

	// SendFunctionURL adds a Lambda function URL to the send function, with IAM auth (AWS_IAM, never NONE),
	// which serves the two send routes (single and batch send) and answers 404 to every other path: the hot
	// path without API Gateway's per-request charge and access log line (docs/aws.md, "The send function
	// URL"). Callers sign for the service "lambda" (the Go client's WithSendURL); GrantInvokeAPI grants it too.
	// That path has no API Gateway throttling or access log. Default false: API Gateway is the only front.
	SendFunctionURL bool

	// NoDashboard leaves out the CloudWatch dashboard of the delivery metrics, which costs $3.00 a month beyond
	// the free tier's three dashboards and is most of an idle stack's bill (docs/deploy.md). The metrics and
	// every alarm, the failure-ratio alarm included, stay. Default false: the dashboard is created.
	NoDashboard bool
}

// Defaults for the Props fields left zero.
const (
	DefaultDeliverMaxConcurrency = 20
	DefaultAPIMemoryMiB          = 256
	DefaultDeliverMemoryMiB      = 128
	DefaultMaxReceiveCount       = 5
	DefaultOldestMessageAlarmAge = 30 * time.Minute
	DefaultFailureRatioPercent   = 10.0
	DefaultLogRetention          = awslogs.RetentionDays_ONE_MONTH
	DefaultRemovalPolicy         = awscdk.RemovalPolicy_RETAIN
)
