package outhookcdk

import (
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/outhook/outhook/infra/outhookcdk/accesslog"
	"github.com/outhook/outhook/shared/httpapi/route"
)

func title(f Function) string { return strings.ToUpper(string(f[:1])) + string(f[1:]) }

func newQueues(w *webhooks, p Props, deliverTimeout time.Duration) (dlq, queue awssqs.Queue) {
	// As AWS recommends for an event source: six times the function's timeout, plus its batching window.
	// Both queues feed deliver.
	visibility := seconds(visibilityFactor*deliverTimeout + p.DeliverBatchWindow)
	dlq = awssqs.NewQueue(w, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		RetentionPeriod:   seconds(queueRetention),
		VisibilityTimeout: visibility,
		RemovalPolicy:     p.RemovalPolicy,
	})
	queue = awssqs.NewQueue(w, jsii.String("DeliveryQueue"), &awssqs.QueueProps{
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		RetentionPeriod:   seconds(queueRetention),
		VisibilityTimeout: visibility,
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           dlq,
			MaxReceiveCount: jsii.Number(p.MaxReceiveCount),
		},
		RemovalPolicy: p.RemovalPolicy,
	})
	return dlq, queue
}

// newCursorKey generates, at deploy time, the key that authenticates list cursors (64 random letters and
// digits, about 380 bits), so that a client cannot forge a cursor. The query function reads it once per
// execution environment. It is not rotated (cursors expire after 24 hours; a new key only ends the open
// ones), and it is deleted with the stack, since it protects nothing that outlives it.
func newCursorKey(w *webhooks) awssecretsmanager.Secret {
	return awssecretsmanager.NewSecret(w, jsii.String("CursorKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("outhook: the key that authenticates events list cursors, generated at deploy time"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// newFunction creates one Go function with its own role and log group. The role starts with nothing but
// writing to that log group (instead of the AWSLambdaBasicExecutionRole managed policy, which allows every log
// group); grant adds what the function calls.
func newFunction(w *webhooks, f Function, assetDir string, memoryMiB int, timeout time.Duration,
	env map[string]*string, p Props) awslambda.Function {
	name := title(f)
	logGroup := awslogs.NewLogGroup(w, jsii.String(name+"Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	role := awsiam.NewRole(w, jsii.String(name+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("outhook " + string(f) + " function"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	fnEnv := make(map[string]*string, len(env))
	for k, v := range env {
		fnEnv[k] = v
	}
	return awslambda.NewFunction(w, jsii.String(name+"Function"), &awslambda.FunctionProps{
		Description:           jsii.String("outhook " + string(f)),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          p.Architecture,
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(assetDir), nil),
		MemorySize:            jsii.Number(memoryMiB),
		Timeout:               seconds(timeout),
		Environment:           &fnEnv,
		Role:                  role,
		LogGroup:              logGroup,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
	})
}

// connectQueue feeds the delivery queue and its dead-letter queue to the deliver function. Each event source
// grants deliver ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes and GetQueueUrl on
// its queue only. A message reaches the dead-letter queue when deliver crashed or timed out on its last
// receive; deliver ends its delivery as failed without attempting it (OUTHOOK_DEAD_LETTER_QUEUE_ARN tells it
// which records those are), and a message whose delivery cannot be ended stays there, received again every
// visibility timeout, for its retention, and counted by the dead-letter alarm.
func (w *webhooks) connectQueue(maxConcurrency int, window time.Duration) {
	props := &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(maxConcurrency),
	}
	if window > 0 {
		props.MaxBatchingWindow = seconds(window)
	}
	deliver := w.functions[FunctionDeliver]
	deliver.AddEventSource(awslambdaeventsources.NewSqsEventSource(w.queue, props))
	deliver.AddEventSource(awslambdaeventsources.NewSqsEventSource(w.dlq, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(2), // the least Lambda allows: ending a delivery is one write
	}))
}

// newAPI creates the HTTP API: the routes of the route table (shared/httpapi/route) that a function serves,
// IAM authorization on every route, JSON access logs, one Lambda integration (payload format 2.0) per function.
func newAPI(w *webhooks, p Props, fns map[Function]awslambda.Function) awsapigatewayv2.HttpApi {
	api := awsapigatewayv2.NewHttpApi(w, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		Description:       jsii.String("outhook webhooks API"),
		DefaultAuthorizer: awsapigatewayv2authorizers.NewHttpIamAuthorizer(),
	})
	accessLogs := awslogs.NewLogGroup(w, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	stage := api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accesslog.Format),
	})

	integrations := map[Function]awsapigatewayv2.HttpRouteIntegration{}
	for _, r := range route.All() {
		if r.Function == "" {
			continue // served by the local server only
		}
		fn := Function(r.Function)
		in, ok := integrations[fn]
		if !ok {
			in = awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(title(fn)+"Integration"), fns[fn],
				&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
					PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
				})
			integrations[fn] = in
		}
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: in,
		})
	}
	return api
}

