package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"
)

// The tests do not call t.Parallel: jsii's runtime is not safe for concurrent use.

// TestRun synthesizes the app with the example config, the context `make synth` passes (here with the
// x86_64 architecture, the destroy removal policy and no dashboard; some values typed as cdk.json gives them),
// and checks that cdk-nag, applied to the whole app,
// left no error in the assembly.
func TestRun(t *testing.T) {
	build := t.TempDir()
	for _, f := range []string{"send", "query", "secrets", "deliver"} {
		require.NoError(t, os.MkdirAll(filepath.Join(build, f), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(build, f, "bootstrap"), []byte(f), 0o755))
	}
	outdir := t.TempDir()
	require.NoError(t, run(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &map[string]any{
		"config": "../webhooks.example.yaml", "buildDir": build, "stackName": "OuthookTest", "removalPolicy": "destroy",
		// As cdk.json gives them: JSON numbers and booleans read as their text.
		"architecture": "x86_64", "deliverMemoryMiB": 512.0, "deliverBatchWindowSeconds": "2",
		"dashboard": false, "sendFunctionUrl": true,
	}}))

	data, err := os.ReadFile(filepath.Join(outdir, "OuthookTest.template.json"))
	require.NoError(t, err)
	var tmpl struct {
		Resources map[string]struct {
			Type           string
			DeletionPolicy string
			Properties     struct {
				Architectures                  []string
				MemorySize                     int
				MaximumBatchingWindowInSeconds int
				AuthType                       string
			}
		}
		Outputs map[string]any
	}
	require.NoError(t, json.Unmarshal(data, &tmpl))
	tables, functions, dashboards, alarms, memories, windows := 0, 0, 0, 0, map[int]int{}, []int{}
	var urls []string
	for _, r := range tmpl.Resources {
		switch r.Type {
		case "AWS::Lambda::Url":
			urls = append(urls, r.Properties.AuthType)
		case "AWS::DynamoDB::Table":
			tables++
			require.Equal(t, "Delete", r.DeletionPolicy, "removalPolicy=destroy from the context")
		case "AWS::Lambda::Function":
			functions++
			require.Equal(t, []string{"x86_64"}, r.Properties.Architectures, "architecture from the context")
			memories[r.Properties.MemorySize]++
		case "AWS::CloudWatch::Dashboard":
			dashboards++
		case "AWS::CloudWatch::Alarm":
			alarms++
		case "AWS::Lambda::EventSourceMapping":
			windows = append(windows, r.Properties.MaximumBatchingWindowInSeconds)
		}
	}
	require.Equal(t, 1, tables)
	require.Equal(t, 4, functions)
	require.Zero(t, dashboards, "dashboard=false from the context")
	require.Equal(t, 5, alarms, "every alarm, the failure ratio's included, without the dashboard")
	require.Equal(t, map[int]int{256: 3, 512: 1}, memories, "deliverMemoryMiB from the context, the API's default")
	require.Equal(t, []string{"AWS_IAM"}, urls, "sendFunctionUrl=true from the context: one function URL, IAM auth")
	require.Contains(t, tmpl.Outputs, "WebhooksSendFunctionUrl")
	sort.Ints(windows)
	require.Equal(t, []int{0, 2}, windows, "deliverBatchWindowSeconds from the context (the dead-letter queue's source has none)")

	// cdk-nag reports each unsuppressed finding as an error annotation, which the assembly keeps in the
	// stack's metadata: in manifest.json or in the file it names.
	data, err = os.ReadFile(filepath.Join(outdir, "manifest.json"))
	require.NoError(t, err)
	type metadata map[string][]struct {
		Type string
		Data any
	}
	var manifest struct {
		Artifacts map[string]struct {
			Metadata               metadata
			AdditionalMetadataFile string
		}
	}
	require.NoError(t, json.Unmarshal(data, &manifest))
	stack, ok := manifest.Artifacts["OuthookTest"]
	require.True(t, ok)
	require.NotEmpty(t, stack.AdditionalMetadataFile)
	data, err = os.ReadFile(filepath.Join(outdir, stack.AdditionalMetadataFile))
	require.NoError(t, err)
	var more metadata
	require.NoError(t, json.Unmarshal(data, &more))
	entries := 0
	for _, md := range []metadata{stack.Metadata, more} {
		for path, list := range md {
			for _, e := range list {
				entries++
				require.NotEqual(t, "aws:cdk:error", e.Type, "%s: %v", path, e.Data)
			}
		}
	}
	require.NotZero(t, entries, "no metadata found: the check would pass vacuously")
}

func TestRun_BadContext(t *testing.T) {
	for ctx, want := range map[string]string{
		`{"config":"testdata/missing.yaml"}`:                                      "testdata/missing.yaml",
		`{"config":"../webhooks.example.yaml","removalPolicy":"snapshot"}`:        `removalPolicy "snapshot"`,
		`{"config":"../webhooks.example.yaml","apiMemoryMiB":"lots"}`:             `apiMemoryMiB "lots"`,
		`{"config":"../webhooks.example.yaml","deliverBatchWindowSeconds":"900"}`: "DeliverBatchWindow 15m0s",
		`{"config":"../webhooks.example.yaml","dashboard":"no"}`:                  `context dashboard "no": want true or false`,
		`{"config":"../webhooks.example.yaml","sendFunctionUrl":"yes"}`:           `context sendFunctionUrl "yes": want true or false`,
		`{"config":"../webhooks.example.yaml","deliverMemoryMiB":512.5}`:          `context deliverMemoryMiB "512.5": want a number of MiB`,
		`{"config":"../webhooks.example.yaml","dashboard":["no"]}`:                `context dashboard: [no] is a []interface {}: want a string, a number or a boolean`,
	} {
		var context map[string]any
		require.NoError(t, json.Unmarshal([]byte(ctx), &context))
		err := run(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &context})
		require.ErrorContains(t, err, want)
	}
}
