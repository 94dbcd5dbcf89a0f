"""End to end: the escalation policy on real components (tmux, circusd, SQLite, a D-Bus mock)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _dbus
import _e2e_extra as x
import pytest
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

ERROR_LINE = "generic.error_line"
# What must never reach a terminal or a notification: C0 (but newline and tab), DEL, C1, bidi.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


@pytest.fixture
def make_stack(
    tmp_path: Path, server: object, notification_bus: _dbus.NotificationBus
) -> Iterator[x.StackFactory]:
    yield from x.stack_factory(tmp_path, str(server.socket_name), notification_bus)  # type: ignore[attr-defined]  # libtmux Server, untyped plugin fixture


def _watched(stack: Stack, *sessions: str) -> None:
    """Wait until each session's assistant runs and has read its panes once."""
    for name in sessions:
        retry_until(lambda n=name: f"session:{n}" in stack.watchers(), 15)  # type: ignore[misc]  # default binds the loop variable
        retry_until(lambda n=name: x.followed(stack, f"session:{n}", n), 15)  # type: ignore[misc]  # default binds the loop variable


def _say(stack: Stack, target: str, text: str) -> None:
    """The pane prints `text` (printf escapes allowed) as one line."""
    type_line(stack, target, f"printf '{text}\\n'")


def _stored(stack: Stack, needle: str) -> list[dict[str, Any]]:
    """Events whose text holds `needle`, straight from the store (cheap enough to poll)."""
    return x.query(stack, "SELECT * FROM events WHERE instr(text, ?) > 0 ORDER BY id", needle)


def _status(stack: Stack, needle: str) -> str:
    rows = _stored(stack, needle)
    return str(rows[0]["status"]) if len(rows) == 1 else ""


def _calls(bus: _dbus.NotificationBus, session: str) -> list[_dbus.NotifyCall]:
    return [c for c in bus.calls() if c.summary.endswith(f" in {session}")]


def _log_count(stack: Stack, needle: str) -> int:
    return sum(needle in line for line in x.log_lines(stack))


def _event_json(stack: Stack, event_id: int) -> dict[str, Any]:
    return next(e for e in stack.events() if e["id"] == event_id)


# -- acknowledgement and the ladder -----------------------------------------------------------


def test_ack_stops_the_renotify_and_an_unacked_error_is_renotified(
    make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus
) -> None:
    stack = make_stack("[policy]\nrenotify_after = 2\n")
    start_session(stack, "seen")
    start_session(stack, "unseen")
    stack.up()
    _watched(stack, "seen", "unseen")

    _say(stack, "seen", "Error: disk quota reached on alpha")
    _say(stack, "unseen", "Error: disk quota reached on bravo")
    retry_until(lambda: _status(stack, "quota reached on alpha") == "delivered", 15)
    acked_id = int(_stored(stack, "quota reached on alpha")[0]["id"])
    out = stack.steward("ack", str(acked_id)).stdout
    acked_at = time.time()
    assert f"acknowledged 1 event(s): {acked_id}" in out
    assert _event_json(stack, acked_id)["status"] == "acked"

    retry_until(lambda: len(_calls(notification_bus, "unseen")) >= 2, 15)
    again = _calls(notification_bus, "unseen")[1]
    assert again.summary == "Steward: still unacknowledged in unseen"
    assert "quota reached on bravo" in again.body
    # Two more rungs of the unacknowledged error: time enough for the acked one to come up.
    retry_until(lambda: len(_calls(notification_bus, "unseen")) >= 4, 15)
    seen = _calls(notification_bus, "seen")
    assert seen and seen[0].summary == "Steward: error in seen"
    # A reminder already on its way while `steward ack` ran may land; none after that.
    assert [c for c in seen[1:] if c.timestamp > acked_at + 1.0] == []
    assert _event_json(stack, acked_id)["status"] == "acked"
    assert any("acknowledged 1 event(s)" in ln for ln in x.log_lines(stack))


# -- silences ---------------------------------------------------------------------------------


