# The README's commands. Each target creates .venv on first use, so a fresh clone needs only Python 3.11+
# (with its venv module) and make; `make test` also installs what the suite needs beside Python (#11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every process a test run starts inherits SUITE_RUN_ID; .ci/leftovers.py fails on any that outlives it (#11).
RUN_ID := $(shell date +%s)-$(shell echo $$$$)

.PHONY: run test test-deps lint bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "make: '$(PYTHON) -m venv' failed; on Debian/Ubuntu: sudo apt-get install -y python3-venv" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Migrate, then serve; the worker ingests the last days from Hugging Face and arXiv (issue #2).
# Offline, with an empty store, the log and the home page say to load the bundled sample:
# `.venv/bin/papertrend ingest sample` (issue #11).
run: $(STAMP)
	$(BIN)/papertrend db upgrade
	$(BIN)/papertrend serve

# What the suite needs beside Python: PostgreSQL 15 + pgvector (its PostgreSQL run, issue #6) and
# Debian's chromium with fonts (tests/browser, issue #4). Both scripts return at once when installed;
# otherwise they install with root or sudo, or fail naming the command to run.
test-deps:
	@bash .ci/postgres.sh
	@bash .ci/chromium.sh

test: $(STAMP) test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	@bash .ci/suite.sh $(RUN_ID)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The ingest benchmark over the full data sets: DATA=dir (default ../shared/data when present).
bench: $(STAMP)
	$(BIN)/python bench/ingest.py $(if $(DATA),--data $(DATA))

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
