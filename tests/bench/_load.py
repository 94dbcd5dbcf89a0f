"""The benchmark's workload: a private tmux server of busy panes, markers and a tmux counter.

Each pane runs `tail -f` on its own file; one writer process appends a steady line to every file
every 0.2-0.5 s and, when told on its stdin, an error marker whose wall time it records just before
the write.  Every `tmux` that Steward or the baseline runs goes through a counting wrapper found
first on PATH.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import random
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

__all__ = [
    "MARKER_PREFIX",
    "LoadServer",
    "Marker",
    "PaneLoad",
    "TmuxCounter",
    "Writer",
    "run_writer",
]

MARKER_PREFIX = "Error: bench marker "
PANE_WIDTH = 120
SESSION_HEIGHT = 30

_C_WRAPPER = r"""
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    int fd = open("@COUNTER@", O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd >= 0) { (void)write(fd, "x", 1); close(fd); }
    argv[0] = "@REAL@";
    execv("@REAL@", argv);
    return 127;
}
"""

_SH_WRAPPER = """#!/bin/sh
printf x >> '@COUNTER@'
exec '@REAL@' "$@"
"""


class TmuxCounter:
    """A `tmux` on PATH that counts its runs (one byte appended a run) and execs the real one."""

    def __init__(self, workdir: Path) -> None:
        real = shutil.which("tmux")
        if real is None:
            raise RuntimeError("tmux is not on PATH")
        self.real = str(Path(real).resolve())
        self.bin_dir = workdir / "bin"
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.counter = workdir / "tmux-runs"
        self.counter.touch()
        self.kind = self._build()

    def _build(self) -> str:
        wrapper = self.bin_dir / "tmux"
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is not None:
            src = self.bin_dir / "tmux.c"
            src.write_text(
                _C_WRAPPER.replace("@COUNTER@", str(self.counter)).replace("@REAL@", self.real)
            )
            done = subprocess.run([cc, "-O2", "-o", str(wrapper), str(src)],
                                  capture_output=True, timeout=60, check=False)
            if done.returncode == 0:
                return "c"
        wrapper.write_text(
            _SH_WRAPPER.replace("@COUNTER@", str(self.counter)).replace("@REAL@", self.real)
        )
        wrapper.chmod(0o755)
        return "sh"

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with the wrapper first on PATH."""
        return {**base, "PATH": f"{self.bin_dir}{os.pathsep}{base.get('PATH', os.defpath)}"}

    def count(self) -> int:
        """How many times the wrapper has run so far."""
        return self.counter.stat().st_size

    def overhead(self, runs: int = 200) -> float:
        """CPU seconds the wrapper adds to one tmux run (measured on `tmux -V`)."""

        def cost(binary: str) -> float:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            for _ in range(runs):
                subprocess.run([binary, "-V"], stdout=subprocess.DEVNULL, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / runs

        start = self.count()
        extra = cost(str(self.bin_dir / "tmux")) - cost(self.real)
        # Keep the counter honest: these runs were ours.
        with self.counter.open("r+b") as f:
            f.truncate(start)
        return max(extra, 0.0)


@attrs.frozen(kw_only=True)
class PaneLoad:
    """One benchmark pane: its tmux id and target, and the file its `tail -f` shows."""

    session: str
    index: int
    pane_id: str
    file: Path

    @property
    def label(self) -> str:
        return f"{self.session}.{self.index}"


@attrs.frozen(kw_only=True)
class Marker:
    """One marker error line: where it went and the wall time just before it was written."""

    uid: str
    pane: str
    t_write: float
    phase: str


class LoadServer:
    """A private tmux server holding `sessions` sessions of two `tail -f` panes each."""

    def __init__(self, workdir: Path, socket_name: str, tmux: str) -> None:
        self.workdir = workdir
        self.socket_name = socket_name
        self.tmux_bin = tmux
        self.files_dir = workdir / "panes"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.panes: list[PaneLoad] = []
        self.env = {k: v for k, v in os.environ.items() if k != "TMUX"}

    def tmux(self, *args: str, check: bool = True) -> str:
        """Run the real tmux (never counted) against this server; its stdout."""
        proc = subprocess.run([self.tmux_bin, "-L", self.socket_name, *args], capture_output=True,
                              text=True, timeout=30, env=self.env, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args[:2])}: {proc.stderr.strip()}")
        return proc.stdout

    def _tail(self, file: Path) -> str:
        return f"exec tail -n 0 -f {file}"

    def add_sessions(self, names: Sequence[str]) -> None:
        """Create the sessions, each with two panes, top and bottom."""
        for name in names:
            files = [self.files_dir / f"{name}.{i}.log" for i in (0, 1)]
            for f in files:
                f.touch()
            self.tmux("new-session", "-d", "-s", name, "-x", str(PANE_WIDTH),
                      "-y", str(SESSION_HEIGHT), self._tail(files[0]))
            self.tmux("split-window", "-t", f"={name}:", "-v", self._tail(files[1]))
            rows = self.tmux("list-panes", "-t", f"={name}:", "-F", "#{pane_index} #{pane_id}")
            ids = dict(line.split() for line in rows.splitlines())
            for i in (0, 1):
                self.panes.append(PaneLoad(session=name, index=i, pane_id=ids[str(i)],
                                           file=files[i]))

    def server_pid(self) -> int:
        return int(self.tmux("display-message", "-p", "#{pid}").strip())

    def pane_text(self, target: str) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", target, check=False)

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


