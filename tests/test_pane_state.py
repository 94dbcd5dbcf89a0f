"""Pane states: each transition, the debounce, persistence, and properties of any sequence."""

from __future__ import annotations

import itertools
import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistants.pane.state import (
    Observation,
    PaneState,
    StateTracker,
    Transition,
    is_shell,
)
from escalation.core.config import StatesConfig
from escalation.core.events import Severity

CFG = StatesConfig(idle_after=30.0, stalled_after=120.0, debounce=2)


def obs(now: float, **kw: Any) -> Observation:
    base: dict[str, Any] = {
        "new_output": False,
        "screen_changed": False,
        "prompt": None,
        "busy": False,
        "command": "bash",
        "dead": False,
        "dead_status": None,
    }
    base.update(kw)
    return Observation(now=now, **base)


def run(tracker: StateTracker, samples: list[Observation]) -> list[Transition]:
    out = []
    for o in samples:
        t = tracker.observe(o)
        if t is not None:
            out.append(t)
    return out


def settled(state: PaneState, at: float = 0.0) -> StateTracker:
    return StateTracker(CFG, state=state, since=at)


# --- is_shell -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", ["bash", "zsh", "sh", "fish", "dash", "ksh", "tcsh", "csh", "nu", "-bash", "-zsh"]
)
def test_shells_are_shells(command: str) -> None:
    assert is_shell(command)


@pytest.mark.parametrize("command", ["make", "python3", "vim", "claude", "bashtop", "", "node"])
def test_other_commands_are_not_shells(command: str) -> None:
    assert not is_shell(command)


# --- the first sample ------------------------------------------------------------------


def test_no_state_before_the_first_sample() -> None:
    tracker = StateTracker(CFG)
    assert tracker.state is None and tracker.since is None


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, PaneState.IDLE),
        ({"command": "claude"}, PaneState.IDLE),
        ({"command": "make"}, PaneState.ACTIVE),
        ({"new_output": True}, PaneState.ACTIVE),
        ({"screen_changed": True}, PaneState.ACTIVE),
        ({"command": "claude", "busy": True}, PaneState.ACTIVE),
        ({"command": "apt", "prompt": "Do you want to continue? [Y/n]"}, PaneState.WAITING_INPUT),
        ({"dead": True, "dead_status": 0}, PaneState.EXITED),
        ({"dead": True, "dead_status": 2}, PaneState.CRASHED),
    ],
)
def test_first_sample_establishes_a_state(kw: dict[str, Any], expected: PaneState) -> None:
    tracker = StateTracker(CFG)
    t = tracker.observe(obs(100.0, **kw))
    assert t is not None
    assert (t.old, t.new, t.since) == (None, expected, 100.0)
    assert (tracker.state, tracker.since) == (expected, 100.0)
    assert tracker.observe(obs(101.0, **kw)) is None


# --- active and the debounce -------------------------------------------------------------


def test_one_changed_sample_is_not_activity() -> None:
    tracker = settled(PaneState.IDLE)
    assert tracker.observe(obs(1, new_output=True)) is None
    assert tracker.observe(obs(2)) is None
    assert tracker.observe(obs(3, screen_changed=True)) is None
    assert tracker.observe(obs(4)) is None
    assert tracker.state is PaneState.IDLE


def test_consecutive_changes_are_activity_since_the_first() -> None:
    tracker = settled(PaneState.IDLE)
    assert tracker.observe(obs(10, new_output=True)) is None
    t = tracker.observe(obs(11, screen_changed=True))
    assert t == Transition(
        old=PaneState.IDLE,
        new=PaneState.ACTIVE,
        since=10,
        severity=Severity.INFO,
        text="active: bash is running",
    )


def test_busy_marker_is_activity() -> None:
    tracker = settled(PaneState.IDLE)
    run(tracker, [obs(1, command="claude", busy=True)])
    t = tracker.observe(obs(2, command="claude", busy=True))
    assert t is not None and t.new is PaneState.ACTIVE and t.text == "active: claude is working"


@pytest.mark.parametrize("debounce", [1, 2, 3, 5])
def test_debounce_counts_agreeing_samples(debounce: int) -> None:
    tracker = StateTracker(attrs.evolve(CFG, debounce=debounce), state=PaneState.IDLE, since=0)
    for i in range(1, debounce):
        assert tracker.observe(obs(i, new_output=True)) is None
    t = tracker.observe(obs(debounce, new_output=True))
    assert t is not None and t.new is PaneState.ACTIVE and t.since == 1


