"""What the soak reads back from Steward: marker uids in events, notifications and log lines."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from _steward import notify_log  # tests/bench is put on sys.path by steward_soak.py

__all__ = ["Heartbeats", "Tally", "rows", "uid_counts"]

_UID = re.compile(r"[0-9a-f]{32}")


def rows(db: Path, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Rows of a read-only query on Steward's database ([] while it does not exist or is busy)."""
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return []
    try:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, args))
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def uid_counts(texts: Iterable[str], uids: set[str]) -> Counter[str]:
    """How many of `texts` hold each uid (a uid twice in one text counts once)."""
    out: Counter[str] = Counter()
    for text in texts:
        out.update(u for u in set(_UID.findall(text)) if u in uids)
    return out


class Tally:
    """Each marker's count in events, in desktop notifications and in log lines."""

    def __init__(self, *, db: Path, log: Path, notify_log: Path) -> None:
        self.db = db
        self.log = log
        self.notify_log = notify_log

    def _log_lines(self) -> list[str]:
        out: list[str] = []
        for path in [self.log, *sorted(self.log.parent.glob(self.log.name + ".*"))]:
            if path.exists():
                out += path.read_text(errors="replace").splitlines()
        return out

    def count(self, uids: set[str]) -> dict[str, Counter[str]]:
        """channel ("events", "desktop", "log") -> uid -> count.

        Markers of one pane in one read are one event, named by the first ("... (+1 more like
        it)"), the others in its detail: those count in an event, and were delivered as often
        as the marker that names it.
        """
        found = rows(self.db, "SELECT text, detail FROM events")
        out = {
            "events": uid_counts((f"{r['text']}\n{r['detail']}" for r in found), uids),
            "desktop": uid_counts((t for _, t in notify_log(self.notify_log)), uids),
            "log": uid_counts(self._log_lines(), uids),
        }
        for r in found:
            named = [u for u in _UID.findall(r["text"]) if u in uids]
            for more in (set(_UID.findall(r["detail"])) & uids) - set(named):
                for channel in ("desktop", "log"):
                    out[channel][more] += out[channel][named[0]] if named else 0
        return out

    @staticmethod
    def wrong(counts: dict[str, Counter[str]], uids: Iterable[str]) -> dict[str, dict[str, int]]:
        """uid -> channel -> count, for every marker not caught exactly once on some channel."""
        out = {}
        for uid in uids:
            seen = {ch: c[uid] for ch, c in counts.items()}
            if any(n != 1 for n in seen.values()):
                out[uid] = seen
        return out


class Heartbeats:
    """Follows the heartbeats table: every change of pid of an assistant is one restart."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.pids: dict[str, int] = {}
        self.changes: Counter[str] = Counter()

    def poll(self) -> None:
        for r in rows(self.db, "SELECT assistant, pid FROM heartbeats"):
            name, pid = r["assistant"], int(r["pid"])
            old = self.pids.get(name)
            if old is not None and old != pid:
                self.changes[name] += 1
            self.pids[name] = pid