class Writer:
    """The writer process: steady lines to every pane file, markers on request."""

    def __init__(self, workdir: Path, panes: Sequence[PaneLoad], *, seed: int = 1) -> None:
        self.log = workdir / "markers.jsonl"
        self.log.unlink(missing_ok=True)
        self.panes = list(panes)
        spec = workdir / "writer.json"
        spec.write_text(json.dumps({"files": [str(p.file) for p in self.panes],
                                    "log": str(self.log), "seed": seed}))
        with (workdir / "writer.err").open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), str(spec)],
                stdin=subprocess.PIPE, stderr=err, start_new_session=True,
            )
        self.sent: dict[str, tuple[str, str]] = {}
        self.rng = random.Random(seed)

    def marker(self, phase: str, pane: int | None = None) -> str:
        """Ask for one marker in a pane (random when None); its uid."""
        index = self.rng.randrange(len(self.panes)) if pane is None else pane
        uid = uuid.uuid4().hex
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{index} {uid}\n".encode())
        self.proc.stdin.flush()
        self.sent[uid] = (self.panes[index].label, phase)
        return uid

    def markers(self) -> dict[str, Marker]:
        """Every marker written so far, by uid."""
        out: dict[str, Marker] = {}
        if not self.log.exists():
            return out
        for line in self.log.read_text().splitlines():
            rec = json.loads(line)
            label, phase = self.sent[rec["uid"]]
            out[rec["uid"]] = Marker(uid=rec["uid"], pane=label, t_write=rec["t"], phase=phase)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def run_writer(spec_file: Path) -> None:
    """The writer's main loop: steady output, and a marker per `<file index> <uid>` on stdin."""
    spec = json.loads(spec_file.read_text())
    rng = random.Random(spec["seed"])
    files = [Path(f).open("a", buffering=1) for f in spec["files"]]  # noqa: SIM115  # kept open
    log = Path(spec["log"]).open("a", buffering=1)  # noqa: SIM115  # kept open
    periods = [rng.uniform(0.2, 0.5) for _ in files]
    now = time.monotonic()
    due = [(now + rng.uniform(0, p), i) for i, p in enumerate(periods)]
    heapq.heapify(due)
    counts = [0] * len(files)
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin.buffer, selectors.EVENT_READ)
    pending = b""
    while True:
        wait = max(0.0, due[0][0] - time.monotonic())
        if sel.select(wait):
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                index, uid = line.decode().split()
                t = time.time()
                files[int(index)].write(f"{MARKER_PREFIX}{uid}\n")
                log.write(json.dumps({"uid": uid, "t": t}) + "\n")
        now = time.monotonic()
        while due[0][0] <= now:
            at, i = heapq.heappop(due)
            counts[i] += 1
            files[i].write(f"step {counts[i]} of worker {i}: processed {rng.randrange(1000)} "
                           f"items in {rng.uniform(0.1, 0.9):.2f}s, queue ok\n")
            heapq.heappush(due, (max(at + periods[i], now), i))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_writer(Path(sys.argv[1]))
