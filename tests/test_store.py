"""The SQLite store: WAL, round trips, and delivery keys that can only be claimed once."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from pathlib import Path

from escalation.core.events import Event, Kind, Severity, Status
from escalation.core.memo import PaneMemo
from escalation.core.notice import Channel, Notice
from escalation.core.silence import Silence
from escalation.core.store import FeedBatch, Heartbeat, PaneRecord, Store


def _event(i: int, session: str = "api") -> Event:
    return Event(ts=1000.0 + i, session=session, window="0", pane=f"%{i}",
                 target=f"{session}:0.{i}", assistant=f"session:{session}", rule="generic.x",
                 severity=Severity.ERROR, kind=Kind.PATTERN, text=f"Error: {i}",
                 fingerprint=f"f{i}")


def test_wal_and_private_file(tmp_path: Path) -> None:
    db = tmp_path / "s" / "steward.db"
    with Store(db):
        pass
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_events_round_trip_and_decisions(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        stored = store.add_events([_event(1), _event(2), _event(3, "web")])
        assert [e.id for e in stored] == [1, 2, 3]
        assert store.events() == stored
        assert [e.id for e in store.events(session="web")] == [3]
        assert [e.id for e in store.events(limit=2, newest=True)] == [2, 3]
        assert [e.id for e in store.unprocessed()] == [1, 2, 3]
        store.decide(1, Status.DELIVERED)
        store.decide(2, Status.DELIVERED)
        store.decide(3, Status.SUPPRESSED, resolved=[1])
        assert [e.id for e in store.unprocessed()] == []
        assert store.event(1) is not None and store.event(1).status is Status.RESOLVED  # type: ignore[union-attr]  # checked on the left
        assert [e.id for e in store.open_events()] == [2]
        assert store.ack(session="api") == [2]
        assert store.acked_ids() == {2}
        assert store.counts() == {"resolved": 1, "acked": 1, "suppressed": 1}


def test_a_delivery_key_is_claimed_once_even_by_racing_processes(tmp_path: Path) -> None:
    db = tmp_path / "db"
    notice = Notice(key="desktop:7", channel=Channel.DESKTOP, severity=Severity.ERROR,
                    title="t", body="b", event_ids=(7,), ts=time.time())
    wins: list[bool] = []

    def claim() -> None:
        with Store(db) as store:
            wins.append(store.claim_delivery(notice))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(wins) == [False] * 7 + [True]
    with Store(db) as store:
        store.mark_delivered("desktop:7", True)
        assert [n.key for n in store.deliveries(channel=Channel.DESKTOP)] == ["desktop:7"]
        assert store.deliveries(channel=Channel.DESKTOP)[0].event_ids == (7,)


def test_silences_panes_heartbeats(tmp_path: Path) -> None:
    now = time.time()
    with Store(tmp_path / "db") as store:
        s = store.add_silence(Silence(id=None, rule="generic.*", session="api", until=now + 60,
                                      comment="deploy", created=now))
        store.add_silence(Silence(id=None, until=now - 1, created=now - 100))
        assert [x.id for x in store.silences(active_at=now)] == [s.id]
        assert store.remove_silence(s.id or 0)
        assert not store.remove_silence(s.id or 0)
        rec = PaneRecord(assistant="session:api", pane="%1", session="api", target="api:0.0",
                         command="bash", state="idle", since=now, updated=now,
                         memo=PaneMemo(recent=("a", "b")))
        store.save_panes([rec])
        assert store.panes(session="api")[0].memo == PaneMemo(recent=("a", "b"))
        store.forget_panes("session:api", keep=[])
        assert store.panes() == []
        hb = Heartbeat(assistant="qa", pid=1, started=now, ts=now, ticks=3, captures=3,
                       failures=0, skipped=0, first_capture=now)
        store.beat(hb)
        assert store.heartbeats() == [hb]


def test_an_ack_before_the_decision_stands(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        [event] = store.add_events([_event(1)])
        assert store.ack(ids=[1]) == [1]
        store.decide(1, Status.DELIVERED)
        assert store.event(1) is not None
        assert store.event(1).status is Status.ACKED  # type: ignore[union-attr]  # checked above
        assert store.unprocessed() == []
        assert event.id == 1


def test_line_feed_is_followed_by_cursor_and_pruned_when_read_by_all(tmp_path: Path) -> None:
    def batch(n: int) -> FeedBatch:
        return FeedBatch(ts=time.time(), session="api", window="0", pane="%1",
                         target="api:0.0", command="bash", lines=(f"line {n}",))

    with Store(tmp_path / "s.db") as store:
        store.add_events([], feed=[batch(1), batch(2)])
        store.add_events([], feed=[batch(3)])
        got = store.feed_after(0)
        assert [b.lines for b in got] == [("line 1",), ("line 2",), ("line 3",)]
        assert store.cursor("qa") == 0
        # A follower's events and its cursor are one transaction.
        store.add_events([], cursor=("qa", got[1].id))
        assert [b.lines for b in store.feed_after(store.cursor("qa"))] == [("line 3",)]
        # Nothing is pruned until every follower has read it.
        assert store.prune_feed(("qa", "deploy")) == 0
        store.add_events([], cursor=("deploy", got[0].id))
        assert store.prune_feed(("qa", "deploy")) == 1
        assert [b.lines for b in store.feed_after(0)] == [("line 2",), ("line 3",)]
        # A cursor never moves back.
        store.add_events([], cursor=("qa", 1))
        assert store.cursor("qa") == got[1].id
