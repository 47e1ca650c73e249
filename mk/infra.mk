# The CDK app (infra/) through the aws-cdk CLI pinned in infra/package.json, and LocalStack (localstack/).
#
#   make synth                          # no AWS account needed
#   make deploy CONFIG=webhooks.yaml    # your config; STACK=Outhook by default
#   make deploy-local                   # into LocalStack started by `make localstack-up`

CONFIG ?= webhooks.example.yaml
STACK  ?= Outhook
# Extra arguments for the cdk CLI, e.g. CDK_ARGS='-c alarmTopicArn=arn:aws:sns:...' or '--profile prod'.
CDK_ARGS ?=

INFRA_DIR := infra
CDK       := ./node_modules/.bin/cdk
CDKLOCAL  := ./node_modules/.bin/cdklocal
# Where the cloud assembly and the stack outputs (outputs.json, outputs-local.json) go.
CDK_OUT   ?= $(CURDIR)/$(INFRA_DIR)/cdk.out
CDK_CTX    = -c config=$(abspath $(CONFIG)) -c buildDir=$(abspath $(BUILD_DIR)) -c architecture=$(LAMBDA_ARCH) \
	-c stackName=$(STACK) --output $(abspath $(CDK_OUT))

LOCALSTACK_COMPOSE := docker compose -f localstack/docker-compose.yml
LOCALSTACK_REGION  ?= us-east-1
# LocalStack's endpoint: AWS_ENDPOINT_URL if set, else the port the compose file publishes.
LOCALSTACK_URL := $(or $(AWS_ENDPOINT_URL),http://127.0.0.1:4566)
# cdklocal drops AWS_* variables it is not told to keep (so a deploy cannot reach real AWS by mistake). Every
# endpoint, S3's included (path-style), is LocalStack's address: cdklocal's default S3 and API hosts are
# subdomains of localhost.localstack.cloud, which only public DNS resolves.
LOCALSTACK_ENV = AWS_ENVAR_ALLOWLIST=AWS_REGION,AWS_DEFAULT_REGION,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY \
	AWS_ENDPOINT_URL=$(LOCALSTACK_URL) AWS_ENDPOINT_URL_S3=$(LOCALSTACK_URL) AWS_S3_FORCE_PATH_STYLE=1 \
	AWS_REGION=$(LOCALSTACK_REGION) AWS_DEFAULT_REGION=$(LOCALSTACK_REGION) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

# The bootstraps are prerequisites of the zips in mk/lambda.mk, which would make them intermediate files that
# make deletes when it exits; synth and deploy stage them, and `cdk deploy` may run on its own afterwards.
.PRECIOUS: $(BUILD_DIR)/%/bootstrap

.PHONY: cdk-deps
cdk-deps: $(INFRA_DIR)/node_modules/.installed ## Install the pinned aws-cdk CLI and cdklocal into infra/node_modules (npm ci)

# npm ci replaces node_modules; the go.mod written after it makes node_modules its own (empty) module, so that
# `go test ./...` and `go vet ./...` skip the Go templates shipped inside the aws-cdk package.
$(INFRA_DIR)/node_modules/.installed: $(INFRA_DIR)/package.json $(INFRA_DIR)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "error: node/npm not found: install Node.js 22+ with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd $(INFRA_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	printf 'module outhook.invalid/infra/node_modules\n' > $(INFRA_DIR)/node_modules/go.mod
	touch $@

# The CDK app reads CONFIG; a deployment starts from a copy of the example (README, docs/deploy.md).
.PHONY: config-file
config-file:
	@test -f '$(CONFIG)' || { echo "error: $(CONFIG) not found: start from the example with 'cp webhooks.example.yaml $(CONFIG)', then set each endpoint's url (docs/deploy.md, step 2)" >&2; exit 1; }

.PHONY: synth
synth: config-file lambdas cdk-deps ## Synthesize the CloudFormation template into infra/cdk.out (CONFIG=..., no AWS account needed)
	cd $(INFRA_DIR) && AWS_EC2_METADATA_DISABLED=true $(CDK) synth $(CDK_CTX) $(CDK_ARGS) --quiet
	@echo "template: $(CDK_OUT)/$(STACK).template.json"

# bootstrap and destroy synthesize the app too (to find its account and region, and its stack), so they need
# the functions built as well.
.PHONY: cdk-bootstrap
cdk-bootstrap: config-file lambdas cdk-deps ## Prepare the current AWS account and region for CDK deployments (once per account/region)
	cd $(INFRA_DIR) && $(CDK) bootstrap $(CDK_CTX) $(CDK_ARGS)

.PHONY: deploy
deploy: config-file lambdas cdk-deps ## Build the functions and deploy the stack with the CLI's AWS credentials (CONFIG=..., STACK=...)
	cd $(INFRA_DIR) && $(CDK) deploy $(CDK_CTX) $(CDK_ARGS) --require-approval broadening --outputs-file $(abspath $(CDK_OUT))/outputs.json

.PHONY: destroy
destroy: config-file lambdas cdk-deps ## Delete the stack (the table, queues and logs are kept unless deployed with -c removalPolicy=destroy)
	cd $(INFRA_DIR) && $(CDK) destroy $(CDK_CTX) $(CDK_ARGS)

.PHONY: localstack-up
localstack-up: ## Start LocalStack on 127.0.0.1:4566 (needs Docker and LOCALSTACK_AUTH_TOKEN)
	@test -n "$$LOCALSTACK_AUTH_TOKEN" || { echo "error: LOCALSTACK_AUTH_TOKEN is not set: current LocalStack images need one (see localstack/README.md; without one, use moto: make moto-up)" >&2; exit 1; }
	$(LOCALSTACK_COMPOSE) up -d --wait localstack

.PHONY: localstack-down
localstack-down: ## Stop LocalStack (and the moto service) and drop their state
	$(LOCALSTACK_COMPOSE) --profile moto down --volumes

.PHONY: moto-up
moto-up: ## Start moto_server on 127.0.0.1:5000 in Docker, the token-free alternative for the AWS integration tests
	$(LOCALSTACK_COMPOSE) --profile moto up -d --wait moto

.PHONY: deploy-local
deploy-local: config-file lambdas cdk-deps ## Deploy the stack into LocalStack at AWS_ENDPOINT_URL (default 127.0.0.1:4566) with cdklocal; needs a plan with API Gateway V2
	cd $(INFRA_DIR) && $(LOCALSTACK_ENV) $(CDKLOCAL) bootstrap $(CDK_CTX) aws://000000000000/$(LOCALSTACK_REGION)
	cd $(INFRA_DIR) && $(LOCALSTACK_ENV) $(CDKLOCAL) deploy $(CDK_CTX) -c removalPolicy=destroy $(CDK_ARGS) \
		--require-approval never --outputs-file $(abspath $(CDK_OUT))/outputs-local.json

.PHONY: test-localstack
test-localstack: rie ## Run the AWS adapters' suites and the Lambda end-to-end tests against LocalStack at AWS_ENDPOINT_URL (default 127.0.0.1:4566)
	AWS_ENDPOINT_URL=$(LOCALSTACK_URL) AWS_REGION=$(LOCALSTACK_REGION) $(TEST_ENV) $(GO) test -count=1 ./shared/aws/... ./e2e/lambda/...
