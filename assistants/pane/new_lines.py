"""Exact new-line extraction: what a pane printed between two captures, each settled line once.

tmux 3.3a has no monotonic line counter (``history_size + cursor_y`` freezes at the history
limit and jumps back after ``clear`` or ``clear-history``), so two captures are aligned by
content: the longest run of the previous capture's settled lines that reappears at the top
of the new capture, with the counter only as a tie-break when repeated text is ambiguous.
Lines are compared joined (``capture-pane -J``) and without trailing spaces, so wrapping
and resizing do not matter. Blank lines are never reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .cells import cells, split_rows, wrapped_rows

__all__ = ["Capture", "Delta", "carry", "cells", "extract", "split_rows"]


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value)


def _opt_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else _tuple(value)


@attrs.frozen(kw_only=True)
class Capture:
    """One reading of a pane: joined text from the captured history down to the screen's bottom.

    ``rows`` (the screen's physical rows), ``screen_index`` (first line on the screen) and
    ``cursor_index`` (the cursor's line) are exact when tmux gave them; when absent they are
    computed from the text and the pane width. ``history_lines`` (how much history was asked
    for) and ``history_limit`` (tmux's own) tell whether history may have been cut; None
    means unknown. ``normal`` is kept on the alternate screen: the last normal-screen capture, so
    that leaving a full-screen program repeats nothing. ``cut_lines`` and ``cut_rows`` count the
    lines, and the rows they took, cut off above ``lines`` when the capture was stored to resume
    (`assistants.pane.resume`): the counters still place what is kept.
    """

    lines: tuple[str, ...] = attrs.field(converter=_tuple)
    history_size: int
    cursor_x: int
    cursor_y: int
    height: int
    width: int
    alternate: bool
    history_lines: int | None = None
    history_limit: int | None = None
    rows: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    screen_index: int | None = None
    cursor_index: int | None = None
    normal: Capture | None = None
    cut_lines: int = 0
    cut_rows: int = 0

    def to_json(self) -> dict[str, object]:
        data = attrs.asdict(self, recurse=False)
        data["lines"] = list(self.lines)
        data["rows"] = list(self.rows) if self.rows is not None else None
        data["normal"] = self.normal.to_json() if self.normal is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Capture:
        normal = data.get("normal")
        return cls(
            lines=data["lines"],
            history_size=int(data["history_size"]),
            cursor_x=int(data["cursor_x"]),
            cursor_y=int(data["cursor_y"]),
            height=int(data["height"]),
            width=int(data["width"]),
            alternate=bool(data["alternate"]),
            history_lines=_opt_int(data.get("history_lines")),
            history_limit=_opt_int(data.get("history_limit")),
            rows=data.get("rows"),
            screen_index=_opt_int(data.get("screen_index")),
            cursor_index=_opt_int(data.get("cursor_index")),
            normal=cls.from_json(normal) if isinstance(normal, Mapping) else None,
            cut_lines=int(data.get("cut_lines", 0)),
            cut_rows=int(data.get("cut_rows", 0)),
        )

    @classmethod
    def from_tmux(
        cls,
        *,
        lines: Sequence[str],
        screen_lines: int,
        rows: Sequence[str],
        history_size: int,
        history_lines: int,
        history_limit: int,
        cursor_x: int,
        cursor_y: int,
        height: int,
        width: int,
        alternate: bool,
    ) -> Capture:
        """A capture from one atomic tmux reading: joined text, joined screen and screen rows.

        The cursor's line is exact when every row below the cursor is blank (rows cannot
        continue a wrapped line without text); otherwise it is computed from the widths.
        """
        below = list(rows[cursor_y + 1 :]) if 0 <= cursor_y < len(rows) else []
        cursor_index = None
        if len(rows) == height and not any(r.strip() for r in below):
            cursor_index = max(0, len(lines) - len(below) - 1)
        return cls(
            lines=lines,
            history_size=history_size,
            cursor_x=cursor_x,
            cursor_y=cursor_y,
            height=height,
            width=width,
            alternate=alternate,
            history_lines=history_lines,
            history_limit=history_limit,
            rows=rows,
            screen_index=max(0, len(lines) - screen_lines),
            cursor_index=cursor_index,
        )

    @property
    def counter(self) -> int:
        """tmux's absolute row of the cursor; only a hint (see the module docstring)."""
        return self.history_size + self.cursor_y

    @property
    def top_row(self) -> int:
        """Absolute row of the first captured line, counted like `counter`."""
        captured = self.history_size
        if self.history_lines is not None:
            captured = min(captured, self.history_lines)
        return self.history_size - captured + self.cut_rows


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@attrs.frozen(kw_only=True)
class Delta:
    """What changed in a pane between two captures."""

    lines: tuple[str, ...]
    screen: tuple[str, ...]
    partial: str
    changed: bool
    changed_rows: tuple[str, ...] = ()
    lost: bool = False
    skipped: int | None = None  # when `lost` and the counters are trusted: rows gone unread


@attrs.frozen
class _Layout:
    text: tuple[str, ...]  # lines without trailing spaces
    screen_index: int
    cursor_index: int
    screen: tuple[str, ...]  # the screen's rows, trailing blank rows trimmed


def _layout(cap: Capture) -> _Layout:
    raw = cap.lines
    text = tuple(line.rstrip() for line in raw)
    n = len(text)
    cursor_index = cap.cursor_index
    if cursor_index is None:
        below = max(0, cap.height - 1 - cap.cursor_y)
        cursor_index, used = n - 1, 0
        while cursor_index > 0 and used + wrapped_rows(raw[cursor_index], cap.width) <= below:
            used += wrapped_rows(raw[cursor_index], cap.width)
            cursor_index -= 1
    screen_index = cap.screen_index
    if screen_index is None:
        screen_index, used = n, 0
        while screen_index > 0 and used < cap.height:
            screen_index -= 1
            used += wrapped_rows(raw[screen_index], cap.width)
    cursor_index = min(max(0, cursor_index), max(0, n - 1))
    screen_index = min(max(0, screen_index), cursor_index)
    if cap.rows is not None:
        rows = [row.rstrip() for row in cap.rows]
    else:
        rows = [r.rstrip() for line in raw[screen_index:] for r in split_rows(line, cap.width)]
        rows = rows[-cap.height :] if cap.height > 0 else rows
    while rows and not rows[-1]:
        rows.pop()
    return _Layout(text, screen_index, cursor_index, tuple(rows))


def carry(prev: Capture | None, cur: Capture) -> Capture:
    """`cur` as the next `prev`: on the alternate screen it keeps the last normal capture."""
    if not cur.alternate:
        return attrs.evolve(cur, normal=None) if cur.normal is not None else cur
    normal = prev if prev is not None and not prev.alternate else None
    if prev is not None and prev.alternate:
        normal = prev.normal
    return attrs.evolve(cur, normal=normal)


def extract(prev: Capture | None, cur: Capture) -> Delta:
    """The lines that settled in the pane since `prev`, and what the screen looks like now."""
    now = _layout(cur)
    before = _layout(prev) if prev is not None else None
    changed = before is None or before.screen != now.screen
    partial = now.text[now.cursor_index] if now.text else ""
    if cur.alternate:
        was_alternate = before is not None and prev is not None and prev.alternate
        old = set(before.screen) if before is not None and was_alternate else set()
        fresh = tuple(row for row in now.screen if row.strip() and row not in old)
        return Delta(
            lines=(), screen=now.screen, partial=partial, changed=changed, changed_rows=fresh
        )
    ref = prev.normal if prev is not None and prev.alternate else prev
    if ref is None:
        first = now.text[now.screen_index : now.cursor_index]
        return Delta(lines=_nonblank(first), screen=now.screen, partial=partial, changed=changed)
    ref_layout = before if ref is prev and before is not None else _layout(ref)
    start, lost = _new_start(ref, ref_layout, cur, now)
    lines = _nonblank(now.text[start : now.cursor_index])
    skipped = _unread_rows(ref, ref_layout, cur) if lost else None
    return Delta(lines=lines, screen=now.screen, partial=partial, changed=changed, lost=lost,
                 skipped=skipped)


def _nonblank(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(line for line in lines if line.strip())


def _new_start(prev: Capture, before: _Layout, cur: Capture, now: _Layout) -> tuple[int, bool]:
    """Index in `cur` of the first line that `prev` did not hold as settled; and loss."""
    p, c = before.text, now.text
    settled = before.cursor_index
    while settled > 0 and not p[settled - 1]:
        settled -= 1
    p_cut, c_cut = _history_cut(prev), _history_cut(cur)
    hint = _hint(prev, before, cur)
    if settled == 0 or (hint is not None and hint >= settled):
        # Nothing was settled before, or (trusted counters) all of it scrolled away.
        return 0, c_cut if hint is None else _lost_partial(prev, before, cur, now)
    offset = _align(_Pair(p, settled, c, p_cut, c_cut, -prev.cut_lines), hint)
    if offset is not None:
        return settled - offset, False
    # Lines above the cursor may have been redrawn in place (multi-line progress displays):
    # align on what stood above the redrawn rows, report the redrawn rows as new.
    for shorter in range(settled - 1, max(before.screen_index, 1) - 1, -1):
        if not p[shorter - 1]:
            continue
        offset = _align(_Pair(p, shorter, c, p_cut, c_cut, -prev.cut_lines), None)
        if offset is not None and shorter - offset <= now.cursor_index:
            return shorter - offset, False
    return 0, c_cut


def _start_row(cap: Capture, layout: _Layout, index: int) -> int:
    return cap.top_row + sum(wrapped_rows(line, cap.width) for line in cap.lines[:index])


def _lost_partial(prev: Capture, before: _Layout, cur: Capture, now: _Layout) -> bool:
    """With trusted counters: whether the line `prev` saw being written, or a later one, is gone.

    Its head may scroll away while it is still being written (it wraps): that loses nothing.
    """
    start = _start_row(prev, before, before.cursor_index)
    if cur.top_row <= start or now.cursor_index == 0:
        return False  # (or one line being written fills the capture: nothing settled to see)
    return _start_row(cur, now, now.cursor_index) != start


def _unread_rows(prev: Capture, before: _Layout, cur: Capture) -> int | None:
    """Rows between the line `prev` saw last and the top of `cur`, if tmux's rows are absolute."""
    limit = cur.history_limit
    if limit is None or prev.history_limit != limit or cur.history_size < prev.history_size:
        return None
    if cur.history_size > limit - max(1, limit // 10) or (cur.width, cur.height) != (
        prev.width, prev.height
    ):
        return None
    return max(1, cur.top_row - _start_row(prev, before, before.cursor_index))


def _history_cut(cur: Capture) -> bool:
    """Whether text may have left the capture: history cut by tmux's limit or by ours."""
    if cur.history_lines is not None and cur.history_size > cur.history_lines:
        return True
    limit = cur.history_limit
    return limit is not None and cur.history_size > limit - max(1, limit // 10)


def _hint(prev: Capture, before: _Layout, cur: Capture) -> int | None:
    """Where tmux's counters say `cur` starts inside `prev`, when they can be trusted.

    tmux drops a tenth of the history each time it reaches the limit, so the counters are
    trusted only while the history never reached it, nothing was cleared and no resize
    rewrapped the lines.
    """
    limit = cur.history_limit
    if limit is None or prev.history_limit != limit or cur.history_lines is None:
        return None
    if prev.history_lines != cur.history_lines:
        return None
    if cur.history_size > limit - max(1, limit // 10) or cur.history_size < prev.history_size:
        return None
    if (cur.width, cur.height) != (prev.width, prev.height) or cur.counter < prev.counter:
        return None
    shift = cur.top_row - prev.top_row
    if shift < 0 and not prev.cut_lines:
        return None
    # `cur` starts below the top of `prev` (shift >= 0), or above what was kept of it.
    raw, width, sign = (prev.lines, prev.width, 1) if shift >= 0 else (cur.lines, cur.width, -1)
    index, used = 0, 0
    while index < len(raw) and used + wrapped_rows(raw[index], width) <= abs(shift):
        used += wrapped_rows(raw[index], width)
        index += 1
    return sign * index


def _same_top(line: str, top: str, cut: bool, *, trusted: bool = False) -> bool:
    """`top` opens a capture: it may be the tail of a wrapped line whose head was cut off.

    Allowed when history was cut, or when more lines match below (clear-history can leave
    the tail of a wrapped line at the top of the screen).
    """
    return line == top or (cut and (bool(top) or trusted) and line.endswith(top))


@attrs.frozen
class _Pair:
    p: Sequence[str]
    settled: int
    c: Sequence[str]
    p_cut: bool
    c_cut: bool
    near: int = 0  # the offset if nothing moved: minus the lines cut off above a stored `p`


def _valid(pair: _Pair, offset: int, *, trusted: bool = False) -> bool:
    """Whether c[i] holds p[i + offset] for every settled line of `p` the two share."""
    p, settled, c = pair.p, pair.settled, pair.c
    if offset >= 0:
        n = settled - offset
        if n <= 0 or n > len(c):
            return False
        for i in range(n - 1, 0, -1):
            if c[i] != p[i + offset]:
                return False
        return _same_top(p[offset], c[0], pair.c_cut or n >= 2, trusted=trusted)
    skip = -offset
    if skip + settled > len(c):
        return False
    for i in range(settled - 1, 0, -1):
        if c[skip + i] != p[i]:
            return False
    return _same_top(c[skip], p[0], pair.p_cut or settled >= 2)


def _align(pair: _Pair, hint: int | None) -> int | None:
    """The offset o with c[i] == p[i + o] over the longest overlap of p[:settled] with c.

    Candidates are anchored on the last settled line; a trusted `hint` wins among valid
    candidates, otherwise the longest overlap, then the one nearest the hint (or no shift).
    """
    settled, c = pair.settled, pair.c
    anchor = pair.p[settled - 1]
    candidates = {settled - 1 - j for j, line in enumerate(c) if line == anchor}
    if c and _same_top(anchor, c[0], pair.c_cut):
        candidates.add(settled - 1)
    if hint is not None and _valid(pair, hint, trusted=True):
        return hint  # (a blank top line may then be the tail of a wrapped line)
    near = hint if hint is not None else pair.near
    order = sorted(candidates, key=lambda o: (-(settled - max(o, 0)), abs(o - near)))
    for offset in order:
        if _valid(pair, offset):
            return offset
    return None
