"""Pane rows of sessions that went away are forgotten: `steward status` and summaries list only
the panes that exist (real tmux, real SQLite)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import attrs
from _faults import config, daemon, error, home_in

from assistants.session import SessionAssistant
from escalation.core.events import Kind
from escalation.core.paths import conf_dir
from escalation.core.store import PaneRecord
from escalation.rules import load_rules
from supervisor import lifecycle

RULES = load_rules([conf_dir() / "rules" / "generic.toml"])


def test_pane_rows_of_gone_sessions_are_forgotten(server: Any, tmp_path: Path) -> None:
    server.cmd("new-session", "-d", "-s", "alive", "cat")
    home = home_in(tmp_path / "home")
    cfg = config(server)
    d = daemon(cfg, home)
    now = time.time()

    def row(session: str, pane: str) -> PaneRecord:
        return PaneRecord(assistant=f"session:{session}", pane=pane, session=session,
                          target=f"{session}:0.0", command="cat", state="active", since=now,
                          updated=now)

    d.store.save_panes([row("alive", "%1"), row("churned", "%2"), row("told", "%3")])
    gone = attrs.evolve(error("told", "session told is gone"), kind=Kind.SYSTEM,
                        rule="system.session_gone", detail="told")
    d.store.add_events([gone])
    d.cycle(now)  # decides the session_gone: its panes go at once
    assert {r.session for r in d.store.panes()} == {"alive", "churned"}
    assert not d.upkeep.due(now)  # the first upkeep waits a minute after a start ...
    assert d.upkeep.due(now + 60)
    d.cycle(now + 60)  # ... and sweeps the panes of sessions that went unannounced
    assert {r.session for r in d.store.panes()} == {"alive"}
    shown = lifecycle.status(cfg, home)["panes"]
    assert {p["session"] for p in shown} == {"alive"}


def test_a_recreated_session_lists_only_its_new_panes(server: Any, tmp_path: Path) -> None:
    home = home_in(tmp_path / "home")
    server.cmd("new-session", "-d", "-s", "pm", "cat")
    server.cmd("new-session", "-d", "-s", "s", "cat")
    cfg = config(server)
    t = time.time()
    first = SessionAssistant(cfg, home, session="s", phase=0.0, ruleset=RULES)
    first.tick_at(t)
    first.save(t)
    old = {r.pane for r in first.store.panes(session="s")}
    assert len(old) == 1
    first.store.close()
    first.tmux.close()
    server.cmd("kill-session", "-t", "s")
    server.cmd("new-session", "-d", "-s", "s", "cat")
    again = SessionAssistant(cfg, home, session="s", phase=0.0, ruleset=RULES)
    again.tick_at(t + 1)
    again.save(t + 1)
    panes = again.store.panes(session="s")
    assert len(panes) == 1 and panes[0].pane not in old
    again.store.close()
    again.tmux.close()
