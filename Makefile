# The README's commands. Each target creates .venv on first use, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Migrate, then ingest the last days from Hugging Face and arXiv and list them (issue #2);
# offline it says so and how to load a file instead.
run: $(STAMP)
	$(BIN)/papertrend db upgrade
	$(BIN)/papertrend serve

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q
	@echo "== the same suite on PostgreSQL (issue #6): a throwaway cluster on 127.0.0.1; tests marked sqlite_only are deselected and listed =="
	$(BIN)/pytest -q --db=postgres

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