// newSendURL gives the send function a function URL with IAM auth. The function answers 404 there to every
// route but single and batch send (route.ServedByURL). No resource policy is added: a caller needs an identity
// policy of its own account (GrantInvokeAPI).
func newSendURL(w *webhooks) awslambda.FunctionUrl {
	return w.functions[FunctionSend].AddFunctionUrl(&awslambda.FunctionUrlOptions{
		AuthType: awslambda.FunctionUrlAuthType_AWS_IAM,
	})
}

// GrantInvokeAPI allows execute-api:Invoke on the API's routes and, with a send function URL, invoking the
// send function through its URL only (FunctionUrl.GrantInvokeUrl: lambda:InvokeFunctionUrl conditioned on
// the AWS_IAM auth type, and lambda:InvokeFunction conditioned on lambda:InvokedViaFunctionUrl, both of which
// Lambda requires of a function URL created since October 2025), and nothing else. When grantee is a
// construct, it also gets the cdk-nag suppression for the route wildcard that grant needs.
func (w *webhooks) GrantInvokeAPI(grantee awsiam.IGrantable) awsiam.Grant {
	grant := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee,
		Actions: jsii.Strings("execute-api:Invoke"),
		ResourceArns: jsii.Strings(
			*w.api.ArnForExecuteApi(jsii.String("*"), jsii.String("/v1/webhooks/*"), nil),
			*w.api.ArnForExecuteApi(jsii.String("GET"), jsii.String("/v1/webhooks"), nil), // the list of sets
		),
	})
	if w.sendURL != nil {
		grant = grant.Combine(w.sendURL.GrantInvokeUrl(grantee))
	}
	// After the grant: the suppression reaches only the children (the grantee's policy) that exist already.
	suppressInvokeFinding(grantee)
	return grant
}

// EndpointDisabledMetric is the metric, in namespace "outhook/<construct path>", that counts auto-disables: a
// metric filter on the deliver function's log matches its `endpoint disabled` warnings (metric=EndpointDisabled).
const EndpointDisabledMetric = "EndpointsDisabled"

// DeadLetterNotEndedMetric is the metric, in the same namespace, that counts the dead-lettered messages whose
// delivery deliver could not end (each receive of one counts): a metric filter on deliver's log matches its
// lines with metric=DeadLetterNotEnded.
const DeadLetterNotEndedMetric = "DeadLettersNotEnded"

func newEndpointDisabledMetric(w *webhooks) awscloudwatch.Metric {
	return newLogMetric(w, "EndpointDisabledFilter", "EndpointDisabled", EndpointDisabledMetric)
}

