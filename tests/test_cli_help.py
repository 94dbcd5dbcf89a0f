"""Every `steward` command, and every sub-command, has --help that ends with an example."""

from __future__ import annotations

import re

import pytest

from supervisor.cli import main


def _help(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def _listed(text: str) -> list[str]:
    """The commands a help text lists (under COMMAND, or {a,b} for sub-commands)."""
    return re.findall(r"^    ([a-z][a-z-]*)  +\S", text, flags=re.M)


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    commands = _listed(top)
    assert {"up", "down", "status", "test-rule", "service", "silence"} <= set(commands)
    assert "reconcile" not in commands  # circusd's own, not the user's
    seen = 0
    for command in commands:
        text = _help(capsys, command)
        assert re.search(rf"^examples?:\n  .*\bsteward {command}\b", text, flags=re.M), (
            command, text)
        for sub in _listed(text):
            sub_text = _help(capsys, command, sub)
            assert re.search(rf"^examples?:\n  steward {command} {sub}", sub_text, flags=re.M), (
                command, sub, sub_text)
            seen += 1
    assert seen == 5  # silence add|list|rm, service install|uninstall
