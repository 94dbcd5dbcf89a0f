"""A session assistant SIGKILLed while its pane prints errors: respawned, it repeats nothing.

Its panes' resume points are stored in the transaction of the events they led to, so even with
`policy.cooldown = 0` (every repeat would be notified again) each error line is in one event
(lines of one read are one event: the first, "+N more like it") and each event in one log line
(real tmux, circusd, SQLite, the D-Bus mock).
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import _dbus
import _e2e_extra as x
import pytest
from _stack import Stack, start_session
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

EVERY_MARKER = """
[notify]
rate_per_minute = 10000
[policy]
cooldown = 0.0
group_wait = 0.0
group_interval = 0.0
"""
MARKERS = 36
GAP = 0.25  # seconds between markers: a few in every capture interval
KILL_AT = (8, 22)  # markers written before each SIGKILL (two: a third restart is flapping)


@pytest.fixture
def make_stack(
    tmp_path: Path, server: object, notification_bus: _dbus.NotificationBus
) -> Iterator[x.StackFactory]:
    yield from x.stack_factory(tmp_path, str(server.socket_name), notification_bus)  # type: ignore[attr-defined]  # libtmux Server, untyped plugin fixture


def _assistant(stack: Stack) -> tuple[int, int]:
    """The pid and tick count in the session assistant's last heartbeat ((0, 0) before one)."""
    rows = x.query(stack, "SELECT pid, ticks FROM heartbeats WHERE assistant = 'session:work'")
    return (int(rows[0]["pid"]), int(rows[0]["ticks"])) if rows else (0, 0)


def _events(stack: Stack, uids: list[str]) -> tuple[list[int], list[str]]:
    """How many events hold each uid (in their text, or as one more like it in their detail);
    and the uid each event names first."""
    rows = x.query(stack, "SELECT text, detail FROM events WHERE rule = 'generic.error_line'")
    held = [{u for u in uids if u in f"{r['text']}\n{r['detail']}"} for r in rows]
    firsts = [next((u for u in uids if u in str(r["text"])), "") for r in rows]
    return [sum(u in h for h in held) for u in uids], firsts


def _logged(stack: Stack, uid: str) -> int:
    return sum(uid in line for line in x.log_lines(stack))


def test_a_sigkilled_session_assistant_repeats_nothing_with_cooldown_zero(
    make_stack: x.StackFactory, tmp_path: Path
) -> None:
    uids = [uuid.uuid4().hex for _ in range(MARKERS)]
    markers = tmp_path / "markers.txt"
    markers.write_text("".join(f"Error: resume marker {u}\n" for u in uids))
    go = tmp_path / "go"
    # The pane prints one marker every GAP seconds once `go` exists, then waits.
    script = (f"echo worker started; while [ ! -e {go} ]; do sleep 0.1; done; "
              f"while read -r line; do echo \"$line\"; sleep {GAP}; done < {markers}; "
              "exec sleep 1000")
    stack = make_stack(EVERY_MARKER)
    start_session(stack, "work", ("sh", "-c", script))
    stack.up()
    retry_until(lambda: x.followed(stack, "session:work", "work"), 20)
    retry_until(lambda: _assistant(stack)[0] != 0, 10)

    go.touch()
    killed: list[int] = []
    for at in KILL_AT:
        retry_until(lambda a=at: uids[a - 1] in stack.pane_text("work"), 20)  # type: ignore[misc]  # default binds the loop variable
        pid = _assistant(stack)[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        retry_until(lambda: _assistant(stack)[0] not in (0, *killed), 20)

    # Every marker stored and every event logged; then a few more ticks, for repeats to show.
    retry_until(lambda: uids[-1] in stack.pane_text("work"), 30)
    retry_until(lambda: all(_events(stack, uids)[0]), 30, raises=False)
    retry_until(lambda: all(_logged(stack, u) for u in _events(stack, uids)[1]), 30, raises=False)
    pid, ticks = _assistant(stack)
    retry_until(lambda: _assistant(stack)[1] >= ticks + 6, 20)
    assert _assistant(stack)[0] == pid
    held, firsts = _events(stack, uids)
    assert held == [1] * MARKERS, [(u, n) for u, n in zip(uids, held, strict=True) if n != 1]
    assert [_logged(stack, u) for u in firsts] == [1] * len(firsts), firsts
