"""Reads one pane: no capture when list-panes shows nothing moved, else the new lines."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from escalation.core.tmux import PaneInfo, Tmux

from .new_lines import Capture, Delta, carry, extract

__all__ = ["PaneReader", "signature"]

# window_activity counts whole seconds: output this recent may not be in the last capture.
_RECENT_ACTIVITY = 2.0
# A short read reaches this many lines back, and keeps this many above what is new.
_SHORT_READ = 128
_MARGIN = 64


def signature(info: PaneInfo) -> tuple[int, int, int, int, bool, bool, int, int]:
    """What a list-panes row says of a pane's text; equal signatures, nothing new (mostly)."""
    return (
        info.history_size,
        info.cursor_x,
        info.cursor_y,
        info.activity,
        info.dead,
        info.alternate_on,
        info.width,
        info.height,
    )


class PaneReader:
    """The I/O edge of new-line extraction for one pane; `last` is what to persist."""

    def __init__(
        self,
        tmux: Tmux,
        pane_id: str,
        *,
        history_lines: int,
        last: Capture | None = None,
        clock: Callable[[], float] = time.time,
        resume_mask: Callable[[Capture], Capture] | None = None,
    ) -> None:
        self._tmux = tmux
        self.pane_id = pane_id
        self.history_lines = history_lines
        self._last = last
        self._clock = clock
        self._signature: tuple[int, int, int, int, bool, bool, int, int] | None = None
        self._captured_at = -math.inf
        # A `last` read back from the store was masked (secrets redacted) before it was
        # stored: the first capture is masked the same way before it is compared with it.
        self._resume_mask = resume_mask if last is not None else None

    def _window(self, info: PaneInfo) -> int:
        """Lines of history to read: a short read when tmux's counters say little was written.

        Reading the whole history on every change costs the tmux server and this process
        time in proportion to it. Only two depths are used, so that consecutive reads share
        one depth and the counters can place them (`extract` trusts them only then); the
        counters are a hint, so a short read that no longer overlaps the last one is done
        again in full.
        """
        short = min(self.history_lines, _SHORT_READ)
        last = self._last
        if last is None or last.alternate or info.alternate_on:
            return short
        written = (info.history_size + info.cursor_y) - last.counter
        if written < 0 or (info.width, info.height) != (last.width, last.height):
            return self.history_lines
        return short if written + info.height + _MARGIN <= short else self.history_lines

    def _read(self, window: int) -> tuple[Delta, Capture]:
        text = self._tmux.read_pane(self.pane_id, history_lines=window)
        cur = Capture.from_tmux(
            lines=text.lines,
            screen_lines=len(text.screen),
            rows=text.rows,
            history_size=text.history_size,
            history_lines=window,
            history_limit=text.history_limit,
            cursor_x=text.cursor_x,
            cursor_y=text.cursor_y,
            height=text.height,
            width=text.width,
            alternate=text.alternate,
        )
        if self._resume_mask is not None:
            return extract(self._last, self._resume_mask(cur)), cur
        return extract(self._last, cur), cur

    @property
    def last(self) -> Capture | None:
        return self._last

    def needs_capture(self, info: PaneInfo) -> bool:
        """False when the list-panes row proves that the pane printed nothing since the last look.

        The row can miss output that rewrote text in place (a `\\r` progress bar keeps the
        cursor where it was) within the second of `window_activity`, so a capture is also
        due while activity is recent or no older than the second of the last capture.
        """
        if self._last is None or self._signature is None:
            return True
        if signature(info) != self._signature:
            return True
        if self._clock() - info.activity <= _RECENT_ACTIVITY:
            return True
        return info.activity >= math.floor(self._captured_at)

    def read(self, info: PaneInfo) -> Delta | None:
        """The new lines and screen since the last read; None when nothing changed."""
        if not self.needs_capture(info):
            return None
        started = self._clock()
        window = self._window(info)
        delta, cur = self._read(window)
        if delta.lost and window < self.history_lines:
            # The short read did not reach back to what was seen last: read all of it.
            delta, cur = self._read(self.history_lines)
        self._resume_mask = None
        self._last = carry(self._last, cur)
        self._signature = signature(info)
        self._captured_at = started
        return delta
