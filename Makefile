# outhook — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO      ?= go
PYTHON  ?= python3
VENV    := .venv
TOOLS   := .tools

# Things `make test` installs or builds before running the tests; files in mk/ add to these.
TEST_DEPS :=
# Environment for `go test` (e.g. where the tools are); files in mk/ add to it.
TEST_ENV  := OUTHOOK_VENV=$(CURDIR)/$(VENV)

# The local server and the CLI; `outhook --version` prints VERSION.
OUTHOOK     := build/outhook
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
RUN_ADDR    ?= 127.0.0.1:8080
LISTEN_ADDR ?= 127.0.0.1:9000
# Development defaults of `make run` (override them from the environment). The API key is the one the README's
# curl walkthrough uses; the CRM secret is the example endpoint's named signing secret.
OUTHOOK_API_KEY            ?= ohk_local_dev_key
CRM_WEBHOOK_SIGNING_SECRET ?= example-crm-signing-secret
# Extra flags of the receiver, e.g. LISTEN_FLAGS='--fail 2' to watch retries.
LISTEN_FLAGS ?=
# The crm endpoint's signing block of webhooks.example.yaml in the --scheme syntax of `outhook listen` and
# `outhook verify` (the config's keys, key=value pairs).
CRM_SCHEME := header=x-outhook-signature,timestampHeader=x-outhook-timestamp,signedPayload=timestamp.rawBody,encoding=hex

include $(sort $(wildcard mk/*.mk))

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: venv
venv: $(VENV)/.installed ## Create the project-local Python venv (moto server, cfn-lint)

$(VENV)/.installed: e2e/requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.9+ with the venv module (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "error: could not create a venv: install the Python venv module (Debian: apt-get install python3-venv)" >&2; exit 1; }
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r e2e/requirements.txt
	touch $@

TEST_DEPS += venv

.PHONY: test
test: $(TEST_DEPS) ## Run every test, installing what it needs (Go modules, moto in .venv, npm tools)
	@rc=0; echo "go test: the root module"; $(TEST_ENV) $(GO) test -count=1 -timeout 25m ./... || rc=1; \
	for m in $(filter-out .,$(GO_MODULES)); do \
		echo "go test: $$m (nested module)"; \
		(cd $$m && $(GO) test -count=1 ./...) || rc=1; \
	done; exit $$rc

.PHONY: test-min-go
test-min-go: ## Test each nested (public) module with the Go release its go directive names (downloads it)
	@set -e; for m in $(filter-out .,$(GO_MODULES)); do \
		v=$$(sed -n 's/^go \([0-9.]*\)$$/\1/p' $$m/go.mod); \
		echo "go test with go$$v.0: $$m"; \
		(cd $$m && GOTOOLCHAIN=go$$v.0 $(GO) test -count=1 ./...); \
	done

.PHONY: build
build: ## Build the outhook CLI and local server into build/outhook (pure Go, CGO_ENABLED=0; `make lambdas` builds the functions)
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(OUTHOOK) ./cmd/outhook

.PHONY: run
run: build ## Run the local server (API on 127.0.0.1:8080, data in ./data) and a receiver on 127.0.0.1:9000
	@export CRM_WEBHOOK_SIGNING_SECRET='$(CRM_WEBHOOK_SIGNING_SECRET)' OUTHOOK_API_KEY='$(OUTHOOK_API_KEY)'; \
	$(OUTHOOK) listen --addr $(LISTEN_ADDR) --secret "$$CRM_WEBHOOK_SIGNING_SECRET" --scheme $(CRM_SCHEME) $(LISTEN_FLAGS) & \
	listener=$$!; trap 'kill $$listener 2>/dev/null' EXIT; \
	sleep 0.2; kill -0 $$listener 2>/dev/null || { echo "error: the receiver could not start on $(LISTEN_ADDR)" >&2; exit 1; }; \
	echo "API: http://$(RUN_ADDR)  (Authorization: Bearer $$OUTHOOK_API_KEY)  receiver: http://$(LISTEN_ADDR)  (customer-events goes to 127.0.0.1:9001: start a receiver there with a user's secret)"; \
	$(OUTHOOK) serve --config webhooks.example.yaml --addr $(RUN_ADDR) --data data

.PHONY: bench
bench: ## Measure the local server: send->delivered p50/p99 at 50/s and 500/s, a 10,000-event burst (deliveries/s, server CPU per delivery), peak RSS
	$(GO) run ./bench
