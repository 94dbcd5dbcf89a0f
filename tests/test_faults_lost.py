"""Lost: nothing an assistant reads is lost while the store cannot be written, and the PM is told
at once by channels that need no disk.  Real tmux, a real full disk (a small tmpfs), D-Bus mock.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _dbus
import pytest
from _faults import config, daemon, error, fill, full_disk, home_in
from libtmux.test.retry import retry_until
from test_sinks import attached_client, pm_pane, screen

from assistants.session import SessionAssistant
from assistants.wake import registrations
from escalation.core.config import PMConfig
from escalation.core.events import Event, Severity
from escalation.core.notice import Channel
from escalation.core.paths import StewardHome, conf_dir
from escalation.core.store import Store
from escalation.core.tmux import Tmux
from escalation.rules import load_rules

RULES = load_rules([conf_dir() / "rules" / "generic.toml"])
REPO = Path(__file__).resolve().parent.parent


def _marked(events: list[Event]) -> list[str]:
    """The marker lines events speak of (one event may carry several lines alike)."""
    found: set[str] = set()
    for e in events:
        found |= {line.split(" (+")[0] for line in (e.text, *e.detail.splitlines())
                  if "marker" in line}
    return sorted(found)


def _markers(home: StewardHome) -> list[str]:
    with Store(home.db) as store:
        return _marked(store.events())


def test_lines_read_while_the_disk_is_full_are_kept_and_the_pm_is_told(
    server: Any, tmp_path: Path, notification_bus: _dbus.NotificationBus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_bus.address)
    with full_disk(tmp_path / "small", size="8m") as root:
        home = StewardHome(root=root / "home").ensure()
        server.cmd("new-session", "-d", "-s", "pm", "cat")
        server.cmd("new-session", "-d", "-s", "work", "-x", "120", "-y", "30",
                   "-e", "PS1=$ ", "bash --norc --noprofile")
        tmux = Tmux(socket_name=str(server.socket_name))
        a = SessionAssistant(config(server, desktop=True), home, session="work", phase=0.0,
                             ruleset=RULES)
        clock = [time.time()]

        def tick() -> None:
            clock[0] += 1.0
            a.tick_at(clock[0])

        tick()
        with attached_client(tmux, "pm") as tty:
            filler = fill(root)
            for i in range(6):
                # quoted so that the typed command line itself does not match
                tmux.send_keys("work:0.0", f"printf 'Err''or: marker {i} on a full disk\\n'",
                               enter=True)
            retry_until(lambda: tick() or len(_marked(a.unstored)) >= 6, 10)
            assert _markers(home) == []  # none stored ...
            assert len(_marked(a.unstored)) == 6  # ... none lost
            fed = {line for batch in a.unfed for line in batch.lines
                   if line.startswith("Error: marker")}
            assert len(fed) == 6  # nor the lines the QA and deploy assistants follow
            told = [c for c in notification_bus.calls() if "cannot write the store" in c.body]
            assert len(told) == 1
            shown = [m for m in tmux.cmd("show-messages") if f"{tty} message:" in m]
            assert any("cannot write the store" in m for m in shown), shown
            for _ in range(3):
                tick()
            assert len(notification_bus.calls()) == 1  # once per episode
            filler.unlink()
            tick()
        assert sorted(_markers(home)) == [f"Error: marker {i} on a full disk" for i in range(6)]
        assert a.unstored == []
        with Store(home.db) as store:
            back = [e for e in store.events() if e.rule == "system.store_recovered"]
        assert len(back) == 1 and "events kept in memory were written" in back[0].text
        with Store(home.db) as store:
            assert {line for batch in store.feed_after(0) for line in batch.lines
                    if line.startswith("Error: marker")} == fed
        a.store.close()
        a.tmux.close()


def _keys_ok(d: Any) -> list[int]:
    return [int(r["ok"]) for r in d.store._rows("SELECT ok FROM deliveries WHERE channel = ?",
                                                (Channel.KEYS.value,))]


def test_a_report_to_an_agent_pm_is_delivered_when_typed_and_survives_a_restart(
    server: Any, tmp_path: Path
) -> None:
    tmux = Tmux(socket_name=str(server.socket_name))
    pane = pm_pane(tmux)
    tmux.send_keys(pane, "half typed by the PM")  # the report must wait for an empty prompt
    retry_until(lambda: "half typed by the PM" in screen(tmux, pane), 5)
    cfg = config(server, pm=PMConfig(mode="send-keys", target=pane))
    home = home_in(tmp_path / "home")
    d = daemon(cfg, home)
    d.store.add_events([error("api", "Error: for the agent PM", severity=Severity.WARNING)])
    d.cycle(time.time())
    assert _keys_ok(d) == [0]  # claimed, not typed: not delivered
    d.store.close()  # the daemon goes (a restart); its queue was in memory only
    again = daemon(cfg, home)
    again.resume(time.time())
    assert again.keys is not None and again.keys.pending == 1
    tmux.cmd("send-keys", "-t", pane, "Enter")  # the PM sends their line: the prompt is empty
    retry_until(lambda: again.cycle(time.time()) >= 0 and _keys_ok(again) == [1], 5)
    retry_until(lambda: "Error: for the agent PM" in screen(tmux, pane), 5)
    assert screen(tmux, pane).count("Steward report") == 2  # typed once (cat echoes it)
    again.store.close()


def test_a_store_locked_past_the_busy_timeout_loses_nothing(server: Any, tmp_path: Path) -> None:
    home = home_in(tmp_path / "home")
    server.cmd("new-session", "-d", "-s", "pm", "cat")
    server.cmd("new-session", "-d", "-s", "work", "-x", "120", "-y", "30",
               "-e", "PS1=$ ", "bash --norc --noprofile")
    a = SessionAssistant(config(server), home, session="work", phase=0.0, ruleset=RULES)
    a.store._db.execute("PRAGMA busy_timeout=50")  # the 10 s of production, shortened
    clock = [time.time()]

    def tick() -> None:
        clock[0] += 1.0
        a.tick_at(clock[0])

    tick()
    holder = sqlite3.connect(home.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        a.tmux.send_keys("work:0.0", "printf 'Err''or: marker while locked\\n'", enter=True)
        retry_until(lambda: tick() or any("marker" in e.text for e in a.unstored), 10)
        assert a.alarm.raised is not None and "cannot write the store" in a.alarm.raised
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    tick()
    assert _markers(home) == ["Error: marker while locked"]
    assert a.unstored == [] and a.alarm.raised is None
    a.store.close()
    a.tmux.close()


def test_an_assistant_started_on_a_full_disk_runs_and_loses_nothing(
    server: Any, tmp_path: Path
) -> None:
    """A respawn while the disk is full used to die at start (its heartbeat, its wake-up
    registration), and Circus then gave up on it: now it reads, keeps, and catches up."""
    with full_disk(tmp_path / "small", size="8m") as root:
        home = StewardHome(root=root / "home").ensure()
        cfg = root / "steward.toml"
        cfg.write_text(f'[tmux]\nsocket_name = "{server.socket_name}"\n'
                       '[notify]\ndesktop = false\n[summary]\ninterval = 0\n')
        server.cmd("new-session", "-d", "-s", "pm", "cat")
        server.cmd("new-session", "-d", "-s", "work", "-x", "120", "-y", "30",
                   "-e", "PS1=$ ", "bash --norc --noprofile")
        tmux = Tmux(socket_name=str(server.socket_name))
        keep = Store(home.db)  # the store and its WAL exist, as they would for a respawn
        filler = fill(root)
        env = {**os.environ, "STEWARD_HOME": str(home.root)}
        env.pop("TMUX", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistants", "--config", str(cfg), "session", "work"],
            env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
        try:
            for i in range(3):
                tmux.send_keys("work:0.0", f"printf 'Err''or: marker {i} at start\\n'",
                               enter=True)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)  # it must still run after several ticks on the full disk
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert _markers(home) == []
            filler.unlink()
            retry_until(lambda: len(_markers(home)) == 3, 20)
            assert _markers(home) == [f"Error: marker {i} at start" for i in range(3)]
            retry_until(lambda: bool(registrations(home.run_dir)), 20)  # the clock can wake it
        finally:
            proc.terminate()
            proc.wait(10)
            keep.close()
            tmux.close()
