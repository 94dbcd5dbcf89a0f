"""The one adapter to libtmux: every tmux command Steward runs goes through `Tmux`."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .errors import TmuxError
from .pane_info import (
    PANE_FORMAT,
    READ_MARK,
    SEP,
    TEXT_FIELDS,
    TEXT_FORMAT,
    PaneInfo,
    PaneText,
    to_int,
)
from .tmux_control import ControlClient, ControlLost

if TYPE_CHECKING:
    from pathlib import Path

    import libtmux

    from .config import Config

__all__ = ["PANE_FORMAT", "PaneInfo", "PaneText", "Tmux", "joined"]

# Commands that read and print, and whose answer does not depend on the client asking; only
# these go through the control client. The rest (new-session, send-keys, display-message to
# a client...) keep a process of their own: a control client would lend them its session as
# "current", its environment and working directory.
_CONTROL_ANYWHERE = frozenset({"list-sessions", "list-clients"})
_CONTROL_TARGETED = frozenset({"list-panes", "list-windows", "capture-pane", "show-options"})
REATTACH_AFTER = 5.0


def _via_control(args: Sequence[str]) -> bool:
    """Whether every command of `args` (";"-separated) may run in a control client."""
    command: list[str] = []
    for arg in [*args, ";"]:
        if arg != ";":
            command.append(arg)
            continue
        if not command:
            return False
        name, rest = command[0], command[1:]
        targeted = "-t" in rest or "-a" in rest or "-g" in rest
        if not (
            name in _CONTROL_ANYWHERE
            or (name in _CONTROL_TARGETED and targeted)
            or (name == "display-message" and "-p" in rest and targeted)
        ):
            return False
        command = []
    return True


def _argv(args: Sequence[str]) -> list[str]:
    """`args` for tmux's argv parser, which reads a trailing ";" as a command separator.

    A bare ";" stays a separator; in any other argument tmux reads a trailing "\\;" as ";".
    """
    return [a[:-1] + "\\;" if a.endswith(";") and a != ";" else a for a in args]


def _ensure_utf8_locale() -> None:
    """tmux prints control characters, our field separator among them, as `_` unless it runs
    in a UTF-8 locale: give this process (and the tmux clients it starts) one if it has none."""
    for var in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(var, "")
        if value:
            if "utf-8" in value.lower() or "utf8" in value.lower():
                return
            break
    os.environ["LC_ALL"] = "C.UTF-8"


@contextlib.contextmanager
def _attach_lock(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Tmux:
    """A tmux server, by socket name or path (both empty: the user's default server).

    With `control_session`, reading commands go through one control-mode client attached to
    that session (no process per command); without it, or while that session is missing or
    the client failed, every command is a `tmux` process, as libtmux runs it. After a failure
    the client is attached again at most every `REATTACH_AFTER` seconds.
    """

    def __init__(
        self,
        *,
        socket_name: str = "",
        socket_path: str = "",
        control_session: str | None = None,
        control_lock: str | None = None,
    ) -> None:
        _ensure_utf8_locale()
        self.socket_name = socket_name
        self.socket_path = socket_path
        self.control_session = control_session
        # A file that processes lock while one control client attaches: many assistants
        # starting at once attach one after another, never all together.
        self.control_lock = control_lock
        self._libtmux: libtmux.Server | None = None
        self._control: ControlClient | None = None
        self._control_tried = float("-inf")
        self._control_lock = threading.Lock()

    @property
    def _server(self) -> libtmux.Server:
        """libtmux, imported when first needed: an assistant that reads only through the
        control client never loads it (its import costs about 4 MiB per process)."""
        if self._libtmux is None:
            import libtmux

            self._libtmux = libtmux.Server(
                socket_name=self.socket_name or None, socket_path=self.socket_path or None
            )
        return self._libtmux

    def close(self) -> None:
        """Detach the control client, if any; later commands attach it again when due."""
        with self._control_lock:
            self._drop_control(retry_now=True)

    def __del__(self) -> None:
        control = getattr(self, "_control", None)
        if control is not None:
            control.close()

    def control_pid(self) -> int | None:
        """The process id of the attached control client, or None when commands run as processes."""
        with self._control_lock:
            return self._control.pid if self._control is not None else None

    def _drop_control(self, *, retry_now: bool = False) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        self._control_tried = float("-inf") if retry_now else time.monotonic()

    def _control_for(self, args: Sequence[str]) -> ControlClient | None:
        """The control client to run `args` with, attaching it when due; None: use a process."""
        if self.control_session is None or not _via_control(args):
            return None
        with self._control_lock:
            if self._control is not None and not self._control.alive():
                self._drop_control()
            if self._control is None and time.monotonic() - self._control_tried >= REATTACH_AFTER:
                self._control_tried = time.monotonic()
                try:
                    with _attach_lock(self.control_lock):
                        self._control = ControlClient(self.server_args(), self.control_session)
                except (TmuxError, OSError):
                    self._control = None
            return self._control

    @classmethod
    def through_pm(cls, config: Config, run_dir: Path, *, socket_path: str = "") -> Tmux:
        """The watched server for a long-running Steward process: its reads go through one
        control client attached to the PM's session (tmux processes when
        `capture.control_mode` is off).  `socket_path` overrides the configured server."""
        return cls(
            socket_name="" if socket_path else config.tmux.socket_name,
            socket_path=socket_path or config.tmux.socket_path,
            control_session=config.pm.session if config.capture.control_mode else None,
            control_lock=str(run_dir / "control.lock"),
        )

    def server_args(self) -> list[str]:
        """The `-L`/`-S` flags that address this server on a tmux command line."""
        if self.socket_path:
            return ["-S", self.socket_path]
        if self.socket_name:
            return ["-L", self.socket_name]
        return []

    def cmd(self, *args: str, check: bool = True) -> list[str]:
        """Run one tmux command; its stdout lines, or TmuxError with its stderr.

        A bare ";" argument separates commands; ";" anywhere else is literal.
        """
        control = self._control_for(args)
        if control is not None:
            try:
                return control.cmd(*args, check=check)
            except ControlLost as exc:
                # The command may or may not have run: say so; the next one runs as a process.
                with self._control_lock:
                    if self._control is control:
                        self._drop_control()
                raise TmuxError(f"tmux {args[0]}: {exc}") from None
        from libtmux import exc as libtmux_exc

        try:
            proc = self._server.cmd(*_argv(args))
        except libtmux_exc.LibTmuxException as exc:
            raise TmuxError(f"tmux {args[0]}: {exc}") from None
        if check and proc.returncode not in (0, None) and proc.stderr:
            raise TmuxError(f"tmux {args[0]}: {proc.stderr[0]}")
        return [str(line) for line in proc.stdout]

    def is_alive(self) -> bool:
        """Whether a server answers on this socket (an attached control client says so)."""
        if self.control_session is not None and self._control_for(["list-sessions"]) is not None:
            return True
        return bool(self._server.is_alive())

    def sessions(self) -> list[str]:
        """Names of all sessions, or none when no server runs."""
        if not self.is_alive():
            return []
        return self.cmd("list-sessions", "-F", "#{session_name}", check=False)

    def has_session(self, name: str) -> bool:
        return name in self.sessions()

    def panes(self, session: str | None = None) -> list[PaneInfo]:
        """Every pane of one session (or of the server), from a single `list-panes` call."""
        args = ["list-panes", "-F", PANE_FORMAT]
        args += ["-s", "-t", f"={session}:"] if session is not None else ["-a"]
        return [PaneInfo.parse(row) for row in self.cmd(*args) if row]

    def capture(self, pane_id: str, *, start: int | None = None, join: bool = True) -> list[str]:
        """The pane's text from `start` (negative: lines of history) to the bottom of the screen."""
        args = ["capture-pane", "-p", "-t", pane_id]
        if join:
            args.append("-J")
        if start is not None:
            args += ["-S", str(start)]
        return self.cmd(*args)

    def new_session(
        self, name: str, command: Sequence[str] = (), *, width: int = 200, height: int = 50
    ) -> None:
        """A detached session, optionally running `command` in its first pane."""
        self.cmd("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), *command)

    def kill_session(self, name: str) -> None:
        self.cmd("kill-session", "-t", f"={name}", check=False)

    def respawn_pane(self, target: str, command: Sequence[str]) -> None:
        self.cmd("respawn-pane", "-k", "-t", target, *command)

    def display_message(self, text: str, *, client: str | None = None) -> None:
        """A message in the status line of one client (or the current one)."""
        args = ["display-message"]
        if client:
            args += ["-c", client]
        # `-l` would keep #{...} literal, but 3.3a lacks it; escape the format markers.
        self.cmd(*args, text.replace("#", "##"))

    def clients(self, session: str) -> list[str]:
        """tty names of the clients attached to `session`, control-mode clients left out."""
        rows = self.cmd(
            "list-clients", "-F", SEP.join(("#{client_tty}", "#{client_session}",
                                             "#{client_control_mode}")),
            check=False,
        )  # fmt: skip
        found = []
        for row in rows:
            tty, name, control = [*row.split(SEP), "", "", ""][:3]
            if name == session and tty and control != "1":
                found.append(tty)
        return found

    def send_keys(self, target: str, text: str, *, enter: bool = False) -> None:
        """Type `text` into a pane literally (`-l`), then Enter if asked."""
        self.cmd("send-keys", "-t", target, "-l", "--", text)
        if enter:
            self.cmd("send-keys", "-t", target, "Enter")

    def blocks(self, *args: str) -> list[list[str]] | None:
        """Each command's output lines through the control client; None without one.

        TmuxError when a command failed (tmux then drops the rest of the line).
        """
        control = self._control_for(args)
        if control is None:
            return None
        try:
            return control.blocks(*args)
        except ControlLost as exc:
            with self._control_lock:
                if self._control is control:
                    self._drop_control()
            raise TmuxError(f"tmux {args[0]}: {exc}") from None

    def read_pane(self, pane_id: str, *, history_lines: int) -> PaneText:
        """Cursor, joined text (history and screen), joined screen and screen rows, atomically.

        tmux runs the commands of one invocation back to back without reading pane
        output in between, so the cursor and the texts describe the same moment.  Through
        the control client each command answers in a block of its own; a tmux process
        prints them all in one stream, told apart by marker lines.
        """
        reads = [
            ["display-message", "-p", "-t", pane_id, TEXT_FORMAT],
            ["capture-pane", "-p", "-J", "-t", pane_id],
            ["capture-pane", "-p", "-t", pane_id],
            ["capture-pane", "-p", "-J", "-t", pane_id, "-S", str(-history_lines)],
        ]
        blocks = self.blocks(*joined(reads))
        if blocks is None:
            state, screen, rows, lines = self._read_marked(pane_id, reads)
        elif len(blocks) != len(reads) or len(blocks[0]) != 1:
            raise TmuxError(f"tmux read {pane_id}: unexpected output")
        else:
            state, screen, rows, lines = blocks[0][0], blocks[1], blocks[2], blocks[3]
        parts = state.split(SEP)
        if len(parts) != len(TEXT_FIELDS):
            raise TmuxError(f"tmux read {pane_id}: unexpected state {state!r}")
        f = dict(zip(TEXT_FIELDS, parts, strict=True))
        return PaneText(
            lines=tuple(lines),
            screen=tuple(screen),
            rows=tuple(rows),
            history_size=to_int(f["history_size"]),
            history_limit=to_int(f["history_limit"]),
            cursor_x=to_int(f["cursor_x"]),
            cursor_y=to_int(f["cursor_y"]),
            height=to_int(f["pane_height"]),
            width=to_int(f["pane_width"]),
            alternate=f["alternate_on"] == "1",
        )

    def _read_marked(
        self, pane_id: str, reads: list[list[str]]
    ) -> tuple[str, list[str], list[str], list[str]]:
        """`read_pane`'s commands through a tmux process, a marker line after each capture."""
        mark = ["display-message", "-p", "-t", pane_id, READ_MARK]
        out = self.cmd(*joined([reads[0], mark, reads[1], mark, reads[2], mark, reads[3], mark]))
        if len(out) < 5 or out[1] != READ_MARK or out[-1] != READ_MARK:
            raise TmuxError(f"tmux read {pane_id}: unexpected output")
        state, *rest = out
        blocks: list[list[str]] = []
        for line in rest:
            if line == READ_MARK:
                blocks.append([])
            else:
                blocks[-1].append(line)
        if len(blocks) != 4 or blocks[-1]:
            raise TmuxError(f"tmux read {pane_id}: unexpected output")
        return state, blocks[0], blocks[1], blocks[2]


def joined(commands: Sequence[Sequence[str]]) -> list[str]:
    """Commands as one argument list, a bare ";" between them."""
    out: list[str] = []
    for command in commands:
        if out:
            out.append(";")
        out += command
    return out
