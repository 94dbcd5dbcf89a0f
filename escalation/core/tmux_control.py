"""A tmux control-mode client, so that a tmux command costs a line on a pipe instead of a process.

`tmux -C attach-session` reads one command line at a time on stdin and answers each command
with a block on stdout::

    %begin <time> <number> <flags>
    ...the command's output, one line each...
    %end <time> <number> <flags>        (or %error ... when the command failed)

Lines outside blocks are notifications (%session-changed, %window-add, %exit, ...). A block
ends only at a line equal to "%end"/"%error" followed by the same time, number and flags as its
%begin, so pane text reading "%end 1 2 3" stays text. tmux 3.3a answers a `;`-separated line
with one block per command and drops the rest of the line after a command fails; each command
line is therefore followed by a line printing a nonce, and the reply is every block up to the
nonce's.

The client attaches with `-f no-output,ignore-size,read-only`: no %output flood, no effect on
window sizes, no keys. It is an attached client of its session all the same: `list-clients`
shows it with an empty #{client_tty} and #{client_control_mode} = 1.
"""

from __future__ import annotations

import functools
import os
import re
import select
import subprocess
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

from .errors import TmuxError

__all__ = ["CONTROL_FLAGS", "ControlClient", "ControlLost", "command_line", "quote"]

CONTROL_FLAGS = "no-output,ignore-size,read-only"
_PARSE_ERROR = "parse error: "
_NEEDS_ESCAPES = re.compile("['\x00-\x1f\x7f]")


class ControlLost(TmuxError):
    """The control client is gone: no answer in time, end of output, or protocol out of step."""


@functools.lru_cache(maxsize=4096)
def quote(arg: str) -> str:
    """`arg` as one token of tmux's command parser, literal whatever it holds.

    Single quotes keep everything literal ($, ~, #{, ;, backslashes); a single quote and
    control characters (a newline would end the control line) go in double quotes as escapes.
    """
    if not _NEEDS_ESCAPES.search(arg):
        return "'" + arg + "'"
    if "\0" in arg:
        raise TmuxError(f"tmux argument holds a NUL byte: {arg!r}")
    out: list[str] = []
    plain: list[str] = []
    for ch in arg:
        if ch == "'" or ord(ch) < 0x20 or ch == "\x7f":
            if plain:
                out.append("'" + "".join(plain) + "'")
                plain = []
            out.append('"\'"' if ch == "'" else f'"\\{ord(ch):03o}"')
        else:
            plain.append(ch)
    if plain or not out:
        out.append("'" + "".join(plain) + "'")
    return "".join(out)


def command_line(args: Sequence[str]) -> str:
    """One control line for `args`; a bare ";" argument separates commands, as in tmux's argv."""
    return " ".join(";" if a == ";" else quote(a) for a in args)


def which(name: str) -> str | None:
    """The executable `name` on PATH, as `shutil.which` finds it (without shutil's imports)."""
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = Path(folder or ".") / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def _text(lines: Sequence[bytes]) -> str:
    """Output lines as text, read as Python's text pipes read tmux's stdout (universal newlines)."""
    stream = b"\n".join(lines).decode("utf-8", "backslashreplace")
    return stream.replace("\r\n", "\n").replace("\r", "\n")


