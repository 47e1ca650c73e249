# ministack, the AWS emulator that the deploy test (e2e/deploy) deploys the stack into with `make deploy`.
# Pinned with its dependencies in a venv of its own: it pins a botocore that moto's venv does not share.
EMULATOR_VENV := $(TOOLS)/ministack

.PHONY: emulator
emulator: $(EMULATOR_VENV)/.installed ## Install the AWS emulator the deploy test uses (ministack, pinned) into .tools/ministack

$(EMULATOR_VENV)/.installed: e2e/deploy/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { echo "error: ministack needs Python 3.10+ with the venv module as $(PYTHON) (or set PYTHON=...)" >&2; exit 1; }
	rm -rf $(EMULATOR_VENV)
	$(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/pip install --quiet --disable-pip-version-check -r e2e/deploy/requirements.txt
	touch $@

# The deploy test runs `make cdk-bootstrap deploy destroy`, which need the CDK CLI.
TEST_DEPS += emulator cdk-deps
TEST_ENV  += OUTHOOK_EMULATOR_VENV=$(CURDIR)/$(EMULATOR_VENV)
