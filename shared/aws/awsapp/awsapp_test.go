package awsapp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awsapp"
	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/dynamostore"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
	"github.com/outhook/outhook/shared/httpapi/route"
	"github.com/outhook/outhook/shared/webhook"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const testConfig = `{"sets": [{"name": "billing-events", "endpoints": [{"name": "crm", "url": "https://crm.example.com/hooks"}]}]}`

// testVars writes testConfig in a temporary task root and returns the functions' environment variables over a
// new table and queue, with the Secrets Manager name prefix of the test.
func testVars(t *testing.T, cfg aws.Config) (vars map[string]string, prefix string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhooks.json"), []byte(testConfig), 0o644))
	prefix = "outhook/" + awstest.UniqueName("awsapp-")
	return map[string]string{
		lambdaenv.TaskRoot:          dir,
		lambdaenv.ConfigFile:        "webhooks.json",
		lambdaenv.Table:             awstest.Table(t, cfg, dynamostore.TableDefinition),
		lambdaenv.QueueURL:          awstest.Queue(t, cfg, nil),
		lambdaenv.UserSecretPrefix:  prefix + "/users/",
		lambdaenv.NamedSecretPrefix: prefix + "/named/",
	}, prefix
}

// TestNew wires the service over a real table, queue and Secrets Manager: send stores the event and queues
// its delivery, get reads it back, and a user secret is created in Secrets Manager.
func TestNew(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	vars, _ := testVars(t, cfg)
	env, err := awsapp.LoadEnv(getenv(vars))
	require.NoError(t, err)
	app, err := awsapp.New(context.Background(), env, awsapp.RoleAPI, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.NoError(t, err)
	ctx := context.Background()

	res, err := app.Service.Send(ctx, "billing-events", webhook.SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`{"id":1}`)})
	require.NoError(t, err)
	ev, err := app.Service.GetEvent(ctx, "billing-events", res.EventID)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusPending, ev.Status)

	out, err := sqs.NewFromConfig(cfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &env.QueueURL, MaxNumberOfMessages: 10})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	require.Contains(t, aws.ToString(out.Messages[0].Body), res.EventID)

	// The query function's handler serves its routes of the table and answers the API's 404 to the others.
	query := app.APIHandler(route.Query)
	resp, err := query(ctx, apiEvent(http.MethodGet, "/v1/webhooks/billing-events/events/"+res.EventID))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	require.Contains(t, resp.Body, res.EventID)
	resp, err = query(ctx, apiEvent(http.MethodPost, "/v1/webhooks/billing-events/events"))
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, resp.Body)
	require.JSONEq(t, `{"error":{"code":"not_found","message":"no such route"}}`, resp.Body)

	sec, err := app.Service.UserSecret(ctx, "billing-events", "user_1")
	require.NoError(t, err)
	again, err := app.Service.UserSecret(ctx, "billing-events", "user_1")
	require.NoError(t, err)
	require.Equal(t, sec.Current.Value, again.Current.Value, "created once, then read from Secrets Manager")
}

// apiEvent is an API Gateway HTTP API event (payload format 2.0) of a request without a body.
func apiEvent(method, path string) events.APIGatewayV2HTTPRequest {
	var ev events.APIGatewayV2HTTPRequest
	ev.RawPath = path
	ev.RequestContext.HTTP.Method = method
	return ev
}

// TestAPIHandler_FunctionURL: through a function URL (routeKey $default) the send function serves single and
// batch send as through API Gateway, and answers the API's 404 to its other routes and to any other path; the
// query function serves nothing there.
func TestAPIHandler_FunctionURL(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	vars, _ := testVars(t, cfg)
	env, err := awsapp.LoadEnv(getenv(vars))
	require.NoError(t, err)
	app, err := awsapp.New(context.Background(), env, awsapp.RoleAPI, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.NoError(t, err)
	ctx := context.Background()
	send, query := app.APIHandler(route.Send), app.APIHandler(route.Query)

	ev := urlEvent(http.MethodPost, "/v1/webhooks/billing-events/events", `{"type":"invoice.paid","payload":{"id":1}}`)
	resp, err := send(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)
	var sent webhook.SendResult
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &sent))
	_, err = app.Service.GetEvent(ctx, "billing-events", sent.EventID)
	require.NoError(t, err, "the event sent through the URL is stored")

	resp, err = send(ctx, urlEvent(http.MethodPost, "/v1/webhooks/billing-events/events/batch",
		`{"events":[{"type":"invoice.paid","payload":{"id":2}},{"payload":{}}]}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)
	var batch struct {
		Results []struct {
			EventID string          `json:"eventId"`
			Error   json.RawMessage `json:"error"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &batch))
	require.Len(t, batch.Results, 2)
	require.NotEmpty(t, batch.Results[0].EventID)
	require.Contains(t, string(batch.Results[1].Error), "missing_type")

	for _, tc := range []struct {
		handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		method  string
		path    string
	}{
		{send, http.MethodPost, "/v1/webhooks/billing-events/endpoints/crm/pause"}, // a send route, not on the URL
		{send, http.MethodPost, "/v1/webhooks/billing-events/events/" + sent.EventID + "/retry"},
		{send, http.MethodGet, "/v1/webhooks/billing-events/events"}, // the query function's route
		{send, http.MethodPost, "/nowhere"},
		{query, http.MethodGet, "/v1/webhooks/billing-events/events/" + sent.EventID},
	} {
		resp, err := tc.handler(ctx, urlEvent(tc.method, tc.path, ""))
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s: %s", tc.method, tc.path, resp.Body)
		require.JSONEq(t, `{"error":{"code":"not_found","message":"no such route"}}`, resp.Body)
		require.Equal(t, "application/json", resp.Headers["Content-Type"])
	}

	// Through API Gateway the functions still serve the routes the URL does not.
	resp, err = query(ctx, apiEvent(http.MethodGet, "/v1/webhooks/billing-events/events/"+sent.EventID))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	ev = apiEvent(http.MethodPost, "/v1/webhooks/billing-events/events/"+sent.EventID+"/retry")
	ev.Body = `{}`
	resp, err = send(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, resp.StatusCode, resp.Body)
	require.Contains(t, resp.Body, `"nothing_to_resend"`, "the resend handler answered (the delivery is still queued)")
}

