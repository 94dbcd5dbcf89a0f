"""The values of the rules engine (Scope, Rule, Hit) and its one adapter to the re2 library."""

from __future__ import annotations

import enum
import string
import types
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import re2

from ..core.errors import ConfigError
from ..core.events import Severity

__all__ = [
    "MAX_LINE",
    "Hit",
    "Pattern",
    "PatternSet",
    "Rule",
    "Scope",
    "clean_text",
    "compile_pattern",
    "template_fields",
]

MAX_LINE = 4096
"""Lines longer than this are cut before matching, so the work per line is bounded."""

UNBOUNDED = (
    "patterns cannot be bounded: lookaround/backreference not supported by the linear-time engine"
)

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
# A PatternSet's program budget grows in these steps; its automaton gets _SET_AUTOMATON more.
_SET_STEP = 256 << 10
_SET_MAX = 64 << 20
_SET_AUTOMATON = 1 << 20

_CONTROL: dict[int, str | None] = dict.fromkeys([*range(32), 127, *range(128, 160)])
_CONTROL[9] = " "


def clean_text(text: str) -> str:
    """`text` without ESC or any other control character (tabs become spaces)."""
    return text.translate(_CONTROL)



class Scope(enum.StrEnum):
    """What a rule is matched against."""

    LINE = "line"  # each new settled line
    BLOCK = "block"  # a run of lines from a start line to an end line
    PROMPT = "prompt"  # the last non-blank row of the screen: the pane waits for input
    BUSY = "busy"  # the last few non-blank rows: the program is working


class Region(enum.StrEnum):
    """Where on the screen a PROMPT or BUSY rule reads (as the best agent monitors do)."""

    BOTTOM = "bottom"  # the last `rows` non-blank rows
    AFTER_RULE = "after_rule"  # the rows below the last horizontal rule (─── or ═══)
    BOX = "box"  # the rows inside the last box drawn on screen (╭─╮ … ╰─╯), an input box


def _tuple_of_str(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Rule:
    """One rule of a pack: where it looks, what it matches, and how its event reads."""

    id: str = attrs.field()
    pack: str
    severity: Severity
    scope: Scope
    patterns: tuple[str, ...] = attrs.field(converter=_tuple_of_str)
    ignore: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    message: str = "{line}"
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    end: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    max_lines: int = 100
    join: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)  # BLOCK only
    rows: int = 0  # PROMPT/BUSY: how many of the last non-blank rows to read; 0: 1 / 5
    region: Region = Region.BOTTOM  # PROMPT/BUSY: which part of the screen
    priority: int = 0  # PROMPT/BUSY: a higher priority is read first, whatever the pack order
    pack_version: str = ""  # the pack's `version` (YYYY.MM.DD), when it has one

    @id.validator
    def _check_id(self, _attr: attrs.Attribute[str], value: str) -> None:
        if not value.startswith(f"{self.pack}.") or value == f"{self.pack}.":
            raise ValueError(f"rule id {value!r} must be '{self.pack}.<name>'")

    @property
    def name(self) -> str:
        """The rule's name inside its pack."""
        return self.id[len(self.pack) + 1 :]

    @property
    def window(self) -> int:
        """PROMPT/BUSY: how many of the last non-blank screen rows the rule reads."""
        if self.rows:
            return self.rows
        return 5 if self.scope is Scope.BUSY else 1


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Hit:
    """A rule that fired: on one line, on a block of lines, or on the screen."""

    rule: Rule
    line: str  # the line the event is about (for a traceback: the final "ValueError: boom")
    message: str  # the rendered template, without control characters
    groups: Mapping[str, str] = attrs.field(converter=_frozen_map, eq=False)
    lines: tuple[str, ...]  # the whole block (BLOCK), else (line,)
    index: int  # index of `line` in the batch given to feed(); -1 from flush/prompt/busy
    seq: int = -1  # position of `line` among all lines fed to the matcher; -1 for prompt/busy

    @property
    def key(self) -> tuple[str, str, tuple[str, ...], str, tuple[tuple[str, str], ...]]:
        """Everything that identifies the hit apart from where in a batch it was seen."""
        return (
            self.rule.id,
            self.line,
            self.lines,
            self.message,
            tuple(sorted(self.groups.items())),
        )


