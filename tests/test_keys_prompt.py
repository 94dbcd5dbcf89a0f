"""The send-keys PM mode against real prompts: readline, prompt_toolkit, one that hangs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import libtmux
import pytest
from libtmux.test.retry import retry_until

from escalation.core.events import Severity
from escalation.core.notice import Channel, Notice
from escalation.core.tmux import Tmux
from escalation.sinks.pm import KeysSink

READLINE = """
import readline
while True:
    line = input("pm> ")
    print(f"GOT[{len(line)}] {line[:40]}")
"""
PROMPT_TOOLKIT = """
from prompt_toolkit import PromptSession
session = PromptSession()
while True:
    line = session.prompt("agent> ")
    print(f"GOT[{len(line)}] {line[:40]}")
"""
# Echoes what it is given but swallows Enter: a paste lands, the report is never submitted.
STUCK = """
import os, sys, tty
tty.setraw(0)
sys.stdout.write("stuck> "); sys.stdout.flush()
while True:
    data = os.read(0, 4096)
    for swallowed in (b"\\r", b"\\x1b[200~", b"\\x1b[201~"):
        data = data.replace(swallowed, b"")
    os.write(1, data)
"""


@pytest.fixture
def tmux(server: libtmux.Server) -> Tmux:
    assert server.socket_name is not None
    return Tmux(socket_name=server.socket_name)


def _notices(n: int) -> list[Notice]:
    return [Notice(key=f"keys:group:api:{i}", channel=Channel.KEYS, severity=Severity.ERROR,
                   title="", body=f"Error: problem number {i} " + "detail " * 20,
                   target=f"api:1.{i}", session="api", rule="generic.error_line",
                   event_ids=(i,), ts=time.time()) for i in range(n)]


def _prompt_pane(tmux: Tmux, tmp_path: Path, script: str, ready: str, width: int = 80) -> str:
    path = tmp_path / "prompt.py"
    path.write_text(script)
    tmux.new_session("pm", [sys.executable, str(path)], width=width, height=30)
    pane = tmux.panes("pm")[0].pane_id
    tmux.cmd("set-option", "-t", pane, "remain-on-exit", "on")
    # prompt_toolkit takes seconds to import on a busy machine; capture drops trailing spaces
    retry_until(lambda: ready.strip() in "\n".join(tmux.capture(pane)), seconds=30)
    return pane


def _report_length(notices: list[Notice]) -> int:
    from escalation.sinks.pm import format_report

    return len(format_report(notices))


@pytest.mark.parametrize(("script", "ready"), [(READLINE, "pm> "), (PROMPT_TOOLKIT, "agent> ")],
                         ids=["readline", "prompt_toolkit"])
def test_a_long_report_is_pasted_whole_and_submitted_once(
    tmux: Tmux, tmp_path: Path, script: str, ready: str
) -> None:
    pane = _prompt_pane(tmux, tmp_path, script, ready)
    failures: list[str] = []
    sink = KeysSink(tmux, pane, on_failure=lambda why, _n: failures.append(why))
    notices = _notices(4)
    for n in notices:
        sink.deliver(n)
    assert sink.type_report() == 4
    length = _report_length(notices)
    assert length > 3 * 80  # it wraps over several rows of the prompt
    text = lambda: "\n".join(tmux.capture(pane))  # noqa: E731
    retry_until(lambda: f"GOT[{length}] Steward report, 4 notices" in text(), seconds=10)
    assert text().count("GOT[") == 1  # one submission: no Enter landed mid-paste
    assert failures == [] and sink.failed == 0
    assert sink.ready()  # the prompt is empty again


def test_a_report_that_is_not_submitted_is_recorded_failed(tmux: Tmux, tmp_path: Path) -> None:
    pane = _prompt_pane(tmux, tmp_path, STUCK, "stuck> ")
    failures: list[tuple[str, int]] = []
    sink = KeysSink(tmux, pane, on_failure=lambda why, n: failures.append((why, len(n))),
                    deadline=1.0)
    sink.deliver(_notices(1)[0])
    assert sink.type_report() == 0
    assert sink.failed == 1 and sink.pending == 0
    assert len(failures) == 1 and failures[0][1] == 1
    assert "not submitted" in failures[0][0]
    assert "Steward report, 1 notice" in "\n".join(tmux.capture(pane, join=True))
