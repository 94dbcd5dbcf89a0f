"""The escalation daemon under faults, floods and time, in-process on real SQLite, tmux, D-Bus.

Fair intake (one flooding pane does not hold back another session), acks of old events,
failed log and store writes, retention, an idle cost flat in the store's size, and the
panes of gone sessions.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import _dbus
import pytest
from _faults import config, daemon, error, fill, full_disk, home_in, log_text
from libtmux.test.retry import retry_until

from assistants.session import SessionAssistant
from escalation.core.config import PolicyConfig, StoreConfig
from escalation.core.events import Severity, Status
from escalation.core.notice import Channel, Notice
from escalation.core.paths import conf_dir
from escalation.core.store import Store
from escalation.rules import load_rules
from escalation.sinks.log import LogSink

RULES = load_rules([conf_dir() / "rules" / "generic.toml"])


def test_a_flood_in_one_pane_does_not_hold_back_another_sessions_error(
    server: Any, tmp_path: Path
) -> None:
    home = home_in(tmp_path / "home")
    d = daemon(config(server), home)
    now = time.time()
    d.store.add_events([error("noisy", f"Error: flood line {i}", now) for i in range(3000)])
    (quiet,) = d.store.add_events([error("quiet", "Error: the quiet session's first", now)])
    assert quiet.id is not None
    d.cycle(now)
    # decided in the first cycle, though 3000 events of another pane were stored before it
    got = d.store.event(quiet.id)
    assert got is not None and got.status is Status.DELIVERED
    assert "the quiet session's first" in log_text(home)
    assert d.store.pending_sessions() == ["noisy"]  # the flood still waits
    cycles = 1
    while d.store.pending_sessions():
        d.cycle(now)
        cycles += 1
    assert cycles <= 3000 // 500 + 1  # and the flood is not slowed by fairness
    assert d.store.counts().get("new", 0) == 0


def _keys(d: Any, prefix: str) -> list[str]:
    return [n.key for n in d.store.deliveries() if n.key.startswith(prefix)]


def test_an_ack_of_an_old_event_stops_its_reminders(
    server: Any, tmp_path: Path, notification_bus: _dbus.NotificationBus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_bus.address)
    home = home_in(tmp_path / "home")
    policy = PolicyConfig(renotify_after=600.0, escalate_after=1800.0)
    d = daemon(config(server, desktop=True, policy=policy), home)
    now = time.time()
    old = now - 3 * 1800.0  # seen longer ago than 2 x escalate_after
    acked, kept = d.store.add_events(
        [error("api", "Error: old and acknowledged", old), error("web", "Error: old, open", old)]
    )
    d.cycle(now)
    assert len(notification_bus.calls()) == 2
    assert acked.id is not None
    assert d.store.ack(ids=[acked.id]) == [acked.id]
    d.cycle(now + 1)
    d.cycle(now + 601)
    renotified = _keys(d, "desktop:renotify:")
    assert renotified == [f"desktop:renotify:{kept.id}:1"]  # the open one only


def test_a_failed_log_write_is_kept_retried_and_reported_without_disk(
    server: Any, tmp_path: Path, notification_bus: _dbus.NotificationBus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_bus.address)
    home = home_in(tmp_path / "home")
    d = daemon(config(server, desktop=True), home)
    home.log_file.mkdir()  # nothing can be written there (root or not)
    (ev,) = d.store.add_events([error("api", "Error: while the log was broken")])
    now = time.time()
    assert d._safe_cycle(now) == 1
    assert any("cannot write the log" in c.body for c in notification_bus.calls())
    home.log_file.rmdir()
    d._safe_cycle(now + 1)
    assert "while the log was broken" in log_text(home)
    done = [n for n in d.store.deliveries(channel=Channel.LOG) if ev.id in n.event_ids]
    assert done and d.store._rows("SELECT ok FROM deliveries WHERE key = ?",
                                  (done[0].key,))[0]["ok"] == 1


def test_a_full_disk_does_not_take_the_daemon_down(
    server: Any, tmp_path: Path, notification_bus: _dbus.NotificationBus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_bus.address)
    with full_disk(tmp_path / "small") as root:
        home = home_in(root / "home")
        d = daemon(config(server, desktop=True), home)
        d.store.add_events([error("api", f"Error: marker {i} before the disk filled",
                                  pane=f"%{i}") for i in range(20)])
        filler = fill(root)
        now = time.time()
        assert d._safe_cycle(now) == 0  # nothing decided, nothing raised
        alerts = [c for c in notification_bus.calls() if "cannot use its store" in c.body]
        assert len(alerts) == 1
        d._safe_cycle(now + 1)
        assert len([c for c in notification_bus.calls() if "store" in c.body]) == 1  # once
        filler.unlink()
        while d._safe_cycle(now + 2):
            pass
        text = log_text(home)
        assert all(f"marker {i} before" in text for i in range(20))
        assert d.store.counts().get("new", 0) == 0
        d.store.close()


def test_retention_keeps_open_errors_and_caps_the_size(server: Any, tmp_path: Path) -> None:
    home = home_in(tmp_path / "home")
    cfg = config(server, store=StoreConfig(keep_days=1.0, max_mb=1.0))
    d = daemon(cfg, home)
    now = time.time()
    old = now - 3 * 86400
    stored = d.store.add_events(
        [error("api", "Error: old, still open", old),
         error("api", "Error: old, acknowledged", old, pane="%2"),
         error("api", "info: old", old, pane="%3", severity=Severity.INFO)]
        + [error("bulk", f"Warning: {i} " + "x" * 2000, now - 3600 + i, pane=f"%{i}",
                 severity=Severity.WARNING) for i in range(3000)]
    )
    d.store.ack(ids=[stored[1].id or 0])
    d.store.add_summary("api", old, "an old summary", {})
    while d.store.pending_sessions():
        d.cycle(now)
    size_before = d.store.used_bytes()
    report = d.upkeep.run(now + 1)
    assert report is not None
    left = {e.text for e in d.store.events(session="api")}
    assert left == {"Error: old, still open"}
    assert d.store.latest_summary("api") is None
    assert d.store.used_bytes() <= 1024 * 1024 < size_before
    assert report.vacuumed
    assert home.db.stat().st_size <= 2 * 1024 * 1024


def _vm_steps(d: Any, now: float) -> int:
    """SQLite virtual-machine steps that one daemon cycle runs (the work, not the time)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    d.store._db.set_progress_handler(count, 1)
    try:
        d.cycle(now)
    finally:
        d.store._db.set_progress_handler(None, 1)
    return steps


