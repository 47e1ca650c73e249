package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/verify"
)

const (
	region = "us-east-1"
	// stack is the test's own stack name, so that its secrets and outputs cannot be mistaken for a real one's.
	stack = "OuthookDeployTest"
	// makeTimeout bounds one make command (a synth plus a deploy on a loaded machine).
	makeTimeout = 8 * time.Minute
	// waitTimeout bounds every wait for a delivery or a status: the functions start as processes on first use.
	waitTimeout = 90 * time.Second
)

// crmScheme is the signing block of the crm endpoint (testConfig), as in webhooks.example.yaml.
var crmScheme = signing.Block{
	Header: "x-outhook-signature", TimestampHeader: "x-outhook-timestamp",
	SignedPayload: signing.PayloadTimestampRawBody, Encoding: signing.EncodingHex,
}

// crmSecretName is the named secret of the crm endpoint.
const crmSecretName = "CRM_WEBHOOK_SIGNING_SECRET"

// testConfig has a set signed with a named secret, like the example's billing-events, and a customer-facing
// set whose endpoint retries after one second.
const testConfig = `sets:
  - name: billing-events
    endpoints:
      - name: crm
        url: %[1]s/crm
        allowPrivateNetwork: true
        signing:
          header: x-outhook-signature
          timestampHeader: x-outhook-timestamp
          signedPayload: timestamp.rawBody
          algorithm: hmac-sha256
          encoding: hex
          secret: CRM_WEBHOOK_SIGNING_SECRET
  - name: customer-events
    endpoints:
      - name: customer
        url: %[1]s/customer
        allowPrivateNetwork: true
        retry:
          attempts: 3
          backoff: fixed
          initialDelaySeconds: 1
          maxDelaySeconds: 1
`

