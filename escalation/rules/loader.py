"""Reads one rule pack file strictly: every fault is a ConfigError naming the file and the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import attrs

from ..core.errors import ConfigError
from ..core.events import Severity
from .model import Region, Rule, Scope, compile_pattern, template_fields

__all__ = ["Pack", "read_pack"]

_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_TAG = re.compile(r"[a-z][a-z0-9_-]*\Z")
_TOP_KEYS = frozenset({"pack", "description", "version", "rule"})
_VERSION = re.compile(r"^\d{4}\.\d{2}\.\d{2}$")
_RULE_KEYS = frozenset(
    {
        "name",
        "severity",
        "scope",
        "patterns",
        "ignore",
        "message",
        "tags",
        "end",
        "max_lines",
        "join",
        "rows",
        "region",
        "priority",
    }
)
_BUILTIN_FIELDS = frozenset({"line", "rule"})


@attrs.frozen(kw_only=True)
class Pack:
    """One pack file: its name, description and rules in file order."""

    name: str
    description: str
    file: str
    rules: tuple[Rule, ...]
    version: str = ""


def read_pack(path: Path) -> Pack:
    """The pack in `path`, validated; ConfigError(reason, file=, key=) on any fault."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read rule pack: {exc.strerror or exc}", file=file) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"at line (\d+)", str(exc))
        key = f"line {where.group(1)}" if where else None
        raise ConfigError(f"not valid TOML: {exc}", file=file, key=key) from None
    return _pack(data, path)


def _pack(data: dict[str, Any], path: Path) -> Pack:
    file = str(path)
    for key in sorted(set(data) - _TOP_KEYS):
        known = ", ".join(sorted(_TOP_KEYS))
        raise ConfigError(f"unknown key (a pack has {known})", file=file, key=key)
    name = data.get("pack")
    if not isinstance(name, str):
        raise ConfigError("missing or not a string: the pack's name", file=file, key="pack")
    if name != path.stem:
        raise ConfigError(
            f"the pack is named {name!r} but the file is {path.name!r}: they must agree",
            file=file,
            key="pack",
        )
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a name (a-z, 0-9, _)", file=file, key="pack")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError("must be a string", file=file, key="description")
    version = data.get("version", "")
    if not isinstance(version, str) or (version and not _VERSION.match(version)):
        raise ConfigError(
            f"must be a date string \"YYYY.MM.DD\", not {version!r}", file=file, key="version"
        )
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise ConfigError("must be [[rule]] tables", file=file, key="rule")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        rule = _rule(table, pack=name, file=file, at=f"rule[{i}]", version=version)
        if rule.name in seen:
            raise ConfigError(
                f"duplicate rule name {rule.name!r} (also rule[{seen[rule.name]}])",
                file=file,
                key=f"rule[{i}].name",
            )
        seen[rule.name] = i
        rules.append(rule)
    return Pack(
        name=name, description=description, file=file, rules=tuple(rules), version=version
    )


def _strings(value: Any, *, file: str, key: str, rid: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"rule {rid}: must be a list of strings", file=file, key=key)
    for j, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(
                f"rule {rid}: must be a string, not {type(item).__name__}",
                file=file,
                key=f"{key}[{j}]",
            )
    return tuple(value)


def _int(value: Any, *, low: int, high: int, file: str, key: str, rid: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"rule {rid}: must be an integer", file=file, key=key)
    if not low <= value <= high:
        raise ConfigError(
            f"rule {rid}: must be from {low} to {high}, not {value}", file=file, key=key
        )
    return value


