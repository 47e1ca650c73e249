package outhookcdk

import (
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressNagFindings records, with its reason, every cdk-nag AwsSolutions finding the construct accepts.
// Each suppression names the exact finding (appliesTo), so any other wildcard added later is still reported.
func suppressNagFindings(w *webhooks) {
	cdknag.NagSuppressions_AddResourceSuppressions(w.cursorKey, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The cursor key only authenticates events list cursors, which expire after 24 hours; " +
			"rotating it would only end the cursors in use. It is generated at deploy time and read by the query function alone."),
	}}, jsii.Bool(false))
	userSecrets := secretFinding(w.userPrefix + "*")
	for _, f := range []Function{FunctionSecrets, FunctionDeliver} {
		cdknag.NagSuppressions_AddResourceSuppressions(w.functions[f].Role(), &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("Per-user signing secrets are created on first use, one secret per user, so their " +
				"names are not known at deploy time; access is limited to the name prefix of this deployment."),
			AppliesTo: &[]any{userSecrets},
		}}, jsii.Bool(true))
	}
}

// secretFinding matches cdk-nag's IAM5 finding for a Secrets Manager ARN with the given name pattern, whether
// the stack's account and region are tokens or concrete.
func secretFinding(namePattern string) *cdknag.RegexAppliesTo {
	return &cdknag.RegexAppliesTo{Regex: jsii.String(
		"/^Resource::" + arnPrefix("secretsmanager") + "secret:" + jsRegexpQuote(namePattern) + "$/")}
}

// suppressInvokeFinding accepts, on the grantee of GrantInvokeAPI, the IAM5 finding for the API's route wildcard.
func suppressInvokeFinding(grantee any) {
	c, ok := grantee.(constructs.IConstruct)
	if !ok {
		return
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("execute-api:Invoke on the outhook API's /v1/webhooks/* routes (the set, event and " +
			"user ids are path parameters, so the route ARNs end in a wildcard) and GET /v1/webhooks, in any stage."),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(
			"/^Resource::" + arnPrefix("execute-api") + "(<[A-Za-z0-9]+>|[a-z0-9]+)(" +
				jsRegexpQuote("/*/*/v1/webhooks/*") + "|" + jsRegexpQuote("/*/GET/v1/webhooks") + ")$/")}},
	}}, jsii.Bool(true))
}

// arnPrefix matches "arn:<partition>:<service>:<region>:<account>:" as cdk-nag renders it: each part either
// concrete or a pseudo parameter such as <AWS::Region>.
func arnPrefix(service string) string {
	return "arn:(<AWS::Partition>|[a-z-]+):" + service + ":(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]+):"
}

// jsRegexpQuote escapes s for a JavaScript regular expression literal (QuoteMeta plus the slash delimiter).
func jsRegexpQuote(s string) string {
	return regexp.MustCompile(`/`).ReplaceAllString(regexp.QuoteMeta(s), `\/`)
}
