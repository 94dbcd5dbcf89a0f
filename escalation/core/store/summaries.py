"""Executive summaries as they were written, newest last."""

from __future__ import annotations

import json

from ._db import Database

__all__ = ["SummaryStore"]


class SummaryStore(Database):
    """One row per summary written."""

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
