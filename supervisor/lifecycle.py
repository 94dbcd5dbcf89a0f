"""`steward up`, `down` and `status`: the whole of Steward started, stopped and looked at."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from escalation.core.config import Config
from escalation.core.errors import StewardError
from escalation.core.paths import StewardHome
from escalation.core.store import Store
from escalation.core.tmux import Tmux
from escalation.sinks.desktop import DesktopSink

from .arbiter import Arbiter, WatcherSpec, circus_ini, circusd_pid, start_circusd
from .pm_session import PM_MARK, ensure_pm_session
from .pm_view import board_rows
from .reconciler import assistant_args

__all__ = ["down", "status", "up"]

START_DEADLINE = 20.0
STOP_DEADLINE = 15.0


def _tmux(config: Config) -> Tmux:
    return Tmux(socket_name=config.tmux.socket_name, socket_path=config.tmux.socket_path)


def attach_hint(config: Config) -> str:
    tmux = _tmux(config)
    return shlex.join(["tmux", *tmux.server_args(), "attach", "-t", config.pm.session])


def _running(home: StewardHome) -> bool:
    if circusd_pid(home.run_dir) is None:
        return False
    with Arbiter(home.run_dir, timeout=2.0) as arbiter:
        return arbiter.ping()


def _watchers(config_file: str | None) -> list[WatcherSpec]:
    conf: tuple[str, ...] = ("--config", config_file) if config_file else ()
    return [
        WatcherSpec(
            name="reconciler", args=(sys.executable, "-m", "supervisor", *conf, "reconcile")
        ),
        WatcherSpec(name="escalation", args=(sys.executable, "-m", "escalation", *conf)),
        WatcherSpec(name="clock", args=assistant_args(config_file, "clock")),
        WatcherSpec(name="qa", args=assistant_args(config_file, "qa", "--phase", "0.25")),
        WatcherSpec(name="deploy", args=assistant_args(config_file, "deploy", "--phase", "0.75")),
    ]


def up(config: Config, home: StewardHome, *, config_file: str | None) -> list[str]:
    """Start circusd with every watcher; the lines to tell the user."""
    home.ensure()
    said: list[str] = []
    if _running(home):
        ensure_pm_session(config, home, config_file=config_file)
        return [f"Steward is already up. Read the PM pane: {attach_hint(config)}"]
    if config.notify.desktop:
        reason = DesktopSink(
            app_name=config.notify.app_name, bus_address=os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        ).available()
        if reason is not None:
            said.append(f"desktop notifications off ({reason}); the PM pane and the log carry on")
        else:
            said.append("desktop notifications on (severity "
                        f"{config.notify.min_severity} and above)")
    tmux = _tmux(config)
    server_was_up = tmux.is_alive()
    created = False
    proc: subprocess.Popen[bytes] | None = None
    try:
        created = ensure_pm_session(config, home, config_file=config_file)
        ini = home.run_dir / "circus.ini"
        ini.write_text(circus_ini(home.run_dir, home.log_dir, _watchers(config_file)))
        ini.chmod(0o600)
        proc = start_circusd(ini, home.log_dir, os.environ)
        deadline = time.monotonic() + START_DEADLINE
        with Arbiter(home.run_dir, timeout=1.0) as arbiter:
            while not arbiter.ping():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise StewardError(
                        f"circusd did not start; see {home.log_dir / 'circusd.out'}"
                        f" and {home.log_dir / 'circusd.log'}"
                    )
                time.sleep(0.1)
    except BaseException:
        _undo_up(config, home, proc, created=created, server_was_up=server_was_up)
        raise
    said.append(f"Steward is up (state in {home.root}). Read the PM pane: {attach_hint(config)}")
    return said


def _undo_up(
    config: Config,
    home: StewardHome,
    proc: subprocess.Popen[bytes] | None,
    *,
    created: bool,
    server_was_up: bool,
) -> None:
    """Take back what a failed `up` began: circusd and its children, the PM session, and the
    tmux server when `up` started it and nothing else lives on it."""
    if proc is not None:
        procs = _steward_processes(proc.pid)
        for p in procs:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(procs, timeout=STOP_DEADLINE / 3)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                continue
        proc.wait(timeout=5)
        (home.run_dir / "circusd.pid").unlink(missing_ok=True)
    tmux = _tmux(config)
    try:
        if created:
            tmux.kill_session(config.pm.session)
        if not server_was_up and tmux.is_alive() and not tmux.sessions():
            tmux.cmd("kill-server", check=False)
    except StewardError:
        return  # the server went away by itself: nothing is left to undo


def _steward_processes(root_pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(root_pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def down(config: Config | None, home: StewardHome) -> list[str]:
    """Stop circusd and every assistant; remove the PM session if Steward made it.

    Without a config (the user's file is broken) only the processes are stopped.
    """
    said = []
    pid = circusd_pid(home.run_dir)
    if pid is not None:
        procs = _steward_processes(pid)
        try:
            with Arbiter(home.run_dir, timeout=3.0) as arbiter:
                arbiter.quit()
        except StewardError:
            os.kill(pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=STOP_DEADLINE)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(alive, timeout=5)
        said.append("Steward is down.")
    else:
        said.append("Steward was not running.")
    if config is None:
        (home.run_dir / "circusd.pid").unlink(missing_ok=True)
        return said
    tmux = _tmux(config)
    if tmux.has_session(config.pm.session):
        mark = tmux.cmd("show-options", "-v", "-t", f"={config.pm.session}:", PM_MARK, check=False)
        if mark and mark[0].strip() == "1":
            tmux.kill_session(config.pm.session)
    for stale in ("circusd.pid",):
        (home.run_dir / stale).unlink(missing_ok=True)
    return said


def status(config: Config, home: StewardHome) -> dict[str, Any]:
    """Everything `steward status` shows, as one JSON-able mapping."""
    now = time.time()
    out: dict[str, Any] = {
        "home": str(home.root),
        "running": False,
        "watchers": {},
        "assistants": [],
        "panes": [],
        "events": {},
        "silences": [],
    }
    pid = circusd_pid(home.run_dir)
    if pid is not None:
        try:
            with Arbiter(home.run_dir, timeout=2.0) as arbiter:
                statuses = arbiter.status()
                out["watchers"] = {
                    name: {"status": st, "pids": arbiter.pids(name)}
                    for name, st in sorted(statuses.items())
                }
                out["running"] = True
                out["circusd_pid"] = pid
        except StewardError as exc:
            out["error"] = str(exc)
    if Path(home.db).exists():
        with Store(home.db) as store:
            out["assistants"] = [
                {
                    "name": hb.assistant,
                    "pid": hb.pid,
                    "ticks": hb.ticks,
                    "captures": hb.captures,
                    "failures": hb.failures,
                    "skipped": hb.skipped,
                    "last_beat_ago": round(now - hb.ts, 1),
                    "first_capture_after": (
                        round(hb.first_capture - hb.started, 3) if hb.first_capture else None
                    ),
                }
                for hb in store.heartbeats()
                if out["running"] and hb.assistant.lower() in out["watchers"]
            ]
            # The same board as `steward top`: panes of sessions that exist now.
            out["panes"] = [row.to_json(now) for row in board_rows(store, _tmux(config))]
            out["events"] = store.counts()
            out["silences"] = [
                {
                    "id": s.id,
                    "rule": s.rule,
                    "session": s.session,
                    "until": s.until,
                    "comment": s.comment,
                }
                for s in store.silences(active_at=now)
            ]
    return out


def render_status(data: dict[str, Any]) -> str:
    """`steward status` for a person."""
    lines = [f"Steward {'is up' if data['running'] else 'is down'} (state in {data['home']})"]
    for name, w in data["watchers"].items():
        lines.append(f"  {name:<28} {w['status']:<8} pid {','.join(map(str, w['pids'])) or '-'}")
    if data["panes"]:
        lines.append("Panes:")
        for p in data["panes"]:
            alert = f"  {p['open']} open: {p['last_alert'][:60]}" if p["open"] else ""
            lines.append(
                f"  {p['target']:<24} {p['state']:<14} {_ago(p['for']):>8}  {p['command']}{alert}"
            )
    counts = data["events"]
    if counts:
        lines.append("Events: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for s in data["silences"]:
        lines.append(
            f"Silence {s['id']}: rule {s['rule']} session {s['session']} "
            f"until {time.strftime('%H:%M', time.localtime(s['until']))} {s['comment']}"
        )
    return "\n".join(lines)


def _ago(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
