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
	$(TEST_ENV) $(GO) test -count=1 -timeout 25m ./...
