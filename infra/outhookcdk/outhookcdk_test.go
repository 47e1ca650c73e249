package outhookcdk_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/infra/outhookcdk"
	"github.com/outhook/outhook/infra/outhookcdk/accesslog"
	"github.com/outhook/outhook/shared/aws/cwmetric"
	"github.com/outhook/outhook/shared/aws/dynamostore"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/httpapi/route"
)

const topicArn = "arn:aws:sns:eu-west-1:123456789012:ops-alarms"

// testConfig has a named secret on one endpoint and a 30 s endpoint timeout, the longest of the config.
func testConfig() *config.Config {
	return &config.Config{Sets: []config.Set{
		{Name: "billing-events", Endpoints: []config.Endpoint{
			{Name: "crm", URL: "https://crm.example.com/hooks", TimeoutSeconds: 30, Signing: &config.Signing{
				Header: "x-crm-signature", Encoding: "hex", SignedPayload: "rawBody", Secret: "CRM_WEBHOOK_SIGNING_SECRET",
			}},
			{Name: "warehouse", URL: "https://warehouse.example.com/events"},
		}},
		{Name: "customer-events", Endpoints: []config.Endpoint{
			{Name: "customer", URL: "https://customer.example.com/hooks"},
		}},
	}}
}

// buildDir writes placeholder bootstraps, so the tests do not need `make lambdas`.
func buildDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range outhookcdk.Functions {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, string(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, string(f), "bootstrap"), []byte("placeholder "+f), 0o755))
	}
	return dir
}

type testBundle struct {
	stack    awscdk.Stack
	hooks    outhookcdk.Webhooks
	template assertions.Template
	tmpl     map[string]any // the template as JSON
	outdir   string
}

// setup synthesizes one stack, with cdk-nag's AwsSolutions checks applied to the app, for all subtests.
func setup(t *testing.T) *testBundle {
	t.Helper()
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{
		Outdir: jsii.String(outdir),
		// Asset metadata (aws:asset:path) lets the test find each function's asset directory.
		Context: &map[string]any{"aws:cdk:enable-asset-metadata": true},
	})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	stack := awscdk.NewStack(app, jsii.String("Outhook"), nil)

	cfg := testConfig()
	hooks, err := outhookcdk.New(stack, jsii.String("Webhooks"), &outhookcdk.Props{
		Config:     cfg,
		BuildDir:   buildDir(t),
		AlarmTopic: awssns.Topic_FromTopicArn(stack, jsii.String("Alarms"), jsii.String(topicArn)),
	})
	require.NoError(t, err)
	require.Zero(t, cfg.Sets[0].Endpoints[1].TimeoutSeconds, "New must not apply defaults to the caller's config")

	caller := awsiam.NewRole(stack, jsii.String("Caller"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewAccountRootPrincipal(),
	})
	hooks.GrantInvokeAPI(caller)

	template := assertions.Template_FromStack(stack, nil)
	var tmpl map[string]any
	data, err := json.Marshal(template.ToJSON())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &tmpl))
	return &testBundle{stack: stack, hooks: hooks, template: template, tmpl: tmpl, outdir: outdir}
}

func (b *testBundle) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range b.tmpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// functionID returns the logical id of one of the construct's functions.
func (b *testBundle) functionID(t *testing.T, f outhookcdk.Function) string {
	t.Helper()
	return *b.stack.GetLogicalId(b.hooks.Function(f).Node().DefaultChild().(awscdk.CfnElement))
}

// queueID and dlqID return the logical ids of the delivery queue and of its dead-letter queue.
func (b *testBundle) queueID() string {
	return *b.stack.GetLogicalId(b.hooks.Queue().Node().DefaultChild().(awscdk.CfnElement))
}

func (b *testBundle) dlqID() string {
	return *b.stack.GetLogicalId(b.hooks.DeadLetterQueue().Node().DefaultChild().(awscdk.CfnElement))
}

// cursorKeyID returns the logical id of the cursor key's secret, the only secret of the template.
func (b *testBundle) cursorKeyID(t *testing.T) string {
	t.Helper()
	secrets := b.resources("AWS::SecretsManager::Secret")
	require.Len(t, secrets, 1)
	for id := range secrets {
		return id
	}
	return ""
}

// match runs a jsii template assertion, which panics on a mismatch, and turns the panic into a test failure.
func match(t *testing.T, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%v", r)
		}
	}()
	assertion()
}

func (b *testBundle) has(t *testing.T, typ string, props map[string]any) {
	t.Helper()
	match(t, func() { b.template.HasResourceProperties(jsii.String(typ), props) })
}

func props(r map[string]any) map[string]any { return r["Properties"].(map[string]any) }

// renderJoin renders a template value that is a string or an Fn::Join of strings and references (the
// references become "<ref>").
func renderJoin(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	join := v.(map[string]any)["Fn::Join"].([]any)
	var b strings.Builder
	for _, part := range join[1].([]any) {
		if s, ok := part.(string); ok {
			b.WriteString(s)
		} else {
			b.WriteString("<ref>")
		}
	}
	return b.String()
}

// The tests in this package do not call t.Parallel: jsii's Go runtime talks to one node process and is not
// safe for concurrent use (parallel first calls corrupt its stream).

