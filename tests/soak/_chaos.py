"""What the soak does to Steward while markers go in: churn, flood, SIGKILL, SIGSTOP, a full disk
and a tmux server restart."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil
from _load import LoadServer  # tests/bench is put on sys.path by steward_soak.py

__all__ = ["Churn", "Flood", "FullDisk", "Killer", "ServerRestart", "Stopper", "session_assistants"]

CHURN_COMMAND = "i=0; while sleep 0.5; do i=$((i+1)); echo \"churn step $i ok\"; done"
FLOOD_CODE = """\
import sys, time
end = time.monotonic() + {seconds}
i = 0
while time.monotonic() < end:
    i += 1
    sys.stdout.write(f"Error: flood line {{i}} of the soak\\n")
"""

Say = Callable[[str], None]


def session_assistants(watchers: Mapping[str, Sequence[int]],
                       sessions: Sequence[str]) -> dict[str, int]:
    """session -> pid of its assistant, for the sessions given that have one running."""
    out = {}
    for s in sessions:
        pids = watchers.get(f"session:{s}", [])
        if pids:
            out[s] = pids[0]
    return out


class Churn:
    """Every `every` seconds, kills `count` of the churn sessions and creates as many new ones."""

    def __init__(self, load: LoadServer, *, prefix: str, size: int, count: int, every: float,
                 rng: random.Random, say: Say) -> None:
        self.load = load
        self.prefix = prefix
        self.count = count
        self.every = every
        self.rng = rng
        self.say = say
        self.made = 0
        self.live: list[str] = []
        self.killed = 0
        for _ in range(size):
            self._create()
        self.next = time.monotonic() + every

    def _create(self, name: str | None = None) -> None:
        if name is None:
            name = f"{self.prefix}{self.made:03d}"
            self.made += 1
            self.live.append(name)
        self.load.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "30",
                       f"sh -c {shlex.quote(CHURN_COMMAND)}")

    def recreate(self) -> None:
        """The live sessions again, on a new tmux server."""
        for name in self.live:
            self._create(name)

    def tick(self, now: float) -> None:
        if now < self.next:
            return
        self.next = now + self.every
        for name in self.rng.sample(self.live, min(self.count, len(self.live))):
            self.load.tmux("kill-session", "-t", f"={name}", check=False)
            self.live.remove(name)
            self.killed += 1
            self._create()
        self.say(f"churn: {self.count} sessions replaced ({', '.join(self.live)})")


class Flood:
    """One pane that prints error lines as fast as it can for `seconds`, once, from `at`."""

    def __init__(self, load: LoadServer, *, session: str, at: float, seconds: float,
                 say: Say) -> None:
        self.load = load
        self.session = session
        self.at = at
        self.seconds = seconds
        self.say = say
        self.started = 0.0
        self.recreate()

    def recreate(self) -> None:
        """The session (quiet), on this or a new tmux server."""
        self.load.tmux("new-session", "-d", "-s", self.session, "-x", "120", "-y", "30",
                       "sleep 100000")

    @property
    def ended(self) -> float:
        """Monotonic time the flood ends (0 before it starts)."""
        return self.started + self.seconds if self.started else 0.0

    def tick(self, now: float) -> None:
        if self.started or now < self.at:
            return
        self.started = now
        code = FLOOD_CODE.format(seconds=self.seconds)
        cmd = f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}; exec sleep 100000"
        self.load.tmux("respawn-pane", "-k", "-t", f"={self.session}:", cmd)
        self.say(f"flood: {self.seconds:.0f} s of error lines in {self.session}")


class Killer:
    """Every `every` seconds, SIGKILLs the assistant of a random session (never `spared`)."""

    def __init__(self, *, every: float, rng: random.Random, say: Say) -> None:
        self.every = every
        self.rng = rng
        self.say = say
        self.next = time.monotonic() + every
        self.kills: list[tuple[str, int]] = []

    def tick(self, now: float, assistants: Callable[[], dict[str, int]], spared: set[int]) -> None:
        if now < self.next:
            return
        self.next = now + self.every
        choices = sorted((s, p) for s, p in assistants().items() if p not in spared)
        if not choices:
            self.say("kill: no session assistant to kill")
            return
        session, pid = self.rng.choice(choices)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            self.kills.append((session, pid))
            self.say(f"kill: SIGKILL the assistant of {session} (pid {pid})")


class Stopper:
    """SIGSTOPs one session's assistant once, at `at`; SIGCONTs it at the end if still stopped."""

    def __init__(self, *, session: str, at: float, say: Say) -> None:
        self.session = session
        self.at = at
        self.say = say
        self.pid = 0
        self.stopped_at = 0.0

    def tick(self, now: float, assistants: Callable[[], dict[str, int]]) -> None:
        if self.pid or now < self.at:
            return
        pid = assistants().get(self.session)
        if pid is None:
            self.at = now + 2.0
            return
        self.pid = pid
        self.stopped_at = now
        os.kill(pid, signal.SIGSTOP)
        self.say(f"stop: SIGSTOP the assistant of {self.session} (pid {pid})")

    def release(self) -> str:
        """SIGCONT the process if it is still there and stopped; what was done."""
        if not self.pid:
            return "never stopped"
        try:
            status = psutil.Process(self.pid).status()
        except psutil.NoSuchProcess:
            return "gone (restarted by Steward)"
        if status == psutil.STATUS_STOPPED:
            os.kill(self.pid, signal.SIGCONT)
            return "still stopped at the end: SIGCONT sent"
        return f"alive, {status}"