def _rule(table: Any, *, pack: str, file: str, at: str, version: str) -> Rule:
    if not isinstance(table, dict):
        raise ConfigError("must be a [[rule]] table", file=file, key=at)
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            "missing, or not a name (a-z, 0-9, _; starting with a letter)",
            file=file,
            key=f"{at}.name",
        )
    rid = f"{pack}.{name}"
    for key in sorted(set(table) - _RULE_KEYS):
        known = ", ".join(sorted(_RULE_KEYS))
        raise ConfigError(
            f"rule {rid}: unknown key (a rule has {known})", file=file, key=f"{at}.{key}"
        )
    try:
        severity = Severity.parse(table["severity"]) if "severity" in table else None
    except (ValueError, AttributeError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "must be a string"
        raise ConfigError(f"rule {rid}: {reason}", file=file, key=f"{at}.severity") from None
    if severity is None:
        raise ConfigError(f"rule {rid}: missing", file=file, key=f"{at}.severity")
    scope_text = table.get("scope", "line")
    try:
        scope = Scope(scope_text)
    except ValueError:
        choices = "|".join(s.value for s in Scope)
        raise ConfigError(
            f"rule {rid}: scope must be one of {choices}, not {scope_text!r}",
            file=file,
            key=f"{at}.scope",
        ) from None
    if "patterns" not in table:
        raise ConfigError(f"rule {rid}: missing", file=file, key=f"{at}.patterns")
    lists = {
        k: _strings(table.get(k, []), file=file, key=f"{at}.{k}", rid=rid)
        for k in ("patterns", "ignore", "tags", "end", "join")
    }
    if not lists["patterns"]:
        raise ConfigError(
            f"rule {rid}: needs at least one pattern", file=file, key=f"{at}.patterns"
        )
    groups: set[str] = set()
    for k in ("patterns", "ignore", "end", "join"):
        for j, text in enumerate(lists[k]):
            compiled = compile_pattern(text, file=file, key=f"{at}.{k}[{j}]", rule=rid)
            if k != "ignore":
                groups |= compiled.groups
    for j, tag in enumerate(lists["tags"]):
        if not _TAG.match(tag):
            raise ConfigError(f"rule {rid}: {tag!r} is not a tag", file=file, key=f"{at}.tags[{j}]")
    for k in ("end", "max_lines", "join"):
        if k in table and scope is not Scope.BLOCK:
            raise ConfigError(
                f'rule {rid}: only a scope = "block" rule has {k}', file=file, key=f"{at}.{k}"
            )
    for k in ("rows", "region", "priority"):
        if k in table and scope not in (Scope.PROMPT, Scope.BUSY):
            raise ConfigError(
                f"rule {rid}: only a prompt or busy rule has {k}", file=file, key=f"{at}.{k}"
            )
    region_text = table.get("region", "bottom")
    try:
        region = Region(region_text)
    except ValueError:
        choices = "|".join(r.value for r in Region)
        raise ConfigError(
            f"rule {rid}: region must be one of {choices}, not {region_text!r}",
            file=file,
            key=f"{at}.region",
        ) from None
    def number(k: str, default: int, low: int, high: int) -> int:
        return _int(table.get(k, default), low=low, high=high, file=file, key=f"{at}.{k}", rid=rid)

    priority = number("priority", 0, -100, 100)
    max_lines = number("max_lines", 100, 1, 100_000)
    rows = number("rows", 0, 0, 200)
    message = table.get("message", "{line}")
    if not isinstance(message, str):
        raise ConfigError(f"rule {rid}: must be a string", file=file, key=f"{at}.message")
    try:
        fields = template_fields(message)
    except ValueError as exc:
        raise ConfigError(f"rule {rid}: {exc}", file=file, key=f"{at}.message") from None
    unknown = fields - groups - _BUILTIN_FIELDS
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ConfigError(
            f"rule {rid}: the template uses {{{names}}}, which is neither line, rule nor a "
            "named group of the patterns",
            file=file,
            key=f"{at}.message",
        )
    return Rule(
        id=rid,
        pack=pack,
        severity=severity,
        scope=scope,
        patterns=lists["patterns"],
        ignore=lists["ignore"],
        message=message,
        tags=lists["tags"],
        end=lists["end"],
        max_lines=max_lines,
        join=lists["join"],
        rows=rows,
        region=region,
        priority=priority,
        pack_version=version,
    )
