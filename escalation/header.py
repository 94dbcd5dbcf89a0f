"""The PM pane's fixed header: one line per watched session, cut to the pane's width."""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs

from ._width import cut, pad
from .board import SessionRow, ago
from .core.sanitize import sanitize

__all__ = ["STATE_COLORS", "header_lines"]

STATE_COLORS = {
    "crashed": "\x1b[1;31m",
    "waiting_input": "\x1b[1;33m",
    "stalled": "\x1b[33m",
    "exited": "\x1b[2m",
    "active": "\x1b[32m",
    "idle": "\x1b[2m",
}
_RESET = "\x1b[0m"
_NAME = 14
_STATE = 8


def _row(row: SessionRow, now: float, width: int, color: bool) -> str:
    row = attrs.evolve(row, session=sanitize(row.session), last_alert=sanitize(row.last_alert))
    name = pad(row.session, _NAME)
    state = pad(row.label, _STATE)
    since = f"{ago(now - row.since):>6}"
    opened = f"{row.open:>3} open" if row.open else " " * 8
    lead_cells = _NAME + 1 + _STATE + 1 + 6 + 1 + 8 + 2
    alert = cut(row.last_alert, width - lead_cells) if row.last_alert else ""
    if color and row.state in STATE_COLORS:
        state = f"{STATE_COLORS[row.state]}{state}{_RESET}"
    line = f"{name} {state} {since} {opened}  {alert}".rstrip()
    if width < lead_cells:  # too narrow for the columns: name and state only
        return cut(f"{row.session} {row.label}", width)
    return line


def header_lines(
    rows: Sequence[SessionRow], *, now: float, width: int, color: bool, max_rows: int
) -> list[str]:
    """A title, a row per session (at most `max_rows`, then "+N more"), and a rule."""
    opened = sum(r.open for r in rows)
    noun = "session" if len(rows) == 1 else "sessions"
    title = cut(f"Steward  {time.strftime('%H:%M', time.localtime(now))}  {len(rows)} {noun},"
                f" {opened} open  (steward show ID, ack ID, go ID)", width)
    lines = [f"\x1b[1m{title}{_RESET}" if color else title]
    shown = list(rows) if len(rows) <= max_rows else list(rows)[: max(max_rows - 1, 0)]
    lines += [_row(r, now, width, color) for r in shown]
    if len(shown) < len(rows):
        lines.append(cut(f"… +{len(rows) - len(shown)} more sessions (steward top)", width))
    if not rows:
        lines.append(cut("no watched session has been read yet", width))
    lines.append("─" * width)
    return lines
