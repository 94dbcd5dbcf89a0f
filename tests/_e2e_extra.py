"""Helpers for the end-to-end tests of the specialists and the policy: stacks with extra config,
stripped samples, the log, the store and the escalation daemon's own output."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import _dbus
from _stack import Stack

__all__ = [
    "SAMPLES",
    "StackFactory",
    "daemon_output",
    "db_bytes",
    "followed",
    "install_tool",
    "log_lines",
    "query",
    "stack_factory",
    "strip_sample",
]

SAMPLES = Path(__file__).resolve().parent / "samples"

StackFactory = Callable[..., Stack]


def stack_factory(
    tmp_path: Path, socket_name: str, bus: _dbus.NotificationBus
) -> Iterator[StackFactory]:
    """For a pytest fixture: `make(extra_config, exclude=[sessions not watched])` builds a Stack;
    every one is downed after."""
    made: list[Stack] = []

    def make(extra_config: str, *, exclude: Sequence[str] = ()) -> Stack:
        stack = Stack(
            tmp_path,
            socket_name=socket_name,
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus.address},
            extra_config=extra_config,
        )
        if exclude:  # the Stack's own [watch] table takes the key (TOML has no second one)
            listed = ", ".join(f'"{name}"' for name in exclude)
            text = stack.config.read_text().replace("[watch]\n", f"[watch]\nexclude = [{listed}]\n")
            stack.config.write_text(text)
        made.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in made:
            stack.down()


def strip_sample(relative: str) -> str:
    """A sample's tool output as the tool printed it: annotations and comments removed."""
    lines = (SAMPLES / relative).read_text().splitlines()
    kept = [ln for ln in lines if not ln.startswith("#> fire:") and not ln.startswith("## ")]
    return "\n".join(kept) + "\n"


def install_tool(folder: Path, name: str, script: str) -> Path:
    """An executable shell script `folder/name`; returns the folder (to put on PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


def query(stack: Stack, sql: str, *args: object) -> list[dict[str, Any]]:
    """Rows of a read-only query on the stack's store."""
    db = stack.home / "steward.db"
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


def followed(stack: Stack, assistant: str, session: str) -> bool:
    """Whether `assistant` has read (and recorded) a pane of `session`."""
    rows = query(stack, "SELECT 1 FROM panes WHERE assistant = ? AND session = ?",
                 assistant, session)
    return bool(rows)


def log_lines(stack: Stack) -> list[str]:
    """The aggregated log, line by line (empty before the daemon wrote anything)."""
    path = stack.home / "log" / "steward.log"
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def daemon_output(stack: Stack) -> str:
    """What the escalation daemon wrote to its stderr (Circus keeps it in log/escalation.log)."""
    path = stack.home / "log" / "escalation.log"
    return path.read_text(errors="replace") if path.exists() else ""


def db_bytes(stack: Stack) -> bytes:
    """The store's files as bytes: the database and its write-ahead log."""
    out = b""
    for name in ("steward.db", "steward.db-wal"):
        path = stack.home / name
        if path.exists():
            out += path.read_bytes()
    return out