// urlEvent is a Lambda function URL event (payload format 2.0, routeKey $default) with a JSON body, if any.
func urlEvent(method, path, body string) events.APIGatewayV2HTTPRequest {
	ev := apiEvent(method, path)
	ev.RouteKey, ev.RequestContext.RouteKey, ev.RequestContext.Stage = "$default", "$default", "$default"
	ev.Headers = map[string]string{"host": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"}
	if body != "" {
		ev.Body = body
		ev.Headers["content-type"] = "application/json"
	}
	return ev
}

func TestNew_BadConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "webhooks.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"sets": [{"name": "s", "endpoints": [{"name": "e", "url": "ftp://x"}]}]}`), 0o644))
	_, err := awsapp.New(context.Background(), awsapp.Env{ConfigFile: path, CursorKey: []byte("k")}, awsapp.RoleAPI, aws.Config{}, slog.Default(), nil)
	require.ErrorContains(t, err, "OUTHOOK_CONFIG_FILE")
	require.ErrorContains(t, err, "sets[0].endpoints[0].url")
}

// TestNew_CursorKeyFromSecretsManager: with OUTHOOK_CURSOR_KEY_SECRET (what the CDK construct sets on the
// query function) the cursor key is the secret's value, read at start: a cursor made with it opens with the
// same key given directly, and not with the key derived from the table name.
func TestNew_CursorKeyFromSecretsManager(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	ctx := context.Background()
	vars, prefix := testVars(t, cfg)
	const keyValue = "a generated cursor key of sixty-four characters 0123456789abcdef"
	secret, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(prefix + "/cursor-key"), SecretString: aws.String(keyValue)})
	require.NoError(t, err)
	app := func(extra map[string]string) (*awsapp.App, error) {
		env, err := awsapp.LoadEnv(func(name string) string {
			if v, ok := extra[name]; ok {
				return v
			}
			return vars[name]
		})
		require.NoError(t, err)
		return awsapp.New(ctx, env, awsapp.RoleAPI, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	}

	fromSecret, err := app(map[string]string{lambdaenv.CursorKeySecret: aws.ToString(secret.ARN)})
	require.NoError(t, err)
	for range 2 {
		_, err := fromSecret.Service.Send(ctx, "billing-events", webhook.SendRequest{Type: "t", Payload: json.RawMessage(`1`)})
		require.NoError(t, err)
	}
	page, err := fromSecret.Service.ListEvents(ctx, "billing-events", webhook.ListQuery{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.NextCursor)

	sameKey, err := app(map[string]string{lambdaenv.CursorKey: keyValue})
	require.NoError(t, err)
	next, err := sameKey.Service.ListEvents(ctx, "billing-events", webhook.ListQuery{Limit: 1, Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Len(t, next.Events, 1)

	derived, err := app(nil)
	require.NoError(t, err)
	_, err = derived.Service.ListEvents(ctx, "billing-events", webhook.ListQuery{Limit: 1, Cursor: page.NextCursor})
	var we *webhook.Error
	require.ErrorAs(t, err, &we)
	require.Equal(t, "invalid_cursor", we.Code, "the table name does not give the key")

	_, err = app(map[string]string{lambdaenv.CursorKeySecret: aws.ToString(secret.ARN) + "-gone"})
	require.ErrorContains(t, err, "read the cursor key from OUTHOOK_CURSOR_KEY_SECRET")
	require.NotContains(t, err.Error(), keyValue)
}
