"""End to end (tmux, circusd, SQLite, the D-Bus mock): an error after a command exited reaches
the desktop, a gone session's panes leave `steward status`, and lines printed while the disk
is full become events once it is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _dbus
import _e2e_extra as x
import pytest
from _faults import fill, full_disk
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def make_stack(
    tmp_path: Path, server: object, notification_bus: _dbus.NotificationBus
) -> Iterator[x.StackFactory]:
    yield from x.stack_factory(tmp_path, str(server.socket_name), notification_bus)  # type: ignore[attr-defined]  # libtmux Server, untyped plugin fixture


def _watched(stack: Stack, name: str) -> None:
    retry_until(lambda: f"session:{name}" in stack.watchers(), 15)
    retry_until(lambda: x.followed(stack, f"session:{name}", name), 15)


def test_an_error_after_a_command_exited_reaches_the_desktop(
    make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus
) -> None:
    stack = make_stack("")
    start_session(stack, "ops")
    stack.up()
    _watched(stack, "ops")
    type_line(stack, "ops", "sleep 3")
    retry_until(lambda: bool(stack.events(session="ops", rule="state.exited")), 20)
    type_line(stack, "ops", "printf 'Err''or: helm upgrade failed after the sleep\\n'")
    retry_until(lambda: any("after the sleep" in c.body for c in notification_bus.calls()), 15)
    found = [e for e in stack.events(session="ops") if "after the sleep" in e["text"]]
    # the session assistant's line, and the deploy assistant's verdict on the helm line
    assert found and "delivered" in {e["status"] for e in found}, found
    assert not any("suppressed" in line for line in x.log_lines(stack))


def test_a_gone_sessions_panes_leave_steward_status(make_stack: x.StackFactory) -> None:
    stack = make_stack("")
    start_session(stack, "short")
    start_session(stack, "stays")
    stack.up()
    _watched(stack, "short")
    _watched(stack, "stays")
    retry_until(lambda: {"short", "stays"} <= {p["session"] for p in stack.status()["panes"]}, 20)
    stack.tmux("kill-session", "-t", "short")
    retry_until(lambda: bool(stack.events(rule="system.session_gone")), 20)
    retry_until(lambda: "short" not in {p["session"] for p in stack.status()["panes"]}, 20)
    assert "stays" in {p["session"] for p in stack.status()["panes"]}
    assert "session:short" not in {a["name"] for a in stack.status()["assistants"]}


def test_markers_written_while_the_disk_is_full_become_events(
    tmp_path: Path, make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus
) -> None:
    with full_disk(tmp_path / "steward", size="64m") as root:
        stack = make_stack("")
        assert stack.home == root
        start_session(stack, "disk")
        stack.up()
        _watched(stack, "disk")
        filler = fill(root)
        try:
            for i in range(6):
                type_line(stack, "disk", f"printf 'Err''or: disk marker {i}\\n'")
            retry_until(lambda: any("cannot write the store" in c.body
                                    for c in notification_bus.calls()), 20)
        finally:
            filler.unlink()

        def said() -> str:
            return " ".join(e["text"] + " " + e["detail"] for e in stack.events(session="disk"))

        retry_until(lambda: all(f"disk marker {i}" in said() for i in range(6)), 20)
        assert stack.events(rule="system.store_recovered")
        stack.down()  # before the tmpfs goes
