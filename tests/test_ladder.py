"""The ladder: one rung per session and fingerprint, and an idle tick that costs the same however
many errors are open (counted in lines of code run, not in wall time)."""

from __future__ import annotations

import gc
import sys
from types import FrameType

from test_policy import Run, event

from escalation.core.notice import Channel


def _lines(fn: object, *args: object, **kw: object) -> int:
    """How many lines of the policy's code one call of `fn` runs (the GC kept out)."""
    count = 0

    def local(frame: FrameType, what: str, _arg: object) -> object:
        nonlocal count
        if what == "line":
            count += 1
        return local

    def trace(frame: FrameType, what: str, _arg: object) -> object:
        return local if "escalation" in frame.f_code.co_filename else None

    gc.disable()
    sys.settrace(trace)  # type: ignore[arg-type]  # the tracers return themselves or None
    try:
        fn(*args, **kw)  # type: ignore[operator]  # any callable the test hands in
    finally:
        sys.settrace(None)
        gc.enable()
    return count


def test_repeats_of_one_error_share_a_rung_and_one_ack_stops_it() -> None:
    run = Run(cooldown=10.0, group_interval=0.0)
    for i in range(1, 6):  # the same line, delivered again after each cooldown
        run.offer(event(i, ts=100.0 * i, fp="same"))
        run.tick(100.0 * i + 3)  # past group_wait: each one reaches the desktop
    assert {i for n in run.on(Channel.DESKTOP) for i in n.event_ids} == {1, 2, 3, 4, 5}
    assert len(run.policy._ladder) == 1
    reminders = [n for n in run.tick(703.0) if n.channel is Channel.DESKTOP]
    assert [n.key for n in reminders] == ["desktop:renotify:1:1"]
    run.policy.ack([4])  # the PM acknowledges the latest one they saw
    assert run.tick(1303.0) == [] and run.tick(5000.0) == []


def _open_errors(n: int) -> Run:
    run = Run(rate=10**4, group_interval=0.0)  # the most notify.rate_per_minute allows
    for i in range(1, n + 1):
        run.offer(event(i, ts=1.0, session=f"s{i % 50}"))
    run.tick(3.0)
    return run


def test_an_idle_tick_is_flat_in_the_number_of_open_errors() -> None:
    few, many = _open_errors(10), _open_errors(5000)
    assert len(many.policy._ladder) == 5000
    for now in (10.0, 11.0, 300.0, 302.0, 303.0, 304.0):
        if now == 302.0:  # the cooldowns end: a one-off sweep of what they opened
            few.policy.tick(now)
            many.policy.tick(now)
            continue
        small = _lines(few.policy.tick, now)
        large = _lines(many.policy.tick, now)
        assert large <= small + 5, (now, small, large)
    # ... and the ladder still climbs when a rung is due
    due = [n for n in many.policy.tick(604.0) if n.channel is Channel.DESKTOP]
    assert {i for n in due for i in n.event_ids} == set(range(1, 5001))
