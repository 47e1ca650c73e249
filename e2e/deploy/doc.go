// Package deploy tests the stack as an infra team deploys it: `make cdk-bootstrap`, `make deploy` and
// `make destroy` of the real CDK app (infra/) with the pinned aws-cdk CLI, against ministack, an AWS emulator
// that runs the Lambda bootstraps as local processes (no Docker). Between deploy and destroy the test uses
// the deployed HTTP API and the send function URL (deployed with -c sendFunctionUrl=true) as a user would,
// with `outhook --aws` and the URLs and names of the stack outputs, and it records every AWS call each
// function makes (through a proxy the functions' AWS_ENDPOINT_URL points at) to check each one against the
// policy the synthesized template gives that function's role.
//
// ministack 1.5.33 refuses CloudFormation alarms on metric math; ministack.py, which starts it, lets such an
// alarm be created from its first metric (ministack evaluates no alarm either way).
//
// `make test` installs what it needs: ministack in its own venv (.tools/ministack, pinned in
// requirements.txt) and the CDK CLI (infra/node_modules). The test skips only under -short.
package deploy