// newLogMetric counts the lines of deliver's log whose "metric" attribute is value, as metric name.
func newLogMetric(w *webhooks, id, value, name string) awscloudwatch.Metric {
	namespace := "outhook/" + nonAlnum.ReplaceAllString(*w.Node().Path(), "")
	filter := awslogs.NewMetricFilter(w, jsii.String(id), &awslogs.MetricFilterProps{
		LogGroup:        w.functions[FunctionDeliver].LogGroup(),
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.metric"), jsii.String("="), jsii.String(value)),
		MetricNamespace: jsii.String(namespace),
		MetricName:      jsii.String(name),
		MetricValue:     jsii.String("1"),
	})
	return filter.Metric(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")})
}

// newAlarms creates the queue, function and auto-disable alarms, adds failureRatio, and points them all at the
// topic, if any.
func newAlarms(w *webhooks, p Props, failureRatio awscloudwatch.Alarm) []awscloudwatch.Alarm {
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	alarms := []awscloudwatch.Alarm{
		// deliver consumes the dead-letter queue, so its depth says little; what needs a person is a message
		// whose delivery could not be ended there (it stays queued until that is fixed and it is ended).
		newLogMetric(w, "DeadLetterNotEndedFilter", "DeadLetterNotEnded", DeadLetterNotEndedMetric).CreateAlarm(w,
			jsii.String("DeadLetterQueueAlarm"), &awscloudwatch.CreateAlarmOptions{
				AlarmDescription: jsii.String("outhook: deliver could not end the delivery of dead-lettered messages; they stay in the " +
					"dead-letter queue and their deliveries read queued; the deliver function's log says why " +
					"(msg \"could not end the delivery of a dead-lettered message\")"),
				Threshold:          jsii.Number(0),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
				EvaluationPeriods:  jsii.Number(1),
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			}),
		w.functions[FunctionDeliver].MetricErrors(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
		}).CreateAlarm(w, jsii.String("DeliverErrorsAlarm"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String("outhook: the deliver function failed whole invocations (crash, timeout, init error)"),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}),
		newEndpointDisabledMetric(w).CreateAlarm(w, jsii.String("EndpointDisabledAlarm"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription: jsii.String("outhook: auto-disable disabled an endpoint (its deliveries are held until it is resumed); " +
				"the deliver function's log names it (msg \"endpoint disabled\")"),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}),
		w.queue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{
			Period: minute, Statistic: jsii.String("Maximum"),
		}).CreateAlarm(w, jsii.String("OldestMessageAlarm"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String("outhook: deliveries wait in the queue longer than expected; deliver is not keeping up or is failing"),
			Threshold:          jsii.Number(p.OldestMessageAlarmAge.Seconds()),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(5),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}),
		failureRatio,
	}
	if p.AlarmTopic != nil {
		action := awscloudwatchactions.NewSnsAction(p.AlarmTopic)
		for _, a := range alarms {
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
	}
	return alarms
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

// outputs adds the stack outputs, named after the construct's id so two instances in one stack do not clash.
func (w *webhooks) outputs() {
	prefix := nonAlnum.ReplaceAllString(*w.Node().Id(), "")
	for _, o := range []struct {
		name, desc string
		value      *string
	}{
		{"ApiUrl", "outhook API base URL (SigV4, service execute-api)", w.api.Url()},
		{"SendFunctionUrl", "outhook send function URL: single and batch send only (SigV4, service lambda)", w.SendURL()},
		{"TableName", "outhook DynamoDB table", w.table.TableName()},
		{"QueueName", "outhook delivery queue", w.queue.QueueName()},
		{"QueueUrl", "outhook delivery queue URL", w.queue.QueueUrl()},
		{"DeadLetterQueueUrl", "outhook dead-letter queue URL", w.dlq.QueueUrl()},
		{"NamedSecretPrefix", "create the config's named signing secrets under this Secrets Manager prefix", jsii.String(w.namedPrefix)},
	} {
		if o.value == nil {
			continue
		}
		out := awscdk.NewCfnOutput(w, jsii.String(o.name), &awscdk.CfnOutputProps{Value: o.value, Description: jsii.String(o.desc)})
		out.OverrideLogicalId(jsii.String(prefix + o.name))
	}
}
