"""End to end: a real tmux server, a real circusd, a private D-Bus with a notification daemon."""

from __future__ import annotations

import stat

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

    stack.tmux("kill-session", "-t", "=late")
    retry_until(lambda: "session:late" not in stack.watchers(), 10)
    assert stack.events(rule="system.session_gone", session="late")

    # A killed assistant is respawned.
    pids = stack.watchers()["session:alpha"]["pids"]
    assert pids
    psutil.Process(pids[0]).kill()
    retry_until(lambda: stack.watchers()["session:alpha"]["pids"] not in ([], pids), 10)

    stack.remember_pids()
    assert len(stack.pids) >= 6
    stack.steward("down")
    retry_until(lambda: not stack.alive(), 15)
    assert "pm" not in stack.tmux("list-sessions", "-F", "#{session_name}").split()


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
