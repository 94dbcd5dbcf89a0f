"""The tmux server dies and a new one starts: one critical event, and the PM's session, its
`steward tail` pane and the control clients come back without `steward up`."""

from __future__ import annotations

import psutil
import pytest
from _stack import Stack, start_session
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e


def _control_clients(stack: Stack) -> set[str]:
    """The watchers whose processes hold a control-mode client on the PM's session."""
    rows = stack.tmux("list-clients", "-F",
                      "#{client_control_mode} #{client_session} #{client_pid}")
    owners = set()
    for row in rows.splitlines():
        control, session, pid = [*row.split(), "", "", ""][:3]
        if control != "1" or session != "pm":
            continue
        try:
            owners.add(psutil.Process(int(pid)).ppid())
        except (psutil.NoSuchProcess, ValueError):
            continue
    return {name for name, w in stack.watchers().items() if owners & set(w["pids"])}


def test_a_server_that_dies_and_returns(stack: Stack) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        start_session(stack, name)
    stack.up()
    retry_until(lambda: all(f"session:{n}" in stack.watchers() for n in ("a1", "a2", "a3", "a4")),
                15)
    retry_until(lambda: {"clock", "session:a1"} <= _control_clients(stack), 20)

    stack.tmux("kill-server")
    retry_until(lambda: bool(stack.events(rule="system.tmux_server_gone")), 15)
    retry_until(lambda: not any(w.startswith("session:") for w in stack.watchers()), 10)
    (gone,) = stack.events(rule="system.tmux_server_gone")
    assert gone["severity"] == "critical"
    assert "4 watched session(s)" in gone["text"] and "a3" in gone["text"]
    # One loud event, not one per session or per assistant.
    assert stack.events(rule="system.session_gone") == []

    # The user starts tmux again; Steward's `up` is not run.
    start_session(stack, "back")
    retry_until(lambda: "pm" in stack.tmux("list-sessions", "-F", "#{session_name}").split(), 15)
    pane = stack.tmux("list-panes", "-t", "=pm:", "-F", "#{pane_start_command}")
    assert "supervisor tail" in pane
    retry_until(lambda: "tmux server is gone" in stack.pane_text("pm"), 15)
    retry_until(lambda: "session:back" in stack.watchers(), 15)
    # The clock and the new session's assistant read through control clients again, attached
    # to the new PM session.
    retry_until(lambda: {"clock", "session:back"} <= _control_clients(stack), 30)
    assert stack.events(rule="system.pm_session_restored")
    warnings = [e for e in stack.events() if e["severity"] == "warning"]
    assert warnings == [], warnings
