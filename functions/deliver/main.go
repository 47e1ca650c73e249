// Command deliver is the SQS-triggered Lambda that makes delivery attempts: each message of a batch is one
// attempt, made concurrently with the others; retries are queued again by the domain with their delay.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/outhook/outhook/shared/aws/awsapp"
)

func main() {
	app, err := awsapp.FromEnvironment(context.Background(), awsapp.RoleDeliver)
	if err != nil {
		fmt.Fprintf(os.Stderr, "deliver: init: %v\n", err)
		os.Exit(1)
	}
	h := &handler{proc: app.Service, log: app.Logger, maxReceives: app.MaxReceiveCount, deadLetterARN: app.DeadLetterARN}
	lambda.Start(awsapp.Flushing(app, h.handle))
}
