"""`steward tail`: backlog, following, truncation, rotation, colours and severity filtering."""

from __future__ import annotations

import functools
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from libtmux.test.retry import retry_until

from escalation.core.events import Severity
from escalation.core.notice import Channel, Notice
from escalation.sinks.log import LogSink, format_line, rotated_path
from escalation.tail import COLORS, RESET, LogFollower, follow, render


def line(body: str, severity: Severity = Severity.ERROR) -> str:
    n = Notice(
        key=body,
        channel=Channel.LOG,
        severity=severity,
        title="t",
        body=body,
        target="api:1.0",
        session="api",
        rule="r.x",
        ts=time.time(),
    )
    return format_line(n)


class Tail:
    """`follow` running in a thread, writing to a buffer, stopped within a bounded time."""

    def __init__(self, path: Path, **kwargs: object) -> None:
        self.out = io.StringIO()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=follow,
            args=(path, self.out),
            kwargs={"stop": self._stop.is_set, "poll": 0.01, **kwargs},
            daemon=True,
        )

    def __enter__(self) -> Tail:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive()

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()

    def shows(self, text: str) -> bool:
        return any(text in shown for shown in self.lines())


@pytest.fixture
def log_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "log" / "steward.log"


def test_render_colours_by_severity() -> None:
    for severity, colour in COLORS.items():
        shown = render(line("boom", severity))
        assert shown is not None
        assert shown.startswith(colour)
        assert shown.endswith(RESET)
    assert render(line("boom"), color=False) == line("boom")


def test_render_filters_below_the_least_severity() -> None:
    assert render(line("x", Severity.WARNING), min_severity=Severity.ERROR) is None
    assert render(line("x", Severity.CRITICAL), min_severity=Severity.ERROR) is not None


def test_foreign_lines_are_shown_plain_and_sanitised() -> None:
    assert render("just text", min_severity=Severity.CRITICAL) == "just text"
    shown = render("evil \x1b]52;c;aGk=\x07 \x1b[2J \u202e", min_severity=Severity.CRITICAL)
    assert shown == "evil ⟨ESC⟩ ⟨ESC⟩ ⟨U+202E⟩"


def test_a_forged_log_line_gets_only_our_colours() -> None:
    forged = line("boom") + "\x1b[8m hidden \x9b2J"
    shown = render(forged)
    assert shown is not None
    inner = shown.removeprefix(COLORS[Severity.ERROR]).removesuffix(RESET)
    assert "\x1b" not in inner
    assert "\x9b" not in inner


def test_backlog_shows_the_last_lines_that_pass_the_filter(log_path: Path) -> None:
    sink = LogSink(log_path)
    for i in range(30):
        sink.write_line(f"note {i}", severity=Severity.INFO, ts=time.time())
        if i % 10 == 0:
            assert sink.deliver(
                Notice(
                    key=str(i),
                    channel=Channel.LOG,
                    severity=Severity.ERROR,
                    title="t",
                    body=f"error {i}",
                    target="a:0.0",
                )
            )
    sink.close()
    out = io.StringIO()
    follow(log_path, out, lines=5, color=False, stop=lambda: True)
    shown = out.getvalue().splitlines()
    assert [s.split("  ")[-1] for s in shown] == [f"note {i}" for i in range(25, 30)]
    out = io.StringIO()
    follow(log_path, out, lines=2, min_severity=Severity.ERROR, color=False, stop=lambda: True)
    errors = out.getvalue().splitlines()
    assert len(errors) == 2
    assert "error 10" in errors[0]
    assert "error 20" in errors[1]


def test_follow_waits_for_the_file_then_follows_it(log_path: Path) -> None:
    with Tail(log_path, color=False) as tail:
        sink = LogSink(log_path)
        assert sink.deliver(
            Notice(
                key="1",
                channel=Channel.LOG,
                severity=Severity.ERROR,
                title="t",
                body="first",
                target="a:0.0",
            )
        )
        retry_until(lambda: tail.shows("first"), seconds=5)
        log_path.open("a").write("plain text from elsewhere\n")
        retry_until(lambda: tail.shows("plain text from elsewhere"), seconds=5)
        sink.close()


def test_follow_filters_and_colours_new_lines(log_path: Path) -> None:
    log_path.parent.mkdir(parents=True)
    log_path.write_text("")
    with Tail(log_path, min_severity=Severity.WARNING) as tail:
        with log_path.open("a") as f:
            f.write(line("quiet", Severity.INFO) + "\n")
            f.write(line("loud", Severity.CRITICAL) + "\n")
        retry_until(lambda: tail.shows("loud"), seconds=5)
    assert not tail.shows("quiet")
    [shown] = tail.lines()
    assert shown.startswith(COLORS[Severity.CRITICAL])


def test_follow_survives_truncation(log_path: Path) -> None:
    log_path.parent.mkdir(parents=True)
    log_path.write_text(line("old one") + "\n" + line("old two") + "\n")
    with Tail(log_path, color=False) as tail:
        retry_until(lambda: tail.shows("old two"), seconds=5)
        log_path.write_text(line("after truncation") + "\n")
        retry_until(lambda: tail.shows("after truncation"), seconds=5)


def test_follow_crosses_rotation_without_losing_or_repeating(log_path: Path) -> None:
    sink = LogSink(log_path, max_bytes=700)
    with Tail(log_path, color=False, lines=1000) as tail:
        for i in range(40):
            body = f"rotating {i:03d}"
            assert sink.deliver(
                Notice(
                    key=body,
                    channel=Channel.LOG,
                    severity=Severity.ERROR,
                    title="t",
                    body=body,
                    target="a:0.0",
                )
            )
            retry_until(functools.partial(tail.shows, body), seconds=5)
    sink.close()
    assert rotated_path(log_path, 3).exists()
    seen = [s for s in tail.lines() if "rotating" in s]
    assert [s.split("  ")[-2].split()[-1] for s in seen] == [f"{i:03d}" for i in range(40)]


def test_a_line_still_being_written_waits_until_complete(log_path: Path) -> None:
    log_path.parent.mkdir(parents=True)
    log_path.write_text("")
    follower = LogFollower(log_path)
    assert follower.backlog(10) == []
    with log_path.open("a") as f:
        f.write("half a li")
        f.flush()
        assert follower.read_new() == []
        f.write("ne\nnext")
        f.flush()
        assert follower.read_new() == ["half a line"]
    follower.close()
