"""A real Prometheus Alertmanager (Debian's package) on 127.0.0.1, a free port, storage in tmp."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from libtmux.test.retry import retry_until

CONFIG = """\
route:
  receiver: "null"
  group_by: ["session"]
receivers:
  - name: "null"
"""


def binary() -> str | None:
    """The Alertmanager binary, if it is installed."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Alertmanager:
    """One Alertmanager with clustering off; `stop` and `start` keep its port and storage."""

    def __init__(self, tmp: Path, exe: str) -> None:
        self.exe = exe
        self.dir = tmp / "alertmanager"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "alertmanager.yml").write_text(CONFIG)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.dir / "alertmanager.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.exe,
                f"--config.file={self.dir / 'alertmanager.yml'}",
                f"--storage.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        retry_until(self.ready, 20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"alertmanager exited: {self.log()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        path = self.dir / "alertmanager.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Active alerts (GET /api/v2/alerts) whose labels include these."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as resp:
            data: list[dict[str, Any]] = json.load(resp)
        return [a for a in data if all(a["labels"].get(k) == v for k, v in labels.items())]
