// Command send is the API Gateway Lambda that accepts events: it stores each event and queues one delivery
// per endpoint of its webhook set, and resends deliveries on request.
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
		fmt.Fprintf(os.Stderr, "send: init: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(awsapp.Flushing(app, app.APIHandler(route.Send)))
}