def test_a_held_state_is_never_reported_again() -> None:
    tracker = settled(PaneState.IDLE)
    ts = run(tracker, [obs(i, new_output=True) for i in range(1, 50)])
    assert [t.new for t in ts] == [PaneState.ACTIVE]


# --- idle ------------------------------------------------------------------------------


def test_shell_quiet_for_idle_after_is_idle() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(1, new_output=True), obs(2, new_output=True)])
    assert run(tracker, [obs(t) for t in (5, 10, 20, 31, 32)]) == []
    t = tracker.observe(obs(33))
    assert t is not None
    assert (t.old, t.new, t.since, t.severity) == (
        PaneState.ACTIVE,
        PaneState.IDLE,
        32,
        Severity.INFO,
    )
    assert t.text == "idle: at the bash prompt, no output for 31s"


def test_one_quiet_sample_is_not_idle() -> None:
    tracker = settled(PaneState.ACTIVE)
    tracker.observe(obs(0, new_output=True))
    assert tracker.observe(obs(40)) is None
    assert tracker.observe(obs(41, new_output=True)) is None
    assert tracker.observe(obs(80)) is None
    assert tracker.state is PaneState.ACTIVE


def test_agent_at_rest_is_idle_not_stalled() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(0, command="claude", new_output=True)])
    ts = run(tracker, [obs(t, command="claude") for t in range(10, 400, 10)])
    assert [t.new for t in ts] == [PaneState.IDLE]
    assert ts[0].text.startswith("idle: claude is at rest, no output for")


def test_any_command_that_showed_a_busy_marker_rests_when_it_goes() -> None:
    tracker = settled(PaneState.IDLE)
    work = [obs(t, command="node", busy=True) for t in (1, 2, 3)]
    rest = [obs(t, command="node") for t in range(10, 300, 10)]
    assert [t.new for t in run(tracker, work + rest)] == [PaneState.ACTIVE, PaneState.IDLE]


# --- stalled ---------------------------------------------------------------------------


def test_silent_command_stalls_after_stalled_after() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(0, command="make", new_output=True)])
    assert run(tracker, [obs(t, command="make") for t in range(5, 125, 5)]) == []
    t = tracker.observe(obs(125, command="make"))
    assert t is not None
    assert (t.new, t.severity, t.since) == (PaneState.STALLED, Severity.WARNING, 120)
    assert t.text == "stalled: make has printed nothing for 2m 05s"


def test_a_server_that_said_it_listens_rests_instead_of_stalling() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(0, command="uvicorn", new_output=True, serving=True)])
    ts = run(tracker, [obs(t, command="uvicorn") for t in range(5, 400, 5)])
    assert [t.new for t in ts] == [PaneState.IDLE]
    # A new command in the pane has to say so again.
    run(tracker, [obs(400, command="make", new_output=True)])
    later = run(tracker, [obs(t, command="make") for t in range(405, 600, 5)])
    assert [t.new for t in later] == [PaneState.STALLED]


def test_busy_command_never_stalls() -> None:
    tracker = settled(PaneState.ACTIVE)
    ts = run(tracker, [obs(t, command="claude", busy=True) for t in range(0, 1000, 5)])
    assert ts == []


def test_stalled_command_that_prints_again_is_active() -> None:
    tracker = settled(PaneState.STALLED)
    run(tracker, [obs(0, command="make")])
    assert tracker.observe(obs(200, command="make", new_output=True)) is None
    t = tracker.observe(obs(201, command="make", new_output=True))
    assert t is not None and (t.old, t.new) == (PaneState.STALLED, PaneState.ACTIVE)


# --- waiting_input ----------------------------------------------------------------------

PROMPT = "Continue? [Y/n]"


def test_prompt_must_settle_before_waiting() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(0, command="apt", new_output=True)])
    assert tracker.observe(obs(1, command="apt", new_output=True, prompt=PROMPT)) is None
    t = tracker.observe(obs(2, command="apt", prompt=PROMPT))
    assert t is not None
    assert (t.new, t.severity, t.since) == (PaneState.WAITING_INPUT, Severity.WARNING, 2)
    assert t.text == "waiting for input: Continue? [Y/n]"
    assert run(tracker, [obs(t, command="apt", prompt=PROMPT) for t in range(3, 500)]) == []


def test_a_changing_prompt_is_not_settled() -> None:
    tracker = settled(PaneState.ACTIVE)
    samples = [obs(t, command="apt", prompt=f"Downloading {t}% [y/n]") for t in range(1, 10)]
    assert run(tracker, samples) == []


def test_a_prompt_flicker_does_not_leave_waiting() -> None:
    tracker = settled(PaneState.WAITING_INPUT)
    run(tracker, [obs(0, command="apt", prompt=PROMPT), obs(1, command="apt", prompt=PROMPT)])
    samples = [obs(2, command="apt"), obs(3, command="apt", prompt=PROMPT)]
    samples += [obs(t, command="apt", prompt=PROMPT) for t in range(4, 10)]
    assert run(tracker, samples) == []


def test_answered_prompt_leaves_waiting_for_active() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(t, command="apt", prompt=PROMPT) for t in (0, 1)])
    assert tracker.state is PaneState.WAITING_INPUT
    assert tracker.observe(obs(5, command="apt", new_output=True)) is None
    t = tracker.observe(obs(6, command="apt"))
    assert t is not None and (t.old, t.new, t.since) == (
        PaneState.WAITING_INPUT,
        PaneState.ACTIVE,
        5,
    )


def test_a_shell_prompt_answered_long_ago_goes_idle() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(t, prompt="Password:") for t in (0, 1)])
    assert tracker.state is PaneState.WAITING_INPUT
    ts = run(tracker, [obs(t) for t in (100, 101)])
    assert [t.new for t in ts] == [PaneState.IDLE]


def test_control_characters_never_reach_the_text() -> None:
    tracker = settled(PaneState.ACTIVE)
    evil = "\x1b[31mProceed?\x07 [y/N]\x1b]0;owned\x07"
    ts = run(tracker, [obs(t, command="x", prompt=evil) for t in (0, 1)])
    assert len(ts) == 1
    assert all(ord(c) >= 32 and c != "\x7f" for c in ts[0].text)
    assert "Proceed?" in ts[0].text


# --- exited and crashed -------------------------------------------------------------------


def test_dead_pane_with_status_zero_exited_at_once() -> None:
    tracker = settled(PaneState.ACTIVE)
    t = tracker.observe(obs(7, command="make", dead=True, dead_status=0))
    assert t is not None
    assert (t.new, t.severity, t.since) == (PaneState.EXITED, Severity.INFO, 7)
    assert t.text == "exited: pane dead, exit status 0"
    assert tracker.observe(obs(8, command="make", dead=True, dead_status=0)) is None


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (139, "crashed: pane dead, exit status 139 (SIGSEGV)"),
        (137, "crashed: pane dead, exit status 137 (SIGKILL)"),
        (1, "crashed: pane dead, exit status 1"),
        (None, "crashed: pane dead, killed by signal 9 (SIGKILL)"),
    ],
)
def test_dead_pane_otherwise_crashed_at_once(status: int | None, text: str) -> None:
    tracker = settled(PaneState.ACTIVE)
    sig = 9 if status is None else None
    t = tracker.observe(obs(7, command="app", dead=True, dead_status=status, dead_signal=sig))
    assert t is not None
    assert (t.new, t.severity, t.text) == (PaneState.CRASHED, Severity.ERROR, text)


def test_dead_pane_without_status_or_signal_is_exited_not_crashed() -> None:
    tracker = settled(PaneState.ACTIVE)
    t = tracker.observe(obs(7, command="app", dead=True, dead_status=None))
    assert t is not None
    assert (t.new, t.text) == (PaneState.EXITED, "exited: pane dead, exit status unknown")


def test_return_to_the_shell_is_exited() -> None:
    tracker = settled(PaneState.IDLE)
    ts = run(tracker, [obs(t, command="make", new_output=True) for t in (1, 2, 3)])
    assert [t.new for t in ts] == [PaneState.ACTIVE]
    t = tracker.observe(obs(4))
    assert t is not None
    assert (t.old, t.new, t.since) == (PaneState.ACTIVE, PaneState.EXITED, 4)
    assert t.text == "exited: make returned to the shell"
    assert tracker.observe(obs(5)) is None


def test_a_command_seen_once_did_not_run() -> None:
    tracker = settled(PaneState.IDLE)
    assert run(tracker, [obs(1, command="ls"), obs(2), obs(3)]) == []


def test_return_to_the_shell_right_after_a_crash_is_crashed() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(t, command="python3", new_output=True) for t in (1, 2)])
    tracker.observe(obs(3, command="python3", new_output=True, crash_seen=True))
    t = tracker.observe(obs(4, new_output=True))
    assert t is not None
    assert (t.new, t.severity) == (PaneState.CRASHED, Severity.ERROR)
    assert t.text == "crashed: python3 failed and returned to the shell"


def test_a_short_command_that_crashed_counts() -> None:
    tracker = settled(PaneState.IDLE)
    tracker.observe(obs(1, command="python3", new_output=True, crash_seen=True))
    t = tracker.observe(obs(2, new_output=True))
    assert t is not None and t.new is PaneState.CRASHED


