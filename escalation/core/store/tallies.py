"""Counts over the stored events for the metrics file: by severity and rule, and still open."""

from __future__ import annotations

from ..events import Severity
from ._db import Database

__all__ = ["TallyStore"]


class TallyStore(Database):
    """Aggregate queries; nothing here writes."""

    def event_tally(self) -> list[tuple[Severity, str, int]]:
        """(severity, rule, number of events) for every pair that occurred."""
        rows = self._rows(
            "SELECT severity, rule, COUNT(*) AS n FROM events GROUP BY severity, rule"
            " ORDER BY severity, rule"
        )
        return [(Severity(r["severity"]), str(r["rule"]), int(r["n"])) for r in rows]

    def open_escalations(self) -> int:
        """Delivered events of warning and above that nobody acknowledged or resolved."""
        rows = self._rows(
            "SELECT COUNT(*) FROM events WHERE processed = 1 AND status = 'delivered'"
            " AND severity >= ?",
            (int(Severity.WARNING),),
        )
        return int(rows[0][0])
