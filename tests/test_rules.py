"""The rules engine: blocks across feeds, order, ignore, templates, screens, test-rule."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from _rules import CONF, TRACEBACK, write_pack
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.core.events import Severity
from escalation.rules import MAX_LINE, Rule, RuleSet, Scope, load_rules
from escalation.rules import test_rule as run_test_rule


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    return load_rules([write_pack(tmp_path, "demo", TRACEBACK)])


# ---------------------------------------------------------------- matching lines and blocks

CHAIN = [
    "Traceback (most recent call last):",
    '  File "x.py", line 1, in <module>',
    "KeyError: 'x'",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "x.py", line 3, in <module>',
    "ValueError: boom",
]


def test_a_block_spans_feeds_and_a_chain_is_one_event(rules: RuleSet) -> None:
    m = rules.matcher()
    assert m.feed(CHAIN[:2]) == []
    assert m.feed(CHAIN[2:6]) == []
    assert m.feed(CHAIN[6:]) == []
    assert m.pending
    [hit] = m.flush()
    assert hit.rule.id == "demo.traceback"
    assert hit.line == "ValueError: boom"
    assert hit.lines == tuple(CHAIN)
    assert hit.message == "ValueError in demo.traceback: ValueError: boom"
    assert (hit.index, hit.seq) == (-1, 8)
    assert m.flush() == []


def test_an_ended_block_comes_out_at_the_next_line(rules: RuleSet) -> None:
    m = rules.matcher()
    m.feed(CHAIN[:3])
    hits = m.feed(["", "Error: disk full", "Traceback (most recent call last):"])
    assert [(h.rule.id, h.line, h.index) for h in hits] == [
        ("demo.traceback", "KeyError: 'x'", -1),
        ("demo.error", "Error: disk full", 1),
    ]
    assert m.pending


def test_a_block_without_join_comes_out_with_its_end_line(tmp_path: Path) -> None:
    body = """
    [[rule]]
    name = "section"
    severity = "info"
    scope = "block"
    patterns = ['^BEGIN']
    end = ['^END']
    max_lines = 4
    """
    m = load_rules([write_pack(tmp_path, "sec", body)]).matcher()
    [hit] = m.feed(["x", "BEGIN", "a", "END", "y"])
    assert (hit.line, hit.lines, hit.index, hit.seq) == ("END", ("BEGIN", "a", "END"), 3, 3)
    [long] = m.feed(["BEGIN", "1", "2", "3", "4"])
    assert long.line == "BEGIN"
    assert long.lines == ("BEGIN", "1", "2", "3")


def test_first_rule_wins_and_generic_goes_last(tmp_path: Path) -> None:
    generic = write_pack(
        tmp_path, "generic", '[[rule]]\nname = "any"\nseverity = "info"\npatterns = ["fail"]\n'
    )
    special = write_pack(
        tmp_path,
        "special",
        '[[rule]]\nname = "one"\nseverity = "error"\n'
        'patterns = ["^fail"]\n[[rule]]\nname = "two"\nseverity = "error"\n'
        'patterns = ["fail"]\n',
    )
    ruleset = load_rules([generic, special])
    assert [r.id for r in ruleset.rules] == ["special.one", "special.two", "generic.any"]
    hits = ruleset.matcher().feed(["fail now", "it did fail"])
    assert [h.rule.id for h in hits] == ["special.one", "special.two"]
    assert [h.rule.id for h in ruleset.match_line("fail now")] == [
        "special.one",
        "special.two",
        "generic.any",
    ]


def test_ignore_vetoes_a_rule_and_the_next_rule_may_fire(tmp_path: Path) -> None:
    body = """
    [[rule]]
    name = "strict"
    severity = "error"
    patterns = ['(?i)error']
    ignore = ['0 errors']
    [[rule]]
    name = "loose"
    severity = "info"
    patterns = ['errors']
    """
    ruleset = load_rules([write_pack(tmp_path, "ig", body)])
    hits = ruleset.matcher().feed(["ERROR here", "0 errors", "fine"])
    assert [(h.rule.id, h.line) for h in hits] == [
        ("ig.strict", "ERROR here"),
        ("ig.loose", "0 errors"),
    ]
    assert [r.id for r in ruleset.ignored_by("0 errors")] == ["ig.strict"]


def test_templates_use_groups_line_and_rule_without_control_characters(rules: RuleSet) -> None:
    [hit] = rules.matcher().feed(["Error: \x1b[31mred\x07 alert"])
    assert hit.groups == {"what": "\x1b[31mred\x07 alert"}
    assert hit.message == "[31mred alert"
    assert hit.lines == (hit.line,)
    assert rules.matcher().feed(["error: 0 problems"]) == []
    rule = Rule(
        id="t.x",
        pack="t",
        severity=Severity.INFO,
        scope=Scope.LINE,
        patterns=["^(?P<a>a)|(?P<b>b)"],
        message="[{a}|{b}] {rule} {line}",
    )
    [hit] = RuleSet([rule]).matcher().feed(["b"])
    assert hit.message == "[|b] t.x b"


def test_pathological_input_finishes_fast() -> None:
    rule = Rule(
        id="p.evil",
        pack="p",
        severity=Severity.INFO,
        scope=Scope.LINE,
        patterns=["(a+)+b", "(a|aa)*c", "^(a*)*$x"],
    )
    ruleset = RuleSet([rule])
    started = time.monotonic()
    hits = ruleset.matcher().feed(["a" * 4096] * 50 + ["a" * 100_000 + "b"])
    assert time.monotonic() - started < 5
    assert hits == []  # the 'b' is beyond the first 4096 characters
    [hit] = ruleset.matcher().feed(["a" * 4000 + "b"])
    assert len(hit.line) == 4001
    [cut] = (
        RuleSet(
            [Rule(id="p.a", pack="p", severity=Severity.INFO, scope=Scope.LINE, patterns=["a"])]
        )
        .matcher()
        .feed(["a" * (MAX_LINE * 3)])
    )
    assert len(cut.line) == MAX_LINE


# ---------------------------------------------------------------- screens


def test_prompt_reads_the_last_non_blank_row_and_the_partial_line() -> None:
    ruleset = load_rules([CONF / "agents.toml", CONF / "generic.toml"])
    assert ruleset.prompt(["Password:", "ok", "", "  "]) is None
    hit = ruleset.prompt(["make install", "Continue? [Y/n]", "", ""])
    assert hit is not None
    assert (hit.rule.id, hit.line, hit.index) == ("generic.confirm", "Continue? [Y/n]", -1)
    partial = ruleset.prompt(["$ sudo make install"], partial="[sudo] password for alice: ")
    assert partial is not None and partial.rule.id == "generic.password"


def test_agent_prompts_are_read_inside_their_frame_a_few_rows_up() -> None:
    ruleset = load_rules([CONF / "agents.toml", CONF / "generic.toml"])
    screen = [
        "╭────────────────────────────────────────────╮",
        "│ Bash command                               │",
        "│   rm -rf build                             │",
        "│ Do you want to proceed?                    │",
        "│ ❯ 1. Yes                                   │",
        "│   2. No, and tell Claude what to do (esc)  │",
        "╰────────────────────────────────────────────╯",
        "",
    ]
    hit = ruleset.prompt(screen)
    assert hit is not None
    assert (hit.rule.id, hit.line) == ("agents.permission", "Do you want to proceed?")
    assert ruleset.busy(screen) is None
    busy = ruleset.busy(
        [*screen[:1], "✻ Thinking… (3s · esc to interrupt)", "", "> ", "", "? help"]
    )
    assert busy is not None and busy.rule.id == "agents.busy"
    far = ["✻ Thinking… (3s · esc to interrupt)", "1", "2", "3", "4", "5"]
    assert ruleset.busy(far) is None


# ---------------------------------------------------------------- test-rule


def test_test_rule_reports_like_fail2ban_regex(rules: RuleSet) -> None:
    lines = ["hello", *CHAIN, "Error: disk full", "Error: 0 worries", "bye"]
    report = run_test_rule(rules, lines)
    assert (report.total_lines, report.matched_lines, report.ignored_lines) == (13, 2, 1)
    assert report.missed_lines == 10
    assert [tuple(c) for c in report.per_rule] == [
        ("demo.traceback", 1, (10,)),
        ("demo.error", 1, (11,)),
    ]
    assert [tuple(c) for c in report.missed] == [("demo.error", 1, (12,))]
    text = report.render()
    assert text.startswith("Lines: 13 lines, 1 ignored, 2 matched, 10 missed")
    assert "  demo.traceback: 1 (lines 10)" in text
    assert "  demo.error: 1 (lines 11)" in text
    data = json.loads(json.dumps(report.to_json()))
    assert data["matched_lines"] == 2
    assert data["per_rule"][0] == {"rule": "demo.traceback", "count": 1, "line_numbers": [10]}


# ---------------------------------------------------------------- chunking does not matter

SNIPPETS = [
    *CHAIN,
    "Error: disk full",
    "error: 0 nothing",
    "plain text",
    "",
    "    indented",
    "Traceback (most recent call last):",
]


DEMO = RuleSet(
    [
        Rule(
            id="demo.traceback",
            pack="demo",
            severity=Severity.ERROR,
            scope=Scope.BLOCK,
            patterns=["^Traceback \\(most recent call last\\):"],
            join=["^During handling of the above exception"],
            end=["^(?P<exc>[A-Za-z_][\\w.]*)(?::|$)", "^\\S"],
            message="{exc}: {line}",
        ),
        Rule(
            id="demo.error",
            pack="demo",
            severity=Severity.WARNING,
            scope=Scope.LINE,
            patterns=["^Error: (?P<what>.+)"],
            ignore=["(?i)^error: 0\\b"],
        ),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.sampled_from(SNIPPETS), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_any_chunking_gives_the_same_hits(lines: list[str], cuts: list[int]) -> None:
    whole = DEMO.matcher()
    expected = [(h.key, h.seq) for h in [*whole.feed(lines), *whole.flush()]]
    chunked = DEMO.matcher()
    got = []
    bounds = sorted({0, len(lines), *(c for c in cuts if c <= len(lines))})
    for start, stop in itertools.pairwise(bounds):
        for hit in chunked.feed(lines[start:stop]):
            assert hit.index == (hit.seq - start if hit.seq >= start else -1)
            got.append((hit.key, hit.seq))
    got += [(h.key, h.seq) for h in chunked.flush()]
    assert got == expected
    assert all(lines[seq] == key[1] for key, seq in got)


@pytest.mark.parametrize(
    ("raw", "tidy"),
    [
        ("panic: panic: runtime error: index out of range",
         "panic: runtime error: index out of range"),
        ("usage limit:  ⎿  Claude usage limit reached", "usage limit: Claude usage limit reached"),
        ("tests failed: " + "=" * 200 + " 2 failed, 41 passed " + "=" * 30,
         "tests failed: 2 failed, 41 passed"),
        ("│ ✻ Thinking… │", "Thinking…"),
        ("a-b--c ==x", "a-b--c ==x"),  # short runs are words, not rulers
    ],
)
def test_messages_read_as_words(raw: str, tidy: str) -> None:
    from escalation.core.sanitize import tidy_message

    assert tidy_message(raw) == tidy