// TestDeploy deploys the stack into the emulator with the Makefile's targets, as README.md's first-deploy
// section does, uses it through the deployed API with the CLI, checks every AWS call of the functions
// against their roles, and destroys it.
func TestDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("the deploy test is skipped under -short")
	}
	if !canAttribute {
		t.Skip("the deploy test attributes AWS calls to functions through /proc, which needs Linux")
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Fatalf("Lambda has no architecture for GOARCH %s", runtime.GOARCH)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	started := time.Now()

	emu := startEmulator(t, root)
	rcv := newReceiver()
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)

	work := t.TempDir()
	configPath := filepath.Join(work, "webhooks.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(fmt.Sprintf(testConfig, srv.URL)), 0o644))
	cdkOut := filepath.Join(work, "cdk.out")

	// The Makefile's targets, with the variables README.md documents. The emulator runs the bootstraps on
	// this machine, so they are built for its architecture (LAMBDA_ARCH) into a directory of the test's own.
	awsEnv := append(cleanEnv(),
		"AWS_ENDPOINT_URL="+emu.url,
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE="+filepath.Join(work, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"CDK_DISABLE_VERSION_CHECK=1", "CDK_DISABLE_CLI_TELEMETRY=true", "CI=true",
	)
	makeVars := []string{
		"CONFIG=" + configPath, "STACK=" + stack, "LAMBDA_ARCH=" + arch,
		"BUILD_DIR=" + filepath.Join(work, "build"), "CDK_OUT=" + cdkOut,
		// --yes answers the IAM approval of deploy and the confirmation of destroy; the send function URL is
		// on, so that both fronts of send are deployed and used.
		"CDK_ARGS=-c removalPolicy=destroy -c sendFunctionUrl=true --yes --no-notices",
	}
	runMake(t, root, awsEnv, append([]string{"cdk-bootstrap"}, makeVars...)...)
	runMake(t, root, awsEnv, append([]string{"deploy"}, makeVars...)...)
	deployedAt := time.Since(started)

	// Everything below comes from the stack outputs, as a user reads them.
	var outputs map[string]map[string]string
	data, err := os.ReadFile(filepath.Join(cdkOut, "outputs.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &outputs))
	out := outputs[stack]
	require.NotEmpty(t, out, "outputs.json has no %s: %s", stack, data)
	for _, k := range []string{"WebhooksApiUrl", "WebhooksTableName", "WebhooksQueueName", "WebhooksQueueUrl",
		"WebhooksDeadLetterQueueUrl", "WebhooksNamedSecretPrefix", "WebhooksSendFunctionUrl"} {
		require.NotEmpty(t, out[k], "output %s", k)
	}
	apiURL := emulatorAPIURL(t, emu.url, out["WebhooksApiUrl"])
	sendURL := emulatorFunctionURL(t, emu.url, out["WebhooksSendFunctionUrl"])

	cfg := emulatorConfig(t, emu.url)
	ctx := context.Background()

	// The named signing secret of the crm endpoint, created under the output's prefix (README: aws
	// secretsmanager create-secret).
	crmSecret := "whsec_" + randomBase64(t, 32)
	_, err = secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(out["WebhooksNamedSecretPrefix"] + crmSecretName),
		SecretString: aws.String(crmSecret),
	})
	require.NoError(t, err)

	cli := buildCLI(t, root, work)
	cliEnv := append(cleanEnv(),
		"OUTHOOK_URL="+apiURL, "AWS_REGION="+region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE="+filepath.Join(work, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	)
	outhook := func(v any, args ...string) {
		t.Helper()
		runCLI(t, cli, cliEnv, v, append(args, "--aws", "--json")...)
	}

	t.Run("unsigned requests are refused", func(t *testing.T) {
		resp, err := http.Post(apiURL+"/v1/webhooks/billing-events/events", "application/json",
			strings.NewReader(`{"type":"invoice.paid","payload":{}}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "the HTTP API requires SigV4 (IAM authorization)")
		resp, err = http.Post(sendURL+"/v1/webhooks/billing-events/events", "application/json",
			strings.NewReader(`{"type":"invoice.paid","payload":{}}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "the send function URL requires SigV4 (auth type AWS_IAM)")
	})

	// send -> a signed delivery, verified with the named secret -> events get shows the attempt.
	var sent client.SendResult
	outhook(&sent, "send", "billing-events", "invoice.paid", "--data", `{"invoiceId":"inv_1","amount":4200}`)
	require.Len(t, sent.Deliveries, 1)
	require.Equal(t, "crm", sent.Deliveries[0].Endpoint)
	require.Equal(t, "queued", sent.Deliveries[0].Status)
	got := rcv.wait(t, "/crm", 1)[0]
	require.Equal(t, sent.EventID, got.header.Get("webhook-id"))
	require.NoError(t, verify.Payload(got.header, got.body, verify.Options{Secrets: []string{crmSecret}, Scheme: &crmScheme}))
	require.Error(t, verify.Payload(got.header, got.body, verify.Options{Secrets: []string{"whsec_" + randomBase64(t, 32)}, Scheme: &crmScheme}),
		"a delivery verifies with the named secret only")
	ev := waitEvent(t, outhook, "billing-events", sent.EventID, func(e client.Event) bool { return e.Status == "delivered" })
	require.Len(t, ev.Deliveries, 1)
	require.Equal(t, "delivered", ev.Deliveries[0].Status)
	require.Len(t, ev.Deliveries[0].Attempts, 1)
	require.Equal(t, http.StatusOK, ev.Deliveries[0].Attempts[0].ResponseStatus)
	require.JSONEq(t, `{"invoiceId":"inv_1","amount":4200}`, string(ev.Payload))

	// The same send through the send function URL (the CLI signs it for the service lambda) is delivered alike.
	var viaURL client.SendResult
	outhook(&viaURL, "send", "billing-events", "invoice.paid", "--data", `{"invoiceId":"inv_2"}`, "--send-url", sendURL)
	require.Len(t, viaURL.Deliveries, 1)
	require.Equal(t, "queued", viaURL.Deliveries[0].Status)
	got = rcv.wait(t, "/crm", 2)[1]
	require.Equal(t, viaURL.EventID, got.header.Get("webhook-id"))
	require.NoError(t, verify.Payload(got.header, got.body, verify.Options{Secrets: []string{crmSecret}, Scheme: &crmScheme}))
	ev = waitEvent(t, outhook, "billing-events", viaURL.EventID, func(e client.Event) bool { return e.Status == "delivered" })
	require.JSONEq(t, `{"invoiceId":"inv_2"}`, string(ev.Payload))

	// Per-user secrets: get creates one, rotate replaces it and keeps the previous one valid.
	var first, rotated, again client.UserSecret
	outhook(&first, "secrets", "get", "customer-events", "user_1")
	require.True(t, strings.HasPrefix(first.Current.Value, "whcms_"), "a managed secret")
	require.Nil(t, first.Previous)
	outhook(&rotated, "secrets", "rotate", "customer-events", "user_1")
	require.NotEqual(t, first.Current.Value, rotated.Current.Value)
	require.NotNil(t, rotated.Previous)
	require.Equal(t, first.Current.Value, rotated.Previous.Value)
	outhook(&again, "secrets", "get", "customer-events", "user_1")
	require.Equal(t, rotated.Current.Value, again.Current.Value)

	// A delivery that the receiver refuses once is retried (by the deliver function re-enqueueing it with a
	// delay) and then delivered, signed with the user's current and previous secrets.
	rcv.failFirst("/customer", 1)
	var userSent client.SendResult
	outhook(&userSent, "send", "customer-events", "account.updated", "--user", "user_1", "--data", `{"plan":"pro"}`)
	deliveries := rcv.wait(t, "/customer", 2)
	for _, d := range deliveries {
		require.Equal(t, userSent.EventID, d.header.Get("webhook-id"))
	}
	last := deliveries[1]
	for _, secret := range []string{rotated.Current.Value, first.Current.Value} {
		require.NoError(t, verify.Payload(last.header, last.body, verify.Options{Secrets: []string{secret}}),
			"during the rotation window a delivery verifies with either secret")
	}
	ev = waitEvent(t, outhook, "customer-events", userSent.EventID, func(e client.Event) bool { return e.Status == "delivered" })
	require.Equal(t, "user_1", ev.UserID)
	attempts := ev.Deliveries[0].Attempts
	require.Len(t, attempts, 2)
	sort.Slice(attempts, func(i, j int) bool { return attempts[i].Number < attempts[j].Number })
	require.Equal(t, http.StatusInternalServerError, attempts[0].ResponseStatus)
	require.Equal(t, http.StatusOK, attempts[1].ResponseStatus)

	var list client.EventList
	outhook(&list, "events", "list", "customer-events")
	require.NotEmpty(t, list.Events)
	require.Equal(t, userSent.EventID, list.Events[0].ID)

	t.Run("every AWS call of every function is allowed by its role", func(t *testing.T) {
		checkIAM(t, cfg, filepath.Join(cdkOut, stack+".template.json"), emu.recorder.Calls())
	})

	runMake(t, root, awsEnv, append([]string{"destroy"}, makeVars...)...)
	stacks, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err == nil {
		for _, s := range stacks.Stacks {
			require.Equal(t, "DELETE_COMPLETE", string(s.StackStatus), "make destroy deleted the stack")
		}
	}
	t.Logf("deployed in %s; whole test %s", deployedAt.Round(time.Second), time.Since(started).Round(time.Second))
}

// emulatorAPIURL turns the ApiUrl output (https://<api id>.execute-api.<region>.amazonaws.com/) into the URL
// at which the emulator serves that API's $default stage.
func emulatorAPIURL(t *testing.T, endpoint, apiURL string) string {
	t.Helper()
	u, err := url.Parse(apiURL)
	require.NoError(t, err)
	id, rest, ok := strings.Cut(u.Host, ".")
	require.True(t, ok && strings.HasPrefix(rest, "execute-api."), "ApiUrl %s is not an API Gateway URL", apiURL)
	return endpoint + "/_aws/execute-api/" + id + "/$default"
}

// emulatorFunctionURL turns the SendFunctionUrl output (https://<url id>.lambda-url.<region>.on.aws/) into the
// URL at which the emulator serves that function URL.
func emulatorFunctionURL(t *testing.T, endpoint, fnURL string) string {
	t.Helper()
	u, err := url.Parse(fnURL)
	require.NoError(t, err)
	id, rest, ok := strings.Cut(u.Host, ".")
	require.True(t, ok && strings.HasPrefix(rest, "lambda-url."), "SendFunctionUrl %s is not a function URL", fnURL)
	return endpoint + "/_aws/lambda-url/" + id
}

func emulatorConfig(t *testing.T, endpoint string) aws.Config {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion(region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		awsconfig.WithBaseEndpoint(endpoint),
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithSharedCredentialsFiles([]string{}),
	)
	require.NoError(t, err)
	return cfg
}

// runMake runs one make target of the repository, failing the test with its output if it fails.
func runMake(t *testing.T, root string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), makeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"-C", root, "--no-print-directory"}, args...)...)
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v after %s\n%s", args[0], err, time.Since(start).Round(time.Second), out)
	}
	t.Logf("make %s: %s", args[0], time.Since(start).Round(time.Second))
}

