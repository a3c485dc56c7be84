PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test deps bench lint typecheck clean kafka-up kafka-down web-vendor

install: $(STAMP)

$(STAMP): pyproject.toml package.json package-lock.json
	[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(MAKE) web-vendor
	touch $(STAMP)

# The page's map library and the accessibility test's axe-core, from npm into node_modules/,
# served by Lookout itself: intranets have no CDN. Without npm the page keeps its SVG map.
web-vendor:
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "web-vendor: npm not found; the page falls back to its SVG map"; fi

run: install
	$(BIN)/lookout run --bundle config/demo --demo

# Everything the tests need: system packages (Chromium + a CJK font for the browser test,
# promtool for the alerting rules; both need root, and tests skip with the reason without
# them) and a local Kafka broker, started here if none answers and stopped afterwards.
test: install deps
	@started=0; \
	if ! deploy/kafka/kafka.sh status >/dev/null 2>&1; then \
	  deploy/kafka/kafka.sh up || deploy/kafka/kafka.sh up || exit 1; started=1; \
	fi; \
	$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$started = 1 ]; then deploy/kafka/kafka.sh down; fi; \
	exit $$rc

deps:
	-bash scripts/ci-browser-deps.sh
	-sh scripts/ci-monitoring-deps.sh

bench: install
	$(BIN)/python -m benchmarks.replay_bench
	$(BIN)/python -m benchmarks.ingest_bench
	$(BIN)/python -m benchmarks.triage_bench
	$(BIN)/python -m benchmarks.quality_bench
	@if deploy/kafka/kafka.sh status >/dev/null 2>&1; then $(BIN)/python -m benchmarks.kafka_bench; \
	else echo "kafka_bench skipped: no broker (make kafka-up)"; fi

lint: install
	$(BIN)/ruff check .

# mypy over the packages [tool.mypy] names in pyproject.toml
typecheck: install
	$(BIN)/mypy

# A local Kafka (KRaft, one node) on 127.0.0.1:$${KAFKA_PORT:-9092}, fetched with Maven the first
# time; `make test` runs tests/kafka against it when it is up and skips them when it is not.
kafka-up: install
	deploy/kafka/kafka.sh up

kafka-down:
	deploy/kafka/kafka.sh down

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info node_modules
