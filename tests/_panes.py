"""Test helpers for pane reading: a small terminal model, and a tmux pane fed exact bytes."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from libtmux.test.retry import retry_until

from assistants.pane.new_lines import Capture

__all__ = ["FifoPane", "Term"]


class Term:
    """A model of a tmux pane: rows that wrap, scroll into a trimmed history, and clear.

    Every logical line has a serial; `seen` collects the serials of settled lines that a
    capture held whole, which is exactly what extraction must report.
    """

    def __init__(self, *, height: int, width: int, limit: int) -> None:
        self.height, self.width, self.limit = height, width, limit
        # [text, continues the row above, serial of its logical line]
        self.grid: list[list[Any]] = [["", False, 0]]
        self.serial = 0
        self.texts: dict[int, str] = {}
        self.shadow: list[str] = [""]  # rows of the cursor's logical line, even trimmed ones
        self.seen: set[int] = set()
        self.cut_seen = False  # a capture opened with the tail of a settled line

    @property
    def history(self) -> int:
        return max(0, len(self.grid) - self.height)

    def _new_row(self, cont: bool) -> None:
        if len(self.grid) >= self.height and self.history >= self.limit:
            del self.grid[: min(max(1, self.limit // 10), self.history)]
        self.grid.append(["", cont, self.serial])

    def write(self, text: str) -> None:
        for ch in text:
            if len(self.grid[-1][0]) >= self.width:
                self._new_row(True)
                self.shadow.append("")
            self.grid[-1][0] += ch
            self.shadow[-1] = self.grid[-1][0]

    def newline(self) -> None:
        self.texts[self.serial] = "".join(self.shadow)
        self.serial += 1
        self.shadow = [""]
        self._new_row(False)

    def progress(self, text: str) -> None:
        """`\\r` then `text`: rewrites the start of the cursor row."""
        row = self.grid[-1]
        row[0] = text + row[0][len(text) :]
        self.shadow[-1] = row[0]

    def clear(self) -> None:
        """ESC[H ESC[2J ESC[3J: the text is gone, the cursor is home."""
        self.grid = [["", False, self.serial]]
        self.shadow = [""]

    def clear_history(self) -> None:
        del self.grid[: self.history]

    def capture(self, history_lines: int, *, exact: bool = True) -> Capture:
        first = max(0, self.history - history_lines)
        rows = self.grid[first:]
        pad = max(0, self.height - len(self.grid))
        lines: list[str] = []
        owners: list[tuple[int, bool]] = []  # serial, whole
        screen_row = self.history
        cursor_row = len(self.grid) - 1
        screen_index = cursor_index = 0
        for k, (text, cont, serial) in enumerate(rows):
            absolute = first + k
            if cont and k > 0:
                lines[-1] += text
            else:
                lines.append(text)
                owners.append((serial, not cont))
            if absolute == screen_row:
                screen_index = len(lines) - 1
            if absolute == cursor_row:
                cursor_index = len(lines) - 1
        for serial, whole in owners[:cursor_index]:
            if whole:
                self.seen.add(serial)
            else:
                self.cut_seen = True
        lines += [""] * pad
        screen = [r[0] for r in self.grid[self.history :]] + [""] * pad
        return Capture(
            lines=lines,
            history_size=self.history,
            cursor_x=min(len(self.grid[-1][0]), self.width - 1),
            cursor_y=len(self.grid) - 1 - self.history,
            height=self.height,
            width=self.width,
            alternate=False,
            history_lines=history_lines,
            history_limit=self.limit,
            rows=screen if exact else None,
            screen_index=screen_index if exact else None,
            cursor_index=cursor_index if exact else None,
        )

    def expected(self) -> list[str]:
        """The settled lines some capture held whole, in order, without blank ones or end spaces."""
        return [self.texts[s].rstrip() for s in sorted(self.seen) if self.texts[s].strip()]

    def settled_unseen(self) -> bool:
        """Whether a line settled and was never held whole by a capture."""
        return any(s not in self.seen for s in self.texts)


class FifoPane:
    """A tmux pane that prints exactly the bytes written to a fifo (`cat` keeps it open)."""

    def __init__(self, session: Any, tmp: Path, *, width: int = 80, height: int = 24) -> None:
        fifo = tmp / "pane.fifo"
        os.mkfifo(fifo)
        self.session = session
        self.window = session.new_window(
            window_name="fifo",
            window_shell=f"stty -onlcr -echo; exec cat {shlex.quote(str(fifo))}",
        )
        session.cmd("set-option", "-w", "-t", self.window.window_id, "window-size", "manual")
        self.resize(width, height)
        self.pane = self.window.active_pane
        assert self.pane is not None
        self.pane_id = str(self.pane.pane_id)
        self._fd = -1

        def opened() -> bool:  # no reader yet: ENXIO until `cat` opens the fifo
            try:
                self._fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return False
            os.set_blocking(self._fd, True)
            return True

        retry_until(opened, seconds=5)

    def resize(self, width: int, height: int) -> None:
        self.session.cmd(
            "resize-window", "-t", self.window.window_id, "-x", str(width), "-y", str(height)
        )

    def write(self, data: str) -> None:
        raw = data.encode()
        while raw:
            raw = raw[os.write(self._fd, raw) :]

    def close(self) -> None:
        os.close(self._fd)
