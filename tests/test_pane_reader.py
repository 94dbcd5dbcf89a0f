"""PaneReader against a real tmux pane fed exact bytes: every settled line once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _panes
import pytest
from libtmux.test.retry import retry_until

from assistants.pane.new_lines import Delta
from assistants.pane.reader import PaneReader
from escalation.core.tmux import PaneInfo, Tmux

HISTORY = 2000


class Harness:
    def __init__(self, session: Any, tmp: Path, *, width: int = 80, height: int = 24) -> None:
        self.tmux = Tmux(socket_name=str(session.server.socket_name))
        self.session_name = str(session.session_name)
        self.pane = _panes.FifoPane(session, tmp, width=width, height=height)
        self.reader = PaneReader(self.tmux, self.pane.pane_id, history_lines=HISTORY)

    def info(self) -> PaneInfo:
        rows = [p for p in self.tmux.panes(self.session_name) if p.pane_id == self.pane.pane_id]
        assert len(rows) == 1
        return rows[0]

    def shows(self, text: str) -> None:
        """Wait until `text` is on the pane (history included)."""

        def found() -> bool:
            lines = self.tmux.capture(self.pane.pane_id, start=-HISTORY)
            return any(text in line for line in lines)

        retry_until(found, seconds=5)

    def feed(self, data: str, *, mark: str) -> Delta:
        """Write `data`, wait until `mark` shows, and read the pane."""
        self.pane.write(data)
        self.shows(mark)
        delta = self.reader.read(self.info())
        assert delta is not None
        return delta


@pytest.fixture
def pane(session: Any, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(session, tmp_path)
    first = h.reader.read(h.info())
    assert first is not None and first.lines == ()
    yield h
    h.pane.close()


def numbered(start: int, stop: int) -> tuple[str, ...]:
    return tuple(f"line {i:04d}" for i in range(start, stop))


def crlf(lines: tuple[str, ...]) -> str:
    return "".join(f"{line}\r\n" for line in lines)


def test_more_lines_than_the_screen_between_reads(pane: Harness) -> None:
    d = pane.feed(crlf(numbered(0, 300)), mark="line 0299")
    assert d.lines == numbered(0, 300) and not d.lost
    d = pane.feed(crlf(numbered(300, 310)), mark="line 0309")
    assert d.lines == numbered(300, 310)


def test_long_line_wraps_and_counts_once(pane: Harness) -> None:
    long = "".join(chr(ord("a") + i % 26) for i in range(500))
    d = pane.feed(f"head\r\n{long}\r\ntail\r\n", mark="tail")
    assert d.lines == ("head", long, "tail")
    assert "head" in d.screen and "tail" in d.screen
    assert d.screen[d.screen.index("head") + 1] == long[:80]


def test_clear_reports_only_what_follows(pane: Harness) -> None:
    pane.feed(crlf(numbered(0, 40)), mark="line 0039")
    d = pane.feed("\x1b[H\x1b[2J\x1b[3Jafter clear\r\n", mark="after clear")
    assert d.lines == ("after clear",) and not d.lost
    assert d.screen == ("after clear",)


def test_clear_history_keeps_alignment(pane: Harness) -> None:
    pane.feed(crlf(numbered(0, 100)), mark="line 0099")
    pane.tmux.cmd("clear-history", "-t", pane.pane.pane_id)
    retry_until(lambda: pane.info().history_size == 0, seconds=5)
    d = pane.feed(crlf(numbered(100, 103)), mark="line 0102")
    assert d.lines == numbered(100, 103)


def test_resize_between_reads(pane: Harness) -> None:
    long = "x" * 150
    pane.feed(crlf(numbered(0, 30)) + long + "\r\n", mark="line 0029")
    pane.pane.resize(50, 10)
    retry_until(lambda: pane.info().width == 50, seconds=5)
    d = pane.feed(crlf(numbered(30, 35)), mark="line 0034")
    assert d.lines == numbered(30, 35)
    pane.pane.resize(120, 40)
    retry_until(lambda: pane.info().width == 120, seconds=5)
    d = pane.feed(crlf(numbered(35, 37)), mark="line 0036")
    assert d.lines == numbered(35, 37)


def test_progress_bar_counts_its_final_text_once(pane: Harness) -> None:
    d = pane.feed("Downloading  10%", mark="10%")
    assert d.lines == () and d.partial == "Downloading  10%"
    d = pane.feed("\rDownloading  55%", mark="55%")
    assert d.lines == () and d.partial == "Downloading  55%"
    d = pane.feed("\rDownloading 100%\r\nok\r\n", mark="ok")
    assert d.lines == ("Downloading 100%", "ok")


def test_partial_line_settles_later(pane: Harness) -> None:
    d = pane.feed("Continue? [y/N] ", mark="Continue?")
    assert d.lines == () and d.partial == "Continue? [y/N]"
    d = pane.feed("y\r\ndone\r\n", mark="done")
    assert d.lines == ("Continue? [y/N] y", "done") and d.partial == ""


def test_the_same_error_three_times(pane: Harness) -> None:
    pane.feed("Error: boom\r\nok\r\n", mark="ok")
    d = pane.feed("Error: boom\r\nError: boom\r\nError: boom\r\nend\r\n", mark="end")
    assert d.lines == ("Error: boom",) * 3 + ("end",)


def test_alternate_screen_does_not_repeat_the_normal_screen(pane: Harness) -> None:
    pane.feed("before\r\n", mark="before")
    d = pane.feed("\x1b[?1049h\x1b[H\x1b[2JFULL SCREEN\r\n", mark="FULL SCREEN")
    assert d.lines == () and d.changed and d.changed_rows == ("FULL SCREEN",)
    d = pane.feed("\x1b[3;1Hmore", mark="more")
    assert d.lines == () and d.changed_rows == ("more",)
    d = pane.feed("\x1b[?1049lafter\r\n", mark="after")
    assert d.lines == ("after",) and d.changed


def test_nothing_changed_means_no_capture(pane: Harness) -> None:
    pane.feed("quiet\r\n", mark="quiet")
    later = PaneReader(
        pane.tmux,
        pane.pane.pane_id,
        history_lines=HISTORY,
        last=pane.reader.last,
        clock=lambda: pane.info().activity + 60.0,
    )
    assert later.read(pane.info()) is not None  # no signature yet: always read
    assert not later.needs_capture(pane.info())
    assert later.read(pane.info()) is None
    pane.pane.write("loud\r\n")
    pane.shows("loud")
    d = later.read(pane.info())
    assert d is not None and d.lines == ("loud",)


@pytest.fixture
def small(session: Any, tmp_path: Path) -> Iterator[Harness]:
    session.server.cmd("set-option", "-g", "history-limit", "50")
    h = Harness(session, tmp_path)
    assert h.info().history_limit == 50
    h.reader.read(h.info())
    yield h
    h.pane.close()


def test_small_history_limit_read_often_is_exact(small: Harness) -> None:
    got: list[str] = []
    for start in range(0, 200, 20):
        d = small.feed(crlf(numbered(start, start + 20)), mark=f"line {start + 19:04d}")
        assert not d.lost
        got += d.lines
    assert tuple(got) == numbered(0, 200)


def test_small_history_limit_overflow_is_lost_without_repeats(small: Harness) -> None:
    first = small.feed(crlf(numbered(0, 10)), mark="line 0009")
    d = small.feed(crlf(numbered(10, 210)), mark="line 0209")
    assert d.lost
    assert len(d.lines) == len(set(d.lines))
    assert d.lines == numbered(210 - len(d.lines), 210)
    assert not set(d.lines) & set(first.lines)


@pytest.fixture
def full(session: Any, tmp_path: Path) -> Iterator[Harness]:
    """A pane whose history is at tmux's limit, so the counters stop moving."""
    session.server.cmd("set-option", "-g", "history-limit", "1000")
    h = Harness(session, tmp_path)
    h.reader.read(h.info())
    h.feed(crlf(numbered(0, 1100)), mark="line 1099")
    yield h
    h.pane.close()


def test_reads_at_the_history_limit_are_exact_short_or_long(full: Harness) -> None:
    # The counters are frozen at the limit: the reader reads a short window first.
    d = full.feed(crlf(numbered(1100, 1250)), mark="line 1249")
    assert not d.lost
    assert d.lines == numbered(1100, 1250)
    # Too much for the short window: it no longer overlaps, so the reader reads it all.
    d = full.feed(crlf(numbered(1250, 1850)), mark="line 1849")
    assert not d.lost
    assert d.lines == numbered(1250, 1850)