def test_a_silenced_session_is_not_notified_until_the_silence_is_removed(
    make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus
) -> None:
    stack = make_stack("")
    start_session(stack, "noisy")
    stack.up()
    _watched(stack, "noisy")

    added = stack.steward("silence", "add", "--session", "noisy", "--for", "1h",
                          "--comment", "maintenance").stdout
    silence_id = re.match(r"silence (\d+):", added)
    assert silence_id is not None, added
    listing = stack.steward("silence", "list", "--json").stdout
    listed = [json.loads(ln) for ln in listing.splitlines()]
    assert [(s["session"], s["comment"]) for s in listed] == [("noisy", "maintenance")]

    _say(stack, "noisy", "Error: cache warmup failed on charlie")
    retry_until(lambda: _status(stack, "warmup failed on charlie") == "silenced", 15)
    (event,) = stack.events(session="noisy", rule=ERROR_LINE)
    assert event["status"] == "silenced"
    assert notification_bus.calls() == []
    ids = [json.loads(r["event_ids"]) for r in x.query(stack, "SELECT event_ids FROM deliveries")]
    assert all(event["id"] not in group for group in ids)
    assert "session noisy" in stack.steward("silence", "list").stdout

    stack.steward("silence", "rm", silence_id[1])
    assert stack.steward("silence", "list").stdout.strip() == ""
    _say(stack, "noisy", "Error: cache warmup failed on delta")
    retry_until(lambda: len(notification_bus.calls()) == 1, 15)
    assert "warmup failed on delta" in notification_bus.calls()[0].body
    # The daemon records its decision right after the desktop has it.
    retry_until(lambda: _status(stack, "warmup failed on delta") == "delivered", 5)
    assert _status(stack, "warmup failed on charlie") == "silenced"


# -- restart ----------------------------------------------------------------------------------


def test_nothing_is_delivered_twice_across_a_daemon_kill(
    make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus
) -> None:
    stack = make_stack("")
    start_session(stack, "work")
    start_session(stack, "later")
    stack.up()
    _watched(stack, "work", "later")

    _say(stack, "work", "Error: migration failed on echo")
    retry_until(lambda: len(notification_bus.calls()) == 1, 15)
    retry_until(lambda: _log_count(stack, "migration failed on echo") == 1, 10)
    before = {r["key"] for r in x.query(stack, "SELECT key FROM deliveries")}

    old = stack.watchers()["escalation"]["pids"]
    assert len(old) == 1
    os.kill(old[0], signal.SIGKILL)
    retry_until(lambda: stack.watchers()["escalation"]["pids"] not in ([], old), 15)

    # The new daemon is up and deciding once it delivers a fresh error (of another session:
    # work's next desktop notice would wait for its group_interval).
    _say(stack, "later", "Error: migration failed on foxtrot")
    retry_until(lambda: len(notification_bus.calls()) >= 2, 15)
    retry_until(lambda: _log_count(stack, "migration failed on foxtrot") == 1, 10)
    calls = notification_bus.calls()
    assert len(calls) == 2
    assert "migration failed on echo" in calls[0].body
    assert "migration failed on foxtrot" in calls[1].body
    assert _log_count(stack, "migration failed on echo") == 1
    after = {r["key"] for r in x.query(stack, "SELECT key FROM deliveries")}
    assert before <= after
    assert x.daemon_output(stack).count("escalation daemon up") == 2
    assert [e["status"] for e in stack.events(rule=ERROR_LINE)] == ["delivered", "delivered"]


# -- the burst --------------------------------------------------------------------------------

