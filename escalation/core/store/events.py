"""Stored events and their deliveries: what happened, what the policy decided, what was sent."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence

import attrs

from ..events import Event, Kind, Severity, Status
from ..notice import Channel, Notice
from .feed import FeedBatch, FeedStore
from .panes import PaneRecord, write_panes

__all__ = ["EventStore"]

_EVENT_COLUMNS = (
    "id, ts, session, window, pane, target, assistant, rule, severity, kind, text, detail, "
    "fingerprint, status"
)


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        ts=row["ts"],
        session=row["session"],
        window=row["window"],
        pane=row["pane"],
        target=row["target"],
        assistant=row["assistant"],
        rule=row["rule"],
        severity=Severity(row["severity"]),
        kind=Kind(row["kind"]),
        text=row["text"],
        detail=row["detail"],
        fingerprint=row["fingerprint"],
        status=Status(row["status"]),
    )


def _notice(row: sqlite3.Row) -> Notice:
    return Notice(
        key=row["key"],
        channel=Channel(row["channel"]),
        severity=Severity(row["severity"]),
        title=row["title"],
        body=row["body"],
        target=row["target"],
        session=row["session"],
        rule=row["rule"],
        event_ids=tuple(json.loads(row["event_ids"])),
        ts=row["ts"],
    )



class EventStore(FeedStore):
    """Events (written before anything is delivered) and the delivery of each notice."""

    def add_events(
        self,
        events: Iterable[Event],
        *,
        feed: Iterable[FeedBatch] = (),
        cursor: tuple[str, int] | None = None,
        panes: Iterable[PaneRecord] = (),
    ) -> list[Event]:
        """Write events in one transaction; returns them with their ids.

        In the same transaction: a session assistant's new lines for the feed, or a
        follower's cursor, so that events and the lines they came from never part; and the
        records of the panes they came from, so that a respawned assistant resumes exactly
        after them.
        """
        out: list[Event] = []
        now = time.time()
        with self._tx() as db:
            self._append_feed(db, feed)
            if cursor is not None:
                self._move_cursor(db, *cursor)
            write_panes(db, panes)
            for e in events:
                cur = db.execute(
                    "INSERT INTO events (ts, session, window, pane, target, assistant, rule,"
                    " severity, kind, text, detail, fingerprint, status, stored_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        e.ts,
                        e.session,
                        e.window,
                        e.pane,
                        e.target,
                        e.assistant,
                        e.rule,
                        int(e.severity),
                        e.kind.value,
                        e.text,
                        e.detail,
                        e.fingerprint,
                        e.status.value,
                        now,
                    ),
                )
                out.append(attrs.evolve(e, id=cur.lastrowid))
        return out

    def events(
        self,
        *,
        since_id: int = 0,
        session: str | None = None,
        limit: int | None = None,
        newest: bool = False,
    ) -> list[Event]:
        """Events after `since_id`, oldest first (or the newest `limit`, still oldest first)."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE id > ?"
        args: list[object] = [since_id]
        if session is not None:
            sql += " AND session = ?"
            args.append(session)
        sql += " ORDER BY id DESC" if newest else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = [_event(r) for r in self._rows(sql, args)]
        return rows[::-1] if newest else rows

    def event(self, event_id: int) -> Event | None:
        rows = self._rows(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,))
        return _event(rows[0]) if rows else None

    def unprocessed(self, limit: int = 500) -> list[Event]:
        """Events the escalation daemon has not decided on yet, oldest first."""
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE processed = 0 ORDER BY id LIMIT ?", (limit,)
        )
        return [_event(r) for r in rows]

    def open_events(self, *, since: float = 0.0) -> list[Event]:
        """Delivered events of warning and above that nobody acknowledged or resolved."""
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE processed = 1 AND status = 'delivered'"
            " AND severity >= ? AND ts >= ? ORDER BY id",
            (int(Severity.WARNING), since),
        )
        return [_event(r) for r in rows]

    def decide(
        self,
        event_id: int,
        status: Status,
        *,
        resolved: Sequence[int] = (),
    ) -> None:
        """Record the policy's decision on one event (and what it resolves), in one transaction."""
        with self._tx() as db:
            # An ack that came in before the decision stands.
            db.execute(
                "UPDATE events SET processed = 1,"
                " status = CASE WHEN status = 'acked' THEN status ELSE ? END WHERE id = ?",
                (status.value, event_id),
            )
            for rid in resolved:
                db.execute(
                    "UPDATE events SET status = 'resolved' WHERE id = ? AND status = 'delivered'",
                    (rid,),
                )

    def counts(self) -> dict[str, int]:
        """Events by status."""
        rows = self._rows("SELECT status, COUNT(*) AS n FROM events GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    # -- deliveries -------------------------------------------------------------------------

    def claim_delivery(self, notice: Notice) -> bool:
        """Record a notice before it is sent; False when its key was recorded already."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO deliveries (key, channel, severity, title, body, target,"
                " session, rule, event_ids, ts) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    notice.key,
                    notice.channel.value,
                    int(notice.severity),
                    notice.title,
                    notice.body,
                    notice.target,
                    notice.session,
                    notice.rule,
                    json.dumps(list(notice.event_ids)),
                    notice.ts or time.time(),
                ),
            )
            return cur.rowcount == 1

    def mark_delivered(self, key: str, ok: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE deliveries SET ok = ? WHERE key = ?", (int(ok), key))

    def deliveries(self, *, since: float = 0.0, channel: Channel | None = None) -> list[Notice]:
        sql = "SELECT * FROM deliveries WHERE ts >= ?"
        args: list[object] = [since]
        if channel is not None:
            sql += " AND channel = ?"
            args.append(channel.value)
        return [_notice(r) for r in self._rows(sql + " ORDER BY ts", args)]
