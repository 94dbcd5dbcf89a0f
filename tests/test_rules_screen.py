"""Screen rules read regions (bottom rows, below the last rule line, inside the input box) by
priority, and packs carry a version; the loader refuses these keys where they mean nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from _rules import write_pack

from escalation.core.errors import ConfigError
from escalation.rules import load_rules

# The bottom of a Claude Code screen (tests/corpus/agents): a finished reply, the input box.
CLAUDE_IDLE = [
    "⏺ Done: the parser now accepts empty lists.",
    "",
    "╭──────────────────────────────────────────────────────────╮",
    "│ >                                                        │",
    "╰──────────────────────────────────────────────────────────╯",
    "  ? for shortcuts",
]


def _pack(tmp_path: Path, body: str) -> Path:
    return write_pack(tmp_path, "screen", 'version = "2026.12.01"\n' + body)


def test_a_pack_version_is_a_date_and_reaches_the_rule_set(tmp_path: Path) -> None:
    assert load_rules([_pack(tmp_path, "")]).versions == {}  # no rules, nothing to version
    path = write_pack(tmp_path, "screen", 'version = "2026.12.01"\n[[rule]]\nname = "x"\n'
                      'severity = "info"\npatterns = ["x"]\n')
    assert load_rules([path]).versions == {"screen": "2026.12.01"}
    bad = write_pack(tmp_path, "screen", 'version = "v1"\n')
    with pytest.raises(ConfigError) as info:
        load_rules([bad])
    assert info.value.key == "version"


def test_box_region_reads_only_the_input_box(tmp_path: Path) -> None:
    path = _pack(tmp_path, '''
[[rule]]
name = "empty_box"
severity = "info"
scope = "prompt"
region = "box"
patterns = ['^>$']

[[rule]]
name = "reply_in_box"
severity = "warning"
scope = "prompt"
region = "box"
patterns = ['^⏺ Done']
''')
    rules = load_rules([path])
    hit = rules.prompt(CLAUDE_IDLE)
    assert hit is not None and hit.rule.id == "screen.empty_box"
    # A screen without a box is read at the bottom: the reply is the last row there.
    fallback = rules.prompt(CLAUDE_IDLE[:1])
    assert fallback is not None and fallback.rule.id == "screen.reply_in_box"


def test_after_rule_region_reads_below_the_last_horizontal_rule(tmp_path: Path) -> None:
    screen = [
        "Do you want to proceed?",  # an old question, above the rule: not read
        "────────────────────────────────────────",
        "  Esc to cancel · Tab to amend",
    ]
    path = _pack(tmp_path, '''
[[rule]]
name = "question"
severity = "warning"
scope = "prompt"
region = "after_rule"
patterns = ['^Do you want to proceed\\?$']
''')
    rules = load_rules([path])
    assert rules.prompt(screen) is None
    assert rules.prompt([*screen[:2], "Do you want to proceed?", "❯ 1. Yes"]) is not None


def test_priority_wins_over_pack_order(tmp_path: Path) -> None:
    screen = ["✻ Thinking… (12s · esc to interrupt)", "Do you want to proceed?"]
    path = _pack(tmp_path, '''
[[rule]]
name = "low"
severity = "warning"
scope = "busy"
patterns = ['Do you want']

[[rule]]
name = "spinner"
severity = "info"
scope = "busy"
priority = 10
patterns = ['esc to interrupt']
''')
    hit = load_rules([path]).busy(screen)
    assert hit is not None and hit.rule.id == "screen.spinner"


@pytest.mark.parametrize("key", ["region = \"box\"", "priority = 3", "rows = 4"])
def test_screen_keys_belong_to_screen_rules(tmp_path: Path, key: str) -> None:
    path = write_pack(tmp_path, "screen",
                      f'[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["x"]\n{key}\n')
    with pytest.raises(ConfigError) as info:
        load_rules([path])
    assert info.value.key == f"rule[0].{key.split()[0]}"


def test_unknown_region_and_out_of_range_priority_are_refused(tmp_path: Path) -> None:
    for key, value in (("region", '"top"'), ("priority", "1000")):
        path = write_pack(tmp_path, "screen", f'[[rule]]\nname = "x"\nseverity = "info"\n'
                          f'scope = "prompt"\npatterns = ["x"]\n{key} = {value}\n')
        with pytest.raises(ConfigError) as info:
            load_rules([path])
        assert info.value.key == f"rule[0].{key}"
