"""Sinks into the PM's tmux session: a status-line message, or a report typed to an agent PM."""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.errors import TmuxError
from ..core.notice import Channel, Notice
from ..core.sanitize import NEWLINE_MARK, sanitize
from ..core.tmux import Tmux

__all__ = ["PROMPT_MARKERS", "DisplaySink", "KeysSink", "format_report", "unsent_input"]

_log = logging.getLogger(__name__)

_DISPLAY_CAP = 300
_REPORT_CAP = 1500
_ITEM_CAP = 300
_BUFFER = "steward-report"  # the tmux paste buffer of a report, deleted by the paste
_LOOK = 0.1  # seconds between two looks at the PM's prompt
# What ends a prompt; the first one on the cursor line wins, so that typed text that
# itself contains "> " or "$ " still counts as unsent.
PROMPT_MARKERS = ("> ", "$ ", "# ", "% ", "❯ ", "➜ ", "» ")
_BOX = "│┃|╎║ "
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_OTHER_ESCAPE = re.compile(r"\x1b(?:\[[0-9;:?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|.)")


def _one_line(text: str, cap: int) -> str:
    """Sanitised, on one line, capped, and never ending in `;` (a tmux command separator)."""
    parts = (line.strip() for line in sanitize(text, multiline=True).split("\n"))
    joined = NEWLINE_MARK.join(p for p in parts if p)
    if len(joined) > cap:
        joined = joined[: cap - 1] + "…"
    return joined.rstrip("; ")


def _describe(notice: Notice) -> str:
    where = notice.target or notice.session or "-"
    head = f"[{notice.severity.name} {where}" + (f" {notice.rule}]" if notice.rule else "]")
    title, body = notice.title.strip(), notice.body.strip()
    text = body if not title or title in body else f"{title}: {body}" if body else title
    return _one_line(f"{head} {text}", _ITEM_CAP)


def format_report(notices: Sequence[Notice]) -> str:
    """One line that tells an agent PM about every notice of a cycle, most severe first."""
    ordered = sorted(notices, key=lambda n: (-n.severity, n.ts))
    items: list[str] = []
    used = 0
    for notice in ordered:
        item = _describe(notice)
        if used + len(item) > _REPORT_CAP and items:
            items.append(f"(+{len(ordered) - len(items)} more: steward events)")
            break
        items.append(item)
        used += len(item) + 3
    noun = "notice" if len(notices) == 1 else "notices"
    return _one_line(
        f"Steward report, {len(notices)} {noun}: " + " ; ".join(items), 2 * _REPORT_CAP
    )


def _visible(escaped: str) -> str:
    """The text of a `capture-pane -e` line without the faint parts (placeholders, hints)."""
    out: list[str] = []
    faint = False
    pos = 0
    for m in _SGR.finditer(escaped):
        chunk = _OTHER_ESCAPE.sub("", escaped[pos : m.start()])
        out.append(" " * len(chunk) if faint else chunk)
        for code in (m.group(1) or "0").replace(":", ";").split(";"):
            if code in ("0", ""):
                faint = False
            elif code == "2":
                faint = True
            elif code == "22":
                faint = False
        pos = m.end()
    chunk = _OTHER_ESCAPE.sub("", escaped[pos:])
    out.append(" " * len(chunk) if faint else chunk)
    return "".join(out)


def unsent_input(line: str, cursor_x: int) -> str:
    """What the user has typed and not sent, given the cursor line (faint text removed)."""
    padded = line.ljust(cursor_x)
    hits = [(padded.find(m), m) for m in PROMPT_MARKERS if m in padded]
    if not hits:
        return padded[:cursor_x].strip(_BOX)
    index, marker = min(hits)
    return padded[index + len(marker) :].strip(_BOX)


class DisplaySink:
    """`display-message` in every client attached to the PM session."""

    channel = Channel.DISPLAY

    def __init__(self, tmux: Tmux, session: str) -> None:
        self.tmux = tmux
        self.session = session

    def available(self) -> str | None:
        """Always: a PM session without clients is reported by `deliver`."""
        return None

    def flush(self) -> None:
        """Every message is shown when it is delivered."""

    def deliver(self, notice: Notice) -> bool:
        try:
            clients = self.tmux.clients(self.session)
        except TmuxError as exc:
            _log.warning("cannot list clients of %s: %s", self.session, exc)
            return False
        if not clients:
            return False
        text = _one_line(f"Steward {_describe(notice)}", _DISPLAY_CAP)
        shown = 0
        for tty in clients:
            try:
                self.tmux.display_message(text, client=tty)
                shown += 1
            except TmuxError as exc:
                _log.warning("cannot display on client %s: %s", tty, exc)
        return shown > 0

    def close(self) -> None:
        """Nothing to release: every delivery is one tmux command."""


