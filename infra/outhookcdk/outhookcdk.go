// Package outhookcdk is the AWS CDK construct that deploys outhook: an HTTP API with IAM authorization in
// front of the send, query and secrets functions (and, opt-in, a function URL with IAM auth on the send
// function, for the hot path of sending), the deliver function fed by an SQS queue with a dead-letter
// queue, the DynamoDB event log, least-privilege roles, log groups, alarms and stack outputs.
//
// Import it into any CDK app:
//
//	cfg, err := config.Load("webhooks.yaml")
//	...
//	hooks, err := outhookcdk.New(stack, jsii.String("Webhooks"), &outhookcdk.Props{Config: cfg, BuildDir: "build"})
//	...
//	hooks.GrantInvokeAPI(myAppFunction)
//
// The construct adds cdk-nag suppressions, each with its reason, for the findings it accepts on purpose.
package outhookcdk

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/outhook/outhook/shared/aws/lambdaenv"
	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/httpapi/route"
)

// Function names one of the four Lambda functions; it is also the directory of its bootstrap under BuildDir.
type Function string

// The four functions. The API functions are those of the route table (shared/httpapi/route), which says which
// routes each serves.
const (
	FunctionSend    = Function(route.Send)
	FunctionQuery   = Function(route.Query)
	FunctionSecrets = Function(route.Secrets)
	FunctionDeliver = Function("deliver")
)

// Functions lists every function, in a fixed order.
var Functions = []Function{FunctionSend, FunctionQuery, FunctionSecrets, FunctionDeliver}

// Webhooks is the deployed outhook service.
type Webhooks interface {
	constructs.IConstruct
	// API is the HTTP API; every route requires SigV4 (IAM) authorization.
	API() awsapigatewayv2.HttpApi
	// URL is the API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/.
	URL() *string
	// SendURL is the send function URL (Props.SendFunctionURL), e.g.
	// https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/; nil without it.
	SendURL() *string
	// Table is the DynamoDB event log.
	Table() awsdynamodb.Table
	// Queue carries one message per delivery attempt to the deliver function.
	Queue() awssqs.Queue
	// DeadLetterQueue receives the messages deliver crashed or timed out on MaxReceiveCount times; deliver
	// consumes it too, ending their deliveries as failed, and only messages it could not end stay there.
	DeadLetterQueue() awssqs.Queue
	// Function returns one of the four functions.
	Function(f Function) awslambda.Function
	// Alarms are the CloudWatch alarms: dead-lettered messages deliver could not end, deliver errors, an endpoint auto-disabled,
	// age of the oldest message, and the ratio of failed deliveries.
	Alarms() []awscloudwatch.Alarm
	// Dashboard is the CloudWatch dashboard of the deployment's delivery metrics; nil with Props.NoDashboard.
	Dashboard() awscloudwatch.Dashboard
	// MetricsNamespace is the CloudWatch namespace of the functions' metrics: Outhook/<NamePrefix>.
	MetricsNamespace() string
	// UserSecretPrefix is the Secrets Manager name prefix of the per-user signing secrets.
	UserSecretPrefix() string
	// NamedSecretPrefix is the Secrets Manager name prefix of the config's named signing secrets: the operator
	// creates <NamedSecretPrefix><NAME> for every `secret: NAME` of the config.
	NamedSecretPrefix() string
	// GrantInvokeAPI lets grantee call every route of the API (execute-api:Invoke), e.g. the application
	// function that sends webhooks, and, with Props.SendFunctionURL, the send function URL
	// (lambda:InvokeFunctionUrl with the AWS_IAM auth type, and lambda:InvokeFunction through it).
	GrantInvokeAPI(grantee awsiam.IGrantable) awsiam.Grant
}

type webhooks struct {
	constructs.Construct

	api         awsapigatewayv2.HttpApi
	sendURL     awslambda.FunctionUrl // nil without Props.SendFunctionURL
	table       awsdynamodb.Table
	queue       awssqs.Queue
	dlq         awssqs.Queue
	functions   map[Function]awslambda.Function
	alarms      []awscloudwatch.Alarm
	cursorKey   awssecretsmanager.Secret
	dashboard   awscloudwatch.Dashboard
	namespace   string
	userPrefix  string
	namedPrefix string
}

