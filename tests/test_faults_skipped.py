"""Lost without a word no more: a flood that scrolls output away before a capture is reported
as `system.output_skipped`, with a count, once per episode (a real tmux pane)."""

from __future__ import annotations

from typing import Any

from test_pane_watch import Driver

from assistants.pane.new_lines import Delta
from assistants.pane.overflow import REPORT_AFTER, Overflow
from escalation.core.events import Kind


def _skips(d: Driver) -> list[str]:
    return [e.text for e in d.events if e.rule == "system.output_skipped"]


def _flood(d: Driver, lines: int) -> None:
    d.type(f"seq 1 {lines}; echo flood-done")
    d.until(lambda: any("flood-done" in row for row in d.watch.screen[-3:])
            and d.info().current_command == "bash", 20)


def test_a_flood_past_the_history_is_one_skipped_event_per_episode(server: Any) -> None:
    server.cmd("new-session", "-d", "-s", "keep")  # a server to hold the option
    server.cmd("set-option", "-g", "history-limit", "500")  # for the pane made next
    d = Driver(server)
    d.until(lambda: bool(d.watch.screen))
    d.watch.reader.history_lines = 500
    d.watch.history_lines = 500
    _flood(d, 50000)
    for _ in range(3):
        d.step()
    (first,) = _skips(d)
    assert "scrolled away before they could be read" in first
    event = next(e for e in d.events if e.rule == "system.output_skipped")
    assert event.kind is Kind.SYSTEM and event.severity.label == "warning"
    assert event.target == f"{d.session}:0.0"
    d.type("echo calm again")
    d.until(lambda: any("calm again" in row for row in d.watch.screen))
    assert len(_skips(d)) == 1  # a clean read ends the episode without a second word
    _flood(d, 50000)
    for _ in range(3):
        d.step()
    assert len(_skips(d)) == 2  # a new flood, a new episode


def test_what_tmux_kept_beyond_the_read_is_counted(server: Any) -> None:
    server.cmd("new-session", "-d", "-s", "keep")
    server.cmd("set-option", "-g", "history-limit", "100000")
    d = Driver(server)
    d.until(lambda: bool(d.watch.screen))
    d.watch.reader.history_lines = 500
    d.watch.history_lines = 500
    _flood(d, 20000)
    for _ in range(3):
        d.step()
    (told,) = _skips(d)
    count = int(told.split("output skipped: ")[1].split(" lines")[0])
    # tmux's counters are trusted below its limit: what the 500-line reads missed, counted
    # (each read during the flood took up to 500 lines, plus a screen)
    reads = int(told.split("(")[1].split(" times")[0]) if " times" in told else 1
    assert 20000 - reads * 530 - 10 <= count <= 20000, told


def test_a_small_burst_skips_nothing(server: Any) -> None:
    d = Driver(server)
    d.until(lambda: bool(d.watch.screen))
    _flood(d, 300)
    for _ in range(3):
        d.step()
    assert _skips(d) == []


def _lost(skipped: int | None) -> Delta:
    return Delta(lines=(), screen=(), partial="", changed=True, lost=True, skipped=skipped)


def test_a_long_episode_is_told_once_with_its_count_so_far() -> None:
    overflow = Overflow()
    assert overflow.observe(_lost(100), 0.0) is None
    assert overflow.observe(_lost(50), 1.0) is None
    told = overflow.observe(_lost(None), REPORT_AFTER)
    assert told is not None and (told.reads, told.rows, told.unknown) == (3, 150, True)
    assert "at least 150 lines" in told.text(2000)
    assert overflow.observe(_lost(10), REPORT_AFTER + 1) is None
    assert overflow.observe(None, REPORT_AFTER + 2) is None  # ends, told already
    once = Overflow()
    once.observe(_lost(40), 0.0)
    ended = once.observe(None, 1.0)
    assert ended is not None and "40 lines scrolled away" in ended.text(2000)