class FullDisk:
    """STEWARD_HOME on a small tmpfs (root only), filled to the last byte for `seconds` at `at`."""

    def __init__(self, home: Path, *, size_mib: int, at: float, seconds: float, say: Say) -> None:
        self.home = home
        self.at = at
        self.seconds = seconds
        self.say = say
        self.filler = home / "soak-filler"
        self.mounted = False
        self.filled_at = 0.0
        self.done = False
        self.skipped = ""
        if os.geteuid() != 0:
            self.skipped = "not root: full disk skipped"
            return
        home.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700",
                               "tmpfs", str(home)], capture_output=True, text=True,
                              timeout=30, check=False)
        if done.returncode != 0:
            self.skipped = f"cannot mount a tmpfs ({done.stderr.strip()}): full disk skipped"
            return
        self.mounted = True

    def tick(self, now: float) -> None:
        if not self.mounted or self.done:
            return
        if not self.filled_at and now >= self.at:
            self.filled_at = now
            self.say(f"disk: {self.home} full ({self._fill()} MiB filler) for {self.seconds:.0f} s")
        elif self.filled_at and now >= self.filled_at + self.seconds:
            self.filler.unlink(missing_ok=True)
            self.done = True
            self.say("disk: filler removed")

    def _fill(self) -> int:
        chunk = b"\0" * (1024 * 1024)
        written = 0
        with self.filler.open("wb", buffering=0) as f:
            try:
                while written < 4096:
                    f.write(chunk)
                    written += 1
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        return written

    def unmount(self) -> None:
        """Copy what Steward left on the tmpfs to `<home>-copy` (to read later), then unmount."""
        self.filler.unlink(missing_ok=True)
        if self.mounted:
            with contextlib.suppress(OSError):
                shutil.copytree(self.home, self.home.with_name(self.home.name + "-copy"),
                                ignore_dangling_symlinks=True)
            subprocess.run(["umount", "-l", str(self.home)], capture_output=True, timeout=30,
                           check=False)
            self.mounted = False


def recreate_marked(load: LoadServer, sessions: Sequence[str]) -> None:
    """The marker sessions again on a new server: two panes each, following the same files."""
    for name in sessions:
        files = [p.file for p in load.panes if p.session == name]
        load.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "30",
                  f"exec tail -n 0 -f {files[0]}")
        load.tmux("split-window", "-t", f"={name}:", "-v", f"exec tail -n 0 -f {files[1]}")


class ServerRestart:
    """Kills the watched tmux server once, at `at`, and starts a new one with the same sessions.

    Markers pause from QUIET seconds before the kill (what was written is read by then) until
    Steward is back: the PM session with its `steward tail` pane, control clients attached to
    it, and every watched session's assistant capturing again under a new pid.
    """

    QUIET = 3.0
    DEADLINE = 90.0

    def __init__(self, load: LoadServer, *, at: float, pm: str, say: Say) -> None:
        self.load = load
        self.at = at
        self.pm = pm
        self.say = say
        self.killed_at = 0.0
        self.back_after: float | None = None  # seconds from the kill until Steward was back
        self.back_wall = 0.0  # wall time markers started again
        self.result = "not reached"

    def due(self, now: float) -> bool:
        """Whether markers must pause now (the quiet before the kill)."""
        return not self.killed_at and now >= self.at - self.QUIET

    def kill(self) -> None:
        self.killed_at = time.monotonic()
        pid = self.load.server_pid()
        self.load.kill()
        with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
            psutil.Process(pid).wait(timeout=10)
        self.say(f"tmux: server {pid} killed")

    def pm_back(self) -> tuple[bool, int]:
        """Whether the PM session runs `steward tail` again; how many control clients it has."""
        panes = self.load.tmux("list-panes", "-t", f"={self.pm}:", "-F",
                               "#{pane_start_command}", check=False)
        clients = self.load.tmux("list-clients", "-F", "#{client_control_mode} #{client_session}",
                                 check=False).split("\n")
        return "supervisor tail" in panes, sum(c == f"1 {self.pm}" for c in clients)

    def finish(self, back: bool, clients: int) -> None:
        took = time.monotonic() - self.killed_at
        if back:
            self.back_after = took
            self.result = (f"Steward back {took:.1f} s after the kill (PM session and its tail "
                           f"pane recreated, {clients} control clients reattached, every "
                           "assistant capturing)")
        else:
            self.result = f"Steward NOT back {took:.0f} s after the kill"
        self.say(f"tmux: {self.result}")
