"""`steward top` driven in a real tmux pane with send-keys and read back with capture-pane."""

from __future__ import annotations

import shlex
import sys

import pytest
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

TRACEBACK = "python3 -c \"raise ValueError('top-boom')\""


def _keys(stack: Stack, *keys: str) -> None:
    stack.tmux("send-keys", "-t", "dash", *keys)


def _screen(stack: Stack) -> str:
    return stack.tmux("capture-pane", "-p", "-t", "dash")


def test_top_lists_panes_neediest_first_and_keys_filter_ack_and_quit(stack: Stack) -> None:
    start_session(stack, "api")
    start_session(stack, "web")
    stack.up()
    retry_until(lambda: {"session:api", "session:web"} <= set(stack.watchers()), 15)
    type_line(stack, "api", TRACEBACK)
    retry_until(lambda: stack.events(rule="generic.python_traceback") != [], 20)
    start_session(stack, "dash")
    env = " ".join(f"{k}={shlex.quote(stack.env[k])}" for k in ("STEWARD_HOME", "STEWARD_CONFIG"))
    type_line(stack, "dash", f"{env} {sys.executable} -m supervisor top; echo TOP-EXIT-$?")

    def rows() -> list[str]:
        return [line for line in _screen(stack).splitlines()
                if line.lstrip(" >").startswith(("api", "web", "dash"))]

    retry_until(lambda: "steward top" in _screen(stack) and len(rows()) >= 2, 15)
    first = rows()[0]
    assert first.lstrip(" >").startswith("api") and "top-boom" in first, rows()
    assert " 1 " in first  # one open escalation
    assert all(len(line) <= 120 for line in _screen(stack).splitlines())

    _keys(stack, "/")
    _keys(stack, "-l", "web")
    _keys(stack, "Enter")
    retry_until(lambda: "filter: web" in _screen(stack), 10)
    retry_until(lambda: rows() != [] and all(r.lstrip(" >").startswith("web") for r in rows()),
                10)
    _keys(stack, "Escape")
    retry_until(lambda: "filter: web" not in _screen(stack) and len(rows()) >= 2, 10)

    assert next(r for r in rows() if r.startswith(">")).lstrip(" >").startswith("web")
    _keys(stack, "k")
    _keys(stack, "Up")  # to the top row, the neediest: api's pane with the traceback
    retry_until(lambda: next(r for r in rows() if r.startswith(">")).lstrip(" >")
                .startswith("api"), 10)
    _keys(stack, "a")
    retry_until(lambda: "acknowledged 1 event(s)" in _screen(stack), 10)
    retry_until(lambda: stack.events(rule="generic.python_traceback")[0]["status"] == "acked", 10)
    retry_until(lambda: "0 open" in _screen(stack), 10)

    _keys(stack, "s")  # silence the selected pane's session for an hour
    retry_until(lambda: "session api silenced until" in _screen(stack), 10)
    silences = stack.steward("silence", "list", "--json").stdout
    assert '"session": "api"' in silences

    _keys(stack, "q")
    retry_until(lambda: "TOP-EXIT-0" in _screen(stack), 10)
    assert "Traceback" not in _screen(stack)  # quit cleanly, the alternate screen is gone
