package deploy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
)

// template is the part of a synthesized CloudFormation template the IAM check reads.
type template struct {
	Resources map[string]resource
}

type resource struct {
	Type       string
	Properties map[string]any
}

// deployed is what the emulator says about the deployed stack: the physical id of every logical id, and the
// account and region that the pseudo parameters resolve to.
type deployed struct {
	physical map[string]string
	account  string
	region   string
}

// statement is one policy statement with its intrinsics resolved.
type statement struct {
	effect    string
	actions   []string
	resources []string
}

// policyOf returns the statements of the inline policies of the role of the function with logical id fn:
// the role's Policies and every AWS::IAM::Policy attached to it.
func policyOf(tmpl template, dep deployed, fn string) ([]statement, error) {
	role, ok := roleOf(tmpl.Resources[fn].Properties["Role"])
	if !ok {
		return nil, fmt.Errorf("function %s: the role is not a role of the template", fn)
	}
	var docs []any
	if r, ok := tmpl.Resources[role]; ok {
		if managed, ok := r.Properties["ManagedPolicyArns"]; ok {
			return nil, fmt.Errorf("role %s has managed policies (%v): the check reads inline policies only", role, managed)
		}
		if ps, ok := r.Properties["Policies"].([]any); ok {
			for _, p := range ps {
				docs = append(docs, p.(map[string]any)["PolicyDocument"])
			}
		}
	}
	ids := make([]string, 0, len(tmpl.Resources))
	for id := range tmpl.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := tmpl.Resources[id]
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		roles, _ := r.Properties["Roles"].([]any)
		for _, ro := range roles {
			if ref, ok := refOf(ro); ok && ref == role {
				docs = append(docs, r.Properties["PolicyDocument"])
			}
		}
	}
	var out []statement
	for _, doc := range docs {
		stmts, _ := doc.(map[string]any)["Statement"].([]any)
		for _, s := range stmts {
			m := s.(map[string]any)
			st := statement{effect: m["Effect"].(string)}
			if _, ok := m["Condition"]; ok {
				return nil, fmt.Errorf("role %s: a statement has a condition, which the check does not evaluate", role)
			}
			var err error
			if st.actions, err = resolveList(tmpl, dep, m["Action"]); err != nil {
				return nil, fmt.Errorf("role %s: %w", role, err)
			}
			if st.resources, err = resolveList(tmpl, dep, m["Resource"]); err != nil {
				return nil, fmt.Errorf("role %s: %w", role, err)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// allowed tells whether the statements allow action on resource: an Allow matches and no Deny does.
func allowed(stmts []statement, action, resource string) bool {
	allow := false
	for _, s := range stmts {
		if !matchAny(s.actions, action, true) || !matchAny(s.resources, resource, false) {
			continue
		}
		if s.effect == "Deny" {
			return false
		}
		allow = allow || s.effect == "Allow"
	}
	return allow
}

func matchAny(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// globMatch matches IAM's wildcards: * any run of characters (including none), ? exactly one.
func globMatch(pattern, s string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(s)
}

// roleOf reads a function's Role property: the Arn of a role of the template.
func roleOf(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	ga, ok := m["Fn::GetAtt"].([]any)
	if !ok || len(ga) != 2 || ga[1] != "Arn" {
		return "", false
	}
	id, ok := ga[0].(string)
	return id, ok
}

func refOf(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	ref, ok := m["Ref"].(string)
	return ref, ok
}

func resolveList(tmpl template, dep deployed, v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, err := resolve(tmpl, dep, it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// resolve evaluates the intrinsics CDK writes into policies (Ref, Fn::GetAtt ... Arn, Fn::Join) against the
// deployed stack. Anything else is an error, so the check never guesses.
func resolve(tmpl template, dep deployed, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			switch ref {
			case "AWS::Partition":
				return "aws", nil
			case "AWS::Region":
				return dep.region, nil
			case "AWS::AccountId":
				return dep.account, nil
			case "AWS::URLSuffix":
				return "amazonaws.com", nil
			}
			id, ok := dep.physical[ref]
			if !ok {
				return "", fmt.Errorf("Ref %s: not a resource of the deployed stack", ref)
			}
			return id, nil
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return arnOf(tmpl, dep, fmt.Sprint(ga[0]), fmt.Sprint(ga[1]))
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, err := resolveList(tmpl, dep, j[1])
			if err != nil {
				return "", err
			}
			return strings.Join(parts, fmt.Sprint(j[0])), nil
		}
	}
	data, _ := json.Marshal(v)
	return "", fmt.Errorf("cannot resolve %s", data)
}

// arnOf returns the Arn attribute of a deployed resource, built from its physical id as AWS builds it.
func arnOf(tmpl template, dep deployed, id, attr string) (string, error) {
	r, ok := tmpl.Resources[id]
	phys, deployedOK := dep.physical[id]
	if !ok || !deployedOK || attr != "Arn" {
		return "", fmt.Errorf("Fn::GetAtt %s.%s: not an Arn of a deployed resource", id, attr)
	}
	prefix := "arn:aws:"
	switch r.Type {
	case "AWS::DynamoDB::Table":
		return prefix + "dynamodb:" + dep.region + ":" + dep.account + ":table/" + phys, nil
	case "AWS::SQS::Queue": // the physical id is the queue URL
		return queueArn(phys)
	case "AWS::Logs::LogGroup":
		return prefix + "logs:" + dep.region + ":" + dep.account + ":log-group:" + phys + ":*", nil
	case "AWS::IAM::Role":
		return prefix + "iam::" + dep.account + ":role/" + phys, nil
	}
	return "", fmt.Errorf("Fn::GetAtt %s.Arn: resource type %s is not known to the check", id, r.Type)
}

// queueArn turns a queue URL (http://host/<account>/<name>) into the queue's ARN.
func queueArn(queueURL string) (string, error) {
	u, err := url.Parse(queueURL)
	if err != nil {
		return "", fmt.Errorf("queue URL %q: %w", queueURL, err)
	}
	account, name := path.Split(strings.Trim(u.Path, "/"))
	account = strings.Trim(account, "/")
	if account == "" || name == "" {
		return "", fmt.Errorf("queue URL %q: want .../<account>/<name>", queueURL)
	}
	return "arn:aws:sqs:" + region + ":" + account + ":" + name, nil
}

// authorization is one IAM authorization a request needs: an action on a resource.
type authorization struct {
	action, resource string
}

func (a authorization) String() string { return a.action + " on " + a.resource }

// authorizations returns what IAM authorizes for one recorded call, as AWS documents it per operation: a
// DynamoDB transaction is authorized item by item (a Put as PutItem), SQS batches as their single
// operation, Secrets Manager calls on the secret's ARN (from the answer, or the name with the six random
// characters Secrets Manager appends when the secret does not exist).
func authorizations(c call, dep deployed) ([]authorization, error) {
	svc, op, ok := strings.Cut(c.Target, ".")
	if !ok {
		return nil, fmt.Errorf("a request without X-Amz-Target (not a DynamoDB, SQS or Secrets Manager call)")
	}
	var req map[string]any
	if err := json.Unmarshal(c.Request, &req); err != nil {
		return nil, fmt.Errorf("%s: request body: %w", c.Target, err)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	table := func(name string) string {
		return "arn:aws:dynamodb:" + dep.region + ":" + dep.account + ":table/" + name
	}
	switch svc {
	case "DynamoDB_20120810":
		switch op {
		case "TransactWriteItems", "TransactGetItems":
			items, _ := req["TransactItems"].([]any)
			var out []authorization
			for _, it := range items {
				for kind, v := range it.(map[string]any) {
					action := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
						"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}[kind]
					if action == "" {
						return nil, fmt.Errorf("%s: unknown transaction item %s", c.Target, kind)
					}
					out = append(out, authorization{"dynamodb:" + action, table(str(v.(map[string]any), "TableName"))})
				}
			}
			return out, nil
		case "BatchWriteItem", "BatchGetItem":
			items, _ := req["RequestItems"].(map[string]any)
			var out []authorization
			for name := range items {
				out = append(out, authorization{"dynamodb:" + op, table(name)})
			}
			return out, nil
		}
		res := table(str(req, "TableName"))
		if idx := str(req, "IndexName"); idx != "" {
			res += "/index/" + idx
		}
		return []authorization{{"dynamodb:" + op, res}}, nil
	case "AmazonSQS":
		arn, err := queueArn(str(req, "QueueUrl"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Target, err)
		}
		return []authorization{{"sqs:" + strings.TrimSuffix(op, "Batch"), arn}}, nil
	case "secretsmanager":
		var resp map[string]any
		_ = json.Unmarshal(c.Response, &resp)
		arn := str(resp, "ARN")
		if arn == "" {
			name := str(req, "SecretId")
			if name == "" {
				name = str(req, "Name")
			}
			arn = name
			if !strings.HasPrefix(name, "arn:") {
				arn = "arn:aws:secretsmanager:" + dep.region + ":" + dep.account + ":secret:" + name + "-AbCdEf"
			}
		}
		return []authorization{{"secretsmanager:" + op, arn}}, nil
	}
	return nil, fmt.Errorf("%s: a service the check does not know", c.Target)
}

// serviceAuthorizations are the calls AWS Lambda makes with the role of function fn on its behalf, which the
// emulator makes inside itself where the proxy cannot see them: writing the function's logs into its log
// group and, for an SQS event source, reading and deleting the queue's messages.
func serviceAuthorizations(tmpl template, dep deployed, fn string) ([]authorization, error) {
	var out []authorization
	if lc, ok := tmpl.Resources[fn].Properties["LoggingConfig"].(map[string]any); ok {
		group, err := resolve(tmpl, dep, lc["LogGroup"])
		if err != nil {
			return nil, fmt.Errorf("function %s: log group: %w", fn, err)
		}
		stream := "arn:aws:logs:" + dep.region + ":" + dep.account + ":log-group:" + group + ":log-stream:2026/01/01/[$LATEST]0123abcd"
		out = append(out, authorization{"logs:CreateLogStream", stream}, authorization{"logs:PutLogEvents", stream})
	}
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		if ref, ok := refOf(r.Properties["FunctionName"]); !ok || ref != fn {
			continue
		}
		queue, err := resolve(tmpl, dep, r.Properties["EventSourceArn"])
		if err != nil {
			return nil, fmt.Errorf("function %s: event source: %w", fn, err)
		}
		for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} {
			out = append(out, authorization{a, queue})
		}
	}
	return out, nil
}
