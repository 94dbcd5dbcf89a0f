"""Hung, not dead: a SIGSTOPped assistant, daemon or reconciler under a real circusd is reported
(`system.assistant_hung`, error, to the desktop) and restarted through Circus."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _dbus
import _stack
import psutil
import pytest
from _stack import Stack, start_session
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

HUNG_AFTER = 4.0


@pytest.fixture
def hung_stack(
    tmp_path: Path, server: Any, notification_bus: _dbus.NotificationBus
) -> Iterator[Stack]:
    st = _stack.Stack(tmp_path, socket_name=str(server.socket_name),
                      env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": notification_bus.address})
    text = st.config.read_text()
    st.config.write_text(text.replace("discovery_interval = 0.5\n",
                                      f"discovery_interval = 0.5\nhung_after = {HUNG_AFTER}\n")
                         + "[policy]\ngroup_interval = 0.0\n")  # each report goes out at once
    try:
        yield st
    finally:
        for pid in st.alive():  # a stopped process would take the whole graceful timeout
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                continue
        st.down()


def _beat(stack: Stack, name: str) -> dict[str, Any] | None:
    for a in stack.status()["assistants"]:
        if a["name"] == name:
            return a
    return None


def _beating_pid(stack: Stack, name: str) -> int:
    """The pid of `name` once Circus runs it and its heartbeat is fresh."""
    def fresh() -> bool:
        hb = _beat(stack, name)
        pids = stack.watchers().get(name, {}).get("pids", [])
        return hb is not None and hb["pid"] in pids and hb["last_beat_ago"] < 2.5
    retry_until(fresh, 20)
    hb = _beat(stack, name)
    assert hb is not None
    return int(hb["pid"])


def _stop_and_see_it_restarted(stack: Stack, name: str, *, reporter: str) -> int:
    pid = _beating_pid(stack, name)
    os.kill(pid, signal.SIGSTOP)
    retry_until(lambda: bool(stack.events(rule="system.assistant_hung", target=name)), 30)
    (event,) = stack.events(rule="system.assistant_hung", target=name)
    assert event["severity"] == "error" and event["assistant"] == reporter
    assert f"pid {pid}" in event["text"]
    retry_until(lambda: not psutil.pid_exists(pid) or
                psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 15)
    new = _beating_pid(stack, name)
    assert new != pid
    return new


def test_a_stopped_session_assistant_is_reported_and_restarted(
    hung_stack: Stack, notification_bus: _dbus.NotificationBus
) -> None:
    start_session(hung_stack, "alpha")
    hung_stack.up()
    _stop_and_see_it_restarted(hung_stack, "session:alpha", reporter="reconciler")
    _stop_and_see_it_restarted(hung_stack, "clock", reporter="reconciler")
    retry_until(lambda: any("hung" in c.body or "hung" in c.summary
                            for c in notification_bus.calls()), 20)
    # Healthy assistants beating away are never taken for hung ones.
    assert len(hung_stack.events(rule="system.assistant_hung")) == 2


def test_the_daemon_and_the_reconciler_watch_each_other(
    hung_stack: Stack, notification_bus: _dbus.NotificationBus
) -> None:
    hung_stack.up()
    _stop_and_see_it_restarted(hung_stack, "escalation", reporter="reconciler")
    _stop_and_see_it_restarted(hung_stack, "reconciler", reporter="escalation")
    # Both reports reach the desktop, through the restarted daemon.
    retry_until(lambda: sum("hung" in (c.body + c.summary)
                            for c in notification_bus.calls()) >= 2, 20)
    assert len(hung_stack.events(rule="system.assistant_hung")) == 2
