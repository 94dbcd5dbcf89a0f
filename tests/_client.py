"""A real tmux client attached through a pseudo-terminal, whose size the test sets."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Mapping

from libtmux.test.retry import retry_until

__all__ = ["AttachedClient"]


class AttachedClient:
    """`tmux attach -t SESSION` on a pty of `width` x `height`, its output drained."""

    def __init__(self, socket_name: str, session: str, env: Mapping[str, str], *,
                 width: int, height: int) -> None:
        self.socket_name = socket_name
        self.master, self.slave = pty.openpty()
        self._size(width, height)
        self.proc = subprocess.Popen(
            ["tmux", "-L", socket_name, "attach", "-t", session],
            stdin=self.slave, stdout=self.slave, stderr=self.slave,
            env={**env, "TERM": "xterm-256color"}, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        retry_until(lambda: self._clients() != [], 10)

    def _clients(self) -> list[str]:
        out = subprocess.run(["tmux", "-L", self.socket_name, "list-clients", "-F",
                              "#{client_tty}"], capture_output=True, text=True, timeout=10)
        return [line for line in out.stdout.splitlines() if line]

    def _size(self, width: int, height: int) -> None:
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def _drain(self) -> None:
        while True:
            try:
                if not os.read(self.master, 65536):
                    return
            except OSError:
                return

    def resize(self, width: int, height: int) -> None:
        """As a terminal window resized: the new size, then SIGWINCH to the client."""
        self._size(width, height)
        self.proc.send_signal(signal.SIGWINCH)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        os.close(self.slave)
        os.close(self.master)
        self._reader.join(timeout=5)
