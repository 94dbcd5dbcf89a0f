"""Helpers for the rules engine tests: the shipped packs' folder and a pack writer."""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["CONF", "TRACEBACK", "write_pack"]

CONF = Path(__file__).resolve().parent.parent / "conf" / "rules"


def write_pack(tmp_path: Path, name: str, body: str) -> Path:
    """A pack file named `name` in `tmp_path`, with `body` after its `pack = ...` line."""
    path = tmp_path / f"{name}.toml"
    path.write_text(f'pack = "{name}"\n' + textwrap.dedent(body), encoding="utf-8")
    return path


TRACEBACK = """
[[rule]]
name = "traceback"
severity = "error"
scope = "block"
patterns = ['^Traceback \\(most recent call last\\):']
join = ['^During handling of the above exception']
end = ['^(?P<exc>[A-Za-z_][\\w.]*)(?::|$)', '^\\S']
message = "{exc} in {rule}: {line}"
tags = ["crash"]

[[rule]]
name = "error"
severity = "warning"
patterns = ['^Error: (?P<what>.+)']
ignore = ['(?i)^error: 0\\b']
message = "{what}"
"""