def test_an_old_crash_does_not_taint_a_clean_exit() -> None:
    tracker = settled(PaneState.ACTIVE)
    run(tracker, [obs(1, command="server", new_output=True, crash_seen=True)])
    run(tracker, [obs(t, command="server", new_output=True) for t in range(2, 20)])
    t = tracker.observe(obs(20))
    assert t is not None and t.new is PaneState.EXITED


def test_after_exit_a_quiet_shell_goes_idle() -> None:
    tracker = settled(PaneState.EXITED)
    run(tracker, [obs(0)])
    assert run(tracker, [obs(t) for t in range(1, 30)]) == []
    ts = run(tracker, [obs(t) for t in range(30, 40)])
    assert [t.new for t in ts] == [PaneState.IDLE]


def test_a_respawned_pane_comes_back_to_life() -> None:
    tracker = settled(PaneState.ACTIVE)
    tracker.observe(obs(1, dead=True, dead_status=1))
    ts = run(tracker, [obs(t, command="app", new_output=True) for t in (2, 3)])
    assert [(t.old, t.new) for t in ts] == [(PaneState.CRASHED, PaneState.ACTIVE)]


# --- clock and persistence --------------------------------------------------------------


def test_a_clock_that_goes_back_is_read_as_standing_still() -> None:
    tracker = settled(PaneState.IDLE, at=100)
    tracker.observe(obs(100, new_output=True))
    t = tracker.observe(obs(50, new_output=True))
    assert t is not None and t.since == 100


def test_state_and_since_come_together() -> None:
    with pytest.raises(ValueError, match="together"):
        StateTracker(CFG, state=PaneState.IDLE)


def test_json_round_trip_carries_on_exactly() -> None:
    tracker = StateTracker(CFG)
    run(tracker, [obs(0, command="apt", new_output=True), obs(1, command="apt", prompt=PROMPT)])
    data = json.loads(json.dumps(tracker.to_json()))
    again = StateTracker.from_json(CFG, data)
    assert (again.state, again.since) == (tracker.state, tracker.since)
    rest = [obs(2, command="apt", prompt=PROMPT), obs(3, command="apt", prompt=PROMPT)]
    assert run(again, rest) == run(tracker, rest)
    assert again.state is PaneState.WAITING_INPUT


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"state": "sleeping"}, "sleeping"),
        ({"bogus": 1}, "unknown keys"),
        ({"since": "yesterday"}, "since"),
        ({"prompt_count": True}, "prompt_count"),
    ],
)
def test_from_json_refuses_what_to_json_never_wrote(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StateTracker.from_json(CFG, data)


# --- properties of any sequence ---------------------------------------------------------

_samples = st.lists(
    st.fixed_dictionaries(
        {
            "dt": st.sampled_from([0.0, 0.5, 1.0, 5.0, 31.0, 125.0, -3.0]),
            "new_output": st.booleans(),
            "screen_changed": st.booleans(),
            "prompt": st.sampled_from([None, None, "Continue? [Y/n]", "Password:"]),
            "busy": st.booleans(),
            "command": st.sampled_from(["bash", "make", "claude", "python3", "-zsh"]),
            "dead": st.sampled_from([False, False, False, True]),
            "dead_status": st.sampled_from([None, 0, 1, 139]),
            "crash_seen": st.sampled_from([False, False, True]),
        }
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_samples, st.integers(min_value=1, max_value=4), st.integers(min_value=0, max_value=60))
def test_any_sequence_is_consistent(
    samples: list[dict[str, Any]], debounce: int, split: int
) -> None:
    cfg = attrs.evolve(CFG, debounce=debounce)
    tracker = StateTracker(cfg)
    now = clock = 1000.0
    seen: list[Transition] = []
    for i, s in enumerate(samples):
        if i == split:
            tracker = StateTracker.from_json(cfg, json.loads(json.dumps(tracker.to_json())))
        now += s.pop("dt")
        clock = max(clock, now)
        t = tracker.observe(Observation(now=now, **s))
        if t is None:
            continue
        if seen:
            assert t.old is seen[-1].new  # picks up where the last one left
            assert t.new is not t.old  # a held state is never re-reported
            assert t.since >= seen[-1].since  # time only moves forward
        else:
            assert t.old is None
        assert t.since <= clock and (tracker.state, tracker.since) == (t.new, t.since)
        assert all(ord(c) >= 32 for c in t.text) and len(t.text) <= 120
        seen.append(t)
    assert all(a.new is not b.new for a, b in itertools.pairwise(seen))
    if samples:
        assert seen and seen[0].old is None
