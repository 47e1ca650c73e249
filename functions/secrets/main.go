// Command secrets is the API Gateway Lambda of the per-user signing secrets: get (created on first use)
// and rotate.
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
		fmt.Fprintf(os.Stderr, "secrets: init: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(awsapp.Flushing(app, app.APIHandler(route.Secrets)))
}
