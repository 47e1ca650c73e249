// Command infra is the CDK app that deploys outhook: one stack holding the outhookcdk construct, built from
// the same webhook-set YAML the local server reads. Run it through the CDK CLI from this directory
// (`make synth`, `make deploy`), which passes the context values below with -c key=value:
//
//	config         the webhook-set YAML (default ../webhooks.example.yaml)
//	buildDir       the output of `make lambdas` (default ../build)
//	architecture   arm64 (default) or x86_64: what the bootstraps in buildDir are built for
//	stackName      the CloudFormation stack (default Outhook); also names the Secrets Manager prefixes
//	removalPolicy  retain (default) or destroy: what deleting the stack does to the table, queues and logs
//	alarmTopicArn  optional SNS topic notified by the alarms
//	apiMemoryMiB, deliverMemoryMiB  the functions' memory (default outhookcdk.DefaultAPIMemoryMiB, 256, and
//	               DefaultDeliverMemoryMiB, 128)
//	deliverBatchWindowSeconds  how long the SQS event source may wait to fill a batch (default 0)
//	dashboard      true (default) or false: false leaves out the CloudWatch dashboard ($3.00 a month)
//	sendFunctionUrl  false (default) or true: true adds the send function URL (IAM auth; single and batch
//	               send only) and its output SendFunctionUrl
//
// The stack is environment-agnostic, so synth needs no AWS account; deploy uses the CLI's credentials and
// region. cdk-nag's AwsSolutions checks run on every synth and fail it on an unsuppressed finding.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/outhook/outhook/infra/outhookcdk"
	"github.com/outhook/outhook/shared/config"
)

func main() {
	err := run(nil)
	jsii.Close() // stops the jsii runtime's node process
	if err != nil {
		fmt.Fprintln(os.Stderr, "outhook cdk app:", err)
		os.Exit(1)
	}
}

// run builds and synthesizes the app. Its context and output directory come from the CDK CLI (environment
// variables) unless appProps set them.
func run(appProps *awscdk.AppProps) error {
	app := awscdk.NewApp(appProps)
	// A context value as text: `-c key=value` gives a string; cdk.json (or cdk.context.json) may give a JSON
	// boolean or number, read as the same text. Anything else is an error (ctxErr), not a silent default.
	var ctxErr error
	ctx := func(key, def string) string {
		switch v := app.Node().TryGetContext(jsii.String(key)).(type) {
		case nil:
		case string:
			if v != "" {
				return v
			}
		case bool:
			return strconv.FormatBool(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		default:
			ctxErr = errors.Join(ctxErr, fmt.Errorf("context %s: %v is a %T: want a string, a number or a boolean", key, v, v))
		}
		return def
	}

	cfg, err := config.Load(ctx("config", "../webhooks.example.yaml"))
	if err != nil {
		return errors.Join(ctxErr, err)
	}
	var removal awscdk.RemovalPolicy
	switch r := ctx("removalPolicy", "retain"); r {
	case "retain":
		removal = awscdk.RemovalPolicy_RETAIN
	case "destroy":
		removal = awscdk.RemovalPolicy_DESTROY
	default:
		return fmt.Errorf("context removalPolicy %q: want retain or destroy", r)
	}
	var arch awslambda.Architecture
	switch a := ctx("architecture", "arm64"); a {
	case "arm64":
		arch = awslambda.Architecture_ARM_64()
	case "x86_64":
		arch = awslambda.Architecture_X86_64()
	default:
		return fmt.Errorf("context architecture %q: want arm64 or x86_64", a)
	}

	stack := awscdk.NewStack(app, jsii.String(ctx("stackName", "Outhook")), &awscdk.StackProps{
		Description: jsii.String("outhook: outbound webhooks (HTTP API, Lambda, SQS, DynamoDB, Secrets Manager)"),
	})
	props := &outhookcdk.Props{Config: cfg, BuildDir: ctx("buildDir", "../build"), Architecture: arch, RemovalPolicy: removal}
	for key, field := range map[string]*int{"apiMemoryMiB": &props.APIMemoryMiB, "deliverMemoryMiB": &props.DeliverMemoryMiB} {
		if v := ctx(key, ""); v != "" {
			if *field, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("context %s %q: want a number of MiB", key, v)
			}
		}
	}
	if v := ctx("deliverBatchWindowSeconds", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("context deliverBatchWindowSeconds %q: want a number of seconds", v)
		}
		props.DeliverBatchWindow = time.Duration(n) * time.Second
	}
	switch d := ctx("dashboard", "true"); d {
	case "true":
	case "false":
		props.NoDashboard = true
	default:
		return fmt.Errorf("context dashboard %q: want true or false", d)
	}
	switch u := ctx("sendFunctionUrl", "false"); u {
	case "false":
	case "true":
		props.SendFunctionURL = true
	default:
		return fmt.Errorf("context sendFunctionUrl %q: want true or false", u)
	}
	if arn := ctx("alarmTopicArn", ""); arn != "" {
		props.AlarmTopic = awssns.Topic_FromTopicArn(stack, jsii.String("AlarmTopic"), jsii.String(arn))
	}
	if ctxErr != nil {
		return ctxErr
	}
	if _, err := outhookcdk.New(stack, jsii.String("Webhooks"), props); err != nil {
		return err
	}

	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return nil
}
