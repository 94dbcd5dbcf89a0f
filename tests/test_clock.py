"""The clock wakes session assistants with their panes' rows; without it they tick on their own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest
from libtmux.test.retry import retry_until

from assistants.wake import registrations

REPO = Path(__file__).resolve().parent.parent


def _events(home: Path, rule_prefix: str) -> list[str]:
    db = home / "steward.db"
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT text FROM events WHERE rule LIKE ?", (rule_prefix + "%",))
        return [r[0] for r in rows]


@pytest.fixture
def home(tmp_path: Path, server: libtmux.Server) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    home = tmp_path / "home"
    config = tmp_path / "steward.toml"
    config.write_text(f'[tmux]\nsocket_name = "{server.socket_name}"\n[capture]\ninterval = 0.5\n')
    server.new_session("pm")
    env = {**os.environ, "STEWARD_HOME": str(home)}
    env.pop("TMUX", None)
    yield home, config, env


def _start(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "assistants", "--config", str(config), *args],
                            env=env, cwd=REPO, stderr=subprocess.DEVNULL)


def test_session_assistants_load_no_scheduler() -> None:
    code = "import sys, assistants.session; print('apscheduler' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_the_clock_wakes_a_session_and_the_session_goes_on_without_it(
    server: libtmux.Server, home: tuple[Path, Path, dict[str, str]]
) -> None:
    state, config, env = home
    session = server.new_session("work", window_command="bash --norc --noprofile")
    pane = session.active_window.active_pane
    assert pane is not None
    assistant = _start(config, env, "session", "work", "--phase", "0.3")
    clock = _start(config, env, "clock")
    try:
        retry_until(lambda: len(registrations(state / "run")) == 1, 15)
        reg = registrations(state / "run")[0]
        assert (reg.session, reg.phase, reg.pid) == ("work", 0.3, assistant.pid)
        assert (reg.socket.stat().st_mode & 0o777) == 0o600
        pane.send_keys("echo 'fatal: not a git repository (or any of the parent directories)'",
                       enter=True)
        retry_until(lambda: any("not a git repository" in t
                                for t in _events(state, "generic.")), 15)
        clock.terminate()
        clock.wait(10)
        # No clock: after a few intervals the assistant lists its panes and reads them itself.
        pane.send_keys("echo 'error: failed to push some refs to origin'", enter=True)
        retry_until(lambda: any("failed to push" in t for t in _events(state, "generic.")), 15)
    finally:
        for proc in (clock, assistant):
            proc.terminate()
            proc.wait(10)
    # A stopped assistant takes its socket and registration with it.
    assert registrations(state / "run") == []


def test_the_clock_follows_sessions_that_come_and_go(
    server: libtmux.Server, home: tuple[Path, Path, dict[str, str]]
) -> None:
    from assistants.clock import Clock
    from escalation.core.config import load_config
    from escalation.core.paths import StewardHome

    state, config, env = home
    os.environ["STEWARD_HOME"] = str(state)
    clock = Clock(load_config(str(config)), StewardHome(root=state).ensure())
    assistants = []
    try:
        for name, phase in (("a", "0"), ("b", "0.5"), ("c", "0.52")):
            server.new_session(name)
            assistants.append(_start(config, env, "session", name, "--phase", phase))
        retry_until(lambda: len(registrations(state / "run")) == 3, 15)
        clock.rescan()
        assert {s.reg.session for s in clock.sessions.values()} == {"a", "b", "c"}
        # b and c share the job of their slot; a has its own.
        assert clock._slots == {"slot-0", "slot-5"}
        assert clock._ticker.has("slot-0") and clock._ticker.has("slot-5")
        rows = clock._rows(["a", "b", "c", "nosuch"])  # one line; a gone session: one at a time
        assert rows["nosuch"] is None and all(rows[n] for n in "abc")
        gone = assistants.pop(0)
        gone.terminate()
        gone.wait(10)
        clock.rescan()  # a's slot job goes (paused first while the scheduler runs a batch)
        assert {s.reg.session for s in clock.sessions.values()} == {"b", "c"}
        assert clock._slots == {"slot-5"}
        clock.rescan()
        assert clock._retiring == set()
        assert not clock._ticker.has("slot-0") and clock._ticker.has("slot-5")
    finally:
        for proc in assistants:
            proc.terminate()
            proc.wait(10)
        os.environ.pop("STEWARD_HOME", None)
