"""`steward tail`: what the PM pane runs; the log followed across rotation, attention first.

Two faces: `watch` keeps a header of every session on top and the feed below it, redrawn
in place to the pane's size; `stream` prints the feed as plain lines (`--plain`, for a PM
that reads its pane with capture-pane).  `follow` and `render` print raw log lines.
"""

from __future__ import annotations

import collections
import io
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

from .board import SessionRow
from .core.events import Severity
from .core.sanitize import sanitize
from .feed import COLORS, RESET, Attention, Entry, fit, to_entry
from .header import header_lines
from .sinks.log import parse_line

__all__ = ["COLORS", "RESET", "LogFollower", "follow", "render", "stream", "watch"]

_CHUNK = 64 * 1024


def render(line: str, *, min_severity: Severity = Severity.INFO, color: bool = True) -> str | None:
    """The line as the terminal shows it, or None when it is below `min_severity`.

    The text is sanitised again whatever wrote it; the only escape sequences in the result
    are the colours added here.  Lines that are not Steward's are shown plain.
    """
    text = sanitize(line)
    parsed = parse_line(text)
    if parsed is None:
        return text
    if parsed.severity < min_severity:
        return None
    return f"{COLORS[parsed.severity]}{text}{RESET}" if color else text


class LogFollower:
    """Reads the complete lines appended to a log file, across truncation and rotation.

    Rotation is seen as a new inode at the path: what was still appended to the old file
    is read to its end first, then the new file from its start.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._inode = -1
        self._partial = b""

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def backlog(self, count: int, keep: Callable[[str], bool] = lambda line: True) -> list[str]:
        """The last `count` complete lines already in the file for which keep() holds.

        Reading continues after them; a line still being written is kept for read_new().
        """
        f = self._open()
        if f is None:
            return []
        last: collections.deque[str] = collections.deque(maxlen=max(count, 0))
        for raw in f:
            if not raw.endswith(b"\n"):
                self._partial = raw
            elif keep(line := _decode(raw[:-1])):
                last.append(line)
        return list(last)

    def read_new(self) -> list[str]:
        """The lines completed since the last call."""
        if self._file is None:
            return self._drain() if self._open() else []
        lines = self._drain()
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return lines  # rotated and not yet recreated: the next call sees the new file
        if st.st_ino != self._inode:
            lines += self._drain()
            if self._partial:
                lines.append(_decode(self._partial))
                self._partial = b""
            self.close()
            if self._open():
                lines += self._drain()
        elif self._file is not None and st.st_size < self._file.tell():
            self._file.seek(0)
            self._partial = b""
            lines += self._drain()
        return lines

    def _open(self) -> BinaryIO | None:
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return None
        self._file = f
        self._inode = os.fstat(f.fileno()).st_ino
        self._partial = b""
        return f

    def _drain(self) -> list[str]:
        if self._file is None:
            return []
        lines: list[str] = []
        while chunk := self._file.read(_CHUNK):
            *complete, self._partial = (self._partial + chunk).split(b"\n")
            lines.extend(_decode(raw) for raw in complete)
        return lines


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")


def _emit(out: TextIO, lines: Iterable[str], min_severity: Severity, color: bool) -> None:
    wrote = False
    for line in lines:
        shown = render(line, min_severity=min_severity, color=color)
        if shown is not None:
            out.write(shown + "\n")
            wrote = True
    if wrote:
        out.flush()


def follow(
    path: Path,
    out: TextIO,
    *,
    min_severity: Severity = Severity.INFO,
    color: bool = True,
    lines: int = 20,
    stop: Callable[[], bool] = lambda: False,
    poll: float = 0.2,
) -> None:
    """Print the last `lines` lines shown at `min_severity`, then every new one until stop()."""
    follower = LogFollower(path)
    try:
        shown = lambda line: render(line, min_severity=min_severity) is not None  # noqa: E731
        _emit(out, follower.backlog(lines, shown), min_severity, color)
        while not stop():
            _emit(out, follower.read_new(), min_severity, color)
            if stop():
                break
            time.sleep(poll)
    finally:
        follower.close()


def _entries(lines: Iterable[str], attention: Attention) -> list[Entry]:
    return [kept for line in lines if (kept := attention.keep(to_entry(line))) is not None]


def stream(
    path: Path,
    out: TextIO,
    *,
    attention: Attention,
    lines: int = 20,
    stop: Callable[[], bool] = lambda: False,
    poll: float = 0.2,
) -> None:
    """The feed as plain lines, never cut, no colour: the last `lines`, then each new one."""
    follower = LogFollower(path)
    try:
        backlog = _entries(follower.backlog(10 * lines + 200), attention)[-lines:] if lines else []
        pending = backlog
        while True:
            if pending:
                out.write("".join(fit(e, 0, color=False, cut_body=False) + "\n" for e in pending))
                out.flush()
            if stop():
                break
            time.sleep(poll)
            pending = _entries(follower.read_new(), attention)
    finally:
        follower.close()


def _size(out: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(out.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return 80, 24
    return max(size.columns, 20), max(size.lines, 5)


def compose(
    rows: list[SessionRow], feed: Iterable[Entry], *, now: float, width: int, height: int,
    color: bool,
) -> list[str]:
    """The whole screen: header on top, then the newest feed entries that fit, oldest first."""
    head = header_lines(rows, now=now, width=width, color=color, max_rows=max(1, height // 2 - 2))
    room = max(0, height - len(head))
    tail = list(feed)[-room:] if room else []
    return head + [fit(e, width, color=color) for e in tail]


def _changes(shown: list[str] | None, screen: list[str], height: int) -> str:
    """What to write to turn `shown` into `screen`: only the rows that changed.

    Most redraws change a few rows (an age in the header, a new feed entry); rewriting only
    those costs the terminal, and tmux that keeps it, a fraction of a whole screen.  Without
    `shown` (first draw, new size) everything is written.
    """
    if shown is None:
        return ("\x1b[H" + "\r\n".join(line + "\x1b[K" for line in screen)
                + ("\x1b[J" if len(screen) < height else ""))
    parts = [f"\x1b[{row + 1};1H{line}\x1b[K" for row, line in enumerate(screen)
             if row >= len(shown) or shown[row] != line]
    if len(screen) < len(shown):
        parts.append(f"\x1b[{len(screen) + 1};1H\x1b[J")
    return "".join(parts)


def watch(
    path: Path,
    out: TextIO,
    *,
    attention: Attention,
    board: Callable[[], list[SessionRow]],
    color: bool,
    stop: Callable[[], bool] = lambda: False,
    poll: float = 0.2,
    refresh: float = 1.0,
    size: Callable[[], tuple[int, int]] | None = None,
) -> None:
    """Header and feed on the alternate screen, redrawn in place when anything changed."""
    measure = size or (lambda: _size(out))
    follower = LogFollower(path)
    feed: collections.deque[Entry] = collections.deque(maxlen=1000)
    feed.extend(_entries(follower.backlog(2000), attention))
    rows: list[SessionRow] = []
    looked = float("-inf")
    shown: list[str] = []
    drawn = (0, 0)  # the size `shown` was drawn at
    out.write("\x1b[?1049h\x1b[?25l")
    fresh = True  # something to show may have changed since the last composition
    second = -1  # the ages shown change once a second: compose at least that often
    try:
        while True:
            now = time.time()
            if now - looked >= refresh:
                rows, looked, fresh = board(), now, True
            width, height = measure()
            if fresh or int(now) != second or (width, height) != drawn:
                screen = compose(rows, feed, now=now, width=width, height=height, color=color)
                fresh, second = False, int(now)
                if screen != shown or (width, height) != drawn:
                    out.write(_changes(shown if (width, height) == drawn else None, screen,
                                       height))
                    out.flush()
                    shown, drawn = screen, (width, height)
            if stop():
                break
            time.sleep(poll)
            entries = _entries(follower.read_new(), attention)
            if entries:
                feed.extend(entries)
                fresh = True
    finally:
        follower.close()
        out.write("\x1b[?25h\x1b[?1049l")
        out.flush()
