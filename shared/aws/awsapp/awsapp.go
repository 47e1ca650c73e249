// Package awsapp wires outhook's AWS deployment, so that each Lambda's main only starts the runtime: it
// reads the environment, loads the webhook-set config, builds the SDK clients and the DynamoDB, SQS and
// Secrets Manager adapters once per execution environment, and returns the domain service over them.
package awsapp

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/outhook/outhook/shared/aws/dynamostore"
	"github.com/outhook/outhook/shared/aws/emf"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
	"github.com/outhook/outhook/shared/aws/smsecret"
	"github.com/outhook/outhook/shared/aws/sqsqueue"
	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/webhook"
)

// App is what a function serves.
type App struct {
	Service *webhook.Service
	Logger  *slog.Logger
	// MaxReceiveCount is the delivery queue's maxReceiveCount (Env.MaxReceiveCount; 0: unknown).
	MaxReceiveCount int
	// DeadLetterARN is the ARN of the delivery queue's dead-letter queue (Env.DeadLetterARN; empty: unknown).
	DeadLetterARN string
	// flush writes the metrics summed during an invocation (FromEnvironment's buffered EMF writer); nil: none.
	flush func()
}

// Role says which function the App serves: the deliver function caches per-user secrets, the API
// functions read them fresh (a rotation answered by the secrets function is what the next get returns).
type Role int

const (
	RoleAPI Role = iota
	RoleDeliver
)

// EndpointStateTTL is how long a function instance uses an endpoint's state read before.
const EndpointStateTTL = 5 * time.Second

// FromEnvironment builds the App of a Lambda function from its environment (see LoadEnv) and the SDK's
// default configuration (the function's role, region and, in tests, AWS_ENDPOINT_URL).
func FromEnvironment(ctx context.Context, role Role) (*App, error) {
	env, err := LoadEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS SDK config: %w", err)
	}
	metrics := emf.NewBuffered(os.Stdout, env.MetricsNamespace, nil)
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: env.LogLevel}))
	app, err := New(ctx, env, role, awsCfg, log, metrics)
	if err != nil {
		return nil, err
	}
	app.flush = metrics.Flush
	return app, nil
}

// Flushing wraps a function's Lambda handler so that the metrics summed during an invocation are written when
// it ends (one EMF line per set and endpoint instead of one per attempt: CloudWatch Logs bills the bytes).
func Flushing[E, R any](a *App, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	if a.flush == nil {
		return h
	}
	return func(ctx context.Context, ev E) (R, error) {
		defer a.flush()
		return h(ctx, ev)
	}
}

// New loads env's config file, reads the cursor key from Secrets Manager if env names its secret, and builds
// the service over the AWS adapters. metrics receives the service's metrics (nil: none); FromEnvironment
// gives it EMF lines on standard output.
func New(ctx context.Context, env Env, role Role, awsCfg aws.Config, log *slog.Logger, metrics webhook.Metrics) (*App, error) {
	doc, err := config.Load(env.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("load webhook config from %s (%s): %w", lambdaenv.ConfigFile, env.ConfigFile, err)
	}
	cfg, err := doc.Validate()
	if err != nil {
		return nil, fmt.Errorf("resolve webhook config from %s (%s): %w", lambdaenv.ConfigFile, env.ConfigFile, err)
	}
	if role == RoleAPI {
		awsCfg.Retryer = apiRetryer
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	if env.CursorKeySecret != "" {
		if env.CursorKey, err = readCursorKey(ctx, sm, env.CursorKeySecret); err != nil {
			return nil, err
		}
	}
	var users smsecret.UserOptions
	if role == RoleDeliver {
		// Each delivery signed with a user's secret would otherwise read it from Secrets Manager (two calls:
		// current and previous), the largest cost per delivery. A rotation then reaches deliveries up to the
		// TTL late, while receivers still accept the previous secret (the rotation window).
		users.CacheTTL = env.UserSecretCacheTTL
	}
	q, err := wrapSender(sqsqueue.New(sqs.NewFromConfig(awsCfg), env.QueueURL, sqsqueue.Options{}))
	if err != nil {
		return nil, err
	}
	svc, err := webhook.New(webhook.Options{
		Config: cfg,
		Store:  dynamostore.New(dynamodb.NewFromConfig(awsCfg), env.Table, dynamostore.Options{}),
		Queue:  q,
		Named:  smsecret.NewNamed(sm, env.NamedSecretPrefix, smsecret.NamedOptions{}),
		Users:  smsecret.NewUserStore(sm, env.UserSecretPrefix, users),
		HTTP:   egress.New(),
		Logger: log,
		// CursorKey authenticates list cursors across all functions of the deployment.
		CursorKey: env.CursorKey,
		// Healthy deliveries read no endpoint state: each function instance reads it at most once per
		// EndpointStateTTL, so a pause takes effect on AWS within that time (docs/aws.md).
		EndpointStateTTL: EndpointStateTTL,
		Metrics:          metrics,
		// A successful attempt is in the event log and the metrics: its line would only add to the CloudWatch
		// Logs bill (about $0.10 per million deliveries). Failures and retries stay at WARN.
		SucceededLogLevel: slog.LevelDebug,
	})
	if err != nil {
		return nil, fmt.Errorf("build webhook service: %w", err)
	}
	return &App{Service: svc, Logger: log, MaxReceiveCount: env.MaxReceiveCount, DeadLetterARN: env.DeadLetterARN}, nil
}

// API retries. An API request makes a few AWS calls in sequence (a send: PutItem, SendMessageBatch, PutItem)
// within the function's 10 s; each call makes at most apiAttempts attempts, apiMaxBackoff apart at most, so
// a throttled call is retried within about a second (with a fifth of requests throttled, a call fails after
// 4 attempts once in 600), and a call
// that keeps failing fails fast: the client retries the whole request (with its idempotency key), which is
// safe. The SDK's client-side retry quota (a token bucket shared by the process: 500 tokens, 5 per retry)
// is off: under sustained throttling it emptied and turned every throttle into an immediate error ("retry
// quota exceeded"); the bounded attempts and the request deadline (answerMargin) already bound the work.
const (
	apiAttempts   = 4
	apiMaxBackoff = 300 * time.Millisecond
)

func apiRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = apiAttempts
		o.MaxBackoff = apiMaxBackoff
		o.RateLimiter = ratelimit.None
	})
}

// readCursorKey reads the cursor key from the secret with the given ARN. Errors name the variable and the
// secret, never a value.
func readCursorKey(ctx context.Context, sm *secretsmanager.Client, arn string) ([]byte, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("read the cursor key from %s (%s): %w", lambdaenv.CursorKeySecret, arn, err)
	}
	if aws.ToString(out.SecretString) == "" {
		return nil, fmt.Errorf("the cursor key secret %s (%s) has no string value", arn, lambdaenv.CursorKeySecret)
	}
	return []byte(aws.ToString(out.SecretString)), nil
}
