# Steward: `make up` runs it, `make test` proves it. Everything lives in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

# Debian packages: `make up` needs tmux (and venv for Python); the tests also build
# dbus-python and talk to a notification server and Alertmanager. .ci/system-packages
# installs the missing ones (root, or sudo without a password) or names them and the
# command to run.
RUNTIME_PACKAGES := tmux python3-venv
TEST_PACKAGES := $(RUNTIME_PACKAGES) libnotify-bin dbus dbus-x11 libdbus-1-dev libglib2.0-dev \
	pkg-config prometheus-alertmanager

.PHONY: up down status test check lint typecheck bench soak eval clean demo demo-down screenshots \
	system-runtime system-test

system-runtime:
	@bash .ci/system-packages "make up" $(RUNTIME_PACKAGES)

system-test:
	@bash .ci/system-packages "make test" $(TEST_PACKAGES)

$(VENV)/.runtime: pyproject.toml | system-runtime
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime | system-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

up: $(VENV)/.runtime system-runtime
	$(BIN)/steward up

down: $(VENV)/.runtime
	$(BIN)/steward down

status: $(VENV)/.runtime
	$(BIN)/steward status

lint: $(VENV)/.dev
	$(BIN)/ruff check supervisor assistants escalation tests

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# What CI runs (.ci/run calls it on a fresh clone).
test: lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

check: test

# Replays tests/corpus through real tmux panes with Steward at its defaults (several minutes).
eval: $(VENV)/.dev
	$(PY) tests/eval/corpus_eval.py $(EVAL_ARGS)

bench: $(VENV)/.dev
	$(PY) tests/bench/steward_bench.py

# Churn, a flood, SIGKILLs, a SIGSTOP, a full disk and a tmux server restart on 20 sessions
# (SOAK_SECONDS, default 600).
soak: $(VENV)/.dev
	$(PY) tests/soak/steward_soak.py

# A simulated team on its own tmux server (socket steward-demo), state in .demo/.
demo: $(VENV)/.runtime system-runtime
	@bash tests/demo/demo up

demo-down:
	@bash tests/demo/demo down

# The pictures in docs/, made from the demo.
screenshots: $(VENV)/.runtime system-runtime
	@bash tests/demo/screenshots

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache bench-results
