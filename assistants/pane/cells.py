"""Terminal geometry of joined lines: the columns a line takes and the rows it wraps to."""

from __future__ import annotations

import unicodedata

__all__ = ["cells", "split_rows", "wrapped_rows"]


def cells(text: str) -> int:
    """Terminal columns that `text` takes (wide characters take two, combining ones none)."""
    if text.isascii():
        return len(text)
    total = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return total


def wrapped_rows(text: str, width: int) -> int:
    """The rows a joined line takes in a pane `width` columns wide (at least one)."""
    return max(1, -(-cells(text) // max(1, width)))


def split_rows(text: str, width: int) -> list[str]:
    """A joined line cut back into the rows of a pane `width` columns wide."""
    width = max(1, width)
    if text.isascii():
        return [text[i : i + width] for i in range(0, len(text), width)] or [""]
    rows: list[str] = []
    row: list[str] = []
    used = 0
    for ch in text:
        w = 0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width:
            rows.append("".join(row))
            row, used = [], 0
        row.append(ch)
        used += w
    rows.append("".join(row))
    return rows