class Pattern:
    """One re2 pattern (linear time, whatever the input).

    A `lazy` pattern compiles at its first use: most rules never fire on most panes, and
    each compiled re2 program holds memory in every assistant process.
    """

    __slots__ = ("_regexp", "text")

    def __init__(self, text: str, *, lazy: bool = False) -> None:
        self.text = text
        self._regexp: Any = None if lazy else re2.compile(text, _OPTIONS)

    def _compiled(self) -> Any:
        if self._regexp is None:
            self._regexp = re2.compile(self.text, _OPTIONS)
        return self._regexp

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(self._compiled().groupindex)

    def search(self, line: str) -> dict[str, str] | None:
        """The named groups that took part in a match of `line`, or None without a match."""
        found = self._compiled().search(line)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}

    def matches(self, line: str) -> bool:
        return self._compiled().search(line) is not None


class PatternSet:
    """Many re2 patterns matched in one pass; answers which of them match a line."""

    __slots__ = ("_set", "size")

    def __init__(self, texts: Iterable[str]) -> None:
        patterns = list(texts)
        self.size = len(patterns)
        self._set: Any = None
        # re2 gives a program `max_mem` bytes, and its matching automaton what the program
        # leaves of them; with re2's default (8 MiB) the automaton of a pack's Set grows to
        # about 7 MiB in every assistant.  The smallest budget that compiles, plus room for
        # the automaton, keeps the memory bounded with no loss of speed on terminal text.
        budget = _SET_STEP
        while self._set is None:  # bounded: _SET_MAX
            try:
                self._set = _compiled_set(patterns, budget)
            except re2.error:
                if budget >= _SET_MAX:
                    raise
                budget += _SET_STEP
        self._set = _compiled_set(patterns, budget + _SET_AUTOMATON)

    def match(self, line: str) -> list[int]:
        """Indexes of the patterns that match `line`, in ascending order."""
        if not self.size:
            return []
        found = self._set.Match(line)
        return sorted(found) if found else []


def _compiled_set(patterns: list[str], max_mem: int) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = max_mem
    found = re2.Set.SearchSet(options)
    for text in patterns:
        found.Add(text)
    found.Compile()
    return found


def _is_lookaround(detail: str) -> bool:
    """Whether re2's complaint is about a lookaround or a backreference."""
    if any(op in detail for op in ("(?=", "(?!", "(?<=", "(?<!")):
        return True
    escape = detail.rpartition("invalid escape sequence: ")[2]
    return len(escape) >= 2 and escape[0] == "\\" and (escape[1].isdigit() or escape[1] in "kg")


def compile_pattern(text: str, *, file: str | None = None, key: str, rule: str) -> Pattern:
    """`text` compiled with re2, or a ConfigError naming the file, key, rule and re2's reason."""
    if not isinstance(text, str) or not text:
        raise ConfigError(f"rule {rule}: a pattern must be a non-empty string", file=file, key=key)
    try:
        pattern = Pattern(text)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        why = UNBOUNDED if _is_lookaround(detail) else "not a valid re2 pattern"
        raise ConfigError(f"rule {rule}: {why} (re2: {detail})", file=file, key=key) from None
    if pattern.matches(""):
        raise ConfigError(
            f"rule {rule}: the pattern {text!r} matches the empty string (it would fire on "
            "every line)",
            file=file,
            key=key,
        )
    return pattern


def template_fields(template: str) -> set[str]:
    """The field names a message template uses; ValueError if it is not a valid template."""
    fields: set[str] = set()
    for _text, field, _spec, _conv in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier():
            raise ValueError(f"template field {{{field}}} must be a plain name")
        fields.add(field)
    return fields