var _ Webhooks = (*webhooks)(nil)

// Durations chosen on purpose; see the comments where they are used.
const (
	// apiTimeout bounds the send, query and secrets functions: each does a few DynamoDB, SQS or Secrets Manager
	// calls (with SDK retries), well under API Gateway's 30 s integration limit.
	apiTimeout = 10 * time.Second
	// deliverMargin is added to the largest endpoint timeout: before and after the POST, deliver reads the event
	// and the secret and writes the attempt and maybe the next message. A batch is processed concurrently, so
	// the batch takes about as long as its slowest POST.
	deliverMargin = 15 * time.Second
	// minDeliverTimeout keeps room for cold starts and SDK retries with short endpoint timeouts.
	minDeliverTimeout = 30 * time.Second
	// maxLambdaTimeout is Lambda's limit.
	maxLambdaTimeout = 900 * time.Second
	// visibilityFactor: AWS recommends a queue visibility timeout of at least six times the function timeout
	// for SQS event sources, so messages are not redelivered while the poller retries throttled invocations.
	visibilityFactor = 6
	// queueRetention keeps undelivered messages as long as SQS allows, so an outage of deliver does not lose
	// deliveries before someone fixes it.
	queueRetention = 14 * 24 * time.Hour
	// configFile is webhooks.json in every function package; the functions resolve it against LAMBDA_TASK_ROOT.
	configFile = "webhooks.json"
)

// namePrefixPattern: characters Secrets Manager allows in a name, minus the "/" that separates the prefixes.
var namePrefixPattern = regexp.MustCompile(`^[A-Za-z0-9_.@+=-]{1,64}$`)

// New creates the outhook service in scope. It returns an error when the props or the config are invalid
// or a build artifact is missing.
func New(scope constructs.Construct, id *string, props *Props) (Webhooks, error) {
	p, cfg, err := resolve(scope, props)
	if err != nil {
		return nil, err
	}
	deliverTimeout := deliverTimeoutFor(cfg)

	w := &webhooks{
		functions:   map[Function]awslambda.Function{},
		userPrefix:  "outhook/" + p.NamePrefix + "/users/",
		namedPrefix: "outhook/" + p.NamePrefix + "/named/",
		namespace:   metricsNamespace(p.NamePrefix),
	}
	// The override makes w itself the jsii object, so w can be passed wherever a construct is expected.
	constructs.NewConstruct_Override(w, scope, id)
	assets, err := stageAssets(w, p.BuildDir, p.Config)
	if err != nil {
		return nil, err
	}

	if w.table, err = newTable(w, p.RemovalPolicy); err != nil {
		return nil, err
	}
	w.dlq, w.queue = newQueues(w, p, deliverTimeout)

	env := map[string]*string{
		lambdaenv.ConfigFile:        jsii.String(configFile),
		lambdaenv.Table:             w.table.TableName(),
		lambdaenv.QueueURL:          w.queue.QueueUrl(),
		lambdaenv.UserSecretPrefix:  jsii.String(w.userPrefix),
		lambdaenv.NamedSecretPrefix: jsii.String(w.namedPrefix),
		lambdaenv.MetricsNamespace:  jsii.String(w.namespace),
	}
	// Only the query function makes and reads list cursors: only it gets the cursor key's secret.
	w.cursorKey = newCursorKey(w)
	queryEnv := maps.Clone(env)
	queryEnv[lambdaenv.CursorKeySecret] = w.cursorKey.SecretArn()
	// deliver ends the delivery of a message on its last receive, before SQS moves it to the dead-letter
	// queue, so the delivery reads failed (and can be resent) instead of queued forever.
	deliverEnv := maps.Clone(env)
	deliverEnv[lambdaenv.MaxReceiveCount] = jsii.String(strconv.Itoa(p.MaxReceiveCount))
	// It also consumes the dead-letter queue (messages it crashed or timed out on), ending their deliveries.
	deliverEnv[lambdaenv.DeadLetterARN] = w.dlq.QueueArn()
	for _, f := range Functions {
		memory, timeout, fnEnv := p.APIMemoryMiB, apiTimeout, env
		switch f {
		case FunctionDeliver:
			memory, timeout, fnEnv = p.DeliverMemoryMiB, deliverTimeout, deliverEnv
		case FunctionQuery:
			fnEnv = queryEnv
		}
		w.functions[f] = newFunction(w, f, assets[f], memory, timeout, fnEnv, p)
	}
	w.grant(cfg.SecretNames())
	w.connectQueue(p.DeliverMaxConcurrency, p.DeliverBatchWindow)
	w.api = newAPI(w, p, w.functions)
	if p.SendFunctionURL {
		w.sendURL = newSendURL(w)
	}
	ratio := newFailureRatioAlarm(w, p)
	w.alarms = newAlarms(w, p, ratio)
	if !p.NoDashboard {
		w.dashboard = newDashboard(w, cfg, ratio)
	}
	warnPrivateUserEndpoints(w, cfg)
	w.outputs()
	suppressNagFindings(w)
	return w, nil
}

