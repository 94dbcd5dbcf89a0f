"""End to end: a real tmux server, a real circusd, a private D-Bus with a notification daemon."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import _dbus
import psutil
import pytest
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

TRACEBACK = (
    "python3 -c \"import json; json.loads('{broken')\""
)


def _one_assistant_ticks(stack: Stack, name: str) -> int:
    for a in stack.status()["assistants"]:
        if a["name"] == name:
            return int(a["ticks"])
    return -1


def test_traceback_reaches_log_pm_pane_and_desktop_once(
    stack: Stack, notification_bus: _dbus.NotificationBus
) -> None:
    start_session(stack, "work")
    stack.up()
    retry_until(lambda: "session:work" in stack.watchers(), 10)
    retry_until(lambda: _one_assistant_ticks(stack, "session:work") > 0, 10)

    type_line(stack, "work", TRACEBACK)

    retry_until(lambda: len(stack.events(rule="generic.python_traceback")) == 1, 15)
    event = stack.events(rule="generic.python_traceback")[0]
    assert event["session"] == "work"
    assert "JSONDecodeError" in event["text"]
    assert event["severity"] == "error"
    assert event["target"].startswith("work:")
    assert event["pane"].startswith("%")

    retry_until(lambda: len(notification_bus.calls()) >= 1, 15)
    call = notification_bus.calls()[0]
    assert call.urgency is not None
    assert "JSONDecodeError" in call.body or "work" in call.summary
    retry_until(lambda: "JSONDecodeError" in stack.pane_text("pm"), 15)

    # The traceback stays on screen for several more captures: nothing more is delivered.
    ticks = _one_assistant_ticks(stack, "session:work")
    retry_until(lambda: _one_assistant_ticks(stack, "session:work") >= ticks + 5, 20)
    assert len(stack.events(rule="generic.python_traceback")) == 1
    assert len(notification_bus.calls()) == 1
    assert len(stack.deliveries("desktop")) == 1


def test_sessions_come_and_go_and_down_leaves_nothing(stack: Stack) -> None:
    start_session(stack, "alpha")
    stack.up()
    retry_until(lambda: "session:alpha" in stack.watchers(), 10)

    start_session(stack, "late")
    retry_until(lambda: "session:late" in stack.watchers(), 10)
    retry_until(lambda: any(p["session"] == "late" for p in stack.status()["panes"]), 10)

    stack.tmux("kill-session", "-t", "=late")
    # Gone from `steward status` (and `top`, the same board) at once, not at the next look.
    assert not any(p["session"] == "late" for p in stack.status()["panes"])
    retry_until(lambda: "session:late" not in stack.watchers(), 10)
    assert stack.events(rule="system.session_gone", session="late")

    # A killed assistant is respawned; one that keeps dying is reported as flapping.
    def beating(pid: int) -> bool:
        return any(a["name"] == "session:alpha" and a["pid"] == pid
                   for a in stack.status()["assistants"])

    for _ in range(3):
        pids = stack.watchers()["session:alpha"]["pids"]
        assert pids
        retry_until(lambda: beating(pids[0]), 10)  # noqa: B023  # waited on in this iteration
        psutil.Process(pids[0]).kill()
        retry_until(lambda: stack.watchers()["session:alpha"]["pids"] not in ([], pids), 10)  # noqa: B023  # used before the loop moves on
        stack.remember_pids()
    retry_until(
        lambda: bool(stack.events(rule="system.assistant_flapping", target="session:alpha")), 10
    )

    stack.remember_pids()
    assert len(stack.pids) >= 6
    stack.steward("down")
    retry_until(lambda: not stack.alive(), 15)
    assert "pm" not in stack.tmux("list-sessions", "-F", "#{session_name}").split()
    circusd_log = (stack.home / "log" / "circusd.log").read_text()
    assert "ConflictError" not in circusd_log and "Traceback" not in circusd_log


def test_no_network_listener_and_private_runtime_dir(stack: Stack) -> None:
    stack.up()
    run = stack.home / "run"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert stat.S_IMODE((stack.home / "steward.db").stat().st_mode) & 0o077 == 0
    for pid in stack.alive():
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        assert conns == [], f"pid {pid} has inet sockets: {conns}"


def test_up_twice_is_harmless_and_status_reports_panes(stack: Stack) -> None:
    start_session(stack, "api")
    stack.up()
    again = stack.steward("up")
    assert "already up" in again.stdout
    retry_until(lambda: any(p["session"] == "api" for p in stack.status()["panes"]), 15)
    pane = next(p for p in stack.status()["panes"] if p["session"] == "api")
    assert pane["state"] in {"active", "idle", "stalled", "waiting_input", "exited", "crashed"}
    assert pane["for"] >= 0


def test_executive_summaries_reach_the_log_as_one_line_when_changed_and_the_cli_whole(
    tmp_path: Path, server: Any, notification_bus: _dbus.NotificationBus
) -> None:
    st = Stack(tmp_path, socket_name=str(server.socket_name),
               env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": notification_bus.address},
               extra_config="[summary]\ninterval = 2.0\n[states]\nidle_after = 1.0\n")
    try:
        start_session(st, "backend")
        st.up()
        retry_until(lambda: "session:backend" in st.watchers(), 10)
        type_line(st, "backend", "echo 'Decided to use SQLite instead of Postgres for the cache'")
        type_line(st, "backend", "echo 'migrating tables: 45% (9/20)'")
        type_line(st, "backend", "echo 'Next, I will add the retry tests'")
        log = st.home / "log" / "steward.log"

        def headlines() -> list[str]:
            text = log.read_text() if log.exists() else ""
            return [line for line in text.splitlines() if "summary.executive" in line]

        retry_until(lambda: headlines() != [], 20)
        text = log.read_text()
        assert "summary backend: " in headlines()[0]
        assert "Executive Summary" not in text and "- Current Focus:" not in text
        # Once the pane is idle nothing changes: no more summaries are written.
        retry_until(lambda: any(p["state"] == "idle" for p in st.status()["panes"]), 15)
        ticks = _one_assistant_ticks(st, "session:backend")
        retry_until(lambda: _one_assistant_ticks(st, "session:backend") >= ticks + 6, 20)
        settled = len(headlines())
        ticks = _one_assistant_ticks(st, "session:backend")
        retry_until(lambda: _one_assistant_ticks(st, "session:backend") >= ticks + 10, 20)
        assert len(headlines()) == settled

        out = st.steward("summary", "backend", "--json").stdout
        data = json.loads(out.splitlines()[0])
        assert data["session"] == "backend"
        assert any("SQLite" in d for d in data["decisions"])
        assert data["progress"] == []  # "45%" on the screen is no verdict of a run
        plain = st.steward("summary", "backend").stdout
        assert "Session: backend - Executive Summary" in plain
        assert "- Next Steps:" in plain and "retry tests" in plain
        assert "- Blockers:" not in plain  # nothing blocks: the section is left out
        assert len(headlines()) == settled  # the CLI printed and wrote nothing
        gone = st.steward("summary", "nosuch", check=False)
        assert gone.returncode == 2 and "no such session 'nosuch'" in gone.stderr
    finally:
        st.down()
