package awsapp

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/outhook/outhook/shared/aws/lambdahttp"
	"github.com/outhook/outhook/shared/httpapi"
	"github.com/outhook/outhook/shared/httpapi/route"
)

// APIHandler returns the Lambda handler of the API function fn: the API's handler (httpapi) over the App's
// service, passed only the routes fn serves in the route table, answering API Gateway HTTP API events.
func (a *App) APIHandler(fn route.Function) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	var patterns []string
	for _, r := range route.Served(fn) {
		patterns = append(patterns, r.Pattern())
	}
	api := httpapi.New(a.Service, httpapi.Options{Logger: a.Logger})
	serve := lambdahttp.Handler(lambdahttp.Routes(api, patterns...))
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		// The request's work ends answerMargin before the function's deadline: AWS calls still running then
		// (throttled, retried, or hanging) are cancelled and the API answers a 5xx, never a timeout.
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-answerMargin))
			defer cancel()
		}
		return serve(ctx, ev)
	}
}

// answerMargin is the time an API function keeps, after its request's work is cut off, to answer.
const answerMargin = time.Second