// resolve checks props, applies their defaults and returns the resolved config.
func resolve(scope constructs.Construct, props *Props) (Props, *config.Resolved, error) {
	if props == nil {
		return Props{}, nil, errors.New("outhook props: missing")
	}
	p := *props
	if p.Config == nil {
		return Props{}, nil, errors.New("outhook props: Config is required")
	}
	if p.BuildDir == "" {
		return Props{}, nil, errors.New("outhook props: BuildDir is required")
	}
	cfg, err := p.Config.Validate()
	if err != nil {
		return Props{}, nil, fmt.Errorf("outhook config: %w", err)
	}
	if err := refusePrivateURLs(cfg); err != nil {
		return Props{}, nil, err
	}
	if p.NamePrefix == "" {
		p.NamePrefix = *awscdk.Stack_Of(scope).StackName()
	}
	if !namePrefixPattern.MatchString(p.NamePrefix) {
		return Props{}, nil, fmt.Errorf("outhook props: NamePrefix %q: want 1 to 64 of A-Z a-z 0-9 _ . @ + = -", p.NamePrefix)
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = DefaultRemovalPolicy
	}
	if p.Architecture == nil {
		p.Architecture = awslambda.Architecture_ARM_64()
	}
	if p.LogRetention == "" {
		p.LogRetention = DefaultLogRetention
	}
	defaults := []struct {
		name     string
		v        *int
		def      int
		min, max int
	}{
		{"DeliverMaxConcurrency", &p.DeliverMaxConcurrency, DefaultDeliverMaxConcurrency, 2, 1000},
		{"APIMemoryMiB", &p.APIMemoryMiB, DefaultAPIMemoryMiB, 128, 10240},
		{"DeliverMemoryMiB", &p.DeliverMemoryMiB, DefaultDeliverMemoryMiB, 128, 10240},
		{"MaxReceiveCount", &p.MaxReceiveCount, DefaultMaxReceiveCount, 1, 1000},
	}
	for _, d := range defaults {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < d.min || *d.v > d.max {
			return Props{}, nil, fmt.Errorf("outhook props: %s %d is outside %d..%d", d.name, *d.v, d.min, d.max)
		}
	}
	if p.DeliverBatchWindow < 0 || p.DeliverBatchWindow > 5*time.Minute || p.DeliverBatchWindow%time.Second != 0 {
		return Props{}, nil, fmt.Errorf("outhook props: DeliverBatchWindow %s is not whole seconds within 0..5m", p.DeliverBatchWindow)
	}
	if p.OldestMessageAlarmAge == 0 {
		p.OldestMessageAlarmAge = DefaultOldestMessageAlarmAge
	}
	if p.FailureRatioAlarmPercent == 0 {
		p.FailureRatioAlarmPercent = DefaultFailureRatioPercent
	}
	if p.FailureRatioAlarmPercent < 0 || p.FailureRatioAlarmPercent > 100 {
		return Props{}, nil, fmt.Errorf("outhook props: FailureRatioAlarmPercent %g is outside (0, 100]", p.FailureRatioAlarmPercent)
	}
	if p.OldestMessageAlarmAge < time.Minute {
		return Props{}, nil, fmt.Errorf("outhook props: OldestMessageAlarmAge %s is under a minute", p.OldestMessageAlarmAge)
	}
	return p, cfg, nil
}

