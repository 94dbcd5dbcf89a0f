"""Executive summaries: read from realistic sessions, rendered exactly, and written by a command."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistants.summary import (
    PaneView,
    Run,
    SessionView,
    Summary,
    summarize,
    summarize_with_command,
)
from escalation.core.events import Event, Kind, Severity
from escalation.core.sanitize import sanitize

NOW = 1_700_000_000.0  # 22:13 UTC


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def event(text: str, severity: Severity, ts: float, target: str = "backend:0.0") -> Event:
    return Event(
        ts=ts,
        session="backend",
        window="0",
        pane="%1",
        target=target,
        assistant="session:backend",
        rule="generic.error",
        severity=severity,
        kind=Kind.PATTERN,
        text=text,
        fingerprint=f"fp-{text}",
    )


PYTEST = PaneView(
    target="backend:0.1",
    command="pytest",
    state="active",
    state_since=NOW - 40,
    recent=(
        "me@box:~/backend$ git pull",
        "Already up to date.",
        "me@box:~/backend$ pytest tests/ -q",
        "tests/test_api.py ........F...........                  [ 30%]",
        "tests/test_store.py ..........                          [ 45%]",
    ),
)

AGENT = PaneView(
    target="backend:1.0",
    command="claude",
    state="active",
    state_since=NOW - 300,
    recent=(
        "> move the event store from JSON files to sqlite",
        "● Reading escalation/store.py",
        "● I'll use SQLite in WAL mode instead of JSON files, so readers never block.",
        "● Wrote escalation/store.py (212 lines)",
        "● Next, I will add tests for concurrent readers.",
        "  esc to interrupt",
    ),
)

APT = PaneView(
    target="backend:2.0",
    command="apt",
    state="waiting_input",
    state_since=NOW - 90,
    recent=("The following packages will be upgraded:", "  libssl3 openssl"),
    prompt="Do you want to continue? [Y/n]",
)

IDLE_SHELL = PaneView(
    target="backend:3.0",
    command="bash",
    state="idle",
    state_since=NOW - 3600,
    recent=("me@box:~$ ls", "notes.txt"),
)


def view(
    *panes: PaneView, open_events: tuple[Event, ...] = (), runs: tuple[Run, ...] = ()
) -> SessionView:
    return SessionView(session="backend", now=NOW, panes=panes, open_events=open_events,
                       runs=runs)


def run(ago: float, rule: str, text: str, target: str = "backend:0.1") -> Run:
    return Run(ts=NOW - ago, target=target, rule=rule, text=text)


# --- the heuristic summary ---------------------------------------------------------------


def test_a_pytest_run_is_the_focus_and_screen_figures_are_not_progress() -> None:
    s = summarize(view(PYTEST))
    assert s.focus == ("backend:0.1 pytest (active 1 min): pytest tests/ -q",)
    assert s.progress == ()  # "45%" on the screen is not a verdict
    assert (s.decisions, s.blockers, s.next_steps) == ((), (), ())
    assert (s.session, s.ts, s.source) == ("backend", NOW, "heuristic")


def test_an_agent_session_states_decisions_and_next_steps() -> None:
    s = summarize(view(AGENT))
    assert s.focus == (
        "backend:1.0 claude (active 5 min): move the event store from JSON files to sqlite",
    )
    assert s.decisions == (
        "● I'll use SQLite in WAL mode instead of JSON files, so readers never block.",
    )
    assert s.next_steps == ("● Next, I will add tests for concurrent readers.",)
    assert s.progress == ()


def test_a_waiting_prompt_is_a_blocker() -> None:
    s = summarize(view(APT))
    assert s.blockers == (
        "backend:2.0: waiting for input: Do you want to continue? [Y/n] (2 min)",)
    assert s.focus == ("backend:2.0 apt (waiting for input 2 min)",)


def test_open_events_are_blockers_worst_and_latest_first() -> None:
    events = (
        event("disk 91% full", Severity.WARNING, NOW - 50),
        event("Traceback: KeyError 'user'", Severity.ERROR, NOW - 200),
        event("connection refused", Severity.ERROR, NOW - 20),
        event("deploy started", Severity.INFO, NOW - 10),
    )
    s = summarize(view(APT, open_events=events))
    assert s.blockers == (
        "backend:0.0: connection refused",
        "backend:0.0: Traceback: KeyError 'user'",
        "backend:0.0: disk 91% full",
    )
    calmer = summarize(view(APT, open_events=events[:1]))
    assert calmer.blockers == (
        "backend:0.0: disk 91% full",
        "backend:2.0: waiting for input: Do you want to continue? [Y/n] (2 min)",
    )


def test_a_prompt_already_escalated_is_not_listed_twice() -> None:
    ev = event(
        "waiting for input: Do you want to continue? [Y/n]", Severity.WARNING, NOW, "backend:2.0"
    )
    s = summarize(view(APT, open_events=(ev,)))
    assert s.blockers == ("backend:2.0: waiting for input: Do you want to continue? [Y/n]",)


def test_panes_at_work_come_before_idle_ones() -> None:
    s = summarize(view(IDLE_SHELL, AGENT, PYTEST, APT))
    assert [f.split()[0] for f in s.focus] == ["backend:0.1", "backend:2.0", "backend:1.0"]


def test_progress_is_the_trend_of_runs_red_to_green_and_deploys() -> None:
    runs = (
        run(2400, "qa.run_failed", "pytest: 3 failed, 38 passed"),
        run(1200, "qa.run_failed", "pytest: 1 failed, 40 passed"),
        run(600, "qa.run_passed", "pytest: 41 passed"),
        run(900, "deploy.helm_failed", "helm upgrade failed", target="backend:2.0"),
        run(300, "deploy.rollout_waiting", "rollout waiting", target="backend:2.0"),
    )
    kept = tuple(r for r in runs if r.verdict(Severity.ERROR if "failed" in r.rule
                                              else Severity.INFO))
    assert len(kept) == 4  # a rollout under way is not a verdict
    s = summarize(view(PYTEST, runs=kept))
    when = time.strftime("%H:%M", time.localtime(NOW - 600))
    assert s.progress[0] == f"backend:0.1 red -> green at {when} (pytest: 41 passed)"
    assert s.progress[1].startswith("backend:2.0 red (helm upgrade failed, red since")
    assert "3 runs in 40 min" in s.focus[0]
    green = summarize(view(PYTEST, runs=kept[2:3]))
    assert green.progress == ("backend:0.1 green (pytest: 41 passed)",)


def test_stalls_and_long_waits_are_blockers() -> None:
    stalled = attrs.evolve(PYTEST, state="stalled", state_since=NOW - 900)
    waiting = attrs.evolve(APT, state_since=NOW - 1200)
    s = summarize(view(stalled, waiting))
    assert "backend:0.1: pytest stalled for 15 min" in s.blockers
    assert ("backend:2.0: waiting for input: Do you want to continue? [Y/n] (20 min)"
            in s.blockers)


def test_sections_hold_three_items_most_recent_first_and_short() -> None:
    recent = tuple(f"We decided on option {i}: " + "x" * 200 for i in range(10))
    recent += ("TO" + "DO: wire the cache", "Next: run the migration", "then I'll ship it")
    pane = PaneView(target="a:0.0", command="x", state="active", state_since=NOW, recent=recent)
    s = summarize(view(pane))
    assert [d[:24] for d in s.decisions] == [
        "We decided on option 9: ",
        "We decided on option 8: ",
        "We decided on option 7: ",
    ]
    assert all(len(d) <= 120 and d.endswith("…") for d in s.decisions)
    assert s.next_steps == (
        "then I'll ship it",
        "Next: run the migration",
        "TO" + "DO: wire the cache",
    )


def test_commands_typed_at_a_prompt_are_not_statements() -> None:
    recent = ("me@box:~$ grep -r 'Next:' docs/", "me@box:~$ git commit -m 'switching to uv'")
    pane = PaneView(target="a:0.0", command="bash", state="idle", state_since=NOW, recent=recent)
    s = summarize(view(pane))
    assert (s.decisions, s.next_steps) == ((), ())
    assert s.focus == ("a:0.0 bash (idle): git commit -m 'switching to uv'",)


def test_render_is_exactly_the_format(utc: None) -> None:
    s = summarize(view(PYTEST, AGENT, APT))
    assert s.render() == "\n".join(
        [
            "[22:13] Session: backend - Executive Summary",
            "- Current Focus: backend:0.1 pytest (active 1 min): pytest tests/ -q; "
            "backend:2.0 apt (waiting for input 2 min); "
            "backend:1.0 claude (active 5 min): move the event store from JSON files to sqlite",
            "- Key Decisions: ● I'll use SQLite in WAL mode instead of JSON files, "
            "so readers never block.",
            "- Blockers: backend:2.0: waiting for input: Do you want to continue? [Y/n] (2 min)",
            "- Next Steps: ● Next, I will add tests for concurrent readers.",
        ]
    )


def test_render_of_a_quiet_session_leaves_empty_sections_out(utc: None) -> None:
    assert summarize(view()).render() == "\n".join(
        [
            "[22:13] Session: backend - Executive Summary",
            "- Current Focus: nothing seen yet",
        ]
    )
    assert summarize(view()).headline() == "[22:13] summary backend: nothing seen yet"


def test_to_json() -> None:
    s = summarize(view(APT))
    assert s.to_json() == {
        "session": "backend",
        "ts": NOW,
        "focus": ["backend:2.0 apt (waiting for input 2 min)"],
        "decisions": [],
        "progress": [],
        "blockers": ["backend:2.0: waiting for input: Do you want to continue? [Y/n] (2 min)"],
        "next_steps": [],
        "source": "heuristic",
    }


_line = st.one_of(
    st.text(max_size=150),
    st.sampled_from(
        [
            "we chose \x1b[31mred\x1b[0m",
            "Next: \x07beep",
            "[ 12%] building",
            "$ make all",
            "I'll use the cache",
            "3/9 done",
        ]
    ),
)


def is_read_from(item: str, line: str) -> bool:
    """Whether the item's characters (spaces aside) appear in order in the line."""
    rest = iter(line)
    return all(c in rest for c in item.removesuffix("…").replace(" ", ""))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["active", "idle", "stalled"]), st.lists(_line)), max_size=4)
)
def test_nothing_is_invented_and_nothing_escapes(panes: list[tuple[str, list[str]]]) -> None:
    views = tuple(
        PaneView(
            target=f"s:{i}.0",
            command="cmd",
            state=state,
            state_since=NOW - i,
            recent=tuple(sanitize(x) for x in r),  # as the capture hands them over
        )
        for i, (state, r) in enumerate(panes)
    )
    s = summarize(view(*views))
    lines = [line for p in views for line in p.recent]
    for item in s.decisions + s.next_steps:
        assert any(is_read_from(item, line) for line in lines), item
    for section in (s.focus, s.decisions, s.progress, s.blockers, s.next_steps):
        assert len(section) <= 3 and all(0 < len(i) <= 120 for i in section)
    assert all(c == "\n" or (c >= " " and not 0x7F <= ord(c) <= 0x9F) for c in s.render())


