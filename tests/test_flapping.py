"""Flapping: Circus's backoff is respected, and every episode is reported (a real circusd), plus
the episode bookkeeping on its own."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _dbus
import _stack
import pytest
from _stack import Stack, start_session
from libtmux.test.retry import retry_until

from escalation.core.events import Event
from escalation.core.store import Store
from supervisor.arbiter import Arbiter
from supervisor.flapping import FIRST_RETRY, MAX_RETRY, STEADY, WINDOW, Flapping

# -- the bookkeeping ------------------------------------------------------------------------


def test_a_crash_loop_is_stopped_and_reported_once() -> None:
    f = Flapping()
    assert not f.restarted("session:a", 0.0).stop
    assert not f.restarted("session:a", 0.5).stop
    v = f.restarted("session:a", 1.0)
    assert v.stop and v.report is not None and "episode 1" in v.report
    assert f"{FIRST_RETRY:.0f}s" in v.report


def test_a_held_watcher_is_started_only_after_a_growing_backoff() -> None:
    f = Flapping()
    for t in (0.0, 0.5, 1.0):
        v = f.restarted("w", t)
    assert v.stop
    assert not f.status("w", "stopped", 1.0 + FIRST_RETRY - 0.1).start
    assert f.status("w", "stopped", 1.0 + FIRST_RETRY).start
    t = 1.0 + FIRST_RETRY
    f.status("w", "active", t + 0.1)
    for dt in (0.2, 0.4, 0.6):  # it dies again at once: held twice as long, same episode
        v = f.restarted("w", t + dt)
    assert v.stop and v.report is None
    t += 0.6
    assert not f.status("w", "stopped", t + 2 * FIRST_RETRY - 0.1).start
    assert f.status("w", "stopped", t + 2 * FIRST_RETRY).start
    assert f.episodes("w") == 1
    for _ in range(12):  # the backoff stops growing at MAX_RETRY
        f.status("w", "active", t)
        for dt in (0.1, 0.2, 0.3):
            f.restarted("w", t + dt)
        t += 0.3 + MAX_RETRY
        assert f.status("w", "stopped", t).start
    assert f.backoff("w") == MAX_RETRY


def test_a_watcher_circus_stopped_waits_its_backoff_too() -> None:
    f = Flapping()
    v = f.status("qa", "stopped", 0.0)
    assert v.report is not None and not v.start
    for t in range(1, int(FIRST_RETRY)):
        assert not f.status("qa", "stopped", float(t)).start
    assert f.status("qa", "stopped", FIRST_RETRY).start


def test_every_episode_is_reported() -> None:
    f = Flapping()
    t = 0.0
    for episode in (1, 2, 3):
        for dt in (0.0, 1.0):
            assert f.restarted("qa", t + dt).report is None
        v = f.restarted("qa", t + 2.0)
        assert v.report is not None and f"episode {episode}" in v.report
        f.status("qa", "stopped", t + 3.0)
        assert f.status("qa", "stopped", t + 3.0 + FIRST_RETRY).start
        f.status("qa", "active", t + 4.0 + FIRST_RETRY)
        f.status("qa", "active", t + 5.0 + FIRST_RETRY + STEADY)  # steady: the episode ends
        assert f.backoff("qa") == FIRST_RETRY
        t += 10 * STEADY
    assert f.episodes("qa") == 3


def test_restarts_spread_wider_than_the_window_are_no_episode() -> None:
    f = Flapping()
    for i in range(10):
        assert not f.restarted("qa", i * (WINDOW / 2 + 1)).stop


# -- under a real circusd -------------------------------------------------------------------


@pytest.fixture
def flap_stack(
    tmp_path: Path, server: Any, notification_bus: _dbus.NotificationBus
) -> Iterator[Stack]:
    st = _stack.Stack(tmp_path, socket_name=str(server.socket_name),
                      env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": notification_bus.address})
    try:
        yield st
    finally:
        st.down()


@pytest.mark.e2e
def test_a_crash_loop_is_held_back_and_reported(flap_stack: Stack) -> None:
    stack = flap_stack
    stack.up()
    # A bad edit to the config after `up`: the next assistant to start dies at once, again and
    # again (before it ever beats), and Circus would respawn it every check_delay for ever.
    stack.config.write_text(stack.config.read_text() + "[states]\ndebounce = 0\n")
    start_session(stack, "flappy")
    with Arbiter(stack.home / "run") as arbiter:
        retry_until(lambda: bool(_flap_events(stack)), 30)
        retry_until(lambda: arbiter.status().get("session:flappy") == "stopped", 10)
        stopped_at = time.monotonic()
        # Held stopped for its backoff: the reconciler does not start it again every round.
        seen = []
        while time.monotonic() - stopped_at < FIRST_RETRY - 3:
            seen.append(arbiter.status().get("session:flappy"))
            time.sleep(0.5)  # sampling the status over a span, not waiting for a condition
        assert set(seen) == {"stopped"}, seen
        log = stack.home / "log" / "reconciler.log"
        # Then it is tried again, dies again, and is held twice as long; the same episode.
        retry_until(lambda: log.read_text().count("session:flappy keeps dying") >= 2, 20)
        assert time.monotonic() - stopped_at >= FIRST_RETRY - 1
        assert "stopped for 20s" in log.read_text()
    (event,) = _flap_events(stack)
    assert "episode 1" in event.text and event.severity.label == "error"
    # The config is still broken: `steward down` says so, and stops everything all the same.
    stack.remember_pids()
    done = stack.steward("down")
    assert "stopping Steward all the same" in done.stderr and "Steward is down." in done.stdout
    retry_until(lambda: stack.alive() == [], 10)


def _flap_events(stack: Stack) -> list[Event]:
    """Read from the store itself: the `steward` CLI refuses the config this test broke."""
    with Store(stack.home / "steward.db") as store:
        return [e for e in store.events() if e.rule == "system.assistant_flapping"
                and e.target == "session:flappy"]