func TestNew(t *testing.T) {
	b := setup(t)

	t.Run("resource counts", func(t *testing.T) {
		var routes int // the routes of the table that a function serves
		for _, r := range route.All() {
			if r.Function != "" {
				routes++
			}
		}
		for typ, n := range map[string]int{
			"AWS::Lambda::Function":           4,
			"AWS::ApiGatewayV2::Api":          1,
			"AWS::ApiGatewayV2::Stage":        1,
			"AWS::ApiGatewayV2::Route":        routes,
			"AWS::ApiGatewayV2::Integration":  3,
			"AWS::DynamoDB::Table":            1,
			"AWS::SQS::Queue":                 2,
			"AWS::SQS::QueuePolicy":           2,
			"AWS::Lambda::EventSourceMapping": 2,
			"AWS::CloudWatch::Alarm":          5,
			"AWS::Logs::MetricFilter":         2,
			"AWS::CloudWatch::Dashboard":      1,
			"AWS::Logs::LogGroup":             5,
			"AWS::IAM::Role":                  5,
			"AWS::SecretsManager::Secret":     1,
			"AWS::Lambda::Url":                0, // only with SendFunctionURL
		} {
			match(t, func() { b.template.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
		}
	})

	t.Run("functions", func(t *testing.T) {
		for _, f := range outhookcdk.Functions {
			timeout, memory := 10, 256
			if f == outhookcdk.FunctionDeliver {
				timeout = 45 // the longest endpoint timeout (30 s) + 15 s
				memory = 128
			}
			fn := b.resources("AWS::Lambda::Function")[b.functionID(t, f)]
			require.NotNil(t, fn, f)
			p := props(fn)
			require.Equal(t, "provided.al2023", p["Runtime"], f)
			require.Equal(t, []any{"arm64"}, p["Architectures"], f)
			require.Equal(t, "bootstrap", p["Handler"], f)
			require.EqualValues(t, timeout, p["Timeout"], f)
			require.EqualValues(t, memory, p["MemorySize"], f)
			logging := p["LoggingConfig"].(map[string]any)
			require.Equal(t, "JSON", logging["LogFormat"], f)
			require.Contains(t, logging, "LogGroup", f)
			vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			for _, name := range lambdaenv.Required {
				require.Contains(t, vars, name, f)
			}
			require.Equal(t, "webhooks.json", vars[lambdaenv.ConfigFile], f)
			require.Equal(t, "outhook/Outhook/users/", vars[lambdaenv.UserSecretPrefix], f)
			require.Equal(t, "outhook/Outhook/named/", vars[lambdaenv.NamedSecretPrefix], f)
			require.NotContains(t, vars, lambdaenv.CursorKey, "%s: the key is never in the function's configuration", f)
			if f == outhookcdk.FunctionQuery {
				require.Equal(t, map[string]any{"Ref": b.cursorKeyID(t)}, vars[lambdaenv.CursorKeySecret], f)
			} else {
				require.NotContains(t, vars, lambdaenv.CursorKeySecret, "%s makes no cursors", f)
			}
			if f == outhookcdk.FunctionDeliver {
				require.Equal(t, "5", vars[lambdaenv.MaxReceiveCount], "the queue's maxReceiveCount")
				require.Equal(t, map[string]any{"Fn::GetAtt": []any{b.dlqID(), "Arn"}}, vars[lambdaenv.DeadLetterARN])
			} else {
				require.NotContains(t, vars, lambdaenv.MaxReceiveCount, f)
				require.NotContains(t, vars, lambdaenv.DeadLetterARN, f)
			}
			require.Equal(t, "Outhook/Outhook", vars[lambdaenv.MetricsNamespace], f)
		}
		match(t, func() {
			b.template.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
			b.template.AllResources(jsii.String("AWS::Logs::LogGroup"), map[string]any{"DeletionPolicy": "Retain"})
		})
	})

	t.Run("cursor key generated at deploy time", func(t *testing.T) {
		secret := b.resources("AWS::SecretsManager::Secret")[b.cursorKeyID(t)]
		require.NotNil(t, secret)
		require.Equal(t, map[string]any{"PasswordLength": float64(64), "ExcludePunctuation": true},
			props(secret)["GenerateSecretString"])
		require.NotContains(t, props(secret), "SecretString", "the value is generated, never in the template")
		require.Equal(t, "Delete", secret["DeletionPolicy"])
	})

	t.Run("assets carry the bootstrap and the validated config", func(t *testing.T) {
		for _, f := range outhookcdk.Functions {
			fn := b.resources("AWS::Lambda::Function")[b.functionID(t, f)]
			assetPath, ok := fn["Metadata"].(map[string]any)["aws:asset:path"].(string)
			require.True(t, ok, "no aws:asset:path metadata on %s", f)
			assetDir := filepath.Join(b.outdir, assetPath)
			boot, err := os.ReadFile(filepath.Join(assetDir, "bootstrap"))
			require.NoError(t, err)
			require.Equal(t, "placeholder "+string(f), string(boot))
			info, err := os.Stat(filepath.Join(assetDir, "bootstrap"))
			require.NoError(t, err)
			require.NotZero(t, info.Mode()&0o111, "bootstrap must stay executable")
			cfg, err := config.Load(filepath.Join(assetDir, "webhooks.json"))
			require.NoError(t, err)
			require.Equal(t, testConfig(), cfg, "the config as written")
		}
	})

	t.Run("api routes use IAM auth and reach their function", func(t *testing.T) {
		integrationFn := map[string]string{} // integration logical id -> function logical id
		for id, in := range b.resources("AWS::ApiGatewayV2::Integration") {
			p := props(in)
			require.Equal(t, "AWS_PROXY", p["IntegrationType"])
			require.Equal(t, "2.0", p["PayloadFormatVersion"])
			uri := p["IntegrationUri"].(map[string]any)["Fn::GetAtt"].([]any)
			integrationFn[id] = uri[0].(string)
		}
		got := map[string]string{} // route key -> function logical id
		for _, r := range b.resources("AWS::ApiGatewayV2::Route") {
			p := props(r)
			require.Equal(t, "AWS_IAM", p["AuthorizationType"], p["RouteKey"])
			target := p["Target"].(map[string]any)["Fn::Join"].([]any)[1].([]any)
			got[p["RouteKey"].(string)] = integrationFn[target[1].(map[string]any)["Ref"].(string)]
		}
		want := map[string]string{} // every route of the table that a function serves
		for _, r := range route.All() {
			if r.Function != "" {
				want[r.Pattern()] = b.functionID(t, outhookcdk.Function(r.Function))
			}
		}
		require.Equal(t, want, got)
		for key := range got {
			// GrantInvokeAPI grants execute-api:Invoke on /v1/webhooks/* and GET /v1/webhooks: a route elsewhere
			// needs a wider grant.
			_, path, _ := strings.Cut(key, " ")
			require.True(t, strings.HasPrefix(path, "/v1/webhooks/") || key == "GET /v1/webhooks",
				"%s is outside GrantInvokeAPI's resource", key)
		}

		b.has(t, "AWS::ApiGatewayV2::Stage", map[string]any{
			"StageName":  "$default",
			"AutoDeploy": true,
			"AccessLogSettings": map[string]any{
				"DestinationArn": assertions.Match_AnyValue(),
				"Format":         accesslog.Format,
			},
		})
	})

	t.Run("table", func(t *testing.T) {
		tables := b.resources("AWS::DynamoDB::Table")
		require.Len(t, tables, 1)
		for _, tbl := range tables {
			require.Equal(t, "Retain", tbl["DeletionPolicy"])
			p := props(tbl)
			require.Equal(t, "PAY_PER_REQUEST", p["BillingMode"])
			require.Equal(t, map[string]any{"PointInTimeRecoveryEnabled": true}, p["PointInTimeRecoverySpecification"])
			checkTableDefinition(t, p)
		}
	})

	t.Run("queues", func(t *testing.T) {
		dlqID := *b.stack.GetLogicalId(b.hooks.DeadLetterQueue().Node().DefaultChild().(awscdk.CfnElement))
		queueID := *b.stack.GetLogicalId(b.hooks.Queue().Node().DefaultChild().(awscdk.CfnElement))
		queues := b.resources("AWS::SQS::Queue")
		q := props(queues[queueID])
		require.EqualValues(t, 6*45, q["VisibilityTimeout"], "6x the deliver timeout")
		require.EqualValues(t, 14*24*3600, q["MessageRetentionPeriod"])
		require.Equal(t, true, q["SqsManagedSseEnabled"])
		require.Equal(t, map[string]any{
			"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}},
			"maxReceiveCount":     float64(5),
		}, q["RedrivePolicy"])
		require.Equal(t, true, props(queues[dlqID])["SqsManagedSseEnabled"])
		require.EqualValues(t, 6*45, props(queues[dlqID])["VisibilityTimeout"],
			"deliver consumes the dead-letter queue too: Lambda refuses a visibility timeout under the function's")
		require.NotContains(t, props(queues[dlqID]), "RedrivePolicy", "messages deliver could not end stay")
		for _, id := range []string{queueID, dlqID} {
			require.Equal(t, "Retain", queues[id]["DeletionPolicy"])
			b.has(t, "AWS::SQS::QueuePolicy", map[string]any{
				"Queues": []any{map[string]any{"Ref": id}},
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"Effect":    "Deny",
						"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
					}),
				})},
			})
		}

		b.has(t, "AWS::Lambda::EventSourceMapping", map[string]any{
			"FunctionName":          map[string]any{"Ref": b.functionID(t, outhookcdk.FunctionDeliver)},
			"EventSourceArn":        map[string]any{"Fn::GetAtt": []any{queueID, "Arn"}},
			"BatchSize":             10,
			"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"ScalingConfig":         map[string]any{"MaximumConcurrency": 20},
		})
		// deliver ends the deliveries of dead-lettered messages (functions/deliver: TestHandler_Handle_DeadLettered).
		b.has(t, "AWS::Lambda::EventSourceMapping", map[string]any{
			"FunctionName":          map[string]any{"Ref": b.functionID(t, outhookcdk.FunctionDeliver)},
			"EventSourceArn":        map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}},
			"BatchSize":             10,
			"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"ScalingConfig":         map[string]any{"MaximumConcurrency": 2},
		})
	})

	t.Run("alarms notify the topic", func(t *testing.T) {
		for _, metric := range []string{outhookcdk.DeadLetterNotEndedMetric, "Errors", "ApproximateAgeOfOldestMessage"} {
			b.has(t, "AWS::CloudWatch::Alarm", map[string]any{
				"MetricName":         metric,
				"ComparisonOperator": "GreaterThanThreshold",
				"AlarmActions":       []any{topicArn},
				"OKActions":          []any{topicArn},
			})
		}
		b.has(t, "AWS::CloudWatch::Alarm", map[string]any{
			"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 1800,
		})
		b.has(t, "AWS::CloudWatch::Alarm", map[string]any{
			"MetricName": outhookcdk.EndpointDisabledMetric, "Threshold": 0, "AlarmActions": []any{topicArn},
		})
		b.has(t, "AWS::Logs::MetricFilter", map[string]any{
			"FilterPattern": `{ $.metric = "EndpointDisabled" }`,
		})
		// The dead-letter queue's depth is no alarm any more: deliver consumes it. What stays there is counted.
		b.has(t, "AWS::Logs::MetricFilter", map[string]any{
			"FilterPattern": `{ $.metric = "DeadLetterNotEnded" }`,
			"MetricTransformations": []any{map[string]any{"MetricName": outhookcdk.DeadLetterNotEndedMetric,
				"MetricNamespace": assertions.Match_AnyValue(), "MetricValue": "1"}},
		})
		for _, r := range b.resources("AWS::CloudWatch::Alarm") {
			require.NotEqual(t, "ApproximateNumberOfMessagesVisible", props(r)["MetricName"])
		}
		require.Len(t, b.hooks.Alarms(), 5)
	})

	t.Run("failure ratio alarm", func(t *testing.T) {
		var found map[string]any
		for _, r := range b.resources("AWS::CloudWatch::Alarm") {
			if p := props(r); p["Metrics"] != nil {
				found = p
			}
		}
		require.NotNil(t, found, "an alarm on a metric math expression")
		require.EqualValues(t, 10, found["Threshold"])
		require.Equal(t, "GreaterThanThreshold", found["ComparisonOperator"])
		require.EqualValues(t, 2, found["EvaluationPeriods"])
		require.Equal(t, []any{topicArn}, found["AlarmActions"])
		metrics := map[string]map[string]any{}
		for _, m := range found["Metrics"].([]any) {
			m := m.(map[string]any)
			metrics[m["Id"].(string)] = m
		}
		require.Contains(t, metrics["expr_1"]["Expression"], "100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(delivered, 0))")
		require.Equal(t, true, metrics["expr_1"]["ReturnData"])
		for id, name := range map[string]string{"failed": cwmetric.Failed, "delivered": cwmetric.Delivered} {
			stat := metrics[id]["MetricStat"].(map[string]any)
			require.Equal(t, map[string]any{"Namespace": "Outhook/Outhook", "MetricName": name}, stat["Metric"], id)
			require.Equal(t, "Sum", stat["Stat"], id)
			require.EqualValues(t, 300, stat["Period"], id)
		}
		require.Equal(t, "Outhook/Outhook", b.hooks.MetricsNamespace())
	})

	t.Run("dashboard", func(t *testing.T) {
		var body string
		for _, r := range b.resources("AWS::CloudWatch::Dashboard") {
			body = renderJoin(t, props(r)["DashboardBody"])
		}
		var dash struct {
			Widgets []struct {
				Properties map[string]any `json:"properties"`
			} `json:"widgets"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &dash), body)
		titles := map[string]string{}
		for _, w := range dash.Widgets {
			raw, err := json.Marshal(w.Properties)
			require.NoError(t, err)
			titles[fmt.Sprint(w.Properties["title"])] = string(raw)
		}
		require.Contains(t, titles, "Deliveries per minute by outcome")
		require.Contains(t, titles["Deliveries per minute by outcome"], `["Outhook/Outhook","Delivered",{"label":"delivered","period":60,"stat":"Sum"}]`)
		require.Contains(t, titles["Failed deliveries (% of those that ended)"], `"alarms":[`)
		latency := titles["Attempt latency per endpoint (ms)"]
		for _, ep := range []string{`"endpoint","crm","set","billing-events"`, `"endpoint","warehouse","set","billing-events"`,
			`"endpoint","customer","set","customer-events"`} {
			require.Contains(t, latency, ep)
		}
		require.Contains(t, latency, `"stat":"p99"`)
		require.Contains(t, latency, `"stat":"p50"`)
		require.Equal(t, b.hooks.Dashboard().Node().Id(), jsii.String("Dashboard"))
	})

	t.Run("outputs", func(t *testing.T) {
		outputs := b.tmpl["Outputs"].(map[string]any)
		for _, name := range []string{"WebhooksApiUrl", "WebhooksTableName", "WebhooksQueueName", "WebhooksQueueUrl",
			"WebhooksDeadLetterQueueUrl", "WebhooksNamedSecretPrefix"} {
			require.Contains(t, outputs, name)
		}
		require.Equal(t, "outhook/Outhook/named/", outputs["WebhooksNamedSecretPrefix"].(map[string]any)["Value"])
		require.NotContains(t, outputs, "WebhooksSendFunctionUrl", "only with SendFunctionURL")
		require.Nil(t, b.hooks.SendURL())
	})

	t.Run("iam is least privilege", func(t *testing.T) { checkIAM(t, b) })

	t.Run("cdk-nag AwsSolutions has no unsuppressed findings", func(t *testing.T) {
		annotations := assertions.Annotations_FromStack(b.stack)
		finding := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
		// Each fails listing the findings it matched.
		match(t, func() { annotations.HasNoError(jsii.String("*"), finding) })
		match(t, func() { annotations.HasNoWarning(jsii.String("*"), finding) })
	})

	t.Run("cfn-lint", func(t *testing.T) {
		venv := os.Getenv("OUTHOOK_VENV")
		require.NotEmpty(t, venv, "OUTHOOK_VENV is not set: run `make test` (it installs cfn-lint into .venv) "+
			"or set OUTHOOK_VENV to a venv holding cfn-lint")
		lint := filepath.Join(venv, "bin", "cfn-lint")
		_, err := os.Stat(lint)
		require.NoError(t, err, "cfn-lint is missing from OUTHOOK_VENV: run `make venv`")
		file := filepath.Join(t.TempDir(), "template.json")
		data, err := json.Marshal(b.tmpl)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, data, 0o644))
		// W3005 (redundant DependsOn) is ignored: CDK makes each function depend on its role and the role's
		// policy, and the role is also referenced, which CloudFormation accepts.
		out, err := exec.Command(lint, "--regions", "us-east-1,eu-west-1", "--ignore-checks", "W3005",
			"--", file).CombinedOutput()
		require.NoError(t, err, "cfn-lint findings:\n%s", out)
	})
}

// statement is one IAM statement of a role's policies.
type statement struct {
	Effect    string
	Actions   []string
	Resources []string
}

func asStrings(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// render turns a template value (string or intrinsic) into a string, for comparing and printing.
func render(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// policies returns the statements of every identity policy of the template, keyed by the role they attach to.
func policies(t *testing.T, b *testBundle) map[string][]statement {
	t.Helper()
	out := map[string][]statement{}
	add := func(role string, doc any) {
		for _, s := range asStrings(doc.(map[string]any)["Statement"]) {
			s := s.(map[string]any)
			require.NotContains(t, s, "NotAction")
			require.NotContains(t, s, "NotResource")
			st := statement{Effect: s["Effect"].(string)}
			for _, a := range asStrings(s["Action"]) {
				st.Actions = append(st.Actions, a.(string))
			}
			for _, r := range asStrings(s["Resource"]) {
				st.Resources = append(st.Resources, render(r))
			}
			out[role] = append(out[role], st)
		}
	}
	for _, p := range b.resources("AWS::IAM::Policy") {
		for _, role := range props(p)["Roles"].([]any) {
			add(role.(map[string]any)["Ref"].(string), props(p)["PolicyDocument"])
		}
	}
	for id, r := range b.resources("AWS::IAM::Role") {
		require.NotContains(t, props(r), "ManagedPolicyArns", "role %s uses a managed policy", id)
		for _, p := range asStrings(props(r)["Policies"]) {
			if p != nil {
				add(id, p.(map[string]any)["PolicyDocument"])
			}
		}
	}
	return out
}

func checkIAM(t *testing.T, b *testBundle) {
	all := policies(t, b)
	for role, sts := range all {
		for _, s := range sts {
			require.NotContains(t, s.Resources, "*", "role %s: %v", role, s)
			for _, a := range s.Actions {
				require.NotContains(t, a, "*", "role %s: %v", role, s)
			}
		}
	}
	roleOf := func(f outhookcdk.Function) string {
		return *b.stack.GetLogicalId(b.hooks.Function(f).Role().Node().DefaultChild().(awscdk.CfnElement))
	}
	actions := func(f outhookcdk.Function, service string) []string {
		var out []string
		for _, s := range all[roleOf(f)] {
			for _, a := range s.Actions {
				if strings.HasPrefix(a, service+":") && !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
		sort.Strings(out)
		return out
	}
	resources := func(f outhookcdk.Function, action string) []string {
		var out []string
		for _, s := range all[roleOf(f)] {
			if slices.Contains(s.Actions, action) {
				out = append(out, s.Resources...)
			}
		}
		return out
	}

	userPrefix := `:secret:outhook/Outhook/users/*"`
	for _, f := range []outhookcdk.Function{outhookcdk.FunctionQuery, outhookcdk.FunctionSecrets} {
		require.Empty(t, actions(f, "sqs"), f)
	}
	require.Empty(t, actions(outhookcdk.FunctionSend, "secretsmanager"))
	// Query reads the cursor key, and nothing else of Secrets Manager.
	require.Equal(t, []string{"secretsmanager:GetSecretValue"}, actions(outhookcdk.FunctionQuery, "secretsmanager"))
	require.Equal(t, []string{render(map[string]any{"Ref": b.cursorKeyID(t)})},
		resources(outhookcdk.FunctionQuery, "secretsmanager:GetSecretValue"))
	for _, f := range []outhookcdk.Function{outhookcdk.FunctionSend, outhookcdk.FunctionSecrets, outhookcdk.FunctionDeliver} {
		require.NotContains(t, strings.Join(resources(f, "secretsmanager:GetSecretValue"), " "), b.cursorKeyID(t), f)
	}
	require.Empty(t, actions(outhookcdk.FunctionSecrets, "dynamodb"))
	require.Equal(t, []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
		"dynamodb:UpdateItem"}, actions(outhookcdk.FunctionSend, "dynamodb"))
	require.Equal(t, []string{"dynamodb:GetItem", "dynamodb:Query"}, actions(outhookcdk.FunctionQuery, "dynamodb"))
	require.Equal(t, []string{"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
		"dynamodb:Query", "dynamodb:UpdateItem"}, actions(outhookcdk.FunctionDeliver, "dynamodb"))
	// Query lists events, and send finds a user's events (delete, recover): only they read the indexes.
	for _, f := range outhookcdk.Functions {
		queried := strings.Join(resources(f, "dynamodb:Query"), " ")
		if f != outhookcdk.FunctionQuery && f != outhookcdk.FunctionSend {
			require.NotContains(t, queried, "/index/", f)
			continue
		}
		for _, g := range dynamostore.TableDefinition("").GlobalSecondaryIndexes {
			require.Contains(t, queried, "/index/"+*g.IndexName)
		}
	}
	require.Equal(t, []string{"sqs:SendMessage"}, actions(outhookcdk.FunctionSend, "sqs"))
	require.Equal(t, []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
		"sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"}, actions(outhookcdk.FunctionDeliver, "sqs"))
	// deliver receives from both queues, and sends to the delivery queue only.
	queueArn := render(map[string]any{"Fn::GetAtt": []any{b.queueID(), "Arn"}})
	dlqArn := render(map[string]any{"Fn::GetAtt": []any{b.dlqID(), "Arn"}})
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage"} {
		require.ElementsMatch(t, []string{queueArn, dlqArn}, resources(outhookcdk.FunctionDeliver, a), a)
	}
	require.Equal(t, []string{queueArn}, resources(outhookcdk.FunctionDeliver, "sqs:SendMessage"))
	require.Equal(t, []string{"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue",
		"secretsmanager:PutSecretValue"}, actions(outhookcdk.FunctionSecrets, "secretsmanager"))
	require.Equal(t, []string{"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue"},
		actions(outhookcdk.FunctionDeliver, "secretsmanager"))
	for _, r := range resources(outhookcdk.FunctionDeliver, "secretsmanager:CreateSecret") {
		require.Contains(t, r, userPrefix, "deliver may create user secrets only")
	}

	for _, r := range resources(outhookcdk.FunctionSecrets, "secretsmanager:PutSecretValue") {
		require.Contains(t, r, userPrefix)
	}
	deliverSecrets := resources(outhookcdk.FunctionDeliver, "secretsmanager:GetSecretValue")
	require.Len(t, deliverSecrets, 2)
	require.Contains(t, strings.Join(deliverSecrets, " "), userPrefix)
	require.Contains(t, strings.Join(deliverSecrets, " "), `:secret:outhook/Outhook/named/CRM_WEBHOOK_SIGNING_SECRET-??????"`)

	// Each function writes only to its own log group.
	for _, f := range outhookcdk.Functions {
		logs := resources(f, "logs:PutLogEvents")
		require.Len(t, logs, 1, f)
		logGroup := *b.stack.GetLogicalId(b.hooks.Function(f).LogGroup().Node().DefaultChild().(awscdk.CfnElement))
		require.Contains(t, logs[0], logGroup, f)
	}

	// The caller granted by GrantInvokeAPI may invoke the API's routes and nothing else.
	var callerRole string
	for id := range b.resources("AWS::IAM::Role") {
		if strings.HasPrefix(id, "Caller") {
			callerRole = id
		}
	}
	require.Len(t, all[callerRole], 1)
	require.Equal(t, []string{"execute-api:Invoke"}, all[callerRole][0].Actions)
	require.Len(t, all[callerRole][0].Resources, 2)
	require.Contains(t, all[callerRole][0].Resources[0], "/*/v1/webhooks/*")
	require.Contains(t, all[callerRole][0].Resources[1], "/GET/v1/webhooks")
}

// SendFunctionURL adds a function URL with IAM auth to the send function, its output, and the grant of
// invoking it (through the URL only) to GrantInvokeAPI's grantee; cdk-nag stays clean.
func TestNew_SendFunctionURL(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	stack := awscdk.NewStack(app, jsii.String("Outhook"), nil)
	hooks, err := outhookcdk.New(stack, jsii.String("Webhooks"), &outhookcdk.Props{Config: testConfig(), BuildDir: buildDir(t),
		SendFunctionURL: true})
	require.NoError(t, err)
	caller := awsiam.NewRole(stack, jsii.String("Caller"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
	hooks.GrantInvokeAPI(caller)
	template := assertions.Template_FromStack(stack, nil)
	send := *stack.GetLogicalId(hooks.Function(outhookcdk.FunctionSend).Node().DefaultChild().(awscdk.CfnElement))
	sendArn := map[string]any{"Fn::GetAtt": []any{send, "Arn"}}

	match(t, func() { template.ResourceCountIs(jsii.String("AWS::Lambda::Url"), jsii.Number(1)) })
	match(t, func() {
		template.HasResourceProperties(jsii.String("AWS::Lambda::Url"), &map[string]any{"AuthType": "AWS_IAM", "TargetFunctionArn": sendArn})
	})
	// No resource policy opens the function or its URL (only API Gateway's integrations invoke it): a caller
	// needs an identity policy.
	for _, p := range []map[string]any{{"FunctionUrlAuthType": assertions.Match_AnyValue()}, {"Principal": "*"},
		{"Action": "lambda:InvokeFunctionUrl"}} {
		match(t, func() { template.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Permission"), p, jsii.Number(0)) })
	}
	var routes int // one API Gateway permission per route on API Gateway
	for _, r := range route.All() {
		if r.Function != "" {
			routes++
		}
	}
	match(t, func() {
		template.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Permission"),
			map[string]any{"Principal": "apigateway.amazonaws.com"}, jsii.Number(routes))
	})
	require.NotNil(t, hooks.SendURL())

	var tmpl struct {
		Outputs   map[string]struct{ Value any }
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	data, err := json.Marshal(template.ToJSON())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &tmpl))
	var urlID string
	for id, r := range tmpl.Resources {
		if r.Type == "AWS::Lambda::Url" {
			urlID = id
		}
	}
	require.Contains(t, tmpl.Outputs, "WebhooksSendFunctionUrl")
	require.Equal(t, map[string]any{"Fn::GetAtt": []any{urlID, "FunctionUrl"}}, tmpl.Outputs["WebhooksSendFunctionUrl"].Value)

	// The caller may invoke the send function through its URL with IAM auth, and through nothing else.
	match(t, func() {
		template.HasResourceProperties(jsii.String("AWS::IAM::Policy"), &map[string]any{
			"Roles": []any{map[string]any{"Ref": *stack.GetLogicalId(caller.Node().DefaultChild().(awscdk.CfnElement))}},
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": assertions.Match_AnyValue()},
				map[string]any{"Action": "lambda:InvokeFunctionUrl", "Effect": "Allow", "Resource": sendArn,
					"Condition": map[string]any{"StringEquals": map[string]any{"lambda:FunctionUrlAuthType": "AWS_IAM"}}},
				map[string]any{"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": sendArn,
					"Condition": map[string]any{"Bool": map[string]any{"lambda:InvokedViaFunctionUrl": true}}},
			})},
		})
	})
	var lambdaActions []string
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		for _, st := range asStrings(r.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
			for _, a := range asStrings(st.(map[string]any)["Action"]) {
				if strings.HasPrefix(a.(string), "lambda:") {
					lambdaActions = append(lambdaActions, a.(string))
					require.Contains(t, st.(map[string]any), "Condition", "%s only through the URL", a)
				}
			}
		}
	}
	sort.Strings(lambdaActions)
	require.Equal(t, []string{"lambda:InvokeFunction", "lambda:InvokeFunctionUrl"}, lambdaActions, "the caller's grant, and no function's")

	annotations := assertions.Annotations_FromStack(stack)
	finding := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	match(t, func() { annotations.HasNoError(jsii.String("*"), finding) })
	match(t, func() { annotations.HasNoWarning(jsii.String("*"), finding) })
}

func TestNew_Errors(t *testing.T) {
	dir := buildDir(t)
	missing := t.TempDir()
	tooSlow := testConfig()
	tooSlow.Sets[0].Endpoints[0].TimeoutSeconds = 900 // Lambda's limit: no room left for deliver's own work
	private := testConfig()
	private.Sets[1].Endpoints[0].URL = "http://10.0.3.4:8080/hooks"
	tests := []struct {
		name  string
		props *outhookcdk.Props
		want  string
	}{
		{"nil props", nil, "props: missing"},
		{"no config", &outhookcdk.Props{BuildDir: dir}, "Config is required"},
		{"no build dir", &outhookcdk.Props{Config: testConfig()}, "BuildDir is required"},
		{"invalid config", &outhookcdk.Props{Config: &config.Config{Sets: []config.Set{{Name: "s",
			Endpoints: []config.Endpoint{{Name: "e", URL: "ftp://x"}}}}}, BuildDir: dir}, "sets[0].endpoints[0].url"},
		{"missing bootstrap", &outhookcdk.Props{Config: testConfig(), BuildDir: missing}, "run `make lambdas` first"},
		{"concurrency", &outhookcdk.Props{Config: testConfig(), BuildDir: dir, DeliverMaxConcurrency: 1},
			"DeliverMaxConcurrency 1 is outside 2..1000"},
		{"batch window", &outhookcdk.Props{Config: testConfig(), BuildDir: dir, DeliverBatchWindow: 1500 * time.Millisecond},
			"DeliverBatchWindow 1.5s is not whole seconds"},
		{"endpoint timeout", &outhookcdk.Props{Config: tooSlow, BuildDir: dir},
			"sets[0].endpoints[0].timeoutSeconds: must be between 1 and 600"},
		{"private URL", &outhookcdk.Props{Config: private, BuildDir: dir},
			"sets[1].endpoints[0].url: every delivery would be refused (egress: refusing to connect to private address 10.0.3.4:8080: Private-Use (RFC 1918))"},
		{"failure ratio", &outhookcdk.Props{Config: testConfig(), BuildDir: dir, FailureRatioAlarmPercent: 101},
			"FailureRatioAlarmPercent 101 is outside (0, 100]"},
		{"name prefix", &outhookcdk.Props{Config: testConfig(), BuildDir: dir, NamePrefix: "a/b"}, `NamePrefix "a/b"`},
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	for i, tt := range tests {
		stack := awscdk.NewStack(app, jsii.String(fmt.Sprintf("Stack%d", i)), nil)
		_, err := outhookcdk.New(stack, jsii.String("Webhooks"), tt.props)
		require.ErrorContains(t, err, tt.want, tt.name)
	}
}

// TestNew_LongestEndpointTimeout: the longest endpoint timeout the config accepts synthesizes (config and
// construct share one limit), and the deliver function gets it plus its margin, within Lambda's 900 s.
func TestNew_LongestEndpointTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.Sets[0].Endpoints[0].TimeoutSeconds = config.MaxTimeoutSeconds
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Outhook"), nil)
	hooks, err := outhookcdk.New(stack, jsii.String("Webhooks"), &outhookcdk.Props{Config: cfg, BuildDir: buildDir(t)})
	require.NoError(t, err)
	fn := hooks.Function(outhookcdk.FunctionDeliver).Node().DefaultChild().(awslambda.CfnFunction)
	require.EqualValues(t, config.MaxTimeoutSeconds+15, *fn.Timeout())
	require.LessOrEqual(t, *fn.Timeout(), float64(900))
}

// checkTableDefinition compares the deployed table with dynamostore.TableDefinition, field by field.
func checkTableDefinition(t *testing.T, p map[string]any) {
	t.Helper()
	def := dynamostore.TableDefinition("")
	keySchema := func(ks []types.KeySchemaElement) []any {
		var out []any
		for _, k := range ks {
			out = append(out, map[string]any{"AttributeName": *k.AttributeName, "KeyType": string(k.KeyType)})
		}
		return out
	}
	var attrs []any
	for _, a := range def.AttributeDefinitions {
		attrs = append(attrs, map[string]any{"AttributeName": *a.AttributeName, "AttributeType": string(a.AttributeType)})
	}
	require.ElementsMatch(t, attrs, p["AttributeDefinitions"])
	require.Equal(t, keySchema(def.KeySchema), p["KeySchema"])
	var gsis []any
	for _, g := range def.GlobalSecondaryIndexes {
		gsis = append(gsis, map[string]any{
			"IndexName":  *g.IndexName,
			"KeySchema":  keySchema(g.KeySchema),
			"Projection": map[string]any{"ProjectionType": string(g.Projection.ProjectionType)},
		})
	}
	if len(gsis) == 0 {
		require.NotContains(t, p, "GlobalSecondaryIndexes")
	} else {
		require.Equal(t, gsis, p["GlobalSecondaryIndexes"])
	}
	require.Equal(t, map[string]any{"AttributeName": dynamostore.TTLAttribute, "Enabled": true}, p["TimeToLiveSpecification"])
}

// NoDashboard leaves out the dashboard and nothing else: the failure-ratio alarm (which the dashboard shows)
// and the other alarms stay. The default's dashboard is checked by TestNew.
func TestNew_NoDashboard(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Outhook"), nil)
	hooks, err := outhookcdk.New(stack, jsii.String("Webhooks"), &outhookcdk.Props{Config: testConfig(), BuildDir: buildDir(t), NoDashboard: true})
	require.NoError(t, err)
	template := assertions.Template_FromStack(stack, nil)
	match(t, func() { template.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(0)) })
	match(t, func() { template.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(5)) })
	match(t, func() {
		template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), &map[string]any{
			"AlarmDescription": assertions.Match_StringLikeRegexp(jsii.String("more than 10% of the deliveries that ended failed")),
		})
	})
	require.Nil(t, hooks.Dashboard())
	require.Len(t, hooks.Alarms(), 5)
}

// A set whose users may register endpoints on private networks is deployable, with a loud warning.
func TestNew_WarnsAboutPrivateUserEndpoints(t *testing.T) {
	cfg := testConfig()
	cfg.Sets[0].UserEndpoints = &config.UserEndpoints{Enabled: true}
	cfg.Sets = append(cfg.Sets, config.Set{Name: "dev-portal",
		UserEndpoints: &config.UserEndpoints{Enabled: true, AllowPrivateNetwork: true}})
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Outhook"), nil)
	_, err := outhookcdk.New(stack, jsii.String("Webhooks"), &outhookcdk.Props{Config: cfg, BuildDir: buildDir(t)})
	require.NoError(t, err)
	annotations := assertions.Annotations_FromStack(stack)
	match(t, func() {
		annotations.HasWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("DANGER: set dev-portal has userEndpoints.allowPrivateNetwork.*")))
	})
	match(t, func() {
		annotations.HasNoWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*set "+cfg.Sets[0].Name+" has.*")))
	})
}
