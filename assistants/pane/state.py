"""Debounced pane states, so that the PM hears of a pane's state changes and never of its flicker.

The tracker is pure: every sample carries its own clock (`Observation.now`), and a
sample earlier than the last one is read as happening at the last one's time.

Rules, checked in this order on every sample:

- exited / crashed, immediate facts:
  the pane is dead (`pane_dead`): status 0 is exited; any other status, or none
  (killed by a signal), is crashed.  Or the foreground command returned to a shell
  after a non-shell command ran (was seen on `debounce` consecutive samples, or
  fired a crash rule): crashed if a crash rule (`crash_seen`) fired on this sample or
  one of the `debounce` samples before, else exited.
- waiting_input: the same prompt seen on `debounce` consecutive samples with no new
  output in between (a settled prompt); entered as soon as it settles.  It is left,
  through the debounce below, when the pane moves on: new output, or the prompt gone
  or replaced (the pane is then active, or idle/stalled when quiet long enough).
- active, idle, stalled, debounced: each sample proposes one of them, or nothing,
  and a state changes only after `debounce` consecutive samples propose the same new
  state (one changed sample is not activity, one quiet sample is not idle):
    - active: new output, a changed screen, or a busy marker (an agent working);
    - idle: quiet for `idle_after` seconds with a shell in the foreground, or an
      agent at rest (a known agent command, or any command that showed a busy
      marker, now without one);
    - stalled: quiet for `stalled_after` seconds with another command in the
      foreground, no busy marker, and no line saying it serves (a server that printed
      its listening line and then only serves is idle, not stalled);
    - otherwise (quiet, but not long enough) the sample proposes nothing and the
      state is held.
- The very first sample establishes a state at once (a transition with old=None):
  dead panes as above, a visible prompt is waiting_input, activity or a busy marker
  is active, a shell or an agent at rest is idle, any other command is active.

A held state is never reported twice; at most one transition comes from a sample.
"""

from __future__ import annotations

import enum
import signal
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import attrs

from escalation.core.config import StatesConfig
from escalation.core.events import Severity
from escalation.core.sanitize import sanitize

__all__ = ["AGENT_COMMANDS", "Observation", "PaneState", "StateTracker", "Transition", "is_shell"]

# fmt: off
_SHELLS = frozenset({
    "bash", "zsh", "sh", "fish", "dash", "ksh", "mksh", "oksh", "pdksh", "yash", "ash",
    "tcsh", "csh", "nu", "nushell", "xonsh", "elvish", "pwsh", "rc", "es",
})

AGENT_COMMANDS = frozenset({
    "claude", "codex", "aider", "gemini", "goose", "opencode", "amp", "cursor-agent",
    "copilot", "crush", "qwen",
})
# fmt: on
"""Foreground commands of coding agents, which rest (idle) rather than stall when quiet."""

_TEXT_CAP = 120


class PaneState(enum.StrEnum):
    """What a pane is doing, as the PM needs to know it."""

    ACTIVE = "active"
    IDLE = "idle"
    STALLED = "stalled"
    WAITING_INPUT = "waiting_input"
    EXITED = "exited"
    CRASHED = "crashed"


_SEVERITY = {
    PaneState.ACTIVE: Severity.INFO,
    PaneState.IDLE: Severity.INFO,
    PaneState.EXITED: Severity.INFO,
    PaneState.STALLED: Severity.WARNING,
    PaneState.WAITING_INPUT: Severity.WARNING,
    PaneState.CRASHED: Severity.ERROR,
}


@attrs.frozen(kw_only=True)
class Observation:
    """One sample of a pane, as the capture and the rules engine saw it."""

    now: float
    new_output: bool
    screen_changed: bool
    prompt: str | None
    busy: bool
    command: str
    dead: bool
    dead_status: int | None
    crash_seen: bool = False
    dead_signal: int | None = None  # the signal that killed a dead pane, when tmux knows it
    serving: bool = False  # a line said the command serves (a server's "listening" line)


@attrs.frozen(kw_only=True)
class Transition:
    """A pane entered a new state; `text` is one sentence for the PM."""

    old: PaneState | None
    new: PaneState
    since: float
    severity: Severity
    text: str


def is_shell(command: str) -> bool:
    """Whether `command` (tmux's pane_current_command) is an interactive shell."""
    name = PurePosixPath(command.strip()).name.lstrip("-")
    return name in _SHELLS


def _is_agent(command: str) -> bool:
    return PurePosixPath(command.strip()).name.lstrip("-") in AGENT_COMMANDS


