"""Output a flood scrolled away before a capture could read it: counted, told once an episode.

An episode begins with the first read whose lines no longer meet the last read's (`Delta.lost`)
and ends with the first read that meets it again, or the first look that finds nothing new.
It is told once: when it ends, or when it has lasted `REPORT_AFTER` seconds (what it counted
by then), whichever comes first.
"""

from __future__ import annotations

import attrs

from .new_lines import Delta

__all__ = ["REPORT_AFTER", "Overflow", "Skipped"]

REPORT_AFTER = 30.0


@attrs.frozen(kw_only=True)
class Skipped:
    """One episode of lost output: reads that missed text, rows known lost, whether more were."""

    reads: int
    rows: int
    unknown: bool  # some reads could not count what they missed (tmux's history was full)
    since: float

    def text(self, history_lines: int) -> str:
        """What the PM reads: how much, and that more may have gone."""
        if self.rows and not self.unknown:
            amount = f"{self.rows} lines"
        elif self.rows:
            amount = f"at least {self.rows} lines"
        else:
            amount = "an unknown number of lines"
        times = "once" if self.reads == 1 else f"{self.reads} times"
        return (
            f"output skipped: {amount} scrolled away before they could be read"
            f" ({times}; more than the {history_lines} lines of history kept between reads)"
        )


class Overflow:
    """The pane's current episode of lost output, if any."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._reads = 0
        self._rows = 0
        self._unknown = False
        self._since: float | None = None
        self._told = False

    def observe(self, delta: Delta | None, now: float) -> Skipped | None:
        """Take one read (None: nothing new to read); the episode to tell of now, if one is due."""
        if delta is not None and delta.lost:
            if self._since is None:
                self._since = now
            self._reads += 1
            if delta.skipped is None:
                self._unknown = True
            else:
                self._rows += delta.skipped
            if not self._told and now - self._since >= REPORT_AFTER:
                self._told = True
                return self._episode()
            return None
        if self._since is None:
            return None
        episode = None if self._told else self._episode()
        self._reset()
        return episode

    def _episode(self) -> Skipped:
        assert self._since is not None
        return Skipped(reads=self._reads, rows=self._rows, unknown=self._unknown,
                       since=self._since)
