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
// service, answering API Gateway HTTP API events for the routes fn serves in the route table, and function
// URL events (the send function URL) for the routes the table serves through fn's URL; every other request
// is answered the API's JSON 404.
func (a *App) APIHandler(fn route.Function) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	api := httpapi.New(a.Service, httpapi.Options{Logger: a.Logger})
	viaAPI := lambdahttp.Handler(lambdahttp.Routes(api, patterns(route.Served(fn))...))
	viaURL := lambdahttp.Handler(lambdahttp.Routes(api, patterns(route.ServedByURL(fn))...))
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		// The request's work ends answerMargin before the function's deadline: AWS calls still running then
		// (throttled, retried, or hanging) are cancelled and the API answers a 5xx, never a timeout.
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-answerMargin))
			defer cancel()
		}
		if lambdahttp.FromFunctionURL(ev) {
			return viaURL(ctx, ev)
		}
		return viaAPI(ctx, ev)
	}
}

// patterns returns the ServeMux patterns of routes.
func patterns(routes []route.Route) []string {
	out := make([]string, 0, len(routes))
	for _, r := range routes {
		out = append(out, r.Pattern())
	}
	return out
}

// answerMargin is the time an API function keeps, after its request's work is cut off, to answer.
const answerMargin = time.Second