def _clean(text: str) -> str:
    text = " ".join(sanitize(text).split())
    return text if len(text) <= _TEXT_CAP else text[: _TEXT_CAP - 1] + "…"


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _status_text(status: int | None, sig: int | None = None) -> str:
    if status is None:
        if sig is None:
            return "exit status unknown"
        try:
            return f"killed by signal {sig} ({signal.Signals(sig).name})"
        except ValueError:
            return f"killed by signal {sig}"
    if 128 < status < 128 + 65:
        try:
            return f"exit status {status} ({signal.Signals(status - 128).name})"
        except ValueError:
            return f"exit status {status}"
    return f"exit status {status}"


@attrs.define(kw_only=True)
class _Memory:
    """Everything the tracker remembers between samples (persisted by to_json)."""

    state: PaneState | None = None
    since: float | None = None
    last_now: float | None = None
    last_activity: float | None = None
    pending: PaneState | None = None
    pending_count: int = 0
    pending_since: float = 0.0
    prompt: str | None = None
    prompt_count: int = 0
    waiting_prompt: str | None = None
    command: str = ""
    command_samples: int = 0
    command_ran: bool = False
    busy_seen: bool = False
    serving_seen: bool = False
    samples_since_crash: int | None = None


class StateTracker:
    """Turns a pane's samples into debounced state transitions."""

    def __init__(
        self, config: StatesConfig, *, state: PaneState | None = None, since: float | None = None
    ) -> None:
        if (state is None) != (since is None):
            raise ValueError("state and since are given together or not at all")
        self._config = config
        self._m = _Memory(state=state, since=since, last_now=since)

    @property
    def state(self) -> PaneState | None:
        """The state held now, None before the first sample."""
        return self._m.state

    @property
    def since(self) -> float | None:
        """When the held state began."""
        return self._m.since

    def observe(self, obs: Observation) -> Transition | None:
        """Take one sample; return the transition it completes, if any."""
        m = self._m
        now = obs.now if m.last_now is None else max(obs.now, m.last_now)
        first = m.state is None
        prev_command = m.command
        returned = self._track_command(obs)
        self._track_prompt(obs, reset=obs.command != prev_command)
        if obs.crash_seen:
            m.samples_since_crash = 0
        elif m.samples_since_crash is not None:
            m.samples_since_crash += 1
        if obs.new_output or obs.screen_changed or m.last_activity is None:
            m.last_activity = now
        m.last_now = now

        if obs.dead:
            # Neither a status nor a signal: tmux lost the exit status; not a crash we saw.
            clean = obs.dead_status == 0 or (obs.dead_status is None and obs.dead_signal is None)
            new = PaneState.EXITED if clean else PaneState.CRASHED
            verb = "exited" if new is PaneState.EXITED else "crashed"
            why = _status_text(obs.dead_status, obs.dead_signal)
            return self._enter(new, now, f"{verb}: pane dead, {why}")
        if returned:
            name = _clean(prev_command) or "the command"
            if self._crash_recent():
                return self._enter(
                    PaneState.CRASHED, now, f"crashed: {name} failed and returned to the shell"
                )
            return self._enter(PaneState.EXITED, now, f"exited: {name} returned to the shell")
        if m.prompt is not None and (m.prompt_count >= self._config.debounce or first):
            m.waiting_prompt = m.prompt
            return self._enter(PaneState.WAITING_INPUT, now, f"waiting for input: {m.prompt}")
        if first:
            return self._enter(self._initial(obs), now, self._text(self._initial(obs), obs, now))
        return self._propose(self._proposal(obs, now), obs, now)

    def _track_command(self, obs: Observation) -> bool:
        """Follow the foreground command; True when a command that ran gave way to a shell."""
        m = self._m
        shell = is_shell(obs.command)
        if obs.command != m.command:
            returned = shell and m.command_ran and not obs.dead
            m.command = obs.command
            m.command_samples = 0
            m.command_ran = False
            m.busy_seen = False
            m.serving_seen = False
        else:
            returned = False
        m.command_samples += 1
        m.busy_seen = m.busy_seen or obs.busy
        m.serving_seen = m.serving_seen or obs.serving
        if not shell and (
            m.command_samples >= self._config.debounce or obs.crash_seen or self._crash_recent()
        ):
            m.command_ran = True
        return returned

    def _crash_recent(self) -> bool:
        n = self._m.samples_since_crash
        return n is not None and n <= self._config.debounce

    def _track_prompt(self, obs: Observation, *, reset: bool) -> None:
        """Count the samples on which the same prompt stood with no new output."""
        m = self._m
        prompt = _clean(obs.prompt) if obs.prompt else None
        if reset or prompt is None or obs.new_output or prompt != m.prompt:
            m.prompt_count = 0
        m.prompt = prompt
        if prompt is not None:
            m.prompt_count += 1

    def _initial(self, obs: Observation) -> PaneState:
        if obs.new_output or obs.screen_changed or obs.busy:
            return PaneState.ACTIVE
        if is_shell(obs.command) or _is_agent(obs.command):
            return PaneState.IDLE
        return PaneState.ACTIVE

    def _proposal(self, obs: Observation, now: float) -> PaneState | None:
        m = self._m
        cfg = self._config
        if obs.busy or obs.new_output or obs.screen_changed:
            return PaneState.ACTIVE
        quiet = now - (m.last_activity if m.last_activity is not None else now)
        # A server that said it listens and then only serves is at rest, not stalled.
        resting = (
            is_shell(obs.command) or _is_agent(obs.command) or m.busy_seen or m.serving_seen
        )
        if quiet >= cfg.stalled_after and not resting:
            return PaneState.STALLED
        if quiet >= cfg.idle_after and resting:
            return PaneState.IDLE
        moved_on = m.prompt is None or m.prompt != m.waiting_prompt
        if m.state is PaneState.WAITING_INPUT and moved_on:
            return PaneState.ACTIVE
        return None

    def _propose(
        self, proposal: PaneState | None, obs: Observation, now: float
    ) -> Transition | None:
        m = self._m
        if proposal is None or proposal is m.state:
            m.pending, m.pending_count = None, 0
            return None
        if proposal is m.pending:
            m.pending_count += 1
        else:
            m.pending, m.pending_count, m.pending_since = proposal, 1, now
        if m.pending_count < self._config.debounce:
            return None
        return self._enter(proposal, m.pending_since, self._text(proposal, obs, now))

    def _text(self, state: PaneState, obs: Observation, now: float) -> str:
        name = _clean(obs.command) or "the command"
        quiet = now - (self._m.last_activity if self._m.last_activity is not None else now)
        if state is PaneState.ACTIVE:
            return f"active: {name} is working" if obs.busy else f"active: {name} is running"
        if state is PaneState.STALLED:
            return f"stalled: {name} has printed nothing for {_duration(quiet)}"
        for_how_long = f", no output for {_duration(quiet)}" if quiet >= 1 else ""
        if is_shell(obs.command):
            return f"idle: at the {name} prompt{for_how_long}"
        return f"idle: {name} is at rest{for_how_long}"

    def _enter(self, new: PaneState, since: float, text: str) -> Transition | None:
        m = self._m
        m.pending, m.pending_count = None, 0
        if new is m.state:
            return None
        if new is not PaneState.WAITING_INPUT:
            m.waiting_prompt = None
        old = m.state
        since = max(since, m.since) if m.since is not None else since
        m.state, m.since = new, since
        return Transition(old=old, new=new, since=since, severity=_SEVERITY[new], text=_clean(text))

    def to_json(self) -> dict[str, object]:
        """Everything needed to carry on where this tracker stands, as plain JSON values."""
        data = attrs.asdict(self._m)
        data["state"] = None if self._m.state is None else self._m.state.value
        data["pending"] = None if self._m.pending is None else self._m.pending.value
        return data

    @classmethod
    def from_json(cls, config: StatesConfig, data: Mapping[str, Any]) -> StateTracker:
        """A tracker that carries on from `to_json`; ValueError when `data` is not one."""
        unknown = set(data) - {f.name for f in attrs.fields(_Memory)}
        if unknown:
            raise ValueError(f"pane state: unknown keys {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name in ("state", "pending"):
                if value is not None and value not in [s.value for s in PaneState]:
                    raise ValueError(f"pane state: {name} cannot be {value!r}")
                values[name] = None if value is None else PaneState(str(value))
            elif not _fits(name, value):
                raise ValueError(f"pane state: {name} cannot be {value!r}")
            else:
                values[name] = value
        if (values.get("state") is None) != (values.get("since") is None):
            raise ValueError("pane state: state and since are given together or not at all")
        tracker = cls(config)
        tracker._m = _Memory(**values)
        return tracker


_NUMBER = (int, float)
_SCHEMA: dict[str, tuple[type, ...]] = {
    "since": (*_NUMBER, type(None)),
    "last_now": (*_NUMBER, type(None)),
    "last_activity": (*_NUMBER, type(None)),
    "pending_count": (int,),
    "pending_since": _NUMBER,
    "prompt": (str, type(None)),
    "prompt_count": (int,),
    "waiting_prompt": (str, type(None)),
    "command": (str,),
    "command_samples": (int,),
    "command_ran": (bool,),
    "busy_seen": (bool,),
    "serving_seen": (bool,),
    "samples_since_crash": (int, type(None)),
}


def _fits(name: str, value: object) -> bool:
    allowed = _SCHEMA[name]
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)
