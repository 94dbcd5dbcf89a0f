"""The SQLite event store (WAL): every event is written here before anything is delivered."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs

from .errors import StoreError
from .events import Event, Kind, Severity, Status
from .notice import Channel, Notice
from .silence import Silence

__all__ = ["Heartbeat", "PaneRecord", "Store"]

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
CREATE TABLE IF NOT EXISTS summaries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, ts REAL NOT NULL,
    text TEXT NOT NULL, data TEXT NOT NULL
);
"""

OPEN_DEADLINE = 15.0

_EVENT_COLUMNS = (
    "id, ts, session, window, pane, target, assistant, rule, severity, kind, text, detail, "
    "fingerprint, status"
)


@attrs.frozen(kw_only=True)
class PaneRecord:
    """What an assistant last knew of one pane: its state and what it needs to resume."""

    assistant: str
    pane: str
    session: str
    target: str
    command: str
    state: str
    since: float
    updated: float
    memo: dict[str, object] = attrs.field(factory=dict, eq=False)


@attrs.frozen(kw_only=True)
class Heartbeat:
    """An assistant's vital signs, written every tick."""

    assistant: str
    pid: int
    started: float
    ts: float
    ticks: int
    captures: int
    failures: int
    skipped: int
    first_capture: float | None


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


class Store:
    """One connection to `steward.db`; each process opens its own."""

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

    def __enter__(self) -> Store:
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

    # -- events -----------------------------------------------------------------------------

    def add_events(self, events: Iterable[Event]) -> list[Event]:
        """Write events in one transaction; returns them with their ids."""
        out: list[Event] = []
        now = time.time()
        with self._tx() as db:
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

    # -- silences ---------------------------------------------------------------------------

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

    # -- panes, heartbeats, summaries -------------------------------------------------------

    def save_panes(self, records: Iterable[PaneRecord]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO panes (assistant, pane, session, target, command, state,"
                " since, updated, memo) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        r.assistant,
                        r.pane,
                        r.session,
                        r.target,
                        r.command,
                        r.state,
                        r.since,
                        r.updated,
                        json.dumps(r.memo),
                    )
                    for r in records
                ],
            )

    def forget_panes(self, assistant: str, keep: Iterable[str]) -> None:
        """Drop what `assistant` knew of panes that no longer exist."""
        kept = list(keep)
        marks = ",".join("?" * len(kept)) or "''"
        with self._tx() as db:
            db.execute(
                f"DELETE FROM panes WHERE assistant = ? AND pane NOT IN ({marks})",
                [assistant, *kept],
            )

    def panes(
        self, *, assistant: str | None = None, session: str | None = None
    ) -> list[PaneRecord]:
        sql = "SELECT * FROM panes WHERE 1 = 1"
        args: list[object] = []
        if assistant is not None:
            sql += " AND assistant = ?"
            args.append(assistant)
        if session is not None:
            sql += " AND session = ?"
            args.append(session)
        return [
            PaneRecord(
                assistant=r["assistant"],
                pane=r["pane"],
                session=r["session"],
                target=r["target"],
                command=r["command"],
                state=r["state"],
                since=r["since"],
                updated=r["updated"],
                memo=json.loads(r["memo"]),
            )
            for r in self._rows(sql + " ORDER BY session, target", args)
        ]

    def beat(self, hb: Heartbeat) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO heartbeats (assistant, pid, started, ts, ticks, captures,"
                " failures, skipped, first_capture) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    hb.assistant,
                    hb.pid,
                    hb.started,
                    hb.ts,
                    hb.ticks,
                    hb.captures,
                    hb.failures,
                    hb.skipped,
                    hb.first_capture,
                ),
            )

    def heartbeats(self) -> list[Heartbeat]:
        return [
            Heartbeat(
                assistant=r["assistant"],
                pid=r["pid"],
                started=r["started"],
                ts=r["ts"],
                ticks=r["ticks"],
                captures=r["captures"],
                failures=r["failures"],
                skipped=r["skipped"],
                first_capture=r["first_capture"],
            )
            for r in self._rows("SELECT * FROM heartbeats ORDER BY assistant")
        ]

    def add_summary(self, session: str, ts: float, text: str, data: dict[str, object]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO summaries (session, ts, text, data) VALUES (?,?,?,?)",
                (session, ts, text, json.dumps(data)),
            )

    def latest_summary(self, session: str) -> tuple[float, str] | None:
        rows = self._rows(
            "SELECT ts, text FROM summaries WHERE session = ? ORDER BY id DESC LIMIT 1", (session,)
        )
        return (rows[0]["ts"], rows[0]["text"]) if rows else None
