"""`steward tail`: follow the aggregated log across rotation, coloured and filtered by severity."""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

from .core.events import Severity
from .core.sanitize import sanitize
from .sinks.log import parse_line

__all__ = ["COLORS", "RESET", "LogFollower", "follow", "render"]

COLORS = {
    Severity.INFO: "\x1b[2m",  # faint
    Severity.WARNING: "\x1b[33m",  # yellow
    Severity.ERROR: "\x1b[31m",  # red
    Severity.CRITICAL: "\x1b[1;97;41m",  # bold white on red
}
RESET = "\x1b[0m"
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
