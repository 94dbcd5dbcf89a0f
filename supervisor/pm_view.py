"""The PM's commands that look and jump: `tail`, `show`, `go` and the board behind `status`."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from escalation.board import PaneRow, SessionRow, pane_rows, session_rows
from escalation.core.config import Config
from escalation.core.errors import StewardError, TmuxError, UsageError
from escalation.core.events import Event, Severity
from escalation.core.paths import StewardHome
from escalation.core.store import Store
from escalation.core.tmux import Tmux
from escalation.feed import Attention
from escalation.sinks.log import jump_command
from escalation.tail import stream, watch

__all__ = ["board_rows", "go", "pm_tmux", "show", "tail", "use_color"]


def pm_tmux(config: Config, *, home: StewardHome | None = None) -> Tmux:
    """The watched tmux server: the one this process runs in, else the configured one.

    With `home` (a long-running view), reads go through a control client attached to the
    PM's session instead of a tmux process each.
    """
    inside = not (config.tmux.socket_name or config.tmux.socket_path) and os.environ.get("TMUX")
    socket_path = os.environ["TMUX"].split(",")[0] if inside else ""
    if home is not None:
        return Tmux.through_pm(config, home.run_dir, socket_path=socket_path)
    if socket_path:
        return Tmux(socket_path=socket_path)
    return Tmux(socket_name=config.tmux.socket_name, socket_path=config.tmux.socket_path)


def use_color(no_color_flag: bool) -> bool:
    """Colour only on a terminal, never with --no-color or a non-empty $NO_COLOR."""
    return not no_color_flag and not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def board_rows(store: Store, tmux: Tmux) -> list[PaneRow]:
    """Every watched pane of a session that exists now (all known ones if tmux is away)."""
    try:
        live: list[str] | None = tmux.sessions() if tmux.is_alive() else []
    except TmuxError:
        live = None
    return pane_rows(store, live=live)


def _sessions(home: StewardHome, tmux: Tmux) -> Callable[[], list[SessionRow]]:
    store: Store | None = None
    last: list[SessionRow] = []

    def read() -> list[SessionRow]:
        nonlocal store, last
        try:
            if store is None:
                store = Store(home.db)
            last = session_rows(board_rows(store, tmux))
        except StewardError:
            store = None  # busy or gone for a moment: the header keeps what it showed
        return last

    return read


def tail(
    config: Config, home: StewardHome, *, plain: bool, everything: bool,
    min_severity: Severity, lines: int, color: bool,
) -> int:
    """What the PM pane runs: header and feed, or a plain stream."""
    attention = Attention(min_severity=min_severity, everything=everything)
    if plain or not sys.stdout.isatty():
        stream(home.log_file, sys.stdout, attention=attention, lines=lines)
        return 0
    watch(home.log_file, sys.stdout, attention=attention,
          board=_sessions(home, pm_tmux(config, home=home)), color=color)
    return 0


def _event_id(text: str) -> int | None:
    digits = text.removeprefix("#")
    return int(digits) if digits.isdigit() else None


def _event(home: StewardHome, text: str, command: str) -> Event:
    event_id = _event_id(text)
    if event_id is None:
        raise UsageError(f"steward {command}: {text!r} is not an event id (e.g. 42 or #42)")
    with Store(home.db) as store:
        event = store.event(event_id)
    if event is None:
        raise UsageError(f"steward {command}: no event {event_id}")
    return event


def show(config: Config, home: StewardHome, ident: str) -> list[str]:
    """An event with its detail and the command that jumps to its pane."""
    e = _event(home, ident, "show")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts))
    out = [
        f"#{e.id} {e.severity.label} {e.kind.value} {e.rule}  ({e.status.value})",
        f"when:   {when}",
        f"where:  {e.target} (pane {e.pane or '-'}, assistant {e.assistant})",
        f"text:   {e.text}",
    ]
    if e.detail:
        out.append("detail:")
        out += [f"  {line}" for line in e.detail.splitlines()]
    out.append(f"jump:   {jump_command(e.target, tmux_args=pm_tmux(config).server_args())}")
    out.append(f"        (or: steward go {e.id}; steward ack {e.id})")
    return out


def _target(config: Config, home: StewardHome, tmux: Tmux, what: str) -> str:
    if _event_id(what) is not None:
        return _event(home, what, "go").target
    if what not in tmux.sessions():
        raise UsageError(f"steward go: no such session or event {what!r}")
    with Store(home.db) as store:
        rows = [r for r in board_rows(store, tmux) if r.session == what]
    return rows[0].target if rows else f"={what}:"


def _clients(tmux: Tmux, session: str) -> list[str]:
    """The PM's clients: those attached to `session`, else every user's client (it jumped)."""
    rows = tmux.cmd("list-clients", "-F",
                    "#{client_name}\t#{client_session}\t#{client_control_mode}", check=False)
    users = [(name, sess) for name, sess, control in (([*r.split("\t"), "", ""])[:3] for r in rows)
             if name and control != "1"]
    return [name for name, sess in users if sess == session] or [name for name, _ in users]


def go(config: Config, home: StewardHome, what: str) -> str:
    """Switch the PM's tmux client to the pane of an event, or a session's neediest pane."""
    tmux = pm_tmux(config)
    target = _target(config, home, tmux, what)
    if os.environ.get("TMUX"):
        clients = [""]  # the client this command runs in
    else:
        clients = _clients(tmux, config.pm.session)
        if not clients:
            raise StewardError(f"steward go: no tmux client is attached to {config.pm.session!r};"
                               f" run: {jump_command(target, tmux_args=tmux.server_args())}")
    for client in clients[:1]:
        tmux.cmd("switch-client", *(["-c", client] if client else []), "-t", target)
    return f"switched to {target}"
