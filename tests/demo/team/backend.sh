#!/usr/bin/env bash
# The demo's backend developer: runs the test suite (red), fixes the bug, runs it again (green),
# then leaves a shell.  Commands are echoed after a "$ " prompt, as an interactive shell shows them;
# job control is on (set -m, once Steward watches) so that tmux sees each command in the foreground.
set -u
. "$(dirname "$0")/pace.sh"
PATH=$DEMO_VENV/bin:$PATH  # `python` is the venv's, with pytest
work=$DEMO_DIR/work/backend
rm -rf "$work" && mkdir -p "$work" && cp "$(dirname "$0")"/backend/*.py "$(dirname "$0")"/backend/pytest.ini "$work"/
cd "$work" || exit 1
wait_for_go
set -m
run() { printf '$ %s\n' "$*"; "$@"; }
run python -m pytest -q
pace 12
run sed -i 's/quantity > 10/quantity >= 10/' pricing.py
pace 2
run python -m pytest -q
exec bash --norc --noprofile -i
