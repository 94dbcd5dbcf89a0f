"""What the PM said of events: acknowledgements and silences."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import attrs

from ..silence import Silence
from ._db import Database

__all__ = ["MarkStore"]


def _silence(row: sqlite3.Row) -> Silence:
    return Silence(
        id=row["id"],
        rule=row["rule"],
        session=row["session"],
        until=row["until"],
        comment=row["comment"],
        created=row["created"],
        author=row["author"],
    )



class MarkStore(Database):
    """Acks (a status of events) and silences (a table of their own)."""

    def ack(
        self, *, ids: Sequence[int] = (), session: str | None = None, every: bool = False
    ) -> list[int]:
        """Acknowledge open events by id, by session, or all; returns the ids acknowledged."""
        sql = "SELECT id FROM events WHERE status IN ('delivered', 'new')"
        args: list[object] = []
        if ids:
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            args += list(ids)
        elif session is not None:
            sql += " AND session = ?"
            args.append(session)
        elif not every:
            return []
        with self._tx() as db:
            found = [int(r[0]) for r in db.execute(sql, args)]
            db.executemany("UPDATE events SET status = 'acked' WHERE id = ?", [(i,) for i in found])
        return found

    def acked_ids(self, *, since: float = 0.0) -> set[int]:
        """Ids of acknowledged events seen after `since`."""
        rows = self._rows("SELECT id FROM events WHERE status = 'acked' AND ts >= ?", (since,))
        return {int(r[0]) for r in rows}

    def add_silence(self, silence: Silence) -> Silence:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO silences (rule, session, until, comment, created, author)"
                " VALUES (?,?,?,?,?,?)",
                (
                    silence.rule,
                    silence.session,
                    silence.until,
                    silence.comment,
                    silence.created,
                    silence.author,
                ),
            )
        return attrs.evolve(silence, id=cur.lastrowid)

    def silences(self, *, active_at: float | None = None) -> list[Silence]:
        sql = "SELECT * FROM silences WHERE removed = 0"
        args: list[object] = []
        if active_at is not None:
            sql += " AND until > ?"
            args.append(active_at)
        return [_silence(r) for r in self._rows(sql + " ORDER BY id", args)]

    def remove_silence(self, silence_id: int) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE silences SET removed = 1 WHERE id = ? AND removed = 0", (silence_id,)
            )
            return cur.rowcount == 1

    def known_names(self) -> tuple[set[str], set[str]]:
        """Sessions and rules that events or pane rows name: what a silence's globs can match."""
        sessions = {str(r[0]) for r in self._rows("SELECT DISTINCT session FROM events")}
        sessions |= {str(r[0]) for r in self._rows("SELECT DISTINCT session FROM panes")}
        rules = {str(r[0]) for r in self._rows("SELECT DISTINCT rule FROM events")}
        return sessions, rules
