"""The simple way Steward is measured against: one bash loop a session, capture-pane piped to grep.

Every `interval` each loop runs `tmux capture-pane -p -t <pane> | grep` for each pane of its
session and "notifies" every matching line on the screen by appending it, with the wall time, to
its log.  A line left on screen is notified again at every capture, as the naive way does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

__all__ = ["PATTERN", "Baseline", "Notification"]

PATTERN = r"^(Error: |Traceback \(most recent call last\))"

_SCRIPT = r"""#!/usr/bin/env bash
# The simple way: every interval, capture each pane of one session and grep it.
interval=$1; sock=$2; log=$3; shift 3
while :; do
  for p in "$@"; do
    hits=$(tmux -L "$sock" capture-pane -p -J -t "$p" | grep -E '@PATTERN@')
    if [[ -n $hits ]]; then
      now=$EPOCHREALTIME
      while IFS= read -r line; do printf '%s\t%s\t%s\n' "$now" "$p" "$line"; done \
        <<<"$hits" >>"$log"
    fi
  done
  sleep "$interval"
done
"""


@attrs.frozen(kw_only=True)
class Notification:
    """One line the baseline notified: when, from which pane, and the line."""

    ts: float
    pane: str
    text: str


class Baseline:
    """One naive watcher loop per session, started and stopped together."""

    def __init__(self, workdir: Path, socket_name: str, interval: float,
                 env: Mapping[str, str]) -> None:
        self.dir = workdir / "baseline"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.script = self.dir / "watch.sh"
        self.script.write_text(_SCRIPT.replace("@PATTERN@", PATTERN))
        self.script.chmod(0o755)
        self.socket_name = socket_name
        self.interval = interval
        self.env = dict(env)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, sessions: Mapping[str, Sequence[str]]) -> None:
        """One loop per session, given that session's pane ids."""
        for name, panes in sessions.items():
            log = self.dir / f"{name}.log"
            log.unlink(missing_ok=True)
            self.procs.append(subprocess.Popen(
                ["bash", str(self.script), str(self.interval), self.socket_name, str(log),
                 *panes],
                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            ))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def notifications(self) -> list[Notification]:
        """Every line notified so far, over all sessions."""
        out = []
        for log in sorted(self.dir.glob("*.log")):
            for row in log.read_text(errors="replace").splitlines():
                parts = row.split("\t", 2)
                if len(parts) == 3:
                    out.append(Notification(ts=float(parts[0]), pane=parts[1], text=parts[2]))
        return out

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs = []
