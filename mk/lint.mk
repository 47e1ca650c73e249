# Lint: gofmt, go vet and staticcheck over every Go module of the repository (`.ci/run` runs it before the tests).

# staticcheck, built from its Go module at a pinned version into .tools/bin.
STATICCHECK_MODULE  := honnef.co/go/tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := $(TOOLS)/bin/staticcheck

# The root module and the nested ones (a go.mod beside their packages); infra/node_modules holds a placeholder
# module that is not ours.
GO_MODULES = $(sort $(patsubst %/,%,$(dir $(shell git ls-files --cached --others --exclude-standard 'go.mod' '*/go.mod' | grep -v node_modules))))

.PHONY: staticcheck
staticcheck: $(STATICCHECK) ## Build staticcheck (pinned) into .tools/bin

$(STATICCHECK): mk/lint.mk
	GOBIN=$(abspath $(TOOLS))/bin $(GO) install $(STATICCHECK_MODULE)/cmd/staticcheck@$(STATICCHECK_VERSION)
	touch $@

.PHONY: lint
lint: $(STATICCHECK) ## gofmt, go vet and staticcheck (pinned) over every Go module of the repository
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:" >&2; echo "$$unformatted" >&2; exit 1; fi
	@set -e; for m in $(GO_MODULES); do \
		echo "go vet, staticcheck: $$m"; \
		(cd $$m && $(GO) vet ./... && $(abspath $(STATICCHECK)) ./...); \
	done
