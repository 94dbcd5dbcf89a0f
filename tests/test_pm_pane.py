"""The PM pane as the user sees it: real Steward, real attached client, 80 and 200 columns."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _client import AttachedClient
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

FEED_ROW = re.compile(r"^\d\d:\d\d (info|WARN|ERR |CRIT) ")
RULE = "─"
LONG = "x" * 150
TRACEBACK = f"python3 -c \"raise ValueError('{LONG}')\""


def _screen(stack: Stack) -> list[str]:
    return stack.tmux("capture-pane", "-p", "-t", "pm").rstrip("\n").split("\n")


def _width(stack: Stack) -> int:
    return int(stack.tmux("display-message", "-p", "-t", "pm", "#{pane_width}").strip())


def _client_session(stack: Stack) -> str:
    """The session the user's client shows (the assistants' control clients left out)."""
    rows = stack.tmux("list-clients", "-F", "#{client_control_mode} #{client_session}").split("\n")
    return " ".join(r[2:] for r in rows if r.startswith("0 "))


def _parts(lines: list[str]) -> tuple[list[str], list[str]]:
    """The header (above the rule) and the feed (below it, without blank rows)."""
    cut = next(i for i, line in enumerate(lines) if line.startswith(RULE * 10))
    return lines[:cut], [line for line in lines[cut + 1 :] if line.strip()]


@pytest.fixture
def pm_stack(stack: Stack) -> Iterator[Stack]:
    # Reminders come quickly: an unacknowledged error is told again after 4 s.
    stack.config.write_text(stack.config.read_text()
                            + "[policy]\nrenotify_after = 4.0\nescalate_after = 600.0\n"
                            "[states]\nidle_after = 1.0\n")
    yield stack


def test_pm_pane_header_feed_reminders_and_summary_at_80_and_200_columns(
    pm_stack: Stack,
) -> None:
    stack = pm_stack
    start_session(stack, "api")
    start_session(stack, "web")
    stack.up()
    assert "desktop notifications on" in stack.up_output
    retry_until(lambda: {"session:api", "session:web"} <= set(stack.watchers()), 15)
    client = AttachedClient(stack.socket_name, "pm", stack.env, width=80, height=30)
    try:
        retry_until(lambda: _width(stack) == 80, 10)
        type_line(stack, "api", TRACEBACK)
        type_line(stack, "web", "read -p 'Deploy to production? [y/N] ' answer")
        retry_until(lambda: stack.events(rule="generic.python_traceback") != [], 20)
        retry_until(lambda: stack.events(rule="state.waiting_input") != [], 20)
        error_id = stack.events(rule="generic.python_traceback")[0]["id"]

        def shows_all() -> bool:
            header, feed = _parts(_screen(stack))
            text = "\n".join(feed)
            return (any(line.startswith("api ") for line in header)
                    and any(line.startswith("web ") and "waiting" in line for line in header)
                    and "ValueError" in text and "Deploy to production" in text
                    and "unacknowledged for" in text)

        retry_until(shows_all, 30)
        header, feed = _parts(_screen(stack))
        api = next(line for line in header if line.startswith("api "))
        web = next(line for line in header if line.startswith("web "))
        assert re.search(r"\b(crashed|active|idle|exited)\b", api), api
        assert "waiting" in web and "1 open" in web, web
        assert all(len(line) <= 80 for line in header + feed)
        # Every feed row is one entry (nothing wrapped), warnings and worse only.
        assert all(FEED_ROW.match(line) for line in feed), feed
        assert not any(line[6:10] == "info" for line in feed
                       if "summary" not in line and "recovered" not in line), feed
        error_row = next(line for line in feed if "ValueError" in line)
        assert error_row.endswith(f"#{error_id}") and "…" in error_row, error_row
        assert "tmux switch-client" not in "\n".join(feed)
        assert any("unacknowledged for" in line for line in feed)

        # `steward summary` prints the whole text and adds nothing to the pane.
        before = _parts(_screen(stack))[1]
        printed = stack.steward("summary", "api").stdout
        assert "Session: api - Executive Summary" in printed
        assert "none seen" not in printed
        assert stack.steward("summary", "nosuch", check=False).returncode == 2
        project = stack.steward("summary").stdout
        assert "Project: " in project.splitlines()[0] and "- Blockers: " in project
        after = _parts(_screen(stack))[1]
        assert [r for r in after if "summary" in r] == [r for r in before if "summary" in r]

        client.resize(200, 40)
        retry_until(lambda: _width(stack) == 200, 10)
        retry_until(lambda: any(len(line) > 100 and "ValueError" in line
                                for line in _parts(_screen(stack))[1]), 10)
        header, feed = _parts(_screen(stack))
        assert all(len(line) <= 200 for line in header + feed)
        assert all(FEED_ROW.match(line) for line in feed), feed
        assert any(line.startswith("api ") for line in header)

        # `steward show` has the detail and the jump; `steward go` moves the PM's client.
        shown = stack.steward("show", str(error_id)).stdout
        assert "Traceback (most recent call last)" in shown
        assert "switch-client -t 'api:0.0'" in shown.replace("-L " + stack.socket_name + " ", "")
        assert stack.steward("show", "999999", check=False).returncode == 2
        assert stack.steward("go", "nosuch", check=False).returncode == 2
        stack.steward("go", f"#{error_id}")
        retry_until(lambda: _client_session(stack) == "api", 10)
        stack.steward("go", "pm")
        retry_until(lambda: _client_session(stack) == "pm", 10)
    finally:
        client.close()


def test_up_without_a_bus_says_so_once(tmp_path: Path, server: Any) -> None:
    st = Stack(tmp_path, socket_name=str(server.socket_name),
               env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"})
    try:
        proc = st.steward("up")
        said = proc.stdout + proc.stderr
        assert said.count("desktop notifications off") == 1, said
        assert "Traceback" not in said
    finally:
        st.down()
