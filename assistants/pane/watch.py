"""One watched pane: new lines through the rules and the state machine, out as Events."""

from __future__ import annotations

import collections
import time
from collections.abc import Sequence

from escalation.core.config import StatesConfig
from escalation.core.events import PANE_DEAD, Event, Kind, Severity, new_event, safe_text
from escalation.core.memo import PaneMemo
from escalation.core.redact import redact
from escalation.core.sanitize import sanitize
from escalation.core.store import FeedBatch, PaneRecord
from escalation.core.tmux import PaneInfo, Tmux
from escalation.rules import Hit, RuleSet, Scope

from .foreground import foreground_command
from .new_lines import Capture, Delta
from .overflow import Overflow
from .reader import PaneReader
from .resume import Masker, masked, tail
from .state import Observation, PaneState, StateTracker

__all__ = ["PaneWatch", "coalesce", "pane_event"]

RECENT_LINES = 200
# Quiet ticks after which a block still open (a traceback cut short) is ended.
_FLUSH_AFTER_QUIET = 1
# Seconds a dead pane may go without an exit status before it counts as killed by a signal.
DEAD_SETTLE = 3.0
_ENDED = (PaneState.EXITED, PaneState.CRASHED)


def pane_event(
    info: PaneInfo,
    *,
    now: float,
    assistant: str,
    rule: str,
    severity: Severity,
    kind: Kind,
    text: str,
    detail: str = "",
    line: str = "",
) -> Event:
    """An Event about one pane (built by `new_event`, fingerprinted by the line it is about)."""
    return new_event(
        ts=now,
        session=info.session,
        window=info.window_index,
        pane=info.pane_id,
        target=info.target,
        assistant=assistant,
        rule=rule,
        severity=severity,
        kind=kind,
        text=text,
        detail=detail,
        line=line,
    )


def coalesce(hits: Sequence[Hit]) -> list[tuple[Hit, list[Hit]]]:
    """One event per line rule per read: the first hit, and the later ones of the same rule.

    `npm ERR!` ten times, or every line of one compiler run, is one thing for the PM; the
    event names the first line and carries the others as its detail.
    """
    out: list[tuple[Hit, list[Hit]]] = []
    first: dict[str, list[Hit]] = {}
    for hit in hits:
        if hit.rule.scope is Scope.LINE and hit.rule.id in first:
            first[hit.rule.id].append(hit)
            continue
        more: list[Hit] = []
        if hit.rule.scope is Scope.LINE:
            first[hit.rule.id] = more
        out.append((hit, more))
    return out


