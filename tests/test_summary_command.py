"""summary.command on a real Steward: off the capture thread, and a failure said once."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import _dbus
import pytest
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e


def _ticks(stack: Stack, name: str) -> int:
    return next((int(a["ticks"]) for a in stack.status()["assistants"] if a["name"] == name), -1)


def _stack(tmp_path: Path, server: Any, bus: _dbus.NotificationBus, script: str) -> Stack:
    command = shlex.join([sys.executable, "-c", script])
    return Stack(tmp_path, socket_name=str(server.socket_name),
                 env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus.address},
                 extra_config=f"[summary]\ninterval = 1.0\ntimeout = 20.0\n"
                              f"command = '''{command}'''\n")


def test_a_slow_summary_command_never_holds_up_the_captures(
    tmp_path: Path, server: Any, notification_bus: _dbus.NotificationBus
) -> None:
    started, done = tmp_path / "started", tmp_path / "done"
    script = (f"import json, pathlib, sys, time; pathlib.Path({str(started)!r}).touch();"
              " view = json.load(sys.stdin); time.sleep(8);"
              f" pathlib.Path({str(done)!r}).touch();"
              " print('- Current Focus: ' + str(len(view['panes'])) + ' pane read by the command')")
    st = _stack(tmp_path, server, notification_bus, script)
    try:
        start_session(st, "backend")
        st.up()
        retry_until(started.exists, 30)
        type_line(st, "backend", "echo 'Error: captured while the summary command runs'")
        retry_until(lambda: st.events(rule="generic.error_line") != [], 10)
        assert not done.exists()  # the captures went on while the command ran
        log = st.home / "log" / "steward.log"
        retry_until(lambda: log.exists() and "1 pane read by the command" in log.read_text(), 30)
    finally:
        st.down()


def test_a_failing_summary_command_falls_back_and_says_so_once(
    tmp_path: Path, server: Any, notification_bus: _dbus.NotificationBus
) -> None:
    st = _stack(tmp_path, server, notification_bus, "import sys; sys.exit('no model here')")
    try:
        start_session(st, "backend")
        st.up()
        retry_until(lambda: st.events(rule="system.summary_command_failed") != [], 30)
        said = st.events(rule="system.summary_command_failed")[0]["text"]
        assert "no model here" in said and "built-in summary" in said
        log = st.home / "log" / "steward.log"
        retry_until(lambda: "summary backend:" in log.read_text(), 20)  # the built-in one
        ticks = _ticks(st, "session:backend")
        retry_until(lambda: _ticks(st, "session:backend") >= ticks + 8, 20)  # 4 more intervals
        assert len(st.events(rule="system.summary_command_failed")) == 1
    finally:
        st.down()
