"""Watching the watchers: failing and skipped captures become system events, once."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import attrs

from assistants.runtime import Assistant
from assistants.session import SessionAssistant
from escalation.core.config import CaptureConfig, Config, TmuxConfig, load_config
from escalation.core.events import Event, Kind
from escalation.core.paths import StewardHome, conf_dir
from escalation.rules import load_rules


def _config(server: Any) -> Config:
    return attrs.evolve(load_config(), tmux=TmuxConfig(socket_name=str(server.socket_name)),
                        capture=CaptureConfig(interval=1.0))


def _system(home: StewardHome) -> list[Event]:
    from escalation.core.store import Store

    with Store(home.db) as store:
        return [e for e in store.events() if e.kind is Kind.SYSTEM]


def test_failing_captures_are_one_event_and_recovery_another(
    server: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    home = StewardHome.from_env().ensure()
    server.cmd("new-session", "-d", "-s", "s", "cat")
    rules = load_rules([conf_dir() / "rules" / "generic.toml"])
    a = SessionAssistant(_config(server), home, session="s", phase=0.0, ruleset=rules)
    t = time.time()
    a.tick_at(t)
    assert a.captures == 1
    # The server lives on but the tmux command cannot be run (not on PATH): captures fail.
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-tmux-here"))
    for i in range(1, 6):
        a.tick_at(t + i)
    monkeypatch.setenv("PATH", path)
    failed = [e for e in _system(home) if e.rule == "system.capture_failed"]
    assert len(failed) == 1
    assert failed[0].session == "s" and failed[0].severity.label == "warning"
    a.tick_at(t + 6)
    assert [e.rule for e in _system(home)] == ["system.capture_failed", "system.capture_recovered"]


def test_a_dead_server_is_left_to_the_reconciler(
    server: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    home = StewardHome.from_env().ensure()
    server.cmd("new-session", "-d", "-s", "s", "cat")
    rules = load_rules([conf_dir() / "rules" / "generic.toml"])
    a = SessionAssistant(_config(server), home, session="s", phase=0.0, ruleset=rules)
    t = time.time()
    a.tick_at(t)
    server.cmd("kill-server")
    for i in range(1, 6):
        a.tick_at(t + i)
    # One `system.tmux_server_gone` from the reconciler says it, not a warning per assistant.
    assert a.failures == 5
    assert _system(home) == []


def test_a_vanished_session_is_not_a_capture_failure(
    server: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    home = StewardHome.from_env().ensure()
    server.cmd("new-session", "-d", "-s", "keep", "cat")
    server.cmd("new-session", "-d", "-s", "gone", "cat")
    rules = load_rules([conf_dir() / "rules" / "generic.toml"])
    a = SessionAssistant(_config(server), home, session="gone", phase=0.0, ruleset=rules)
    t = time.time()
    a.tick_at(t)
    server.cmd("kill-session", "-t", "gone")
    for i in range(1, 6):
        a.tick_at(t + i)
    assert _system(home) == []
    assert a.failures == 0


class _Slow(Assistant):
    def step(self, now: float) -> list[Event]:
        return []


def test_runs_merged_after_a_slow_capture_are_reported_as_skipped(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    home = StewardHome.from_env().ensure()
    a = _Slow(attrs.evolve(load_config(), capture=CaptureConfig(interval=1.0)), home,
              name="session:slow", phase=0.0)
    t = time.time()
    a.tick_at(t)
    a.tick_at(t + 1.0)
    a.tick_at(t + 4.05)  # the capture before took three intervals: two runs never happened
    assert a.skipped == 2
    skipped = [e for e in _system(home) if e.rule == "system.capture_skipped"]
    assert len(skipped) == 1
    assert "2 capture runs skipped" in skipped[0].text
    a.tick_at(t + 5.0)
    a.tick_at(t + 7.0)  # one more skipped run, reported with the next batch, not at once
    assert len([e for e in _system(home) if e.rule == "system.capture_skipped"]) == 1


def test_assistants_read_through_one_control_client_unless_turned_off(
    server: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    home = StewardHome.from_env().ensure()
    server.cmd("new-session", "-d", "-s", "pm", "cat")
    server.cmd("new-session", "-d", "-s", "s", "cat")
    rules = load_rules([conf_dir() / "rules" / "generic.toml"])
    on = SessionAssistant(_config(server), home, session="s", phase=0.0, ruleset=rules)
    on.tick_at(time.time())
    assert on.tmux.control_pid() is not None
    assert (home.run_dir / "control.lock").exists()
    off_config = attrs.evolve(
        _config(server), capture=CaptureConfig(interval=1.0, control_mode=False)
    )
    off = SessionAssistant(off_config, home, session="s", phase=0.0, ruleset=rules)
    off.tick_at(time.time())
    assert off.captures == 1
    assert off.tmux.control_pid() is None
    on.tmux.close()
