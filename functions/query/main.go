// Command query is the API Gateway Lambda that reads the event log: the list of a set's events and one
// event with every attempt.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/outhook/outhook/shared/aws/awsapp"
	"github.com/outhook/outhook/shared/aws/lambdahttp"
	"github.com/outhook/outhook/shared/httpapi"
)

// routes are the API routes this function serves; API Gateway sends it only these.
var routes = []string{
	"GET /v1/webhooks/{set}/events",
	"GET /v1/webhooks/{set}/events/{eventId}",
}

func main() {
	app, err := awsapp.FromEnvironment(context.Background(), awsapp.RoleAPI)
	if err != nil {
		fmt.Fprintf(os.Stderr, "query: init: %v\n", err)
		os.Exit(1)
	}
	api := httpapi.New(app.Service, httpapi.Options{Logger: app.Logger})
	lambda.Start(lambdahttp.Handler(lambdahttp.Routes(api, routes...)))
}
