"""What tmux reports of a pane: its `list-panes` row (`PaneInfo`) and its text (`PaneText`)."""

from __future__ import annotations

import attrs

from .errors import TmuxError

__all__ = [
    "PANE_FORMAT",
    "READ_MARK",
    "SEP",
    "TEXT_FIELDS",
    "TEXT_FORMAT",
    "PaneInfo",
    "PaneText",
    "to_int",
]

SEP = "\x1f"

# One `list-panes -F` row tells everything a tick needs to decide whether to capture.
PANE_FIELDS = (
    "pane_id",
    "session_name",
    "window_index",
    "pane_index",
    "window_name",
    "pane_pid",
    "pane_current_command",
    "pane_dead",
    "pane_dead_status",
    "pane_dead_signal",
    "alternate_on",
    "history_size",
    "history_limit",
    "cursor_x",
    "cursor_y",
    "pane_height",
    "pane_width",
    "window_activity",
    "pane_in_mode",
    "pane_title",
)
PANE_FORMAT = SEP.join("#{" + f + "}" for f in PANE_FIELDS)


def to_int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


@attrs.frozen(kw_only=True)
class PaneInfo:
    """What one `list-panes -F` row says of a pane."""

    pane_id: str
    session: str
    window_index: str
    pane_index: str
    window_name: str
    pid: int
    current_command: str
    dead: bool
    dead_status: int | None
    dead_signal: int | None
    alternate_on: bool
    history_size: int
    history_limit: int
    cursor_x: int
    cursor_y: int
    height: int
    width: int
    activity: int
    in_mode: bool
    title: str

    @property
    def target(self) -> str:
        """`session:window.pane`, the address `select-pane -t` jumps to."""
        return f"{self.session}:{self.window_index}.{self.pane_index}"

    @classmethod
    def parse(cls, row: str) -> PaneInfo:
        parts = row.split(SEP)
        if len(parts) != len(PANE_FIELDS):
            raise TmuxError(f"unexpected list-panes row: {row!r}")
        f = dict(zip(PANE_FIELDS, parts, strict=True))
        return cls(
            pane_id=f["pane_id"],
            session=f["session_name"],
            window_index=f["window_index"],
            pane_index=f["pane_index"],
            window_name=f["window_name"],
            pid=to_int(f["pane_pid"]),
            current_command=f["pane_current_command"],
            dead=f["pane_dead"] == "1",
            dead_status=to_int(f["pane_dead_status"]) if f["pane_dead_status"] else None,
            dead_signal=to_int(f["pane_dead_signal"]) if f["pane_dead_signal"] else None,
            alternate_on=f["alternate_on"] == "1",
            history_size=to_int(f["history_size"]),
            history_limit=to_int(f["history_limit"]),
            cursor_x=to_int(f["cursor_x"]),
            cursor_y=to_int(f["cursor_y"]),
            height=to_int(f["pane_height"]),
            width=to_int(f["pane_width"]),
            activity=to_int(f["window_activity"]),
            in_mode=f["pane_in_mode"] == "1",
            title=f["pane_title"],
        )


# A pane's state as `read_pane` reads it, in the same tmux command as its text.
TEXT_FIELDS = (
    "history_size",
    "history_limit",
    "cursor_x",
    "cursor_y",
    "pane_height",
    "pane_width",
    "alternate_on",
)
TEXT_FORMAT = SEP.join("#{" + f + "}" for f in TEXT_FIELDS)
# Pane text never holds control characters, so this line cannot be pane text.
READ_MARK = f"{SEP}steward-capture{SEP}"


@attrs.frozen(kw_only=True)
class PaneText:
    """A pane's text and cursor read by one tmux command, so that they agree."""

    lines: tuple[str, ...]
    screen: tuple[str, ...]
    rows: tuple[str, ...]
    history_size: int
    history_limit: int
    cursor_x: int
    cursor_y: int
    height: int
    width: int
    alternate: bool