BURST_SESSIONS = 10
BURST_LINES = 10  # per pane, one every BURST_GAP seconds
BURST_GAP = 1.0
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _word(n: int) -> str:
    """Letters only: numbers are masked in fingerprints, these words are not."""
    return "".join(_LETTERS[(n // 26**k) % 26] for k in range(3))


def _burst_lines(pane: int) -> list[str]:
    return [f"Error: job {_word(pane * 100 + i)} failed on host-{_word(pane)}"
            for i in range(BURST_LINES)]


def test_a_burst_of_two_hundred_errors_is_rate_limited_and_all_logged(
    make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus, tmp_path: Path
) -> None:
    rate = 6
    stack = make_stack(f"[notify]\nrate_per_minute = {rate}\n")
    sessions = [f"farm{_word(n)}" for n in range(BURST_SESSIONS)]
    for name in sessions:
        start_session(stack, name)
        stack.tmux("split-window", "-d", "-t", f"={name}:0", "-e", "PS1=$ ",
                   "bash --norc --noprofile")
    stack.up()
    _watched(stack, *sessions)
    panes = [f"{name}:0.{i}" for name in sessions for i in (0, 1)]
    retry_until(lambda: all(stack.pane_text(p).strip() for p in panes), 10)

    script = tmp_path / "burst.py"
    script.write_text(
        "import sys, time\n"
        f"lines = {json.dumps([_burst_lines(p) for p in range(len(panes))])}[int(sys.argv[1])]\n"
        "for line in lines:\n"
        "    print(line, flush=True)\n"
        f"    time.sleep({BURST_GAP})\n"
    )
    expected = {line for p in range(len(panes)) for line in _burst_lines(p)}
    assert len(expected) == BURST_SESSIONS * 2 * BURST_LINES == 200
    started = time.time()
    for n, pane in enumerate(panes):
        type_line(stack, pane, f"python3 {script} {n}")

    def burst_events() -> list[dict[str, Any]]:
        return x.query(stack, "SELECT * FROM events WHERE instr(text, ' failed on host-') > 0"
                              " AND rule = ? ORDER BY id", ERROR_LINE)

    retry_until(lambda: len(burst_events()) >= len(expected), 40)
    retry_until(lambda: all(e["status"] != "new" for e in burst_events()), 10)
    events = burst_events()
    assert {e["text"] for e in events} == expected
    assert len(events) == len(expected)
    assert {e["status"] for e in events} == {"delivered"}

    # The log accounts for every event, once.
    def logged() -> list[str]:
        return [ln for ln in x.log_lines(stack) if f"  {ERROR_LINE}  Error: job " in ln]

    retry_until(lambda: len(logged()) >= len(expected), 10)
    for line in expected:
        assert sum(f"  {line}  " in ln for ln in logged()) == 1, line
    log_rows = x.query(stack, "SELECT event_ids FROM deliveries WHERE channel = 'log'")
    accounted = [i for r in log_rows for i in json.loads(r["event_ids"])]
    assert sorted(i for i in accounted if i in {e["id"] for e in events}) == sorted(
        e["id"] for e in events)

    # The desktop: at most rate_per_minute in the first minute (plus one summary when due).
    calls = notification_bus.calls()
    assert calls
    first = calls[0].timestamp
    in_window = [c for c in calls if c.timestamp < first + 60.0]
    assert len(in_window) <= rate + 1
    took = time.time() - started
    by_channel = {r["channel"]: r["n"] for r in x.query(
        stack, "SELECT channel, COUNT(*) AS n FROM deliveries GROUP BY channel")}
    all_events = x.query(stack, "SELECT COUNT(*) AS n FROM events")[0]["n"]
    print(
        f"\nburst: {len(events)} burst events stored ({all_events} events in all) in {took:.1f}s;"
        f" {len(calls)} Notify calls ({len(in_window)} in the first minute, rate {rate});"
        f" deliveries by channel {by_channel};"
        f" {len(logged())} burst log lines ({len(x.log_lines(stack))} log lines in all)"
    )


# -- the PM's pane ------------------------------------------------------------------------------


def test_display_mode_shows_a_warning_in_the_pm_clients(make_stack: x.StackFactory) -> None:
    stack = make_stack('[pm]\nmode = "display"\n', exclude=["viewer"])
    start_session(stack, "work")
    stack.up()
    _watched(stack, "work")
    # A real client attached to the PM session, running inside a pane of this server; its
    # status line keeps a message long enough to be read back.
    stack.tmux("set-option", "-g", "display-time", "30000")
    start_session(stack, "viewer", ("env", "-u", "TMUX", "tmux", "-L", stack.socket_name,
                                    "attach", "-t", "=pm"))
    retry_until(lambda: "pm" in stack.tmux("list-clients", "-F", "#{client_session}").split(), 10)

    type_line(stack, "work", "read -p 'Overwrite the staging settings? [y/N] ' answer")
    retry_until(lambda: [d["ok"] for d in stack.deliveries("display")] == [1], 15)
    (shown,) = stack.deliveries("display")
    assert shown["severity"] == 20  # a warning: below display_min_severity, shown in display mode
    assert "Overwrite the staging settings" in shown["body"]
    retry_until(lambda: "Steward [WARNING work:0.0" in stack.pane_text("viewer"), 10)
    assert stack.deliveries("desktop") == []


def _agent_session(stack: Stack, command: str) -> None:
    stack.tmux("new-session", "-d", "-s", "agent", "-x", "200", "-y", "30", command)


def _reports(stack: Stack) -> list[str]:
    return [ln for ln in stack.pane_text("agent:0.0").splitlines() if "Steward report," in ln]


def test_send_keys_types_one_report_into_an_agent_pm(make_stack: x.StackFactory) -> None:
    stack = make_stack('[pm]\nmode = "send-keys"\ntarget = "agent:0.0"\n',
                       exclude=["agent"])
    _agent_session(stack, "cat")
    start_session(stack, "work")
    stack.up()
    _watched(stack, "work")

    _say(stack, "work", "Error: index rebuild failed on golf")
    retry_until(lambda: len(_reports(stack)) >= 2, 15)
    # cat's terminal echoes the typed line, then cat prints it: one report, seen twice.
    echoed, printed = _reports(stack)
    assert echoed == printed
    assert printed.startswith("Steward report, 1 notice: [ERROR work:0.0 generic.error_line]")
    assert "Error: index rebuild failed on golf" in printed
    assert len(stack.deliveries("keys")) == 1


def test_send_keys_waits_while_the_pm_prompt_holds_unsent_text(make_stack: x.StackFactory) -> None:
    stack = make_stack('[pm]\nmode = "send-keys"\ntarget = "agent:0.0"\n',
                       exclude=["agent"])
    _agent_session(stack, "bash --norc --noprofile")
    start_session(stack, "api")
    start_session(stack, "web")
    stack.up()
    _watched(stack, "api", "web")
    retry_until(lambda: stack.pane_text("agent:0.0").strip() != "", 10)
    type_line(stack, "agent:0.0", "PS1='> '; clear")
    retry_until(lambda: stack.pane_text("agent:0.0").strip() == ">", 10)
    stack.tmux("send-keys", "-t", "agent:0.0", "-l", "draft reply to the team")

    _say(stack, "api", "Error: payment sync failed on hotel")
    _say(stack, "web", "Error: asset upload failed on india")
    retry_until(lambda: len(stack.deliveries("keys")) == 2, 15)
    busy = "PM prompt agent:0.0 is busy; 2 notices wait"
    retry_until(lambda: x.daemon_output(stack).count(busy) >= 5, 15)
    assert _reports(stack) == []
    assert stack.pane_text("agent:0.0").strip() == "> draft reply to the team"

    stack.tmux("send-keys", "-t", "agent:0.0", "C-u")
    retry_until(lambda: len(_reports(stack)) == 1, 15)
    (report,) = _reports(stack)
    assert report.startswith("> Steward report, 2 notices: [ERROR ")
    assert "payment sync failed on hotel" in report
    assert "asset upload failed on india" in report
    assert "draft reply" not in report


# -- what pane text may not carry -------------------------------------------------------------


def test_escape_sequences_and_bidi_overrides_are_neutralised_everywhere(
    make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus
) -> None:
    stack = make_stack("")
    start_session(stack, "shady")
    stack.up()
    _watched(stack, "shady")

    # Colour, an OSC 52 clipboard write, a C1 control and a right-to-left override.
    _say(stack, "shady", "Error: \\033[1;31mbuild\\033[0m kilo \\033]52;c;cm0gLXJmIH4=\\007"
                         "copied \\xc2\\x9b bidi \\u202egnp.exe end")
    retry_until(lambda: len(stack.events(session="shady", rule=ERROR_LINE)) == 1, 15)
    (event,) = stack.events(session="shady", rule=ERROR_LINE)
    text = event["text"]
    assert "⟨U+202E⟩gnp.exe end" in text
    assert "build kilo" in text
    assert "cm0gLXJmIH4" not in text  # the clipboard payload never became text
    retry_until(lambda: len(notification_bus.calls()) == 1, 15)
    retry_until(lambda: _log_count(stack, "⟨U+202E⟩gnp.exe") == 1, 10)
    retry_until(lambda: "⟨U+202E⟩gnp.exe" in stack.pane_text("pm"), 15)

    body = notification_bus.calls()[0].body
    log = "\n".join(x.log_lines(stack))
    pm = stack.pane_text("pm")
    db = x.db_bytes(stack).decode("utf-8", errors="replace")
    for where, seen in (("event", text), ("notify", body), ("log", log), ("pm pane", pm)):
        assert "⟨U+202E⟩" in seen, where
        assert not UNSAFE.search(seen), (where, UNSAFE.findall(seen))
        assert "\x1b" not in seen and "\u202e" not in seen, where
    for row in x.query(stack, "SELECT body, title FROM deliveries"):
        assert not UNSAFE.search(row["body"] + row["title"]), row
    assert "\u202e" not in "".join(r["text"] for r in x.query(stack, "SELECT text FROM events"))
    assert db  # the store exists; its events and deliveries were checked above


def test_a_token_in_an_error_line_is_redacted_everywhere(
    make_stack: x.StackFactory, notification_bus: _dbus.NotificationBus
) -> None:
    stack = make_stack("")
    start_session(stack, "deploybox")
    stack.up()
    _watched(stack, "deploybox")

    secret = "ghp_" + "Zq7Xw2Lm9Rt4Yp1Kc8Vb3Nh6Jd5Fs0Ga1QeU"
    assert len(secret) == 40
    _say(stack, "deploybox", f"Error: auth failed token={secret}")
    retry_until(lambda: len(stack.events(session="deploybox", rule=ERROR_LINE)) == 1, 15)
    (event,) = stack.events(session="deploybox", rule=ERROR_LINE)
    assert event["text"].startswith("Error: auth failed token=[REDACTED:")
    retry_until(lambda: len(notification_bus.calls()) == 1, 15)
    retry_until(lambda: _log_count(stack, "auth failed token=[REDACTED:") == 1, 10)

    assert secret not in json.dumps(stack.events())
    assert secret not in notification_bus.calls()[0].body
    assert "[REDACTED:" in notification_bus.calls()[0].body
    assert secret not in "\n".join(x.log_lines(stack))
    assert secret not in stack.pane_text("pm")
    for table in ("events", "deliveries"):
        dumped = json.dumps(x.query(stack, f"SELECT * FROM {table}"))
        assert secret not in dumped, table