def _message(errors: Sequence[bytes]) -> str:
    return errors[0].decode("utf-8", "backslashreplace").removeprefix(_PARSE_ERROR)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a control client: EOF on its stdin detaches it; kill it if it lingers."""
    if proc.poll() is None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            proc.kill()
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None and not pipe.closed:
            try:
                pipe.close()
            except OSError:
                continue


class ControlClient:
    """One `tmux -C attach-session` to `session`; `cmd` runs commands through it, one at a time."""

    def __init__(self, server_args: Sequence[str], session: str, *, timeout: float = 5.0) -> None:
        binary = which("tmux")
        if binary is None:
            raise ControlLost("tmux is not installed")
        self.session = session
        self.timeout = timeout
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._nonce = f"steward-control-{os.urandom(8).hex()}"
        self._count = 0
        self._closed = False
        # -N: attaching must never start a server of its own.
        self._proc = subprocess.Popen(
            [binary, *server_args, "-N", "-C", "attach-session", "-t", f"={session}",
             "-f", CONTROL_FLAGS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=False,
            bufsize=0,
        )  # fmt: skip
        self._finalizer = weakref.finalize(self, _stop, self._proc)
        try:
            ok, body = self._read_block(time.monotonic() + timeout)
        except ControlLost:
            self.close()
            raise
        if not ok:
            self.close()
            reason = body[0].decode("utf-8", "backslashreplace") if body else "refused"
            raise ControlLost(f"tmux attach {session}: {reason}")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        """Whether the client still answers: reads what waits on its output without blocking."""
        with self._lock:
            if self._closed:
                return False
            try:
                while self._fill(0.0):
                    continue
            except ControlLost:
                self._close_locked()
                return False
            # Between commands every waiting line is a notification; %exit means detached.
            *lines, rest = bytes(self._buf).split(b"\n")
            self._buf[:] = rest
            if any(line.startswith(b"%exit") for line in lines):
                self._close_locked()
                return False
            return True

    def cmd(self, *args: str, check: bool = True) -> list[str]:
        """Run one command line; its stdout lines, or TmuxError with tmux's message.

        Like `tmux <args>`: the output of every command up to the first that fails, trailing
        empty lines dropped; ControlLost (the client is then closed) when no answer comes.
        """
        blocks, errors = self._run(args)
        if check and errors:
            raise TmuxError(f"tmux {args[0]}: {_message(errors)}")
        lines = _text([line for block in blocks for line in block]).split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        return lines

    def blocks(self, *args: str) -> list[list[str]]:
        """Run `;`-separated commands in one line; each one's output lines, empty ones kept.

        tmux answers every command with a block of its own, so no marker is needed to tell
        one command's output from the next one's.  TmuxError when any command failed.
        """
        blocks, errors = self._run(args)
        if errors:
            raise TmuxError(f"tmux {args[0]}: {_message(errors)}")
        return [_text(block).split("\n") if block else [] for block in blocks]

    def _run(self, args: Sequence[str]) -> tuple[list[list[bytes]], list[bytes]]:
        line = command_line(args).encode("utf-8", "surrogateescape")
        with self._lock:
            if self._closed:
                raise ControlLost("tmux control client is closed")
            self._count += 1
            nonce = f"{self._nonce}-{self._count}".encode()
            sentinel = command_line(["display-message", "-p", nonce.decode()]).encode()
            try:
                self._write(line + b"\n" + sentinel + b"\n")
                return self._collect(nonce, time.monotonic() + self.timeout)
            except ControlLost:
                self._close_locked()
                raise

    def close(self) -> None:
        """Detach (EOF on stdin) and reap the client process."""
        with self._lock:
            self._close_locked()

    # -- protocol --------------------------------------------------------------------------

    def _close_locked(self) -> None:
        self._closed = True
        self._finalizer()

    def _write(self, data: bytes) -> None:
        stdin = self._proc.stdin
        if stdin is None:
            raise ControlLost("tmux control client has no stdin")
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise ControlLost(f"tmux control client is gone: {exc}") from None

    def _fill(self, wait: float) -> bool:
        """Read what the client wrote within `wait` seconds; False when nothing came."""
        stdout = self._proc.stdout
        if stdout is None or stdout.closed:
            raise ControlLost("tmux control client has no output")
        ready, _, _ = select.select([stdout], [], [], max(wait, 0.0))
        if not ready:
            return False
        data = os.read(stdout.fileno(), 65536)
        if not data:
            raise ControlLost("tmux control client exited (server or session gone)")
        self._buf += data
        return True

    def _line(self, deadline: float) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise ControlLost(f"tmux control client did not answer in {self.timeout:g} s")
            self._fill(left)

    def _read_block(self, deadline: float) -> tuple[bool, list[bytes]]:
        """The next block: whether it ended with %end, and its lines; notifications skipped."""
        while True:
            line = self._line(deadline)
            if line.startswith(b"%begin "):
                break
            if line.startswith((b"%end ", b"%error ")) or not line.startswith(b"%"):
                # Text outside a block: a block ended early, so the stream cannot be trusted.
                raise ControlLost(f"tmux control protocol out of step at {line[:80]!r}")
        guard = line.removeprefix(b"%begin ")
        return self._body(b"%end " + guard + b"\n", b"%error " + guard + b"\n", deadline)

    def _body(self, end: bytes, error: bytes, deadline: float) -> tuple[bool, list[bytes]]:
        """A block's lines up to its `%end`/`%error` line, found in the buffer in one pass."""
        scan = 0
        while True:
            buf = self._buf
            for tail, ok in ((end, True), (error, False)):
                if buf.startswith(tail):  # a block without lines
                    del buf[: len(tail)]
                    return ok, []
            found: tuple[int, int, bool] | None = None
            for tail, ok in ((end, True), (error, False)):
                j = buf.find(b"\n" + tail, scan)
                if j >= 0 and (found is None or j < found[0]):
                    found = (j, j + 1 + len(tail), ok)
            if found is not None:
                at, after, ok = found
                body = bytes(buf[:at]).split(b"\n")
                del buf[:after]
                return ok, body
            scan = max(0, len(buf) - len(error) - 1)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ControlLost(f"tmux control client did not answer in {self.timeout:g} s")
            self._fill(left)

    def _collect(self, nonce: bytes, deadline: float) -> tuple[list[list[bytes]], list[bytes]]:
        """Blocks up to the nonce's: the lines of each that ended well, the first error's."""
        out: list[list[bytes]] = []
        errors: list[bytes] = []
        while True:
            ok, body = self._read_block(deadline)
            if ok and body == [nonce]:
                return out, errors
            if ok:
                out.append(body)
            elif not errors:
                errors = body or [b"command failed"]
