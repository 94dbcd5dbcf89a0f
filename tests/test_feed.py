"""The PM's feed, header and board: what is shown, and that every line fits the pane."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import attrs
from libtmux.test.retry import retry_until

from escalation._width import cells
from escalation.board import PaneRow, pane_rows, session_rows
from escalation.core.events import Event, Kind, Severity, Status
from escalation.core.memo import PaneMemo
from escalation.core.notice import Channel, Notice
from escalation.core.store import PaneRecord, Store
from escalation.feed import Attention, Entry, fit, to_entry
from escalation.header import header_lines
from escalation.sinks.log import LogSink, format_line
from escalation.tail import compose, stream

WIDE = "デプロイ失敗 " * 30  # wide characters take two columns each


def _line(rule: str, severity: Severity, body: str, target: str = "api:1.0", n: int = 7) -> str:
    return format_line(Notice(key=f"log:{n}", channel=Channel.LOG, severity=severity, title="",
                              body=body, target=target, session=target.split(":")[0], rule=rule,
                              event_ids=(n,), ts=time.time()))


def _shown(attention: Attention, *lines: str) -> list[Entry]:
    return [e for line in lines if (e := attention.keep(to_entry(line))) is not None]


def test_attention_first_keeps_warnings_verdicts_summaries_and_recoveries() -> None:
    shown = _shown(
        Attention(),
        _line("state.active", Severity.INFO, "active: running make"),
        _line("state.idle", Severity.INFO, "idle: at the bash prompt"),
        _line("steward", Severity.INFO, "acknowledged 1 event(s): 3"),
        _line("qa.run_passed", Severity.INFO, "pytest: 41 passed"),
        _line("deploy.rollout_waiting", Severity.INFO, "Waiting for rollout to finish"),
        _line("deploy.helm_deployed", Severity.INFO, "STATUS: deployed"),
        _line("summary.executive", Severity.INFO, "[14:05] summary api: focus: pytest"),
        _line("generic.error_line", Severity.ERROR, "Error: boom"),
        _line("state.waiting_input", Severity.WARNING, "waiting for an answer: [y/N]"),
        _line("state.active", Severity.INFO, "active: running deploy"),
        _line("state.idle", Severity.INFO, "idle again"),
    )
    assert [e.rule for e in shown] == ["qa.run_passed", "deploy.helm_deployed",
                                       "summary.executive",
                                       "generic.error_line", "state.waiting_input",
                                       "state.active"]
    assert shown[-1].recovery and "recovered: " in fit(shown[-1], 80, color=False)
    assert shown[3].event_id == 7


def test_all_and_min_severity_widen_the_feed() -> None:
    lines = [_line("state.idle", Severity.INFO, "idle"), _line("steward", Severity.INFO, "note")]
    assert len(_shown(Attention(everything=True), *lines)) == 2
    assert [e.rule for e in _shown(Attention(min_severity=Severity.INFO), *lines)] == [
        "state.idle", "steward"]
    assert _shown(Attention(min_severity=Severity.ERROR),
                  _line("generic.confirm", Severity.WARNING, "[y/N]")) == []


def test_every_entry_fits_any_width_with_its_id_and_an_ellipsis() -> None:
    entries = [to_entry(_line("generic.error_line", Severity.CRITICAL, WIDE, n=12345)),
               to_entry(_line("generic.error_line", Severity.ERROR, "x" * 300,
                              target="a-very-long-session-name:12.3")),
               to_entry("not a line of Steward's " * 10)]
    for width in range(20, 201, 7):
        for entry in entries:
            shown = fit(entry, width, color=False)
            assert cells(shown) <= width, (width, shown)
        assert fit(entries[0], width, color=False).endswith("#12345")
        assert "…" in fit(entries[0], width, color=False)
    coloured = fit(entries[0], 80, color=True)
    assert "\x1b[" in coloured and coloured.startswith(entries[0].hhmm)
    assert fit(entries[1], 0, color=False, cut_body=False).count("x") == 300


def _rows() -> list[PaneRow]:
    base = PaneRow(session="api", window="1", pane="%1", target="api:1.0", command="pytest",
                   state="crashed", since=time.time() - 90, state_since=time.time() - 90,
                   open=2, last_alert="Traceback: " + WIDE, last_alert_id=3)
    return [base] + [attrs.evolve(base, session=f"s{i}", target=f"s{i}:0.0", state="idle",
                                  open=0, last_alert="", last_alert_id=None) for i in range(30)]


def test_header_fits_and_says_how_many_more() -> None:
    sessions = session_rows(_rows())
    assert sessions[0].session == "api" and sessions[0].state == "crashed"
    for width in (20, 40, 80, 200):
        lines = header_lines(sessions, now=time.time(), width=width, color=False, max_rows=10)
        assert all(cells(line) <= width for line in lines), lines
        assert any("+22 more sessions" in line for line in lines)
        assert lines[-1] == "─" * width
    row = header_lines(sessions, now=time.time(), width=80, color=False, max_rows=10)[1]
    assert row.startswith("api") and "crashed" in row and "2 open" in row and "1m" in row


def test_compose_fills_the_screen_and_never_overflows() -> None:
    feed = [to_entry(_line("generic.error_line", Severity.ERROR, f"boom {i} " + WIDE, n=i))
            for i in range(100)]
    for width, height in ((80, 24), (200, 50), (30, 8)):
        screen = compose(session_rows(_rows()), feed, now=time.time(), width=width,
                         height=height, color=False)
        assert len(screen) <= height
        assert all(cells(line) <= width for line in screen)
        assert "boom 99 " in screen[-1]  # the newest entry is at the bottom


def test_plain_stream_has_no_escape_sequences(tmp_path: Path) -> None:
    log = tmp_path / "steward.log"
    sink = LogSink(log)
    sink.write_line("idle", severity=Severity.INFO, ts=time.time(), rule="state.idle",
                    target="api:1.0")
    sink.write_line("Error: \x1b[31mred\x1b[0m boom", severity=Severity.ERROR, ts=time.time(),
                    rule="generic.error_line", target="api:1.0")
    out = io.StringIO()
    done = threading.Event()
    thread = threading.Thread(target=stream, args=(log, out),
                              kwargs={"attention": Attention(), "stop": done.is_set,
                                      "poll": 0.01}, daemon=True)
    thread.start()
    sink.write_line("panic: later", severity=Severity.CRITICAL, ts=time.time(),
                    rule="generic.panic", target="web:0.0")
    retry_until(lambda: "panic: later" in out.getvalue(), 5)
    done.set()
    thread.join(timeout=5)
    text = out.getvalue()
    assert "\x1b" not in text and "idle" not in text
    assert [line.split()[1] for line in text.splitlines()] == ["ERR", "CRIT"]


def _pane(session: str, n: int, state: str) -> PaneRecord:
    now = time.time()
    return PaneRecord(assistant=f"session:{session}", pane=f"%{n}", session=session,
                      target=f"{session}:0.{n}", command="bash", state=state, since=now - 60,
                      updated=now, memo=PaneMemo(tracker={"last_activity": now - 5}))


def _event(n: int, session: str, rule: str, severity: Severity, kind: Kind) -> Event:
    return Event(ts=time.time(), session=session, window="0", pane=f"%{n}",
                 target=f"{session}:0.{n}", assistant=f"session:{session}", rule=rule,
                 severity=severity, kind=kind, text=f"{rule} text", fingerprint=f"{rule}{n}")


def test_board_counts_what_is_open_and_drops_killed_sessions(tmp_path: Path) -> None:
    with Store(tmp_path / "steward.db") as store:
        store.save_panes([_pane("api", 1, "idle"), _pane("web", 2, "waiting_input"),
                          _pane("gone", 3, "active")])
        events = store.add_events([
            _event(1, "api", "generic.error_line", Severity.ERROR, Kind.PATTERN),
            _event(1, "api", "state.stalled", Severity.WARNING, Kind.STATE),  # over: idle now
            _event(2, "web", "state.waiting_input", Severity.WARNING, Kind.STATE),
            _event(2, "web", "generic.error_line", Severity.ERROR, Kind.PATTERN),
        ])
        for e in events:
            assert e.id is not None
            store.decide(e.id, Status.DELIVERED)
        store.ack(ids=[events[3].id or 0])
        rows = pane_rows(store, live={"api", "web"})
        # A red run of api's pane, then a green one: the red one is no longer open.
        red, green = store.add_events([
            _event(1, "api", "qa.run_failed", Severity.ERROR, Kind.PATTERN),
            _event(1, "api", "qa.run_passed", Severity.INFO, Kind.PATTERN)])
        for e in (red, green):
            store.decide(e.id or 0, Status.DELIVERED)
        assert pane_rows(store, live={"api"})[0].open == 1
    assert [r.target for r in rows] == ["web:0.2", "api:0.1"]  # waiting before idle
    web, api = rows
    assert (web.open, web.last_alert) == (1, "state.waiting_input text")
    assert (api.open, api.last_alert_id) == (1, events[0].id)
    assert time.time() - api.since < 30  # from the last output, not the state's start
    assert [s.session for s in session_rows(rows)] == ["web", "api"]


def test_hostile_names_and_alerts_reach_no_terminal_as_escapes() -> None:
    from escalation.top import TopView, render

    evil = attrs.evolve(_rows()[0], session="[bold]x\x1b[2J", command="[red]sh",
                        last_alert="\x1b]0;owned\x07 boom")
    header = header_lines(session_rows([evil]), now=time.time(), width=80, color=False,
                          max_rows=5)
    screen = render([evil], TopView(), now=time.time(), width=100, height=20, color=False)
    for text in ("\n".join(header), "\n".join(screen)):
        assert "\x1b" not in text and "\x07" not in text
        assert "[bold]x" in text  # shown as written, not read as markup
    assert "[red]sh" in "\n".join(screen)
