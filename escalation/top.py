"""`steward top`: a live table of every watched pane, neediest first, with keys to act on it.

The only module that imports rich.  It draws with plain escape sequences on the alternate
screen and reads keys in cbreak mode, so it works in any terminal, over ssh too; NO_COLOR
turns colour off.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator, Sequence

import attrs
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._width import cut
from .board import PaneRow, ago, pane_rows
from .core.config import Config
from .core.errors import StewardError, TmuxError
from .core.events import Severity
from .core.paths import StewardHome
from .core.sanitize import sanitize
from .core.silence import Silence
from .core.store import Store
from .core.tmux import Tmux
from .header import STATE_COLORS
from .sinks.log import LogSink, jump_command

__all__ = ["KEYS_HELP", "TopView", "render", "run_top", "split_keys"]

KEYS_HELP = "↑↓/jk select  a ack  s silence 1h  g/⏎ jump  / filter  q quit"
SILENCE_SECONDS = 3600.0
_STYLES = {"crashed": "bold red", "waiting_input": "bold yellow", "stalled": "yellow",
           "exited": "dim", "active": "green", "idle": "dim"}
assert set(_STYLES) == set(STATE_COLORS)


@attrs.frozen(kw_only=True)
class TopView:
    """What the user chose to see: the filter, the selected pane, the last message."""

    filter: str = ""
    selected: str = ""  # the target of the selected pane
    typing: str | None = None  # the filter being typed, None when not typing
    message: str = ""

    def shown(self, rows: Sequence[PaneRow]) -> list[PaneRow]:
        needle = self.filter.lower()
        return [r for r in rows if not needle or needle in
                f"{r.session} {r.target} {r.command} {r.state} {r.last_alert}".lower()]


def _table(rows: Sequence[PaneRow], view: TopView, now: float, color: bool) -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False)
    table.add_column(" ", width=1, no_wrap=True)
    for name, kw in (("session", {"max_width": 16}), ("win", {"max_width": 4}),
                     ("pane", {"max_width": 5}), ("command", {"max_width": 12}),
                     ("state", {"max_width": 8}), ("since", {"justify": "right", "max_width": 6}),
                     ("open", {"justify": "right", "max_width": 4}),
                     ("last alert", {"ratio": 1})):
        table.add_column(name, no_wrap=True, overflow="ellipsis", **kw)
    for row in rows:
        mine = row.target == view.selected
        state = Text(row.label, style=_STYLES.get(row.state, "") if color else "")
        table.add_row(
            ">" if mine else " ", sanitize(row.session), row.window,
            row.target.rpartition(".")[2], sanitize(row.command), state,
            ago(now - row.since), str(row.open) if row.open else "", sanitize(row.last_alert),
            style="reverse" if mine and color else "",
        )
    return table


def render(
    rows: Sequence[PaneRow], view: TopView, *, now: float, width: int, height: int, color: bool
) -> list[str]:
    """The whole screen as lines of at most `width` columns, at most `height` of them."""
    shown = view.shown(rows)
    opened = sum(r.open for r in shown)
    where = f"  filter: {view.filter}" if view.filter else ""
    title = cut(f"steward top  {time.strftime('%H:%M:%S', time.localtime(now))}"
                f"  {len(shown)} panes, {opened} open{where}", width)
    buf = io.StringIO()
    console = Console(file=buf, width=width, height=height, force_terminal=color,
                      no_color=not color, color_system="standard" if color else None,
                      legacy_windows=False, emoji=False, highlight=False, markup=False)
    console.print(_table(shown, view, now, color), crop=True)
    body = buf.getvalue().splitlines()[: max(0, height - 3)]
    if not shown:
        body.append(cut("no watched pane" + (" matches the filter" if view.filter else ""), width))
    footer = f"/{view.typing}" if view.typing is not None else view.message or KEYS_HELP
    return [title, *body, "", cut(footer, width)]


@contextlib.contextmanager
def _terminal(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    os.write(sys.stdout.fileno(), b"\x1b[?1049h\x1b[?25l")
    try:
        yield
    finally:
        os.write(sys.stdout.fileno(), b"\x1b[?25h\x1b[?1049l")
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _move(rows: Sequence[PaneRow], view: TopView, step: int) -> TopView:
    if not rows:
        return view
    targets = [r.target for r in rows]
    at = targets.index(view.selected) if view.selected in targets else -step if step > 0 else 0
    return attrs.evolve(view, selected=targets[max(0, min(len(targets) - 1, at + step))])


class _Actions:
    """What the keys do to the store and tmux; each returns the message to show."""

    def __init__(self, home: StewardHome, store: Store, tmux: Tmux) -> None:
        self.home, self.store, self.tmux = home, store, tmux

    def _note(self, text: str) -> None:
        LogSink(self.home.log_file).write_line(text, severity=Severity.INFO, ts=time.time())

    def ack(self, row: PaneRow) -> str:
        if not row.open_ids:
            return f"{row.target}: nothing open to acknowledge"
        done = self.store.ack(ids=list(row.open_ids))
        self._note(f"acknowledged {len(done)} event(s): {', '.join(map(str, done))}")
        return f"{row.target}: acknowledged {len(done)} event(s)"

    def silence(self, row: PaneRow) -> str:
        now = time.time()
        s = self.store.add_silence(Silence(
            id=None, rule="*", session=row.session, until=now + SILENCE_SECONDS,
            comment="from steward top", created=now, author=os.environ.get("USER", "")))
        until = time.strftime("%H:%M", time.localtime(s.until))
        self._note(f"silence {s.id} added: rule * session {row.session} until {until}")
        return f"session {row.session} silenced until {until} (steward silence rm {s.id})"

    def jump(self, row: PaneRow) -> str:
        if not os.environ.get("TMUX"):
            jump = jump_command(row.target, tmux_args=self.tmux.server_args())
            return f"not in tmux; run: {jump}"
        try:
            self.tmux.cmd("switch-client", "-t", row.target)
        except TmuxError as exc:
            return str(exc)
        return f"switched to {row.target}"


def run_top(config: Config, home: StewardHome, *, tmux: Tmux, refresh: float = 1.0) -> int:
    """The dashboard until `q`; needs a terminal on stdin."""
    del config  # the tmux server and the store are all it reads
    if not sys.stdin.isatty():
        raise StewardError("steward top needs a terminal; use steward status for a snapshot")
    fd = sys.stdin.fileno()
    color = not os.environ.get("NO_COLOR") and sys.stdout.isatty()
    view = TopView()
    with Store(home.db) as store, _terminal(fd):
        actions = _Actions(home, store, tmux)
        rows: list[PaneRow] = []
        looked = float("-inf")
        shown: list[str] = []
        while True:
            now = time.time()
            if now - looked >= refresh:
                try:
                    live = tmux.sessions()
                except TmuxError:
                    live = []
                rows, looked = pane_rows(store, live=live), now
            visible = view.shown(rows)
            if view.selected not in {r.target for r in visible}:
                view = _move(visible, attrs.evolve(view, selected=""), 1)
            size = os.get_terminal_size(sys.stdout.fileno())
            screen = render(rows, view, now=now, width=size.columns, height=size.lines,
                            color=color)
            if screen != shown:
                sys.stdout.write("\x1b[H" + "\r\n".join(line + "\x1b[K" for line in screen)
                                 + "\x1b[J")
                sys.stdout.flush()
                shown = screen
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            for key in split_keys(os.read(fd, 64).decode(errors="replace")):
                view, done = _keys(key, view, visible, actions)
                if done:
                    return 0
                visible = view.shown(rows)
            looked = float("-inf")  # show what the key changed at once


def split_keys(data: str) -> list[str]:
    """What one read of the terminal holds, key by key (`ESC [ A` is one key)."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        if data.startswith("\x1b[", i) and i + 2 < len(data):
            end = i + 2
            while end < len(data) and not data[end].isalpha() and data[end] != "~":
                end += 1
            keys.append(data[i : end + 1])
            i = end + 1
        else:
            keys.append(data[i])
            i += 1
    return keys


def _keys(
    keys: str, view: TopView, rows: Sequence[PaneRow], actions: _Actions
) -> tuple[TopView, bool]:
    """The view after `keys`, and whether to quit."""
    if view.typing is not None:
        if keys in ("\r", "\n"):
            return attrs.evolve(view, filter=view.typing, typing=None, message=""), False
        if keys.startswith("\x1b"):
            return attrs.evolve(view, typing=None), False
        if keys in ("\x7f", "\b"):
            return attrs.evolve(view, typing=view.typing[:-1]), False
        if keys.isprintable():
            return attrs.evolve(view, typing=view.typing + keys), False
        return view, False
    if keys in ("\x1b[A", "k"):
        return _move(rows, view, -1), False
    if keys in ("\x1b[B", "j"):
        return _move(rows, view, 1), False
    if keys in ("q", "Q", "\x03", "\x04"):
        return view, True
    if keys == "/":
        return attrs.evolve(view, typing=""), False
    if keys == "\x1b":
        return attrs.evolve(view, filter="", message=""), False
    row = next((r for r in rows if r.target == view.selected), None)
    if row is None:
        return view, False
    if keys == "a":
        return attrs.evolve(view, message=actions.ack(row)), False
    if keys == "s":
        return attrs.evolve(view, message=actions.silence(row)), False
    if keys in ("g", "\r", "\n"):
        return attrs.evolve(view, message=actions.jump(row)), False
    return view, False
