# Steward: `make up` runs it, `make test` proves it. Everything lives in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: up down status test check lint typecheck bench eval clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

up: $(VENV)/.runtime
	$(BIN)/steward up

down: $(VENV)/.runtime
	$(BIN)/steward down

status: $(VENV)/.runtime
	$(BIN)/steward status

lint: $(VENV)/.dev
	$(BIN)/ruff check supervisor assistants escalation tests

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# What CI runs (after .ci/run has installed the system packages).
test: lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

check: test

# Replays tests/corpus through real tmux panes with Steward at its defaults (several minutes).
eval: $(VENV)/.dev
	$(PY) tests/eval/corpus_eval.py $(EVAL_ARGS)

bench: $(VENV)/.dev
	$(PY) tests/bench/steward_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache bench-results
