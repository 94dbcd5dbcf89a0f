"""What assistants know of panes and of themselves: pane records and heartbeats."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import attrs

from ..memo import PaneMemo
from ._db import Database

__all__ = ["Heartbeat", "PaneRecord", "PaneStore", "write_panes"]


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
    memo: PaneMemo = attrs.field(factory=PaneMemo, eq=False)


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


def write_panes(db: sqlite3.Connection, records: Iterable[PaneRecord]) -> None:
    """Replace the rows of `records` inside the caller's transaction."""
    db.executemany(
        "INSERT OR REPLACE INTO panes (assistant, pane, session, target, command, state,"
        " since, updated, memo) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (r.assistant, r.pane, r.session, r.target, r.command, r.state, r.since, r.updated,
             r.memo.dumps())
            for r in records
        ],
    )


class PaneStore(Database):
    """One row per (assistant, pane), one heartbeat per assistant."""

    def save_panes(self, records: Iterable[PaneRecord]) -> None:
        with self._tx() as db:
            write_panes(db, records)

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
                memo=PaneMemo.loads(r["memo"]),
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