// Every endpoint timeout that config.Validate accepts fits in a deliver invocation with its margin: this
// constant does not compile if config.MaxTimeoutSeconds grows past Lambda's limit less deliverMargin.
const _ = uint(maxLambdaTimeout - deliverMargin - config.MaxTimeoutSeconds*time.Second)

// refusePrivateURLs fails on each endpoint whose URL is a literal private address (or localhost) while it
// does not set allowPrivateNetwork: the deployed sender would refuse every delivery to it.
func refusePrivateURLs(cfg *config.Resolved) error {
	var errs []error
	for i, s := range cfg.Sets {
		for j, e := range s.Endpoints {
			if e.AllowPrivateNetwork {
				continue
			}
			if err := egress.CheckURL(e.URL); err != nil {
				errs = append(errs, fmt.Errorf("outhook config: sets[%d].endpoints[%d].url: every delivery would be refused (%w): "+
					"use the receiver's public URL, or set allowPrivateNetwork: true if the functions can reach it", i, j, err))
			}
		}
	}
	return errors.Join(errs...)
}

// warnPrivateUserEndpoints warns, at synth and deploy, about every set whose users may register endpoints on
// private networks: any user of the API can then make the deliver function reach into the VPC's and the
// account's private addresses.
func warnPrivateUserEndpoints(w *webhooks, cfg *config.Resolved) {
	for _, s := range cfg.Sets {
		if s.UserEndpoints != nil && s.UserEndpoints.AllowPrivateNetwork {
			awscdk.Annotations_Of(w).AddWarningV2(jsii.String("outhook:userEndpointsAllowPrivateNetwork:"+s.Name), jsii.String(
				"DANGER: set "+s.Name+" has userEndpoints.allowPrivateNetwork: true: endpoints registered at runtime may "+
					"point at private, loopback and metadata addresses, and the deliver function will POST to them. "+
					"This is for local development and tests only; remove it before deploying."), nil)
		}
	}
}

// deliverTimeoutFor sizes the deliver function's timeout from the largest endpoint timeout of the config.
func deliverTimeoutFor(cfg *config.Resolved) time.Duration {
	return max(cfg.LongestTimeout()+deliverMargin, minDeliverTimeout)
}

func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(math.Ceil(d.Seconds())))
}

func (w *webhooks) API() awsapigatewayv2.HttpApi           { return w.api }
func (w *webhooks) URL() *string                           { return w.api.Url() }
func (w *webhooks) Table() awsdynamodb.Table               { return w.table }
func (w *webhooks) Queue() awssqs.Queue                    { return w.queue }
func (w *webhooks) DeadLetterQueue() awssqs.Queue          { return w.dlq }
func (w *webhooks) Function(f Function) awslambda.Function { return w.functions[f] }
func (w *webhooks) Alarms() []awscloudwatch.Alarm          { return w.alarms }
func (w *webhooks) Dashboard() awscloudwatch.Dashboard     { return w.dashboard }
func (w *webhooks) MetricsNamespace() string               { return w.namespace }
func (w *webhooks) UserSecretPrefix() string               { return w.userPrefix }
func (w *webhooks) NamedSecretPrefix() string              { return w.namedPrefix }

func (w *webhooks) SendURL() *string {
	if w.sendURL == nil {
		return nil
	}
	return w.sendURL.Url()
}
