"""The aggregated log: one sanitised line per notice, appended to a private, rotated file."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shlex
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from ..core.events import Severity
from ..core.notice import Channel, Notice
from ..core.sanitize import NEWLINE_MARK, sanitize

__all__ = [
    "BACKUPS",
    "JUMP_MARK",
    "NOTE_RULE",
    "ROTATE_BYTES",
    "LogSink",
    "ParsedLine",
    "format_line",
    "jump_command",
    "parse_line",
    "rotated_path",
]

_log = logging.getLogger(__name__)

ROTATE_BYTES = 10 * 1024 * 1024  # past this size the log is renamed to steward.log.1
BACKUPS = 3  # steward.log.1 .. steward.log.3 are kept
JUMP_MARK = "⇒"  # separates the line from the tmux command that jumps to the pane
_SEVERITY_WIDTH = max(len(s.name) for s in Severity)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_BODY_CAP = 2000
NOTE_RULE = "steward"  # the rule column of notes written with write_line()

# Last line of defence: nothing that a terminal interprets may reach the file, whatever
# sanitize() let through (C0, DEL, C1, bidi overrides and isolates, line separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
_LINE = re.compile(
    r"^(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) "
    r"(?P<severity>INFO|WARNING|ERROR|CRITICAL) +"
    r"(?P<target>\S(?:.*?\S)?)  "
    r"(?P<rule>\S(?:.*?\S)?)  "
    r"(?P<body>.*?)"
    r"(?:  #(?P<id>\d+))?"
    rf"(?:  {JUMP_MARK} (?P<jump>tmux .*))?$"
)


@attrs.frozen(kw_only=True)
class ParsedLine:
    """The fields of one log line, as `steward tail` colours and filters them."""

    when: str
    severity: Severity
    target: str
    rule: str
    body: str
    jump: str = ""
    event_id: int | None = None  # the first event the line is about: `steward show ID`


def _scrub(text: str) -> str:
    return _UNSAFE.sub("?", text)


def _field(text: str) -> str:
    """One space-free-enough column: sanitised, whitespace runs collapsed, never empty."""
    cleaned = _SPACES.sub(" ", _scrub(sanitize(text))).strip()
    return cleaned.replace(JUMP_MARK, "=>") or "-"


def _body(text: str) -> str:
    """A multi-line body joined into one sanitised line, capped."""
    parts = (_scrub(line).strip() for line in sanitize(text, multiline=True).split("\n"))
    joined = NEWLINE_MARK.join(p for p in parts if p).replace(JUMP_MARK, "=>")
    if len(joined) > _BODY_CAP:
        joined = joined[: _BODY_CAP - 1] + "…"
    return joined or "-"


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\"'\"'") + "'"


def jump_command(target: str, *, tmux_args: Sequence[str] = ()) -> str:
    """The shell command that switches the current tmux client to `target`."""
    server = "".join(" " + shlex.quote(a) for a in tmux_args)
    return f"tmux{server} switch-client -t {_quote(target)}"


def _compose(
    *, ts: float, severity: Severity, target: str, rule: str, body: str, jump: str,
    event_id: int | None = None,
) -> str:
    when = time.strftime(_TIME_FORMAT, time.localtime(ts))
    line = f"{when} {severity.name:<{_SEVERITY_WIDTH}} {target}  {rule}  {body}"
    if event_id is not None:
        line += f"  #{event_id}"
    if jump:
        line += f"  {JUMP_MARK} {jump}"
    return _scrub(line)


def _line(
    *, ts: float, severity: Severity, where: str, rule: str, body: str, tmux_args: Sequence[str],
    event_id: int | None = None,
) -> str:
    place = _SPACES.sub(" ", _scrub(sanitize(where))).strip()
    return _compose(
        ts=ts,
        severity=severity,
        target=_field(where),
        rule=_field(rule),
        body=_body(body),
        jump=jump_command(place, tmux_args=tmux_args) if place else "",
        event_id=event_id,
    )


def format_line(notice: Notice, *, tmux_args: Sequence[str] = ()) -> str:
    """One log line for a notice: time, severity, target, rule, body, event id and jump command."""
    return _line(
        ts=notice.ts or time.time(),
        severity=notice.severity,
        where=notice.target or notice.session,
        rule=notice.rule,
        body=notice.body or notice.title,
        tmux_args=tmux_args,
        event_id=notice.event_ids[0] if notice.event_ids else None,
    )


def parse_line(line: str) -> ParsedLine | None:
    """The fields of a line that format_line wrote, or None for anything else."""
    m = _LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    return ParsedLine(
        when=m["when"],
        severity=Severity[m["severity"]],
        target=m["target"],
        rule=m["rule"],
        body=m["body"],
        jump=m["jump"] or "",
        event_id=int(m["id"]) if m["id"] else None,
    )


def rotated_path(path: Path, n: int) -> Path:
    """The n-th older generation of the log (`steward.log.1` is the newest)."""
    return path.with_name(f"{path.name}.{n}")


class LogSink:
    """Appends one line per notice to the aggregated log, rotating it past ROTATE_BYTES.

    Each line is a single `write()` on an O_APPEND descriptor, so the daemon and CLI
    commands can append to the same file; rotation happens under a lock on the folder.
    """

    channel = Channel.LOG

    def __init__(
        self,
        path: Path,
        *,
        tmux_args: Sequence[str] = (),
        max_bytes: int = ROTATE_BYTES,
        backups: int = BACKUPS,
    ) -> None:
        self.path = path
        self.tmux_args = tuple(tmux_args)
        self.max_bytes = max_bytes
        self.backups = backups
        self._fd: int | None = None
        self._lock = threading.Lock()

    def available(self) -> str | None:
        """Always: a write that fails is reported by `deliver`."""
        return None

    def flush(self) -> None:
        """Every line is written when it is delivered."""

    def deliver(self, notice: Notice) -> bool:
        try:
            self._append(format_line(notice, tmux_args=self.tmux_args))
        except OSError as exc:
            _log.warning("cannot write notice %s to %s: %s", notice.key, self.path, exc)
            return False
        return True

    def write_line(
        self,
        text: str,
        *,
        severity: Severity,
        ts: float,
        target: str = "",
        rule: str = NOTE_RULE,
    ) -> None:
        """A note (an ack, a silence, a summary) in the same format; OSError propagates.

        With a `target` the line ends with the command that jumps there, like a notice.
        """
        self._append(
            _line(
                ts=ts,
                severity=severity,
                where=target,
                rule=rule,
                body=text,
                tmux_args=self.tmux_args,
            )
        )

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    def _append(self, line: str) -> None:
        data = (line + "\n").encode("utf-8", errors="replace")
        with self._lock:
            fd = self._current_fd()
            size = os.fstat(fd).st_size
            if size > 0 and size + len(data) > self.max_bytes:
                self._rotate(fd)
                fd = self._current_fd()
                size = os.fstat(fd).st_size
            written = os.write(fd, data)
            if written < len(data):
                # A full disk takes the head of a line without an error: take it back (unless
                # another writer appended since) and fail, so that the line is written again.
                with contextlib.suppress(OSError):
                    if os.fstat(fd).st_size == size + written:
                        os.ftruncate(fd, size)
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)",
                              str(self.path))

    def _current_fd(self) -> int:
        """Our descriptor, reopened when another process rotated or removed the file."""
        if self._fd is not None:
            try:
                same = self.path.stat().st_ino == os.fstat(self._fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return self._fd
            self._close_fd()
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        parent.chmod(0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)
        self._fd = fd
        return fd

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _rotate(self, fd: int) -> None:
        """Rename the full file away, unless another process did so since we opened it."""
        with self._folder_lock():
            try:
                rotated_by_other = self.path.stat().st_ino != os.fstat(fd).st_ino
            except FileNotFoundError:
                rotated_by_other = True
            if not rotated_by_other:
                for n in range(self.backups - 1, 0, -1):
                    older = rotated_path(self.path, n)
                    if older.exists():
                        older.replace(rotated_path(self.path, n + 1))
                if self.backups > 0:
                    self.path.replace(rotated_path(self.path, 1))
                else:
                    self.path.unlink()
            self._close_fd()

    @contextlib.contextmanager
    def _folder_lock(self) -> Iterator[None]:
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
