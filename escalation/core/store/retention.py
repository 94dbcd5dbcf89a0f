"""Retention: the store forgets old events, deliveries and summaries, and gone sessions' panes.

Unacknowledged errors (error and critical, status new or delivered) and undecided events are
kept whatever their age or the size cap: forgetting them would drop what the PM still owes
an answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

import attrs

from ..errors import StoreError
from ..events import Severity
from ._db import Database
from ._schema import apply

__all__ = ["PruneReport", "RetentionStore"]

_SCHEMA = """
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS summaries_ts ON summaries(ts);
"""
# What may go: decided, and not an open error.
_PRUNABLE = (
    f"processed = 1 AND NOT (status IN ('new', 'delivered') AND severity >= {int(Severity.ERROR)})"
)
_ORPHANS = """
DELETE FROM deliveries WHERE key IN (
    SELECT key FROM deliveries AS d WHERE NOT EXISTS (
        SELECT 1 FROM json_each(d.event_ids) AS j JOIN events AS e ON e.id = j.value
    ) ORDER BY ts LIMIT ?
)
"""
_BATCH = 5000
_MAX_BATCHES = 200
# VACUUM once the free pages are at least this share of the file, and at least VACUUM_MIN.
VACUUM_SHARE = 0.25
VACUUM_MIN = 4 * 1024 * 1024
VACUUM_STEP = 2048  # pages (8 MiB at 4 KiB) freed per write transaction
_INCREMENTAL = 2


@attrs.frozen(kw_only=True)
class PruneReport:
    """What one prune removed, and the store's size before and after (bytes in use)."""

    events: int
    deliveries: int
    summaries: int
    bytes_before: int
    bytes_after: int
    vacuumed: bool


class RetentionStore(Database):
    """Pruning by age and size, VACUUM when it pays, and pane rows of sessions that went."""

    def _prepare(self) -> None:
        if self._pragma("page_count") == 0:
            # A new store gives free pages back a few at a time (see `vacuum`); this must be
            # set before its first table.
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        super()._prepare()
        apply(self._db, self.path, _SCHEMA)

    def _script(self, sql: str) -> None:
        try:
            self._db.executescript(sql)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _pragma(self, name: str) -> int:
        return int(self._rows(f"PRAGMA {name}")[0][0])

    def used_bytes(self) -> int:
        """Bytes of the main file that hold data (free pages not counted)."""
        pages = self._pragma("page_count") - self._pragma("freelist_count")
        return pages * self._pragma("page_size")

    def free_bytes(self) -> int:
        return self._pragma("freelist_count") * self._pragma("page_size")

    def prune(self, *, before: float, max_bytes: int) -> PruneReport:
        """Forget what is older than `before`, then the oldest until under `max_bytes`."""
        size = self.used_bytes()
        events = deliveries = summaries = 0
        with self._tx() as db:
            events += db.execute(f"DELETE FROM events WHERE ts < ? AND {_PRUNABLE}",
                                 (before,)).rowcount
            deliveries += db.execute("DELETE FROM deliveries WHERE ts < ?", (before,)).rowcount
            summaries += db.execute("DELETE FROM summaries WHERE ts < ?", (before,)).rowcount
        for _ in range(_MAX_BATCHES):
            if self.used_bytes() <= max_bytes:
                break
            with self._tx() as db:
                row = db.execute(
                    f"SELECT MAX(ts) FROM (SELECT ts FROM events WHERE {_PRUNABLE}"
                    " ORDER BY ts LIMIT ?)",
                    (_BATCH,),
                ).fetchone()
                upto = row[0] if row is not None else None
                if upto is None:
                    break  # nothing left that may go
                events += db.execute(f"DELETE FROM events WHERE ts <= ? AND {_PRUNABLE}",
                                     (upto,)).rowcount
                # Deliveries are stamped when sent, not when seen: the oldest ones whose events
                # are all gone go with them.
                deliveries += db.execute(_ORPHANS, (5 * _BATCH,)).rowcount
                summaries += db.execute("DELETE FROM summaries WHERE ts <= ?", (upto,)).rowcount
        free = self.free_bytes()
        vacuumed = False
        total = free + self.used_bytes()
        if free >= VACUUM_MIN and free >= VACUUM_SHARE * total:
            self.vacuum()
            vacuumed = True
        return PruneReport(events=events, deliveries=deliveries, summaries=summaries,
                           bytes_before=size, bytes_after=self.used_bytes(), vacuumed=vacuumed)

    def vacuum(self) -> None:
        """Give free pages back to the file system, in steps short enough for other writers.

        A store made before incremental vacuum is converted by one full VACUUM (which holds
        the write lock while it runs); from then on `incremental_vacuum` frees
        VACUUM_STEP pages per write transaction.
        """
        if self._pragma("auto_vacuum") != _INCREMENTAL:
            self._rows("PRAGMA auto_vacuum = INCREMENTAL")
            self._rows("VACUUM")
        for _ in range(1_000_000):
            if self._pragma("freelist_count") == 0:
                break
            # executescript steps it to the end (execute would free one page only)
            self._script(f"PRAGMA incremental_vacuum({VACUUM_STEP});")
        self._rows("PRAGMA wal_checkpoint(TRUNCATE)")

    def forget_sessions(self, gone: Collection[str]) -> int:
        """Drop pane rows and session assistants' heartbeats of sessions that went away."""
        names = sorted(set(gone))
        if not names:
            return 0
        marks = ",".join("?" * len(names))
        with self._tx() as db:
            n = db.execute(f"DELETE FROM panes WHERE session IN ({marks})", names).rowcount
            db.execute(f"DELETE FROM heartbeats WHERE assistant IN ({marks})",
                       [f"session:{s}" for s in names])
        return int(n)

    def stale_sessions(self, live: Collection[str]) -> list[str]:
        """Sessions that have pane rows but are not among `live`."""
        rows = self._rows("SELECT DISTINCT session FROM panes")
        keep = set(live)
        return sorted(str(r[0]) for r in rows if r[0] not in keep)
