"""Terminal cell widths: how many columns a string takes, and cutting it to fit with an ellipsis."""

from __future__ import annotations

import unicodedata

__all__ = ["ELLIPSIS", "cells", "cut", "pad"]

ELLIPSIS = "…"


def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """The columns `text` takes in a terminal (wide characters count two)."""
    return sum(_char_cells(ch) for ch in text)


def cut(text: str, width: int) -> str:
    """`text` if it fits in `width` columns, else its start and an ellipsis, within `width`."""
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        w = _char_cells(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + ELLIPSIS


def pad(text: str, width: int) -> str:
    """`text` cut to `width` columns and padded with spaces to exactly `width`."""
    shown = cut(text, width)
    return shown + " " * max(0, width - cells(shown))
