"""The one adapter to Circus: its config file, starting circusd, and commands over ipc."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from escalation.core.errors import StewardError

__all__ = [
    "Arbiter", "WatcherSpec", "circus_ini", "circusd_pid", "endpoint", "serve", "start_circusd"
]

# Seconds between two of circusd's rounds over its watchers, which is also how soon it
# respawns a process that died.  Each round walks every watcher (at 50 sessions circusd takes
# about 1.4 % of a core); at 1 s a process that dies at once is seen between respawns too
# rarely for the reconciler to tell it is flapping in good time.
CHECK_DELAY = 0.2
_BUSY = "arbiter is already running"


@attrs.frozen(kw_only=True)
class WatcherSpec:
    """One process Circus keeps alive."""

    name: str
    args: tuple[str, ...]

    def cmd(self) -> str:
        return shlex.join(self.args)


def endpoint(run_dir: Path, name: str = "circus") -> str:
    """An ipc endpoint in the private runtime dir: no TCP, no UDP."""
    return f"ipc://{run_dir / (name + '.sock')}"


def watcher_options(name: str, log_dir: Path) -> dict[str, Any]:
    """What every Steward watcher gets: the caller's environment, its own log, quick stop."""
    logfile = str(log_dir / (name.replace(":", "-").replace("/", "_") + ".log"))
    stream = {"class": "FileStream", "filename": logfile, "max_bytes": 1 << 20,
              "backup_count": 2}
    return {
        "copy_env": True,
        "stop_signal": 15,
        "graceful_timeout": 3,
        "max_retry": 10,
        "stdout_stream": stream,
        "stderr_stream": stream,
    }


def circus_ini(run_dir: Path, log_dir: Path, watchers: Sequence[WatcherSpec]) -> str:
    """The circusd config: ipc endpoints only, multicast discovery off, no stats, no httpd."""
    lines = [
        "[circus]",
        f"endpoint = {endpoint(run_dir)}",
        f"pubsub_endpoint = {endpoint(run_dir, 'pubsub')}",
        "multicast_endpoint =",
        "statsd = False",
        "httpd = False",
        f"check_delay = {CHECK_DELAY}",
        f"pidfile = {run_dir / 'circusd.pid'}",
        f"logoutput = {log_dir / 'circusd.log'}",
        "loglevel = info",
        "umask = 077",
        "",
    ]
    for w in watchers:
        opts = watcher_options(w.name, log_dir)
        stream = opts["stdout_stream"]
        lines += [
            f"[watcher:{w.name}]",
            f"cmd = {w.cmd()}",
            "numprocesses = 1",
            "copy_env = True",
            "copy_path = True",
            "stop_signal = TERM",
            f"graceful_timeout = {opts['graceful_timeout']}",
            f"max_retry = {opts['max_retry']}",
            "stdout_stream.class = FileStream",
            f"stdout_stream.filename = {stream['filename']}",
            f"stdout_stream.max_bytes = {stream['max_bytes']}",
            f"stdout_stream.backup_count = {stream['backup_count']}",
            "stderr_stream.class = FileStream",
            f"stderr_stream.filename = {stream['filename']}",
            f"stderr_stream.max_bytes = {stream['max_bytes']}",
            f"stderr_stream.backup_count = {stream['backup_count']}",
            "",
        ]
    return "\n".join(lines)


def start_circusd(ini: Path, log_dir: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """circusd in its own session, detached from the terminal that ran `steward up`."""
    out = (log_dir / "circusd.out").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "supervisor.arbiter", str(ini)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=dict(env),
            close_fds=True,
        )
    finally:
        out.close()


class _QuietConflicts(logging.Filter):
    """Drops the traceback tornado logs when a periodic arbiter task meets a running command.

    Circus refuses a second exclusive command ("arbiter is already running ..."); its own
    periodic `manage_watchers` then fails with a ConflictError and runs again at the next
    period, which is the quiet retry we want, without a traceback in circusd.log each time.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ == "ConflictError")


def serve(ini: str) -> None:
    """circusd itself (what start_circusd runs), with the conflict tracebacks left out."""
    logging.getLogger("tornado.application").addFilter(_QuietConflicts())
    from circus import circusd

    sys.argv = ["circusd", ini]
    circusd.main()


class Arbiter:
    """Commands to a running circusd over its ipc endpoint, retried while it is busy."""

    def __init__(self, run_dir: Path, *, timeout: float = 5.0) -> None:
        from circus.client import CircusClient  # imported late: circus configures logging

        self.run_dir = run_dir
        self._client = CircusClient(endpoint=endpoint(run_dir), timeout=timeout)

    def close(self) -> None:
        self._client.stop()

    def __enter__(self) -> Arbiter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, command: str, *, retry_for: float = 10.0, **properties: Any) -> dict[str, Any]:
        from circus.exc import CallError

        deadline = time.monotonic() + retry_for
        while True:
            try:
                answer: dict[str, Any] = self._client.call(
                    {"command": command, "properties": properties}
                )
            except CallError as exc:
                if time.monotonic() >= deadline:
                    raise StewardError(f"circusd: {command}: {exc}") from None
                time.sleep(0.1)
                continue
            if answer.get("status") == "ok":
                return answer
            reason = str(answer.get("reason", answer))
            if _BUSY in reason and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise StewardError(f"circusd: {command}: {reason}")

    def ping(self) -> bool:
        """Whether circusd answers."""
        try:
            self.call("list", retry_for=0.0)
        except StewardError:
            return False
        return True

    def watchers(self) -> list[str]:
        """Watcher names (circus keeps them lower-cased)."""
        return [str(w) for w in self.call("list").get("watchers", [])]

    def add(self, spec: WatcherSpec, log_dir: Path) -> None:
        self.call("add", name=spec.name, cmd=spec.cmd(), args=[],
                  options=watcher_options(spec.name, log_dir), start=True)

    def remove(self, name: str) -> None:
        self.call("rm", name=name, graceful=True)

    def status(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.call("status").get("statuses", {}).items()}

    def start(self, name: str) -> None:
        self.call("start", name=name)

    def stop(self, name: str) -> None:
        self.call("stop", name=name)

    def pids(self, name: str) -> list[int]:
        return [int(p) for p in self.call("list", name=name).get("pids", [])]

    def quit(self) -> None:
        self.call("quit", waiting=True, retry_for=3.0)


def circusd_pid(run_dir: Path) -> int | None:
    """The pid in circusd's pid file, if that process is alive."""
    try:
        pid = int((run_dir / "circusd.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


if __name__ == "__main__":
    serve(sys.argv[1])
