"""The regions of a screen that PROMPT and BUSY rules read: the bottom rows, the rows below the
last horizontal rule, or the inside of the last box (an agent's input box)."""

from __future__ import annotations

from collections.abc import Sequence

from .model import MAX_LINE, Region, Rule, Scope

__all__ = ["frame_strip", "region_rows"]

_FRAME = "".join(chr(c) for c in range(0x2500, 0x2580)) + " \t"
_RULE_CHARS = frozenset("─━═-—_▔▁")
_BOX_TOP = ("╭", "┌", "╔", "┏")
_BOX_BOTTOM = ("╰", "└", "╚", "┗")


def frame_strip(row: str) -> str:
    """A screen row without surrounding blanks and box-drawing characters."""
    return row[:MAX_LINE].strip(_FRAME)


def _is_rule(row: str) -> bool:
    text = row.strip()
    return len(text) >= 10 and sum(ch in _RULE_CHARS for ch in text) >= 0.9 * len(text)


def _window(rule: Rule) -> int:
    if rule.rows:
        return rule.rows
    return 5 if rule.scope is Scope.BUSY else 1


def region_rows(rule: Rule, screen: Sequence[str], partial: str = "") -> list[tuple[int, str]]:
    """The rows `rule` reads, bottom first, as (screen row index, text without frame).

    The partial line (under the cursor, index len(screen)) counts as the bottom row.
    A region that the screen does not show (no rule line, no box) falls back to the bottom.
    """
    rows = [*screen, partial] if partial else list(screen)
    start = 0
    if rule.region is Region.AFTER_RULE:
        found = [i for i, row in enumerate(rows) if _is_rule(row)]
        if found:
            start = found[-1] + 1
    elif rule.region is Region.BOX:
        tops = [i for i, row in enumerate(rows) if row.lstrip().startswith(_BOX_TOP)]
        if tops:
            top = tops[-1]
            bottom = next((i for i in range(top + 1, len(rows))
                           if rows[i].lstrip().startswith(_BOX_BOTTOM)), len(rows))
            rows, start = rows[: bottom], top + 1
    out: list[tuple[int, str]] = []
    limit = _window(rule) if rule.region is Region.BOTTOM or rule.rows else MAX_LINE
    for i in range(len(rows) - 1, start - 1, -1):
        text = frame_strip(rows[i])
        if text:
            out.append((i, text))
            if len(out) >= limit:
                break
    return out
