"""The aggregated log sink: line format, parsing, hostile text, file modes and rotation."""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.events import Severity
from escalation.notice import Channel, Notice
from escalation.sinks import RecordingSink, Sink
from escalation.sinks.log import LogSink, format_line, jump_command, parse_line, rotated_path

# What must never reach the log file: C0 (tab and newline included), DEL, C1, bidi controls.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
HOSTILE = (
    "ValueError: boom\x1b[31m red \x1b[0m\n"
    "\x1b]52;c;cm0gLXJmIH4K\x07 clipboard \u202egnp.exe\u202c"
    " c1:\x9b31m \x85 \x90dcs\x9c bell\x07 del\x7f\rret"
)


def notice(**overrides: object) -> Notice:
    fields: dict[str, object] = {
        "key": "k1",
        "channel": Channel.LOG,
        "severity": Severity.ERROR,
        "title": "api: ValueError",
        "body": "ValueError: boom",
        "target": "api:1.0",
        "session": "api",
        "rule": "generic.python_traceback",
        "event_ids": (1,),
        "ts": time.mktime((2026, 11, 24, 1, 23, 45, 0, 0, -1)),
    }
    fields.update(overrides)
    return Notice(**fields)  # type: ignore[arg-type]  # test builder: fields checked by attrs


def test_format_line_has_every_column_and_the_jump() -> None:
    assert format_line(notice()) == (
        "2026-11-24 01:23:45 ERROR    api:1.0  generic.python_traceback  ValueError: boom"
        "  ⇒ tmux switch-client -t 'api:1.0'"
    )


def test_jump_names_a_private_server_and_quotes_the_target() -> None:
    line = format_line(notice(target="it's:0.1"), tmux_args=["-L", "my sock"])
    assert line.endswith("⇒ tmux -L 'my sock' switch-client -t 'it'\"'\"'s:0.1'")
    assert jump_command("a:1.0", tmux_args=["-S", "/tmp/s"]) == (
        "tmux -S /tmp/s switch-client -t 'a:1.0'"
    )


def test_parse_line_reads_back_what_format_line_wrote() -> None:
    parsed = parse_line(format_line(notice(target="my proj:2.3", body="a  b\nc")))
    assert parsed is not None
    assert parsed.when == "2026-11-24 01:23:45"
    assert parsed.severity is Severity.ERROR
    assert parsed.target == "my proj:2.3"
    assert parsed.rule == "generic.python_traceback"
    assert parsed.body == "a  b ⏎ c"
    assert parsed.jump == "tmux switch-client -t 'my proj:2.3'"


def test_parse_line_rejects_foreign_lines() -> None:
    assert parse_line("") is None
    assert parse_line("Traceback (most recent call last):") is None
    assert parse_line("2026-11-24 01:23:45 LOUD api:1.0  r  body") is None


def test_a_body_cannot_forge_the_jump() -> None:
    forged = "boom  ⇒ tmux kill-server"
    parsed = parse_line(format_line(notice(body=forged)))
    assert parsed is not None
    assert parsed.jump == "tmux switch-client -t 'api:1.0'"
    assert "kill-server" in parsed.body
    assert "⇒" not in parsed.body


def test_hostile_text_never_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "log" / "steward.log"
    sink = LogSink(path)
    assert sink.deliver(notice(body=HOSTILE, target="x\x1b[2J:0.0", rule="r\u202eule"))
    sink.write_line(HOSTILE, severity=Severity.WARNING, ts=time.time())
    sink.close()
    data = path.read_bytes()
    text = data.decode("utf-8")
    lines = text.split("\n")
    assert lines[-1] == ""
    assert len(lines) == 3
    assert not UNSAFE.search(text.replace("\n", ""))
    assert b"\x1b" not in data
    assert b"\xc2\x9b" not in data  # C1 CSI encoded in UTF-8
    assert "⟨ESC⟩" in text
    assert "⟨U+202E⟩" in text
    assert all(parse_line(line) is not None for line in lines[:-1])


def test_write_line_records_a_cli_note(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "steward.log")
    sink.write_line("acked event 7", severity=Severity.INFO, ts=time.time())
    parsed = parse_line((tmp_path / "steward.log").read_text().rstrip("\n"))
    assert parsed is not None
    assert parsed.severity is Severity.INFO
    assert parsed.body == "acked event 7"
    assert parsed.jump == ""


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(max_size=200),
    target=st.text(max_size=40),
    rule=st.text(max_size=40),
    severity=st.sampled_from(list(Severity)),
)
def test_any_notice_is_one_safe_parseable_line(
    body: str, target: str, rule: str, severity: Severity
) -> None:
    line = format_line(notice(body=body, target=target, session="", rule=rule, severity=severity))
    assert "\n" not in line
    assert not UNSAFE.search(line)
    parsed = parse_line(line)
    assert parsed is not None
    assert parsed.severity is severity


def test_file_and_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "log" / "steward.log"
    path.parent.mkdir(parents=True, mode=0o755)
    path.parent.chmod(0o755)
    path.write_text("")
    path.chmod(0o644)
    sink = LogSink(path)
    assert sink.deliver(notice())
    sink.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_rotation_keeps_three_generations(tmp_path: Path) -> None:
    path = tmp_path / "steward.log"
    sink = LogSink(path, max_bytes=1000)
    for i in range(200):
        assert sink.deliver(notice(body=f"line {i:04d}"))
    sink.close()
    generations = [path] + [rotated_path(path, n) for n in (1, 2, 3)]
    assert all(p.exists() for p in generations)
    assert not rotated_path(path, 4).exists()
    assert all(p.stat().st_size <= 1000 for p in generations)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in generations)
    # Newest last, no line lost or repeated across the kept generations.
    bodies = []
    for p in reversed(generations):
        for line in p.read_text().splitlines():
            parsed = parse_line(line)
            assert parsed is not None
            bodies.append(int(parsed.body.split()[1]))
    assert bodies == list(range(bodies[0], 200))


def test_a_second_writer_follows_a_rotation_done_by_the_first(tmp_path: Path) -> None:
    path = tmp_path / "steward.log"
    daemon = LogSink(path, max_bytes=600)
    cli = LogSink(path, max_bytes=600)
    assert cli.deliver(notice(body="before"))
    for i in range(6):
        assert daemon.deliver(notice(body=f"daemon {i}"))
    assert rotated_path(path, 1).exists()
    assert cli.deliver(notice(body="after"))
    daemon.close()
    cli.close()
    assert "after" in path.read_text()


def test_failed_write_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    sink = LogSink(blocker / "log" / "steward.log")
    assert sink.deliver(notice()) is False


def test_recording_sink_is_a_sink() -> None:
    sink = RecordingSink(Channel.DISPLAY)
    assert isinstance(sink, Sink)
    assert isinstance(LogSink(Path("/nonexistent/steward.log")), Sink)
    n = notice(channel=Channel.DISPLAY)
    assert sink.deliver(n)
    assert sink.notices == [n]
    failing = RecordingSink(Channel.DESKTOP, fail=True)
    assert failing.deliver(n) is False
    assert failing.notices == [n]
    sink.close()
    assert sink.deliver(n) is False
