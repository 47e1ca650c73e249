package deploy

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/require"
)

// expectedCalls are calls each function must have made during the test, so that the IAM check cannot pass
// on an empty or misattributed recording.
var expectedCalls = map[string][]string{
	"Send":    {"dynamodb:PutItem", "sqs:SendMessage"},
	"Query":   {"dynamodb:Query"},
	"Secrets": {"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"},
	"Deliver": {"dynamodb:PutItem", "sqs:SendMessage", "secretsmanager:GetSecretValue"},
}

// checkIAM checks every recorded call, and the calls Lambda makes with the roles on the functions' behalf,
// against the policies of the synthesized template, resolved against the deployed stack.
func checkIAM(t *testing.T, cfg aws.Config, templatePath string, calls []call) {
	data, err := os.ReadFile(templatePath)
	require.NoError(t, err)
	var tmpl template
	require.NoError(t, json.Unmarshal(data, &tmpl))

	cfn := cloudformation.NewFromConfig(cfg)
	ctx := context.Background()
	stacks, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	require.NoError(t, err)
	require.Len(t, stacks.Stacks, 1)
	arn := strings.Split(aws.ToString(stacks.Stacks[0].StackId), ":")
	require.Len(t, arn, 6, "stack id %s", aws.ToString(stacks.Stacks[0].StackId))
	dep := deployed{physical: map[string]string{}, account: arn[4], region: arn[3]}
	res, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(stack)})
	require.NoError(t, err)
	sm := secretsmanager.NewFromConfig(cfg)
	for _, r := range res.StackResources {
		id, phys := aws.ToString(r.LogicalResourceId), aws.ToString(r.PhysicalResourceId)
		// On AWS a secret's physical id (what Ref gives) is its ARN; ministack gives its name.
		if aws.ToString(r.ResourceType) == "AWS::SecretsManager::Secret" && !strings.HasPrefix(phys, "arn:") {
			secret, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(phys)})
			require.NoError(t, err)
			phys = aws.ToString(secret.ARN)
		}
		dep.physical[id] = phys
	}

	// The four functions by deployed name, their policies and what they were seen to need.
	byName := map[string]string{}
	policies := map[string][]statement{}
	needed := map[string]map[authorization]string{} // function logical id -> authorization -> where from
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		require.NotEmpty(t, dep.physical[id], "function %s is deployed", id)
		byName[dep.physical[id]] = id
		policies[id], err = policyOf(tmpl, dep, id)
		require.NoError(t, err)
		needed[id] = map[authorization]string{}
	}
	require.Len(t, byName, 4)

	abandoned := 0
	for _, c := range calls {
		if c.Function == "" && c.Status == 0 {
			// The caller went away before the answer, and before the proxy could tell which process it was:
			// a function process the emulator stopped in the middle of a call. It has no effect to check.
			t.Logf("a call without an answer from a process that is gone: %s (%s)", c.Target, c.Caller)
			abandoned++
			continue
		}
		require.NotEmpty(t, c.Function, "a call to the AWS endpoint that no function made (%s, answered %d): %s",
			c.Target, c.Status, c.Caller)
		id, ok := byName[c.Function]
		require.True(t, ok, "a call from %s, not a function of the stack", c.Function)
		auths, err := authorizations(c, dep)
		require.NoError(t, err)
		for _, a := range auths {
			needed[id][a] = c.Target
		}
	}
	for id := range needed {
		auths, err := serviceAuthorizations(tmpl, dep, id)
		require.NoError(t, err)
		for _, a := range auths {
			needed[id][a] = "Lambda, on the function's behalf"
		}
	}

	var denied []string
	for id, auths := range needed {
		for a, from := range auths {
			if !allowed(policies[id], a.action, a.resource) {
				denied = append(denied, id+": "+a.String()+" (from "+from+")")
			}
		}
	}
	sort.Strings(denied)
	require.Empty(t, denied, "calls the role of the function does not allow: on AWS they would fail with AccessDenied")

	for id, auths := range needed {
		actions := map[string]bool{}
		for a := range auths {
			actions[a.action] = true
		}
		for prefix, want := range expectedCalls {
			if !strings.HasPrefix(id, "Webhooks"+prefix+"Function") {
				continue
			}
			for _, action := range want {
				require.True(t, actions[action], "%s made no %s call: the recording missed calls", id, action)
			}
		}
	}

	// The check is not vacuous: without the statement action that allowed a call, the same call is refused.
	for id, auths := range needed {
		for a := range auths {
			require.False(t, allowed(without(policies[id], a.action), a.action, a.resource),
				"%s: %s is still allowed without a grant of %s", id, a, a.action)
		}
	}
	n := 0
	for _, auths := range needed {
		n += len(auths)
	}
	t.Logf("%d calls recorded (%d abandoned); %d distinct authorizations, each allowed by its function's role",
		len(calls), abandoned, n)
}

// without returns the statements with every action pattern that matches action removed.
func without(stmts []statement, action string) []statement {
	out := make([]statement, 0, len(stmts))
	for _, s := range stmts {
		c := s
		c.actions = nil
		for _, p := range s.actions {
			if !matchAny([]string{p}, action, true) {
				c.actions = append(c.actions, p)
			}
		}
		out = append(out, c)
	}
	return out
}
