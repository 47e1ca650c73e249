# The dashboard's browser test (e2e/dashboard) drives Debian's chromium over the DevTools protocol.

.PHONY: chromium
chromium: ## Install Debian's chromium for the dashboard's browser test, when it is missing (needs root)
	@command -v chromium >/dev/null || { \
		command -v apt-get >/dev/null || { echo "error: chromium not found: install it (Debian: apt-get install chromium)" >&2; exit 1; }; \
		apt-get update && apt-get install -y --no-install-recommends chromium; }

TEST_DEPS += chromium
