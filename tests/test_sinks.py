"""The log sink (format, parsing, hostile text, modes, rotation) and the PM session sinks."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libtmux.test.retry import retry_until

from escalation.core.events import Severity
from escalation.core.notice import Channel, Notice
from escalation.core.tmux import Tmux
from escalation.sinks import RecordingSink, Sink
from escalation.sinks.log import LogSink, format_line, jump_command, parse_line, rotated_path
from escalation.sinks.pm import DisplaySink, KeysSink, format_report, unsent_input

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
        "  #1  ⇒ tmux switch-client -t 'api:1.0'"
    )
    parsed = parse_line(format_line(notice()))
    assert parsed is not None
    assert (parsed.body, parsed.event_id) == ("ValueError: boom", 1)


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


# --- the PM's tmux session: display-message and typed reports ---------------------------------


@pytest.fixture
def tmux(server: libtmux.Server) -> Tmux:
    assert server.socket_name is not None
    return Tmux(socket_name=server.socket_name)


def pm_pane(tmux: Tmux, prompt: str = "") -> str:
    """A `pm` session whose pane prints `prompt` (printf format) then runs `cat`; its pane id."""
    tmux.new_session("pm", ["sh", "-c", f"printf '{prompt}'; exec cat"], width=200, height=20)
    pane = tmux.panes("pm")[0].pane_id
    retry_until(lambda: tmux.panes("pm")[0].current_command == "cat", seconds=5)
    return pane


def screen(tmux: Tmux, pane: str) -> str:
    return "\n".join(tmux.capture(pane))


@contextlib.contextmanager
def attached_client(tmux: Tmux, session: str) -> Iterator[str]:
    """A real client (on a pseudo-terminal through `script`) attached to `session`; its tty."""
    attach = shlex.join(["tmux", *tmux.server_args(), "attach-session", "-t", session])
    proc = subprocess.Popen(
        ["script", "-qfc", attach, "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True,
    )
    try:
        retry_until(lambda: bool(tmux.clients(session)), seconds=5)
        yield tmux.clients(session)[0]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
        if proc.stdin is not None:
            proc.stdin.close()


def test_display_without_attached_clients_is_not_delivered(tmux: Tmux) -> None:
    pm_pane(tmux)
    assert DisplaySink(tmux, "pm").deliver(notice(channel=Channel.DISPLAY)) is False
    assert DisplaySink(tmux, "missing").deliver(notice(channel=Channel.DISPLAY)) is False


def test_display_reaches_every_attached_client_literally(tmux: Tmux) -> None:
    pm_pane(tmux)
    body = "boom #{pane_id} \x1b[2J\u202e;"
    with attached_client(tmux, "pm") as tty:
        assert DisplaySink(tmux, "pm").deliver(notice(channel=Channel.DISPLAY, body=body))
        messages = [m for m in tmux.cmd("show-messages") if f"{tty} message:" in m]
    assert len(messages) == 1
    shown = messages[0].split(" message: ", 1)[1]
    assert shown.startswith("Steward [ERROR api:1.0 generic.python_traceback]")
    assert "#{pane_id}" in shown
    assert "⟨ESC⟩" in shown
    assert "⟨U+202E⟩" in shown
    assert "\x1b" not in shown


def test_keys_types_one_report_per_flush(tmux: Tmux) -> None:
    pane = pm_pane(tmux)
    sink = KeysSink(tmux, pane)
    assert sink.type_report() == 0
    for i, sev in enumerate((Severity.WARNING, Severity.CRITICAL, Severity.ERROR)):
        queued = sink.deliver(notice(channel=Channel.KEYS, severity=sev, body=f"problem {i}"))
        assert queued is False  # not typed yet
    assert sink.pending == 3
    assert sink.type_report() == 3
    assert sink.pending == 0
    # `cat` echoes the typed line once the report's Enter arrives: two copies on screen.
    retry_until(lambda: screen(tmux, pane).count("Steward report, 3 notices") == 2, seconds=5)
    typed = tmux.capture(pane)[0]
    assert typed.index("CRITICAL") < typed.index("ERROR") < typed.index("WARNING")
    assert sink.type_report() == 0


def test_unsent_text_holds_the_report_until_the_prompt_is_empty(tmux: Tmux) -> None:
    pane = pm_pane(tmux)
    tmux.send_keys(pane, "half typed by the PM")
    retry_until(lambda: "half typed by the PM" in screen(tmux, pane), seconds=5)
    sink = KeysSink(tmux, pane)
    sink.deliver(notice(channel=Channel.KEYS))
    assert sink.type_report() == 0
    assert sink.pending == 1
    assert "Steward report" not in screen(tmux, pane)
    tmux.cmd("send-keys", "-t", pane, "Enter")
    retry_until(lambda: screen(tmux, pane).count("half typed by the PM") == 2, seconds=5)
    assert sink.type_report() == 1
    retry_until(lambda: "Steward report, 1 notice:" in screen(tmux, pane), seconds=5)


@pytest.mark.parametrize("prompt", ["│ > ", "❯ ", "pm@box:~$ "])
def test_a_prompt_marker_separates_the_prompt_from_unsent_text(tmux: Tmux, prompt: str) -> None:
    pane = pm_pane(tmux, prompt)
    retry_until(lambda: prompt.strip() in screen(tmux, pane), seconds=5)
    sink = KeysSink(tmux, pane)
    assert sink.ready()
    tmux.send_keys(pane, "draft")
    retry_until(lambda: "draft" in screen(tmux, pane), seconds=5)
    assert not sink.ready()


def test_a_faint_placeholder_is_not_unsent_text(tmux: Tmux) -> None:
    pane = pm_pane(tmux, r'> \033[2mTry "fix lint"\033[0m\r\033[2C')
    retry_until(lambda: "fix lint" in screen(tmux, pane), seconds=5)
    assert KeysSink(tmux, pane).ready()


def test_copy_mode_holds_the_report(tmux: Tmux) -> None:
    pane = pm_pane(tmux)
    tmux.cmd("copy-mode", "-t", pane)
    sink = KeysSink(tmux, pane)
    sink.deliver(notice(channel=Channel.KEYS))
    assert sink.type_report() == 0
    assert sink.pending == 1


def test_a_gone_pane_keeps_the_batch(tmux: Tmux) -> None:
    pm_pane(tmux)
    sink = KeysSink(tmux, "%999")
    sink.deliver(notice(channel=Channel.KEYS))
    assert sink.type_report() == 0
    assert sink.pending == 1


def test_unsent_input() -> None:
    assert unsent_input("", 0) == ""
    assert unsent_input("pm@box:~$", 10) == ""
    assert unsent_input("pm@box:~$ echo a > b", 20) == "echo a > b"
    assert unsent_input("│ > hello                │", 9) == "hello"
    assert unsent_input(">>> x", 5) == "x"
    assert unsent_input("abc", 3) == "abc"


def test_format_report_is_one_safe_line_most_severe_first() -> None:
    notices = [
        notice(severity=Severity.INFO, body="fyi"),
        notice(severity=Severity.CRITICAL, body="down\nreally\x1b[31m"),
    ]
    report = format_report(notices)
    assert report.startswith("Steward report, 2 notices: [CRITICAL api:1.0")
    assert report.index("down ⏎ really⟨ESC⟩") < report.index("fyi")
    assert not UNSAFE.search(report)
    assert not format_report([notice(body="ends with;")]).endswith(";")
    many = format_report([notice(body="x" * 250) for _ in range(20)])
    assert len(many) <= 3000
    assert "more: steward events)" in many


def test_write_line_can_name_a_target_and_rule(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "steward.log", tmux_args=["-L", "work"])
    sink.write_line(
        "summary: all green\nnext", severity=Severity.INFO, ts=0.0, target="api:1.0", rule="summary"
    )
    parsed = parse_line((tmp_path / "steward.log").read_text().rstrip("\n"))
    assert parsed is not None
    assert (parsed.target, parsed.rule) == ("api:1.0", "summary")
    assert parsed.body == "summary: all green ⏎ next"
    assert parsed.jump == "tmux -L work switch-client -t 'api:1.0'"
