package outhookcdk_test

import (
	"log"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/outhook/outhook/infra/outhookcdk"
	"github.com/outhook/outhook/shared/config"
)

// An application's CDK app deploys outhook beside its own function and lets that function call the API.
func ExampleNew() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Billing"), nil)

	// The same YAML the local server reads, or a *config.Config built in Go.
	cfg, err := config.Load("webhooks.yaml")
	if err != nil {
		log.Fatal(err)
	}
	hooks, err := outhookcdk.New(stack, jsii.String("Webhooks"), &outhookcdk.Props{
		Config:                cfg,
		BuildDir:              "outhook/build", // `make lambdas` output of the outhook checkout
		NamePrefix:            "billing",       // secrets under outhook/billing/users/ and outhook/billing/named/
		AlarmTopic:            awssns.NewTopic(stack, jsii.String("WebhookAlarms"), nil),
		DeliverMaxConcurrency: 50,
	})
	if err != nil {
		log.Fatal(err)
	}

	// The application's function calls the webhooks API with SigV4.
	api := awslambda.NewFunction(stack, jsii.String("BillingApi"), &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String("build/billing-api"), nil),
	})
	api.AddEnvironment(jsii.String("OUTHOOK_URL"), hooks.URL(), nil)
	hooks.GrantInvokeAPI(api)

	app.Synth(nil)
}