# --- the command path --------------------------------------------------------------------


def python(script: str) -> str:
    return shlex.join([sys.executable, "-c", script])


ECHO_FORMAT = """
import json, sys
view = json.load(sys.stdin)
p = view["panes"][0]
pane = f"Pane {p['target']} ({p['command']}, {p['state']}):"
print("[22:13] Session: backend - Executive Summary")
print("- Current Focus: " + pane + "; the release")
print("- Key Decisions: none seen")
print("- Progress: 45% of tests")
print("- Blockers: None identified")
print("- Next Steps: ship it\\x1b]0;owned\\x07")
"""


def test_a_command_that_follows_the_format() -> None:
    s, error = summarize_with_command(view(PYTEST), python(ECHO_FORMAT), timeout=10)
    assert error is None
    assert s.source == "command"
    assert s.focus == ("Pane backend:0.1 (pytest, active):", "the release")
    assert (s.decisions, s.progress, s.blockers) == ((), ("45% of tests",), ())
    assert s.next_steps == ("ship it⟨ESC⟩",)


def test_a_command_that_writes_prose_is_the_focus() -> None:
    script = "import sys; sys.stdin.read(); print('All quiet.\\n\\nThe build is green.')"
    s, error = summarize_with_command(view(PYTEST), python(script), timeout=10)
    assert error is None
    assert (s.source, s.focus, s.progress) == ("command", ("All quiet.", "The build is green."), ())