def _idle_steps(server: Any, root: Path, n: int) -> int:
    home = home_in(root)
    d = daemon(config(server), home)
    now = time.time()
    events = d.store.add_events([error(f"s{i % 40}", f"Error: {i}", now - 60, pane=f"%{i}")
                                 for i in range(n)])
    # All but the last 200 as if decided long ago (quicker than 40 cycles); those through it.
    with d.store._tx() as db:
        db.execute("UPDATE events SET processed = 1, status = 'delivered' WHERE id <= ?",
                   (events[-200].id,))
    while d.store.pending_sessions():
        d.cycle(now)
    d.store.ack(ids=[e.id or 0 for e in events[: n // 2]])  # half acked, half open
    d.cycle(now + 1)
    d.cycle(now + 2)
    steps = _vm_steps(d, now + 3)
    d.store.close()
    return steps


def test_the_daemons_idle_cycle_is_flat_in_the_store_size(server: Any, tmp_path: Path) -> None:
    small = _idle_steps(server, tmp_path / "small", 200)
    large = _idle_steps(server, tmp_path / "large", 20000)
    print(f"idle cycle: {small} SQLite steps at 200 events, {large} at 20000")
    assert large <= small * 1.2 + 50, (small, large)


def test_a_real_flooding_pane_does_not_hold_back_a_quiet_sessions_error(
    server: Any, tmp_path: Path
) -> None:
    home = home_in(tmp_path / "home")
    cfg = config(server)
    server.cmd("new-session", "-d", "-s", "pm", "cat")
    for name in ("noisy", "quiet"):
        server.cmd("new-session", "-d", "-s", name, "-x", "120", "-y", "30",
                   "-e", "PS1=$ ", "bash --norc --noprofile")
    noisy = SessionAssistant(cfg, home, session="noisy", phase=0.0, ruleset=RULES)
    quiet = SessionAssistant(cfg, home, session="quiet", phase=0.5, ruleset=RULES)
    clock = [time.time()]

    def tick(a: SessionAssistant) -> None:
        clock[0] += 0.5
        a.tick_at(clock[0])

    tick(noisy)
    tick(quiet)
    server.cmd("send-keys", "-t", "noisy:0.0", "-l",
               "for i in $(seq 1 5000); do echo \"Err\"\"or: flood $i\"; done; echo done")
    server.cmd("send-keys", "-t", "noisy:0.0", "Enter")
    d = daemon(cfg, home)
    retry_until(lambda: tick(noisy) or any(
        r.endswith("done") for r in noisy.watches[next(iter(noisy.watches))].screen[-2:]), 20)
    # The rest of the noisy session's panes flood too (their lines stored as they are read).
    d.store.add_events([error("noisy", f"Error: other pane {i}", pane=f"%{100 + i}")
                        for i in range(1500)])
    server.cmd("send-keys", "-t", "quiet:0.0", "-l", "printf 'Err''or: the quiet one\\n'")
    server.cmd("send-keys", "-t", "quiet:0.0", "Enter")
    retry_until(lambda: tick(quiet) or bool(d.store.events(session="quiet")), 10)
    (mine,) = d.store.events(session="quiet")
    behind = len([e for e in d.store.events(session="noisy") if (e.id or 0) < (mine.id or 0)])
    assert behind >= 1500  # in id order it would wait three cycles of 500 at least
    d.cycle(time.time())
    got = d.store.event(mine.id or 0)
    assert got is not None and got.status is Status.DELIVERED  # decided in the first cycle
    assert "noisy" in d.store.pending_sessions()
    for a in (noisy, quiet):
        a.store.close()
        a.tmux.close()


def test_an_old_store_is_vacuumed_once_then_in_steps(tmp_path: Path) -> None:
    db = tmp_path / "steward.db"
    legacy = sqlite3.connect(db)
    legacy.execute("CREATE TABLE made_before_retention (x)")  # no incremental vacuum in it
    legacy.close()
    with Store(db) as store:
        assert store._pragma("auto_vacuum") == 0
        now = time.time()
        store.add_events([error("bulk", f"Warning: {i} " + "x" * 2000, now - 60, pane=f"%{i}",
                                severity=Severity.WARNING) for i in range(2000)])
        with store._tx() as conn:
            conn.execute("UPDATE events SET processed = 1, status = 'delivered'")
        report = store.prune(before=now, max_bytes=1 << 40)
        assert report.events == 2000 and report.vacuumed
        assert store._pragma("auto_vacuum") == 2  # converted: later prunes free in steps
        assert db.stat().st_size < 1024 * 1024


def test_a_log_line_claimed_but_never_written_is_written_after_a_restart(
    server: Any, tmp_path: Path
) -> None:
    # The daemon could not write the log (here: a folder stands where the file goes; on a
    # full disk the same), and was restarted before it could: the store's claim remains.
    server.cmd("new-session", "-d", "-s", "pm", "cat")
    cfg = config(server)
    home = home_in(tmp_path / "home")
    home.log_file.mkdir(parents=True)
    d = daemon(cfg, home)
    d.store.add_events([error("api", "Error: written after the restart")])
    d.cycle(time.time())
    assert "written after the restart" not in log_text(home)
    d.store.close()  # gone, with the lines it kept in memory
    home.log_file.rmdir()
    again = daemon(cfg, home)
    again.resume(time.time())
    retry_until(lambda: again.cycle(time.time()) >= 0
                and "written after the restart" in log_text(home), 5)
    assert log_text(home).count("written after the restart") == 1
    again.store.close()


def test_a_line_the_full_disk_cut_short_is_taken_back_and_written_whole_later(
    tmp_path: Path,
) -> None:
    # tmpfs fills by pages: the log's last page takes the head of a line, then the disk is
    # full and write() returns short, without an error (found by make soak).
    with full_disk(tmp_path / "small") as root:
        sink = LogSink(root / "log" / "steward.log")

        def notice(i: int) -> Notice:
            return Notice(key=f"log:{i}", channel=Channel.LOG, severity=Severity.ERROR,
                          title="api:0.1", body=f"Error: marker {i:04d} " + "x" * 90,
                          target="api:0.1", rule="generic.error_line", event_ids=(i,),
                          ts=time.time())

        assert sink.deliver(notice(0))
        filler = fill(root)
        delivered = [i for i in range(1, 200) if sink.deliver(notice(i))]
        failed = next(i for i in range(1, 200) if i not in delivered)
        assert delivered == list(range(1, failed))  # the page took these whole
        filler.unlink()
        assert sink.deliver(notice(failed))
        lines = sink.path.read_text().splitlines()
        assert [line.split("marker ")[1][:4] for line in lines] == [
            f"{i:04d}" for i in range(failed + 1)]
        assert all(line.endswith("'api:0.1'") for line in lines)
        sink.close()
