# Interoperability test (e2e/interop): the pinned npm verifier that `make test` installs.
INTEROP_DIR := e2e/interop

.PHONY: interop-deps
interop-deps: $(INTEROP_DIR)/node_modules/.installed ## Install the interop test's pinned npm packages (npm ci)

$(INTEROP_DIR)/node_modules/.installed: $(INTEROP_DIR)/package.json $(INTEROP_DIR)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "error: node/npm not found: install Node.js 18+ with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd $(INTEROP_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

TEST_DEPS += interop-deps