func buildCLI(t *testing.T, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "outhook")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/outhook")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build the CLI: %s", out)
	return bin
}

// runCLI runs the outhook CLI and decodes its JSON answer into v.
func runCLI(t *testing.T, bin string, env []string, v any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "outhook %s: %s", strings.Join(args, " "), stderr.String())
	require.NoError(t, json.Unmarshal(out, v), "outhook %s printed %s", strings.Join(args, " "), out)
}

// waitEvent polls `outhook events get` until done holds.
func waitEvent(t *testing.T, outhook func(any, ...string), set, id string, done func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var ev client.Event
		outhook(&ev, "events", "get", set, id)
		if done(ev) {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s did not reach the expected state within %s: %+v", id, waitTimeout, ev)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func randomBase64(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// receiver records the deliveries per path; failFirst makes it answer 500 to the next n on a path.
type receiver struct {
	mu    sync.Mutex
	got   map[string][]delivery
	fails map[string]int
	ch    chan struct{}
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver() *receiver {
	return &receiver{got: map[string][]delivery{}, fails: map[string]int{}, ch: make(chan struct{}, 100)}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.got[req.URL.Path] = append(r.got[req.URL.Path], delivery{req.Header.Clone(), body})
	fail := r.fails[req.URL.Path] > 0
	if fail {
		r.fails[req.URL.Path]--
	}
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
	if fail {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) failFirst(path string, n int) {
	r.mu.Lock()
	r.fails[path] = n
	r.mu.Unlock()
}

// wait returns the first n deliveries to path, waiting for them.
func (r *receiver) wait(t *testing.T, path string, n int) []delivery {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		got := append([]delivery(nil), r.got[path]...)
		r.mu.Unlock()
		if len(got) >= n {
			return got[:n]
		}
		select {
		case <-r.ch:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d of %d deliveries to %s within %s", len(got), n, path, waitTimeout)
		}
	}
}
