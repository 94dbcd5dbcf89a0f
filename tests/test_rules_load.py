"""Rule packs load strictly: every fault is a ConfigError that names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from _rules import CONF, TRACEBACK, write_pack

from escalation.core.errors import ConfigError
from escalation.rules import load_rules


def load_error(tmp_path: Path, body: str, name: str = "bad") -> ConfigError:
    path = write_pack(tmp_path, name, body)
    with pytest.raises(ConfigError) as info:
        load_rules([path])
    assert str(path) in str(info.value)
    return info.value


def test_malformed_toml_names_the_file_and_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[[rule]]\nname = "x"\nseverity = \n')
    assert err.key == "line 4"
    assert "not valid TOML" in str(err)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    err = load_error(tmp_path, 'colour = "red"\n')
    assert err.key == "colour"
    err = load_error(
        tmp_path, '[[rule]]\nname = "x"\nseverity = "error"\npatterns = ["x"]\nuhm = 1\n'
    )
    assert err.key == "rule[0].uhm"
    assert "bad.x" in str(err)


def test_bad_severity_names_the_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[[rule]]\nname = "x"\nseverity = "loud"\npatterns = ["x"]\n')
    assert err.key == "rule[0].severity"
    assert "info|warning|error|critical" in str(err)


@pytest.mark.parametrize("pattern", ["(?=a)b", "a(?!b)", "(?<=a)b", "(?<!a)b", "(a)\\\\1"])
def test_lookaround_and_backreferences_are_refused(tmp_path: Path, pattern: str) -> None:
    body = '[[rule]]\nname = "ok"\nseverity = "info"\npatterns = ["x"]\n'
    body += f'[[rule]]\nname = "look"\nseverity = "info"\npatterns = ["y", "{pattern}"]\n'
    err = load_error(tmp_path, body)
    assert err.key == "rule[1].patterns[1]"
    text = str(err)
    assert "bad.look" in text
    assert "patterns cannot be bounded: lookaround/backreference not supported" in text
    assert "re2: invalid" in text


def test_patterns_matching_the_empty_string_are_refused(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["a*"]\n')
    assert err.key == "rule[0].patterns[0]"
    assert "empty string" in str(err)


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ('[[rule]]\nname = "x"\nseverity = "info"\npatterns = 3\n', "rule[0].patterns", "list"),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = [3]\n',
            "rule[0].patterns[0]",
            "string",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = []\n',
            "rule[0].patterns",
            "at least",
        ),
        ('[[rule]]\nname = "X-1"\nseverity = "info"\npatterns = ["x"]\n', "rule[0].name", "name"),
        ('[[rule]]\nname = "x"\nseverity = "info"\n', "rule[0].patterns", "missing"),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\nscope = "page"\npatterns = ["x"]\n',
            "rule[0].scope",
            "line|block|prompt|busy",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["x"]\nend = ["y"]\n',
            "rule[0].end",
            "block",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["x"]\nrows = 3\n',
            "rule[0].rows",
            "prompt or busy",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\nscope = "block"\npatterns = ["x"]\n'
            "max_lines = 0\n",
            "rule[0].max_lines",
            "from 1 to 100000, not 0",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\nscope = "prompt"\npatterns = ["x"]\n'
            "rows = 5000\n",
            "rule[0].rows",
            "from 0 to 200, not 5000",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["(?P<a>x)"]\nmessage = "{b}"\n',
            "rule[0].message",
            "{b}",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["x"]\nmessage = "{line.upper}"\n',
            "rule[0].message",
            "plain name",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["x"]\n'
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["y"]\n',
            "rule[1].name",
            "duplicate",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["x"]\ntags = ["Bad Tag"]\n',
            "rule[0].tags[0]",
            "tag",
        ),
        (
            '[[rule]]\nname = "x"\nseverity = "info"\npatterns = ["(unclosed"]\n',
            "rule[0].patterns[0]",
            "not a valid re2 pattern",
        ),
    ],
)
def test_every_fault_names_its_key(tmp_path: Path, body: str, key: str, words: str) -> None:
    err = load_error(tmp_path, body)
    assert err.key == key
    assert words in str(err)


def test_pack_name_must_match_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('pack = "other"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="pack") as info:
        load_rules([path])
    assert info.value.file == str(path)


def test_missing_file_and_double_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules([tmp_path / "nope.toml"])
    path = write_pack(tmp_path, "demo", TRACEBACK)
    with pytest.raises(ConfigError, match="loaded twice"):
        load_rules([path, path])


def test_shipped_packs_load_with_generic_last() -> None:
    ruleset = load_rules([CONF / "generic.toml", CONF / "agents.toml"])
    assert ruleset.packs == ("agents", "generic")
    assert all(r.id == f"{r.pack}.{r.name}" for r in ruleset.rules)
    crash = {r.name for r in ruleset.rules if "crash" in r.tags}
    assert {"python_traceback", "panic", "segfault", "oom"} <= crash
    assert ruleset.only("agents").packs == ("agents",)
    assert ruleset.without("agents").packs == ("generic",)
