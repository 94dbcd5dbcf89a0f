"""Helpers for the fault tests: an in-process escalation daemon, events, a small full disk."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from escalation.core.config import Config, NotifyConfig, TmuxConfig, load_config
from escalation.core.events import Event, Kind, Severity, new_event
from escalation.core.paths import StewardHome
from escalation.daemon import Daemon

__all__ = ["config", "daemon", "error", "fill", "full_disk", "home_in", "log_text"]


def config(server: Any, *, desktop: bool = False, **sections: Any) -> Config:
    """The defaults on the test's tmux server, desktop off unless asked, sections replaced."""
    return attrs.evolve(
        load_config(),
        tmux=TmuxConfig(socket_name=str(server.socket_name)),
        notify=NotifyConfig(desktop=desktop),
        **sections,
    )


def home_in(root: Path) -> StewardHome:
    return StewardHome(root=root).ensure()


def daemon(cfg: Config, home: StewardHome) -> Daemon:
    return Daemon(cfg, home)


def error(session: str, text: str, ts: float | None = None, *, pane: str = "%1",
          severity: Severity = Severity.ERROR) -> Event:
    """A pattern event of `severity` from pane `pane` of `session`, as an assistant stores it.

    The pane's index is its number, so events of different panes never share a fingerprint.
    """
    return new_event(
        ts=time.time() if ts is None else ts, session=session, window="0", pane=pane,
        target=f"{session}:0.{pane.lstrip('%')}", assistant=f"session:{session}",
        rule="generic.error_line",
        severity=severity, kind=Kind.PATTERN, text=text, line=text,
    )


def log_text(home: StewardHome) -> str:
    return home.log_file.read_text(encoding="utf-8") if home.log_file.is_file() else ""


@contextlib.contextmanager
def full_disk(root: Path, size: str = "4m") -> Iterator[Path]:
    """A small tmpfs mounted at `root` (root only; else the test is skipped)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs root to mount a small tmpfs")
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(root)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def fill(root: Path) -> Path:
    """Fill the file system of `root` to the last byte; remove the file to free it again."""
    path = root / "filler"
    with path.open("wb", buffering=0) as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 512)
    return path
