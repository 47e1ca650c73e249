// Package lambda tests the four Lambda functions end to end, as AWS runs them: each bootstrap, built for the
// host with the production tags, runs under the AWS Lambda Runtime Interface Emulator with its SDK pointed at
// moto; the tests invoke send, query and secrets with API Gateway HTTP API events, and a small event-source
// poller feeds deliver from the SQS queue as Lambda's SQS event source mapping does. They also inject crashes
// (binaries built with -tags faultinject) and an SQS outage, and measure init durations and the AWS requests
// per delivered event.
package lambda
