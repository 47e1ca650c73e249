// Command query is the API Gateway Lambda that reads the event log: the list of a set's events and one
// event with every attempt.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/outhook/outhook/shared/aws/awsapp"
	"github.com/outhook/outhook/shared/httpapi/route"
)

func main() {
	app, err := awsapp.FromEnvironment(context.Background(), awsapp.RoleAPI)
	if err != nil {
		fmt.Fprintf(os.Stderr, "query: init: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(awsapp.Flushing(app, app.APIHandler(route.Query)))
}
