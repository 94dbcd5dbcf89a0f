"""What a pane persists of its last capture: only the tail that a respawned reader aligns on.

`extract` places the next capture by the last settled lines of the previous one (and by tmux's
counters); the history far above the screen takes no part. So the stored capture is the last
`RESUME_LINES` non-blank lines up to the cursor, and at least the screen, with `cut_lines` and
`cut_rows` saying what was cut off: storing it (its secrets redacted) costs in proportion to the
screen, not to the history. Lines that stay from one save to the next are redacted once.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from escalation.core.redact import redact

from .cells import wrapped_rows
from .new_lines import Capture

__all__ = ["RESUME_LINES", "Masker", "masked", "tail"]

# Non-blank lines kept above the cursor: as many as a short read keeps above what is new.
RESUME_LINES = 64


def tail(capture: Capture, above: int = RESUME_LINES) -> Capture:
    """`capture` from the screen and the `above` (at least one) non-blank lines over the cursor.

    A capture whose screen is not placed in it (`screen_index` unknown) is kept whole.
    """
    normal = tail(capture.normal, above) if capture.normal is not None else None
    screen = capture.screen_index
    if screen is None:
        return capture if normal is capture.normal else attrs.evolve(capture, normal=normal)
    start = min(len(capture.lines), capture.cursor_index if capture.cursor_index is not None
                else screen)
    kept = 0
    while start > 0 and (kept < max(1, above) or start > screen):
        start -= 1
        kept += bool(capture.lines[start].strip())
    if start == 0:
        return capture if normal is capture.normal else attrs.evolve(capture, normal=normal)
    cursor = capture.cursor_index
    return attrs.evolve(
        capture,
        lines=capture.lines[start:],
        screen_index=screen - start,
        cursor_index=max(0, cursor - start) if cursor is not None else None,
        cut_lines=capture.cut_lines + start,
        cut_rows=capture.cut_rows + sum(wrapped_rows(ln, capture.width)
                                        for ln in capture.lines[:start]),
        normal=normal,
    )


def masked(capture: Capture, mask: Callable[[str], str] = redact) -> Capture:
    """`capture` with every line and row passed through `mask` (secrets redacted)."""
    return attrs.evolve(
        capture,
        lines=tuple(mask(line) for line in capture.lines),
        rows=tuple(mask(row) for row in capture.rows) if capture.rows is not None else None,
        normal=masked(capture.normal, mask) if capture.normal is not None else None,
    )


class Masker:
    """`redact` for one pane's saves: a line that the last save redacted is not redacted again."""

    def __init__(self, redact_: Callable[[str], str] = redact) -> None:
        self._redact = redact_
        self._last: dict[str, str] = {}
        self._this: dict[str, str] = {}

    def turn(self) -> None:
        """A new save begins: what the one before did not redact is forgotten."""
        self._last, self._this = self._this, {}

    def remember(self, text: str, done: str) -> None:
        """`done` is `text` redacted already (for the line feed): the next save reuses it."""
        self._this[text] = done

    def __call__(self, text: str) -> str:
        done = self._this.get(text)
        if done is None:
            done = self._this[text] = self._last.get(text) or self._redact(text)
        return done
