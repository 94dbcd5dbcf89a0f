"""Alerts Steward keeps in Alertmanager: what was opened, what is due to be posted, what ended.

An alert is opened by an escalation, posted, re-posted every resend interval while open, and
ended (posted once more with its end time) when one of its events is acknowledged or resolved,
or a silence covers it.  Each change bumps `version`, so that a post that finishes after a
later change does not mark that change as sent.  Rows stay after a restart of the daemon.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import time
from collections.abc import Mapping

import attrs

from ..errors import StoreError
from ._db import OPEN_DEADLINE, Database

__all__ = ["AlertRecord", "AlertState", "AlertStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY, labels TEXT NOT NULL, annotations TEXT NOT NULL,
    starts_at REAL NOT NULL, ends_at REAL, state TEXT NOT NULL, version INTEGER NOT NULL,
    due_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, posted_at REAL,
    first_event INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts(state, due_at);
CREATE TABLE IF NOT EXISTS alert_events (
    alert TEXT NOT NULL, event INTEGER NOT NULL, PRIMARY KEY (alert, event)
);
"""


class AlertState(enum.StrEnum):
    """Where an alert stands."""

    OPEN = "open"  # firing: posted and re-posted
    ENDING = "ending"  # ended in Steward; its end is still to be posted
    CLOSED = "closed"  # its end was posted
    REJECTED = "rejected"  # Alertmanager refused it (400): never posted again


@attrs.frozen(kw_only=True)
class AlertRecord:
    """One alert: its labels and annotations, and where its delivery stands."""

    key: str
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    starts_at: float
    ends_at: float | None = None
    state: AlertState = AlertState.OPEN
    version: int = 1
    due_at: float = 0.0
    attempts: int = 0
    posted_at: float | None = None
    first_event: int = 0


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    data: Mapping[str, str] = json.loads(text)
    return tuple(sorted(data.items()))


def _record(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(
        key=row["key"],
        labels=_pairs(row["labels"]),
        annotations=_pairs(row["annotations"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        state=AlertState(row["state"]),
        version=row["version"],
        due_at=row["due_at"],
        attempts=row["attempts"],
        posted_at=row["posted_at"],
        first_event=row["first_event"],
    )


class AlertStore(Database):
    """The `alerts` table and which events each alert speaks for."""

    def _prepare(self) -> None:
        super()._prepare()
        deadline = time.monotonic() + OPEN_DEADLINE
        while True:  # many processes open the store at once at `steward up`
            try:
                self._db.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: cannot open the event store: {exc}") from None
                time.sleep(0.05)

    def open_alert(self, record: AlertRecord, event_id: int) -> bool:
        """Open `record` for `event_id`, or add the event to the open alert with its key.

        Returns True when a new alert was opened (an alert that ended is opened afresh).
        """
        with self._tx() as db:
            row = db.execute("SELECT state FROM alerts WHERE key = ?", (record.key,)).fetchone()
            fresh = row is None or row["state"] in (AlertState.CLOSED, AlertState.ENDING)
            if row is None or fresh:
                db.execute("DELETE FROM alert_events WHERE alert = ?", (record.key,))
                db.execute(
                    "INSERT OR REPLACE INTO alerts (key, labels, annotations, starts_at, ends_at,"
                    " state, version, due_at, attempts, posted_at, first_event)"
                    " VALUES (?,?,?,?,NULL,'open',"
                    " COALESCE((SELECT version FROM alerts WHERE key = ?), 0) + 1, ?, 0, NULL, ?)",
                    (
                        record.key,
                        json.dumps(dict(record.labels), sort_keys=True),
                        json.dumps(dict(record.annotations), sort_keys=True),
                        record.starts_at,
                        record.key,
                        record.due_at,
                        event_id,
                    ),
                )
            db.execute("INSERT OR IGNORE INTO alert_events VALUES (?, ?)", (record.key, event_id))
            return fresh

    def alert(self, key: str) -> AlertRecord | None:
        rows = self._rows("SELECT * FROM alerts WHERE key = ?", (key,))
        return _record(rows[0]) if rows else None

    def alerts(self, *, states: tuple[AlertState, ...] = ()) -> list[AlertRecord]:
        """Alerts in these states (all when none is given), oldest first."""
        sql = "SELECT * FROM alerts"
        args: list[object] = []
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args += [s.value for s in states]
        return [_record(r) for r in self._rows(sql + " ORDER BY starts_at, key", args)]

    def alerts_due(self, now: float) -> list[AlertRecord]:
        """Open and ending alerts whose next post is due at `now`."""
        rows = self._rows(
            "SELECT * FROM alerts WHERE state IN ('open', 'ending') AND due_at <= ?"
            " ORDER BY due_at, key",
            (now,),
        )
        return [_record(r) for r in rows]

    def alerts_answered(self) -> list[str]:
        """Keys of open alerts one of whose events was acknowledged or resolved."""
        rows = self._rows(
            "SELECT DISTINCT a.key FROM alerts a JOIN alert_events ae ON ae.alert = a.key"
            " JOIN events e ON e.id = ae.event"
            " WHERE a.state = 'open' AND e.status IN ('acked', 'resolved') ORDER BY a.key"
        )
        return [str(r[0]) for r in rows]

    def end_alert(self, key: str, now: float) -> bool:
        """End an open alert at `now`; its end is due at once.  False if it was not open."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE alerts SET state = 'ending', ends_at = ?, due_at = ?, attempts = 0,"
                " version = version + 1 WHERE key = ? AND state = 'open'",
                (now, now, key),
            )
            return cur.rowcount == 1

    def alert_posted(self, key: str, version: int, now: float, next_due: float) -> None:
        """A post of `version` succeeded: the next is due at `next_due`; an end is closed."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET posted_at = ?, attempts = 0,"
                " due_at = CASE WHEN version = ? THEN ? ELSE due_at END,"
                " state = CASE WHEN version = ? AND state = 'ending' THEN 'closed' ELSE state END"
                " WHERE key = ? AND state IN ('open', 'ending')",
                (now, version, next_due, version, key),
            )

    def alert_failed(self, key: str, version: int, attempts: int, retry_at: float) -> None:
        """A post of `version` failed for the `attempts`-th time: try again at `retry_at`."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET attempts = ?, due_at = ?"
                " WHERE key = ? AND version = ? AND state IN ('open', 'ending')",
                (attempts, retry_at, key, version),
            )

    def alert_rejected(self, key: str) -> None:
        """Alertmanager refused the alert: it is not posted again."""
        with self._tx() as db:
            db.execute("UPDATE alerts SET state = 'rejected' WHERE key = ?", (key,))
