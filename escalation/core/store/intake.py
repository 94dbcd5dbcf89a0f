"""How the escalation daemon takes events in: fairly across sessions, and acks by cursor.

Both queries cost what is new, not what is stored: unprocessed events sit in a partial index
of their own, and every acknowledgement is appended (by a trigger) to a log read past a cursor.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..events import Event, Status
from ..notice import Channel, Notice
from ._db import Database
from ._schema import apply
from .events import _EVENT_COLUMNS, _event, _notice

__all__ = ["MAX_SESSIONS", "IntakeStore"]

# Sessions with unprocessed events looked at in one intake; the rest wait for the next.
MAX_SESSIONS = 1000

_SCHEMA = """
CREATE INDEX IF NOT EXISTS events_pending ON events(session, id) WHERE processed = 0;
CREATE INDEX IF NOT EXISTS events_status ON events(status);
CREATE TABLE IF NOT EXISTS acks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_acked AFTER UPDATE OF status ON events
    WHEN NEW.status = 'acked' AND OLD.status <> 'acked'
    BEGIN INSERT INTO acks (event_id) VALUES (NEW.id); END;
"""


class IntakeStore(Database):
    """Unprocessed events round-robin by session; acknowledgements after a cursor."""

    def _prepare(self) -> None:
        super()._prepare()
        apply(self._db, self.path, _SCHEMA)

    def pending_sessions(self) -> list[str]:
        """Sessions with unprocessed events (one index probe each, however many events)."""
        out: list[str] = []
        while len(out) < MAX_SESSIONS:
            rows = self._rows(
                "SELECT session FROM events WHERE processed = 0 AND session > ?"
                " ORDER BY session LIMIT 1",
                (out[-1] if out else "",),
            )
            if not rows:
                break
            out.append(str(rows[0]["session"]))
        return out

    def _pending(self, session: str, after: int, limit: int) -> list[Event]:
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE processed = 0 AND session = ?"
            " AND id > ? ORDER BY id LIMIT ?",
            (session, after, limit),
        )
        return [_event(r) for r in rows]

    def unprocessed_fair(self, limit: int = 500) -> list[Event]:
        """At most `limit` undecided events, dealt round-robin: every session's oldest first.

        Each session with pending events gets an equal share; what a quiet session leaves of
        its share goes to the busy ones.  The result interleaves sessions (each one's events
        in id order), so one flooding pane never delays another session's first event by
        more than one intake.
        """
        sessions = self.pending_sessions()
        if not sessions:
            return []
        share = max(1, limit // len(sessions))
        taken = {s: self._pending(s, 0, share) for s in sessions}
        left = limit - sum(len(v) for v in taken.values())
        for session in sessions:
            got = taken[session]
            if left <= 0:
                break
            if len(got) == share and got:
                more = self._pending(session, got[-1].id or 0, left)
                got += more
                left -= len(more)
        ranked = [(rank, e.id or 0, e) for got in taken.values() for rank, e in enumerate(got)]
        return [e for _rank, _id, e in sorted(ranked, key=lambda t: (t[0], t[1]))]

    def decide_many(self, decisions: Sequence[tuple[int, Status, Sequence[int]]]) -> None:
        """Record a cycle's decisions (event id, status, ids it resolves) in one transaction.

        An acknowledgement that came in before its decision stands.
        """
        if not decisions:
            return
        with self._tx() as db:
            db.executemany(
                "UPDATE events SET processed = 1,"
                " status = CASE WHEN status = 'acked' THEN status ELSE ? END WHERE id = ?",
                [(status.value, event_id) for event_id, status, _ in decisions],
            )
            db.executemany(
                "UPDATE events SET status = 'resolved' WHERE id = ? AND status = 'delivered'",
                [(rid,) for _, _, resolved in decisions for rid in resolved],
            )

    def ack_cursor(self) -> int:
        """The newest acknowledgement's place in the log (0 before the first)."""
        rows = self._rows("SELECT COALESCE(MAX(seq), 0) AS seq FROM acks")
        return int(rows[0]["seq"])

    def acks_after(self, cursor: int, limit: int = 10000) -> tuple[int, list[int]]:
        """Events acknowledged after `cursor`, oldest first, and the cursor past them."""
        rows = self._rows(
            "SELECT seq, event_id FROM acks WHERE seq > ? ORDER BY seq LIMIT ?", (cursor, limit)
        )
        if not rows:
            return cursor, []
        return int(rows[-1]["seq"]), [int(r["event_id"]) for r in rows]

    def forget_acks(self, upto: int) -> None:
        """Drop the log of acknowledgements up to `upto` (read already)."""
        with self._tx() as db:
            db.execute("DELETE FROM acks WHERE seq <= ?", (upto,))

    def undelivered(self, channel: Channel, *, since: float, limit: int = 1000) -> list[Notice]:
        """Notices claimed for `channel` after `since` that never reached it, oldest first."""
        rows = self._rows(
            "SELECT * FROM deliveries WHERE channel = ? AND ok = 0 AND ts >= ?"
            " ORDER BY ts LIMIT ?",
            (channel.value, since, limit),
        )
        return [_notice(r) for r in rows]