def test_the_command_reads_the_session_text() -> None:
    script = ("import json, sys; v = json.load(sys.stdin); e = v['open_events'][0];"
              " print('- Progress: ' + e['severity'] + '; ' + e['target'] + ': ' + e['text'])")
    ev = event("disk full", Severity.ERROR, NOW)
    s, error = summarize_with_command(view(PYTEST, open_events=(ev,)), python(script), timeout=10)
    assert error is None
    assert s.progress == ("error", "backend:0.0: disk full")


def test_a_command_past_its_timeout_falls_back() -> None:
    script = "import time; time.sleep(60)"
    started = time.monotonic()
    s, error = summarize_with_command(view(PYTEST), python(script), timeout=0.5)
    assert time.monotonic() - started < 10
    assert s == summarize(view(PYTEST))
    assert error == "summary command timed out after 0.5s"


def test_a_command_that_fails_falls_back() -> None:
    script = "import sys; print('half a summary'); sys.exit('model unavailable')"
    s, error = summarize_with_command(view(AGENT), python(script), timeout=10)
    assert s == summarize(view(AGENT))
    assert error == "summary command exited with status 1: model unavailable"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (python("print('   ')"), "summary command printed nothing"),
        ("", "summary command is empty"),
        ("summarise 'unbalanced", "summary command is malformed: No closing quotation"),
        ("/nonexistent/summariser", "summary command cannot start: /nonexistent/summariser: "),
    ],
)
def test_commands_that_give_nothing_fall_back(command: str, message: str) -> None:
    s, error = summarize_with_command(view(APT), command, timeout=10)
    assert s == summarize(view(APT))
    assert error is not None and error.startswith(message)


def test_summary_values_are_frozen() -> None:
    s = summarize(view(APT))
    with pytest.raises(AttributeError):
        s.focus = ()  # type: ignore[misc]  # the point is that it cannot be assigned
    assert isinstance(s, Summary)


def test_a_green_run_replaces_the_red_one_among_blockers() -> None:
    red = attrs.evolve(event("pytest: 1 failed, 40 passed", Severity.ERROR, NOW - 600,
                             "backend:0.1"), rule="qa.run_failed")
    runs = (run(600, "qa.run_failed", "pytest: 1 failed, 40 passed"),
            run(60, "qa.run_passed", "pytest: 41 passed"))
    assert summarize(view(PYTEST, open_events=(red,), runs=runs)).blockers == ()
    assert summarize(view(PYTEST, open_events=(red,), runs=runs[:1])).blockers == (
        "backend:0.1: pytest: 1 failed, 40 passed",)
