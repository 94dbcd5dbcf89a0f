"""What a pane stores of its last capture to resume: the screen and a margin, not the history."""

from __future__ import annotations

import json

from assistants.pane.new_lines import Capture, extract
from assistants.pane.resume import RESUME_LINES, Masker, masked, tail
from escalation.core.memo import PaneMemo
from escalation.core.redact import redact

HEIGHT = 30


def history(n: int, *, start: int = 1) -> Capture:
    """A pane 30 rows high after `n` key=value lines (numbered from `start`) and a prompt."""
    lines = [f"step={i} token=ghp_{'a1B2c3D4' * 4}{i:04d} status=ok" for i in range(start, n + 1)]
    lines += ["$ "]
    rows = lines[-HEIGHT:]
    return Capture.from_tmux(
        lines=lines, screen_lines=len(rows), rows=rows, history_size=len(lines) - len(rows),
        history_lines=2000, history_limit=100_000, cursor_x=2, cursor_y=len(rows) - 1,
        height=HEIGHT, width=120, alternate=False,
    )


def test_the_stored_tail_is_the_screen_and_a_margin_and_resumes_exactly() -> None:
    prev = history(2000)
    kept = tail(prev)
    assert len(kept.lines) == RESUME_LINES + 1  # and the cursor's line; the screen is within
    assert kept.lines == prev.lines[-len(kept.lines):]
    assert kept.cut_lines == len(prev.lines) - len(kept.lines) == kept.cut_rows
    assert kept.top_row == prev.top_row + kept.cut_rows
    for more in (0, 1, 7, 80, 500):
        cur = history(2000 + more)
        assert extract(Capture.from_json(kept.to_json()), cur) == extract(prev, cur)


def test_repeated_lines_resume_where_the_counters_say_and_nowhere_else() -> None:
    # The same line over and over: only the counters tell how many are new (the capture reads
    # 500 lines of history, so its top moves down with every line printed).
    def same(n: int) -> Capture:
        lines = ["ok"] * n + ["$ "]
        return Capture.from_tmux(
            lines=lines[-(500 + HEIGHT):], screen_lines=HEIGHT, rows=lines[-HEIGHT:],
            history_size=len(lines) - HEIGHT, history_lines=500, history_limit=100_000,
            cursor_x=2, cursor_y=HEIGHT - 1, height=HEIGHT, width=80, alternate=False,
        )

    prev = same(1000)
    for more in (0, 3, 40, 300):
        got = extract(tail(prev), same(1000 + more))
        assert got == extract(prev, same(1000 + more))
        assert len(got.lines) == more


def test_a_memo_written_with_the_whole_capture_still_resumes() -> None:
    prev = history(2000)
    old = {k: v for k, v in prev.to_json().items() if k not in ("cut_lines", "cut_rows")}
    memo = PaneMemo.loads(json.dumps({"capture": old, "recent": ["x"]}))
    assert memo.capture is not None
    loaded = Capture.from_json(memo.capture)
    assert loaded == prev
    assert extract(loaded, history(2003)).lines == extract(prev, history(2003)).lines


def test_the_masker_redacts_a_line_once_however_many_saves_keep_it() -> None:
    done: list[str] = []

    def counting(text: str) -> str:
        done.append(text)
        return redact(text)

    mask = Masker(counting)
    for n in (200, 201, 205, 205):
        mask.turn()
        kept = masked(tail(history(n, start=n - 199)), mask)
        assert all("ghp_" not in line for line in kept.lines + (kept.rows or ()))
    assert len(done) == len(set(done)) == RESUME_LINES + 1 + 5
