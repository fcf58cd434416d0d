# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
C_SOURCES := collector/_wire.c processors/redact/_match.c

.PHONY: serve test build-packages debian-packages lint typecheck unit compat bench peers peers-instructions fixtures dashboards clean

$(STAMP): pyproject.toml $(C_SOURCES) | build-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/llmtap serve $(if $(CONFIG),--config $(CONFIG))

# gcc and PCRE2's headers build llmtap's C modules when pip installs the project.
BUILD_PACKAGES := gcc libc6-dev libpcre2-dev
build-packages:
	command -v gcc >/dev/null && test -f /usr/include/pcre2.h \
	  || $(SUDO) apt-get install -y --no-install-recommends $(BUILD_PACKAGES) \
	  || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(BUILD_PACKAGES))

# Debian packages the tests run for real: Prometheus (and promtool) for the prometheus exporter and the alert
# rules, Alertmanager's amtool for the routing example.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := prometheus prometheus-alertmanager
debian-packages:
	command -v prometheus >/dev/null && command -v amtool >/dev/null \
	  || $(SUDO) apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES) \
	  || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES))

test: $(STAMP) debian-packages lint typecheck unit compat

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# The instrumentation tests again on the oldest SDKs the instrumentors declare (instrumentation_dependencies),
# in a second virtualenv: the main one has the newest (openai 3.x on httpx2, anthropic 2.x).
COMPAT := .venv-compat
COMPAT_SDKS := 'openai==2.0.*' 'anthropic==0.47.*'
$(COMPAT)/.installed: pyproject.toml $(C_SOURCES) | build-packages
	test -x $(COMPAT)/bin/python || $(PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install --quiet --upgrade pip
	$(COMPAT)/bin/python -m pip install --quiet -e '.[dev]' $(COMPAT_SDKS)
	touch $@

compat: $(COMPAT)/.installed
	$(COMPAT)/bin/pytest tests/test_instrumentation_openai.py tests/test_instrumentation_anthropic.py tests/test_launcher.py

bench: $(STAMP)
	$(BIN)/python -m bench.collector
	$(BIN)/python -m bench.processors
	$(BIN)/python -m bench.instrumentation
	$(BIN)/python -m bench.redact
	$(BIN)/python -m bench.exporters
	$(BIN)/python -m bench.overload

# Regenerate grafana/dashboards/*.json from grafana/generator (the tests fail while they are out of date).
dashboards: $(STAMP)
	$(BIN)/python -m grafana.generator

# llmtap's instrumentation overhead next to its peers' (openai-v2, genai-openai, Traceloop), one virtualenv each.
peers: $(STAMP)
	$(BIN)/python -m bench.peers

# The same, as instructions per call counted by Valgrind's callgrind: unaffected by the machine's load.
peers-instructions: $(STAMP)
	command -v valgrind >/dev/null || $(SUDO) apt-get install -y --no-install-recommends valgrind
	$(BIN)/python -m bench.peers --instructions --processes 1 --calls 12 --blocks 3

# Re-capture what other instrumentations emit (tests/fixtures/normalize), one virtualenv per library.
# Not part of `make test`: the fixtures are committed.
PEERS := tests/fixtures/normalize/peers.txt
fixtures:
	grep -v '^#' $(PEERS) | while read name reqs; do \
	  [ -n "$$name" ] || continue; \
	  test -x .venv-peers/$$name/bin/python || $(PYTHON) -m venv .venv-peers/$$name; \
	  .venv-peers/$$name/bin/python -m pip install --quiet aiohttp opentelemetry-sdk \
	    opentelemetry-exporter-otlp-proto-common $$reqs || exit 1; \
	  .venv-peers/$$name/bin/python -m tests.fixtures.normalize.capture $$name || exit 1; \
	done
	.venv-peers/openai-v2/bin/python -m tests.fixtures.normalize.capture openai-v2-latest

clean:
	rm -rf $(VENV) $(COMPAT) .venv-peers build *.egg-info .mypy_cache .ruff_cache .pytest_cache