class PaneWatch:
    """Everything an assistant keeps about one pane between ticks."""

    def __init__(
        self,
        *,
        tmux: Tmux,
        info: PaneInfo,
        ruleset: RuleSet,
        states: StatesConfig,
        history_lines: int,
        assistant: str,
        record: PaneRecord | None = None,
    ) -> None:
        memo = record.memo if record is not None else PaneMemo()
        self.info = info
        self.assistant = assistant
        self.reader = PaneReader(
            tmux,
            info.pane_id,
            history_lines=history_lines,
            last=Capture.from_json(memo.capture) if memo.capture is not None else None,
            resume_mask=masked,
        )
        self.masker = Masker()  # redacts what `record` stores
        self.ruleset = ruleset
        self.matcher = ruleset.matcher()
        self.tracker = (
            StateTracker.from_json(states, memo.tracker)
            if memo.tracker is not None
            else StateTracker(states)
        )
        self.recent: collections.deque[str] = collections.deque(memo.recent, maxlen=RECENT_LINES)
        self.screen: tuple[str, ...] = ()
        self.partial = ""
        self.prompt: str | None = None
        self.busy = False
        self.quiet = 0
        self.dirty = True
        self._dead_unsettled: float | None = None
        self.overflow = Overflow()
        self.history_lines = history_lines
        self.command = info.current_command  # the foreground command, a shell's job included
        # None: the first step announces the pane to the feed's followers.
        self._fed_command: str | None = None
        # The lines of the last step for the line feed (redacted), or a command change.
        self.fed: FeedBatch | None = None

    def step(self, info: PaneInfo, now: float) -> list[Event]:
        """Read the pane if it changed; events for new matching lines and state changes."""
        self.info = info
        delta = self.reader.read(info)
        events: list[Event] = []
        lines: Sequence[str] = delta.lines if delta is not None else ()
        hits: list[Hit] = []
        redacted: list[str] = []
        if lines:
            self.quiet = 0
            hits += self.matcher.feed(lines)
            redacted = [redact(line) for line in lines]
            for line, done in zip(lines, redacted, strict=True):
                self.masker.remember(line, done)
            # Only the last RECENT_LINES are kept: make only those safe.
            self.recent.extend(
                sanitize(line) for line in redacted[-RECENT_LINES:] if line.strip()
            )
            self.dirty = True
        else:
            self.quiet += 1
            if self.quiet == _FLUSH_AFTER_QUIET:
                hits += self.matcher.flush()
        if delta is not None:
            self._look_at_screen(delta)
        skipped = self.overflow.observe(delta, now)
        if skipped is not None:
            events.append(
                pane_event(
                    info,
                    now=now,
                    assistant=self.assistant,
                    rule="system.output_skipped",
                    severity=Severity.WARNING,
                    kind=Kind.SYSTEM,
                    text=skipped.text(self.history_lines),
                )
            )
        self.fed = None
        command = foreground_command(info.current_command, info.pid)
        self.command = command
        if lines or command != self._fed_command:
            self._fed_command = command
            self.fed = FeedBatch(
                ts=now, session=info.session, window=info.window_index, pane=info.pane_id,
                target=info.target, command=command,
                lines=tuple(redacted),
            )
        for hit, more in coalesce(hits):
            detail = "\n".join(hit.lines) if len(hit.lines) > 1 else ""
            text = hit.message
            if more:
                text += f" (+{len(more)} more like it)"
                detail = "\n".join(h.line for h in (hit, *more))
            events.append(
                pane_event(
                    info,
                    now=now,
                    assistant=self.assistant,
                    rule=hit.rule.id,
                    severity=hit.rule.severity,
                    kind=Kind.PATTERN,
                    text=text,
                    detail=detail,
                    line=hit.line,
                )
            )
        # tmux flags a pane dead when its terminal closes, and records the exit status when
        # it reaps the process: without a status, the verdict waits (at most DEAD_SETTLE s).
        dead = info.dead
        if dead and info.dead_status is None and info.dead_signal is None:
            if self._dead_unsettled is None:
                self._dead_unsettled = time.monotonic()
            if time.monotonic() - self._dead_unsettled < DEAD_SETTLE:
                dead = False
        else:
            self._dead_unsettled = None
        obs = Observation(
            now=now,
            new_output=bool(lines),
            screen_changed=bool(delta is not None and delta.changed),
            prompt=self.prompt,
            busy=self.busy,
            command=command,
            dead=dead,
            dead_status=info.dead_status,
            crash_seen=any("crash" in h.rule.tags for h in hits),
            serving=any("serving" in h.rule.tags for h in hits),
            dead_signal=info.dead_signal,
        )
        change = self.tracker.observe(obs)
        if change is not None:
            self.dirty = True
            quiet_start = change.old is None and change.new in (PaneState.ACTIVE, PaneState.IDLE)
            if not quiet_start:
                events.append(
                    pane_event(
                        info,
                        now=now,
                        assistant=self.assistant,
                        rule=f"state.{change.new.value}",
                        severity=change.severity,
                        kind=Kind.STATE,
                        text=change.text,
                        detail=PANE_DEAD if dead and change.new in _ENDED else "",
                    )
                )
        if events:
            self.dirty = True  # what they came from is stored with them
        return events

    def _look_at_screen(self, delta: Delta) -> None:
        if delta.screen == self.screen and delta.partial == self.partial:
            return  # the same screen: the prompt and busy rules would say the same
        self.screen = delta.screen
        self.partial = delta.partial
        prompt = self.ruleset.prompt(delta.screen, delta.partial)
        self.prompt = safe_text(prompt.message) if prompt is not None else None
        self.busy = self.ruleset.busy(delta.screen) is not None

    def record(self, now: float) -> PaneRecord:
        """What to persist so that a respawned assistant resumes without repeating itself."""
        last = self.reader.last
        state = self.tracker.state
        mask = self.masker
        mask.turn()
        return PaneRecord(
            assistant=self.assistant,
            pane=self.info.pane_id,
            session=self.info.session,
            target=self.info.target,
            command=self.command,
            state=state.value if state is not None else "unknown",
            since=self.tracker.since if self.tracker.since is not None else now,
            updated=now,
            memo=PaneMemo(
                capture=masked(tail(last), mask).to_json() if last is not None else None,
                tracker=self.tracker.to_json(),
                recent=tuple(self.recent),
                prompt=self.prompt,
            ),
        )
