"""The SQLite connection under every part of the store: schema, WAL, transactions, errors."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from ..errors import StoreError

__all__ = ["OPEN_DEADLINE", "Database"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL, session TEXT NOT NULL, window TEXT NOT NULL, pane TEXT NOT NULL,
    target TEXT NOT NULL, assistant TEXT NOT NULL, rule TEXT NOT NULL, severity INTEGER NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'new',
    stored_at REAL NOT NULL, processed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_unprocessed ON events(processed, id);
CREATE INDEX IF NOT EXISTS events_session ON events(session, id);
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY, channel TEXT NOT NULL, severity INTEGER NOT NULL, title TEXT NOT NULL,
    body TEXT NOT NULL, target TEXT NOT NULL, session TEXT NOT NULL, rule TEXT NOT NULL,
    event_ids TEXT NOT NULL, ts REAL NOT NULL, ok INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deliveries_ts ON deliveries(ts);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, session TEXT NOT NULL,
    until REAL NOT NULL, comment TEXT NOT NULL, created REAL NOT NULL, author TEXT NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS panes (
    assistant TEXT NOT NULL, pane TEXT NOT NULL, session TEXT NOT NULL, target TEXT NOT NULL,
    command TEXT NOT NULL, state TEXT NOT NULL, since REAL NOT NULL, updated REAL NOT NULL,
    memo TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (assistant, pane)
);
CREATE TABLE IF NOT EXISTS heartbeats (
    assistant TEXT PRIMARY KEY, pid INTEGER NOT NULL, started REAL NOT NULL, ts REAL NOT NULL,
    ticks INTEGER NOT NULL, captures INTEGER NOT NULL, failures INTEGER NOT NULL,
    skipped INTEGER NOT NULL, first_capture REAL
);
CREATE TABLE IF NOT EXISTS feed (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, session TEXT NOT NULL,
    window TEXT NOT NULL, pane TEXT NOT NULL, target TEXT NOT NULL, command TEXT NOT NULL,
    lines TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, pos INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS summaries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, ts REAL NOT NULL,
    text TEXT NOT NULL, data TEXT NOT NULL
);
"""

OPEN_DEADLINE = 15.0


class Database:
    """One connection to `steward.db`: its schema and transactions; each process opens its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
                os.close(fd)
            self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA cache_size=-512")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the event store: {exc}") from None
        self._prepare()

    def _prepare(self) -> None:
        """WAL and the schema; many processes open the store at once at `steward up`."""
        deadline = time.monotonic() + OPEN_DEADLINE
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StoreError(
                        f"{self.path}: cannot open the event store: {exc}"
                    ) from None
                time.sleep(0.05)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        try:
            return list(self._db.execute(sql, args))
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None
