# The four Lambda functions and the AWS Lambda Runtime Interface Emulator their end-to-end tests run them under.

FUNCTIONS := send query secrets deliver
# The functions' architecture, arm64 (Graviton) or x86_64: `make lambdas` builds for it and `make deploy` deploys
# the stack with it. BUILD_DIR is where the bootstraps and zips go.
LAMBDA_ARCH ?= arm64
BUILD_DIR   ?= build
LAMBDA_GOARCH = $(or $(if $(filter arm64,$(LAMBDA_ARCH)),arm64),$(if $(filter x86_64,$(LAMBDA_ARCH)),amd64),$(error LAMBDA_ARCH=$(LAMBDA_ARCH): want arm64 or x86_64))
# How every Lambda binary is built (the e2e tests build them for the host with the same tags and flags).
LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build -tags lambda.norpc -ldflags "-s -w" -trimpath

# The emulator, built from its Go module at a pinned version into .tools/bin.
RIE_MODULE  := github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE         := $(TOOLS)/bin/aws-lambda-rie

.PHONY: lambdas
lambdas: $(foreach f,$(FUNCTIONS),$(BUILD_DIR)/$(f).zip) ## Build the Lambda functions: build/<fn>/bootstrap and build/<fn>.zip (linux, LAMBDA_ARCH=arm64)

# Go decides what is stale, so the binaries are always rebuilt (quickly, from the build cache).
.PHONY: FORCE
$(BUILD_DIR)/%/bootstrap: FORCE
	$(LAMBDA_BUILD) -o $@ ./functions/$*

$(BUILD_DIR)/%.zip: $(BUILD_DIR)/%/bootstrap
	@command -v zip >/dev/null || { echo "error: zip not found: install it (Debian: apt-get install zip)" >&2; exit 1; }
	rm -f $@ && cd $(BUILD_DIR)/$* && zip -q -X ../$*.zip bootstrap
	@ls -l $@ | awk '{printf "%s: %d bytes\n", $$NF, $$5}'

.PHONY: rie
rie: $(RIE) ## Build the AWS Lambda Runtime Interface Emulator (pinned) into .tools/bin

$(RIE): mk/lambda.mk
	GOBIN=$(CURDIR)/$(TOOLS)/bin $(GO) install $(RIE_MODULE)/cmd/aws-lambda-rie@$(RIE_VERSION)
	touch $@

TEST_DEPS += rie
TEST_ENV  += OUTHOOK_RIE=$(CURDIR)/$(RIE)
