"""A slow summary command runs beside the captures, never in their way (a real circusd, tmux)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _dbus
import _stack
import psutil
import pytest
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

SLOW = 20


@pytest.fixture
def slow_stack(
    tmp_path: Path, server: Any, notification_bus: _dbus.NotificationBus
) -> Iterator[Stack]:
    st = _stack.Stack(
        tmp_path, socket_name=str(server.socket_name),
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": notification_bus.address},
        extra_config=f'[summary]\ninterval = 1.0\ncommand = "sleep {SLOW}"\ntimeout = 60.0\n',
    )
    try:
        yield st
    finally:
        st.down()


def _summary_commands(stack: Stack) -> list[psutil.Process]:
    pids = stack.watchers().get("session:work", {}).get("pids", [])
    out = []
    for pid in pids:
        try:
            out += [c for c in psutil.Process(pid).children() if c.name() == "sleep"]
        except psutil.NoSuchProcess:
            continue
    return out


def test_captures_go_on_while_the_summary_command_runs(slow_stack: Stack) -> None:
    stack = slow_stack
    start_session(stack, "work")
    stack.up()
    retry_until(lambda: bool(_summary_commands(stack)), 20)
    (sleeper,) = _summary_commands(stack)
    started = time.monotonic()
    type_line(stack, "work", "python3 -c \"import json; json.loads('{broken')\"")
    retry_until(lambda: bool(stack.events(rule="generic.python_traceback")), 10)
    # The traceback was read and stored while the summary command was still running.
    assert sleeper.is_running() and time.monotonic() - started < SLOW - 2
    # One summary command at a time: the next snapshots wait (are dropped), not pile up.
    assert len(_summary_commands(stack)) == 1
    # When it ends (having printed nothing) the built-in summary is written instead.
    retry_until(lambda: bool(stack.events(rule="system.summary_command_failed")), SLOW + 15)
    retry_until(lambda: bool(stack.events(rule="summary.executive", session="work")), 10)
