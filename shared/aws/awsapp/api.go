package awsapp

import (
	"context"

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
	return lambdahttp.Handler(lambdahttp.Routes(api, patterns...))
}
