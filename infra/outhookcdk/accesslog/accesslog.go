// Package accesslog is the HTTP API's access log line: the format the CDK construct (infra/outhookcdk) gives
// API Gateway, and an example of it filled in, which the cost benchmark (e2e/lambda) prices, since API
// Gateway writes one such line to CloudWatch Logs per request. It imports nothing of the CDK.
package accesslog

import "regexp"

// Format is one JSON object per request, no bodies: what an audit of the API needs, with short keys since
// CloudWatch Logs bills every byte ingested.
//
//	id     API Gateway's request id (the functions see it as X-Request-Id)
//	t      when the request arrived, Unix milliseconds
//	ip     the caller's source address
//	arn    the caller's IAM identity (a user, or an assumed role with its session name)
//	req    method and path, e.g. POST /v1/webhooks/billing-events/events
//	st     the status answered
//	ms     latency, from the request's arrival to the end of the answer
//	fnSt   the status of the Lambda invocation ("-" when no function was invoked: refused by IAM)
//	err    API Gateway's error message ("-" when none; "Forbidden" for a signature IAM refused)
//	fnErr  the integration's error message (a function that crashed or timed out; "-" when none)
const Format = `{"id":"$context.requestId","t":"$context.requestTimeEpoch","ip":"$context.identity.sourceIp",` +
	`"arn":"$context.identity.userArn","req":"$context.httpMethod $context.path","st":"$context.status",` +
	`"ms":"$context.responseLatency","fnSt":"$context.integrationStatus","err":"$context.error.message",` +
	`"fnErr":"$context.integrationErrorMessage"}`

// variable matches one $context variable of Format.
var variable = regexp.MustCompile(`\$context\.[A-Za-z.]*[A-Za-z]`)

// exampleValues are the values of one send by an IAM user, as API Gateway fills them in.
var exampleValues = map[string]string{
	"$context.requestId":               "Pq3a8jVHoAMEbvQ=",
	"$context.requestTimeEpoch":        "1796143905123",
	"$context.identity.sourceIp":       "203.0.113.7",
	"$context.identity.userArn":        "arn:aws:iam::123456789012:user/billing-service",
	"$context.httpMethod":              "POST",
	"$context.path":                    "/v1/webhooks/billing-events/events",
	"$context.status":                  "202",
	"$context.responseLatency":         "31",
	"$context.integrationStatus":       "200",
	"$context.error.message":           "-",
	"$context.integrationErrorMessage": "-",
}

// Example returns the line API Gateway writes for one send (Format filled in, and its newline).
func Example() string {
	return variable.ReplaceAllStringFunc(Format, func(v string) string { return exampleValues[v] }) + "\n"
}
