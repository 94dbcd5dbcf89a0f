"""The line feed: every watched pane's new lines, as its session assistant read them, for the
QA and deploy assistants, which follow it by a cursor stored with the events it produced.

A session assistant appends a pane's new lines (redacted) in the same transaction as its
events; a follower writes its events and its new cursor in one transaction, so a restart
of either side neither skips nor repeats lines.  Rows every follower has read are pruned.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence

import attrs

from ._db import Database

__all__ = ["FeedBatch", "FeedStore"]

# Rows older than this go even if a follower has not read them (it was down for that long).
FEED_KEEP = 3600.0


@attrs.frozen(kw_only=True)
class FeedBatch:
    """The lines one pane printed between two reads, with the command in its foreground.

    A batch without lines says that the foreground command changed (a run ended).
    """

    id: int = 0
    ts: float
    session: str
    window: str
    pane: str
    target: str
    command: str
    lines: tuple[str, ...] = ()


def _batch(row: sqlite3.Row) -> FeedBatch:
    return FeedBatch(
        id=row["id"], ts=row["ts"], session=row["session"], window=row["window"],
        pane=row["pane"], target=row["target"], command=row["command"],
        lines=tuple(json.loads(row["lines"])),
    )


class FeedStore(Database):
    """Appending to the feed, reading it after a cursor, and moving the cursor."""

    def _append_feed(self, db: sqlite3.Connection, batches: Iterable[FeedBatch]) -> None:
        db.executemany(
            "INSERT INTO feed (ts, session, window, pane, target, command, lines)"
            " VALUES (?,?,?,?,?,?,?)",
            [(b.ts, b.session, b.window, b.pane, b.target, b.command, json.dumps(list(b.lines)))
             for b in batches],
        )

    def _move_cursor(self, db: sqlite3.Connection, name: str, pos: int) -> None:
        db.execute(
            "INSERT INTO cursors (name, pos) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET pos = MAX(pos, excluded.pos)",
            (name, pos),
        )

    def feed_after(self, pos: int, *, limit: int = 2000) -> list[FeedBatch]:
        """Batches after `pos`, oldest first."""
        rows = self._rows("SELECT * FROM feed WHERE id > ? ORDER BY id LIMIT ?", (pos, limit))
        return [_batch(r) for r in rows]

    def cursor(self, name: str) -> int:
        """Where follower `name` stands (0 before its first read)."""
        rows = self._rows("SELECT pos FROM cursors WHERE name = ?", (name,))
        return int(rows[0]["pos"]) if rows else 0

    def prune_feed(self, followers: Sequence[str], *, now: float | None = None) -> int:
        """Drop rows every follower has read, and rows older than FEED_KEEP; how many went."""
        now = time.time() if now is None else now
        with self._tx() as db:
            marks = ",".join("?" * len(followers)) or "''"
            row = db.execute(
                f"SELECT MIN(pos), COUNT(*) FROM cursors WHERE name IN ({marks})", list(followers)
            ).fetchone()
            read_by_all = int(row[0]) if row[1] == len(followers) and row[0] is not None else 0
            cur = db.execute(
                "DELETE FROM feed WHERE id <= ? OR ts < ?", (read_by_all, now - FEED_KEEP)
            )
            return int(cur.rowcount)
