"""Schema that parts of the store add beside the base tables, applied as the store opens."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ..errors import StoreError

__all__ = ["apply"]

_DEADLINE = 15.0


def apply(db: sqlite3.Connection, path: Path, script: str) -> None:
    """Run an idempotent schema script, retrying while another process holds the lock."""
    deadline = time.monotonic() + _DEADLINE
    while True:
        try:
            db.executescript(script)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreError(f"{path}: cannot open the event store: {exc}") from None
            time.sleep(0.05)