class KeysSink:
    """Queues notices and types one report a cycle into an agent PM's pane.

    The report is typed only when the PM's prompt holds no unsent text and the pane is
    not in a mode (copy mode would take the keys); otherwise it waits for the next cycle.
    A queued notice has not reached the PM: `deliver` says False, and `on_typed` is told of
    the notices once their report is submitted (the daemon then records them as delivered,
    and queues again after a restart those that never were).
    It is pasted as one bracketed paste (`load-buffer` + `paste-buffer -p`), so that a
    prompt takes it whole; Enter follows once the paste has settled on screen, and the
    prompt must then be empty again (submitted).  Enter is pressed once more if not;
    then the report counts as failed and `on_failure` is told (the daemon logs it).
    """

    channel = Channel.KEYS

    def __init__(
        self,
        tmux: Tmux,
        target: str,
        *,
        on_typed: Callable[[Sequence[Notice]], None] | None = None,
        on_failure: Callable[[str, Sequence[Notice]], None] | None = None,
        deadline: float = 3.0,
    ) -> None:
        self.tmux = tmux
        self.target = target
        self.on_typed = on_typed
        self.on_failure = on_failure
        self.deadline = deadline
        self.failed = 0
        self._queue: list[Notice] = []

    @property
    def pending(self) -> int:
        """How many notices wait for the next report."""
        return len(self._queue)

    def available(self) -> str | None:
        """Always: notices queue until the PM's prompt can take a report."""
        return None

    def deliver(self, notice: Notice) -> bool:
        """Queue the notice for the next report; False: it is not typed yet (see `on_typed`)."""
        self._queue.append(notice)
        return False

    def _unsent(self) -> str | None:
        """The text typed and not sent at the PM's prompt; None while the pane is in a mode."""
        row = self.tmux.cmd(
            "display-message", "-p", "-t", self.target, "#{cursor_x},#{cursor_y},#{pane_in_mode}"
        )
        x, y, in_mode = (row[0] if row else "").split(",")
        if in_mode == "1":
            return None
        captured = self.tmux.cmd("capture-pane", "-p", "-e", "-t", self.target, "-S", y, "-E", y)
        return unsent_input(_visible(captured[0] if captured else ""), int(x))

    def ready(self) -> bool:
        """Whether the PM's pane can take a report now."""
        return self._unsent() == ""

    def _paste(self, report: str) -> None:
        """The report as one bracketed paste (plain text to a program that did not ask)."""
        with tempfile.NamedTemporaryFile("w", prefix="steward-report-", delete=False) as f:
            f.write(report)  # mode 0600, removed at once
        try:
            self.tmux.cmd("load-buffer", "-b", _BUFFER, f.name)
            self.tmux.cmd("paste-buffer", "-p", "-d", "-b", _BUFFER, "-t", self.target)
        finally:
            Path(f.name).unlink()

    def _until(self, done: Callable[[str | None, str | None], bool]) -> bool:
        """Look at the prompt until done(previous, now) or the deadline."""
        end = time.monotonic() + self.deadline
        before = None
        while True:
            now = self._unsent()
            if done(before, now):
                return True
            if time.monotonic() > end:
                return False
            before = now
            time.sleep(_LOOK)

    def flush(self) -> None:
        """Type one report of every queued notice, when the PM's prompt can take it."""
        self.type_report()

    def type_report(self) -> int:
        """Type one report of every queued notice; the number typed (0 when held back)."""
        if not self._queue:
            return 0
        try:
            if not self.ready():
                _log.info("PM prompt %s is busy; %d notices wait", self.target, len(self._queue))
                return 0
            self._paste(format_report(self._queue))
            # Settled: the same unsent text at two looks in a row.
            self._until(lambda before, now: bool(now) and before == now)
            submitted = False
            for _attempt in range(2):
                self.tmux.cmd("send-keys", "-t", self.target, "Enter")
                if self._until(lambda _before, now: now == ""):
                    submitted = True
                    break
        except (TmuxError, ValueError) as exc:
            _log.warning("cannot type the report into %s: %s", self.target, exc)
            return 0
        typed, self._queue = self._queue, []
        if not submitted:
            self.failed += len(typed)
            why = (f"the report to the PM's prompt {self.target} was pasted but not submitted"
                   f" (Enter pressed twice); {len(typed)} notice(s) not delivered there")
            _log.warning("%s", why)
            if self.on_failure is not None:
                self.on_failure(why, typed)
            return 0
        if self.on_typed is not None:
            self.on_typed(typed)
        return len(typed)

    def close(self) -> None:
        """Type what is still queued if the prompt allows; what cannot be typed is logged."""
        if self._queue and self.type_report() == 0:
            _log.warning("%d notices for %s were not typed", len(self._queue), self.target)
