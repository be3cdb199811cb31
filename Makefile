# Each target creates or reuses .venv and installs the project, so on a fresh clone it is the only command needed.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint up bench clean lock

# Reproducible: every dependency comes from the lock file, pinned and hash-checked; then the project itself.
LOCK    = requirements/dev.txt

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Re-pin after changing dependencies in pyproject.toml: requirements/dev.txt (make, CI) and runtime.txt (the image).
# uv keeps the versions already pinned unless pyproject.toml needs others; `make lock UPGRADE=--upgrade` moves all.
lock: $(STAMP)
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra test --extra postgres --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command "make lock" -o requirements/dev.txt $(UPGRADE)
	$(BIN)/uv pip compile pyproject.toml --extra postgres --extra flower --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command "make lock" -o requirements/runtime.txt $(UPGRADE)

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
