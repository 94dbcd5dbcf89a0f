"""What really runs in a pane's foreground: a script run by a shell (`bash build.sh`) shows in
tmux as the shell itself, yet it is a running command that can stall, not a prompt."""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath

from .state import is_shell

__all__ = ["foreground_command"]

_PROC = Path("/proc")
_MAX_WORDS = 4


def _tpgid(pid: int, proc: Path) -> int | None:
    """The foreground process group of the terminal of process `pid` (None if unknown)."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session tty_nr tpgid ...": comm may hold spaces and ")".
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[5])
    except (IndexError, ValueError):
        return None


def _cmdline(pid: int, proc: Path) -> list[str]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]


def foreground_command(current: str, pane_pid: int, *, proc: Path = _PROC) -> str:
    """tmux's `pane_current_command`, or the shell's foreground job when the shell runs one.

    When the pane's shell is not the terminal's foreground process group, a job runs:
    its command line (a few words, e.g. `bash build.sh`) is the foreground command.
    """
    if not is_shell(current) or pane_pid <= 0:
        return current
    tpgid = _tpgid(pane_pid, proc)
    if tpgid is None or tpgid <= 0 or tpgid == pane_pid:
        return current
    words = _cmdline(tpgid, proc)
    if not words:
        return current
    words[0] = PurePosixPath(words[0]).name
    return shlex.join(words[:_MAX_WORDS])
