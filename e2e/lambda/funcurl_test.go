//go:build linux

package lambda

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
)

// functionURLRequest is the event a Lambda function URL (auth type AWS_IAM) invokes its function with: HTTP
// API payload format 2.0, with routeKey "$default" and the request's own path (aws-lambda-go's type has no
// routeKey field).
type functionURLRequest struct {
	events.LambdaFunctionURLRequest
	RouteKey string `json:"routeKey"`
}

// callFuncURL sends an HTTP request through the function as its function URL would: no API Gateway in front, the
// caller's IAM identity in requestContext.authorizer.iam, headers lower-cased.
func (f *function) callFuncURL(t testing.TB, method, target string, body any, headers ...string) apiResponse {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	const domain = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
	now := time.Now()
	ev := functionURLRequest{RouteKey: "$default", LambdaFunctionURLRequest: events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: u.EscapedPath(), RawQueryString: u.RawQuery,
		Headers: map[string]string{"host": domain, "user-agent": "outhook-e2e"},
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID: "123456789012", RequestID: randomID(), APIID: domain[:strings.IndexByte(domain, '.')],
			DomainName: domain, DomainPrefix: domain[:strings.IndexByte(domain, '.')],
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			Authorizer: &events.LambdaFunctionURLRequestContextAuthorizerDescription{
				IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{
					AccessKey: "AKIAIOSFODNN7EXAMPLE", AccountID: "123456789012", CallerID: "AIDACKCEVSQ6C2EXAMPLE",
					UserARN: "arn:aws:iam::123456789012:user/e2e", UserID: "AIDACKCEVSQ6C2EXAMPLE",
				},
			},
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method: method, Path: u.Path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: "outhook-e2e",
			},
		},
	}}
	for i := 0; i+1 < len(headers); i += 2 {
		ev.Headers[strings.ToLower(headers[i])] = headers[i+1]
	}
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		ev.Body = string(raw)
		ev.Headers["content-type"] = "application/json"
	}
	status, out := f.invoke(t, ev)
	if status != http.StatusOK {
		return apiResponse{status: status, body: out}
	}
	var resp events.LambdaFunctionURLResponse
	require.NoError(t, json.Unmarshal(out, &resp), "response of %s: %s", f.name, out)
	require.False(t, resp.IsBase64Encoded, "the API answers JSON text")
	return apiResponse{status: resp.StatusCode, body: []byte(resp.Body), header: resp.Headers}
}
