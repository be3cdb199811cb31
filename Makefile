# Each target creates or reuses .venv and installs the project, so on a fresh clone it is the only command needed.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint up bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hookline demo

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

# The layer contracts (pyproject.toml [tool.importlinter]), then lint and types over the production packages.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check shared worker webhook tests bench
	$(BIN)/mypy shared worker webhook

up: $(STAMP)
	$(BIN)/hookline up --sandbox

# Benchmarks: not part of `make test`. They need redis-server and wrk (apt-get install redis-server wrk).
bench: $(STAMP)
	command -v wrk >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq redis-server wrk)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf var test-output .pytest_cache
