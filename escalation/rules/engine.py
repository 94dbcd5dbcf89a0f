"""The rules engine: rule packs turn a pane's new lines and its screen into Hits, in linear time.

Evaluation order is the order of the pack files given to `load_rules`, except that
the pack named `generic` always goes last; within a line the first rule that fires
wins, so a line yields at most one Hit.  A BLOCK rule opens at a line matching one
of its patterns and swallows every following line until one matches `end` (that
line included) or the block reaches `max_lines`; inside an open block, a line that
matches the rule's `patterns` or `join` continues the block and never ends it.  A
rule with `join` patterns holds its ended block until the next non-blank line: if
that line matches `join` (Python's "During handling of the above exception"), the
block goes on, and the chain is one event; otherwise, or at `flush()`, the Hit
comes out.  Without `join`, the Hit comes out with the end line.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from ..core.errors import ConfigError
from .loader import read_pack
from .model import (
    MAX_LINE,
    Hit,
    Pattern,
    PatternSet,
    Rule,
    Scope,
    clean_text,
    compile_pattern,
)
from .screen import frame_strip, region_rows

__all__ = ["Matcher", "RuleSet", "load_rules"]

_LINEAR = (Scope.LINE, Scope.BLOCK)
class _Compiled:
    """One rule with its patterns compiled."""

    __slots__ = ("end", "ignore", "join", "patterns", "rule")

    def __init__(self, rule: Rule) -> None:
        def comp(texts: tuple[str, ...], key: str) -> tuple[Pattern, ...]:
            # Checked now (a fault names the rule), compiled again at first use.
            for i, t in enumerate(texts):
                compile_pattern(t, key=f"rules.{rule.id}.{key}[{i}]", rule=rule.id)
            return tuple(Pattern(t, lazy=True) for t in texts)

        self.rule = rule
        self.patterns = comp(rule.patterns, "patterns")
        self.ignore = comp(rule.ignore, "ignore")
        self.end = comp(rule.end, "end")
        self.join = comp(rule.join, "join")

    def ignored(self, line: str) -> bool:
        return any(p.matches(line) for p in self.ignore)

    def fire(self, line: str) -> dict[str, str] | None:
        """The named groups if this rule fires on `line` (ignore patterns considered), else None."""
        for p in self.patterns:
            groups = p.search(line)
            if groups is not None:
                return None if self.ignored(line) else groups
        return None

    def joins(self, line: str) -> bool:
        return any(p.matches(line) for p in self.join) and not self.ignored(line)

    def ending(self, line: str) -> dict[str, str] | None:
        for p in self.end:
            groups = p.search(line)
            if groups is not None:
                return groups
        return None

    def hit(
        self,
        line: str,
        groups: Mapping[str, str],
        *,
        lines: tuple[str, ...] | None = None,
        index: int = -1,
        seq: int = -1,
    ) -> Hit:
        values = _Fields(groups, line=line, rule=self.rule.id)
        message = clean_text(self.rule.message.format_map(values))
        return Hit(
            rule=self.rule,
            line=line,
            message=message,
            groups=groups,
            lines=lines if lines is not None else (line,),
            index=index,
            seq=seq,
        )


class _Fields(dict[str, str]):
    """Template values: line, rule and the named groups; a group that did not match is ''."""

    def __init__(self, groups: Mapping[str, str], *, line: str, rule: str) -> None:
        super().__init__(groups)
        self["line"] = line
        self["rule"] = rule

    def __missing__(self, key: str) -> str:
        return ""


class RuleSet:
    """Rules in evaluation order, compiled; hands out one stateful Matcher per pane."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ConfigError(f"rule ids must be unique: {', '.join(dupes)}", key="rules")
        self._compiled = tuple(_Compiled(r) for r in self.rules)
        self._by_id = {c.rule.id: c for c in self._compiled}
        linear = [c for c in self._compiled if c.rule.scope in _LINEAR]
        self._linear = tuple(linear)
        self._owner: list[int] = []
        texts: list[str] = []
        for n, c in enumerate(linear):
            texts += c.rule.patterns
            self._owner += [n] * len(c.rule.patterns)
        self._set = PatternSet(texts)
        # Screen rules by priority (higher first), then in evaluation order.
        def screen_rules(scope: Scope) -> tuple[_Compiled, ...]:
            chosen = [c for c in self._compiled if c.rule.scope is scope]
            return tuple(sorted(chosen, key=lambda c: -c.rule.priority))

        self._prompt = screen_rules(Scope.PROMPT)
        self._busy = screen_rules(Scope.BUSY)
        # One pass of a re2 Set per row says which screen rules may fire on it.
        self._screen_sets = {id(rules): _prefilter(rules) for rules in (self._prompt, self._busy)}

    def __repr__(self) -> str:
        return f"RuleSet({len(self.rules)} rules from {', '.join(self.packs) or 'no packs'})"

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def versions(self) -> dict[str, str]:
        """Each pack's `version` ("" for a pack without one), in evaluation order."""
        return {r.pack: r.pack_version for r in self.rules}

    @property
    def screen_rules(self) -> tuple[Rule, ...]:
        """PROMPT then BUSY rules in the order the screen is read (priority first)."""
        return tuple(c.rule for c in (*self._prompt, *self._busy))

    @property
    def packs(self) -> tuple[str, ...]:
        """The packs of the rules, in evaluation order."""
        return tuple(dict.fromkeys(r.pack for r in self.rules))

    def rule(self, rule_id: str) -> Rule:
        """The rule with that full id; KeyError if there is none."""
        return self._by_id[rule_id].rule

    def matcher(self) -> Matcher:
        """A fresh stateful matcher for one pane."""
        return Matcher(self)

    def only(self, *packs: str) -> RuleSet:
        """The rules of these packs, in the same order."""
        return RuleSet(r for r in self.rules if r.pack in packs)

    def without(self, *packs: str) -> RuleSet:
        """The rules of every other pack, in the same order."""
        return RuleSet(r for r in self.rules if r.pack not in packs)

    def _candidates(self, line: str) -> list[_Compiled]:
        owners = dict.fromkeys(self._owner[i] for i in self._set.match(line))
        return [self._linear[n] for n in sorted(owners)]

    def _first(self, line: str) -> tuple[_Compiled, dict[str, str]] | None:
        """The first LINE/BLOCK rule that fires on `line`, with its groups."""
        for c in self._candidates(line):
            groups = c.fire(line)
            if groups is not None:
                return c, groups
        return None

    def _compiled_of(self, rule: Rule) -> _Compiled:
        return self._by_id[rule.id]

    def match_line(self, line: str, *, scopes: Collection[Scope] = _LINEAR) -> list[Hit]:
        """Every rule of these scopes that fires on this one line on its own, in order.

        By default the LINE rules and the BLOCK rules whose block would start here.
        """
        line = line[:MAX_LINE]
        hits = []
        for c in self._compiled:
            if c.rule.scope not in scopes:
                continue
            text = frame_strip(line) if c.rule.scope not in _LINEAR else line
            groups = c.fire(text)
            if groups is not None:
                hits.append(c.hit(text, groups))
        return hits

    def ignored_by(self, line: str) -> list[Rule]:
        """Rules whose patterns match this one line but whose ignore patterns veto it."""
        line = line[:MAX_LINE]
        vetoed = []
        for c in self._compiled:
            if not c.ignore:
                continue
            text = line if c.rule.scope in _LINEAR else frame_strip(line)
            if any(p.matches(text) for p in c.patterns) and c.ignored(text):
                vetoed.append(c.rule)
        return vetoed

    def prompt(self, screen: Sequence[str], partial: str = "") -> Hit | None:
        """The first PROMPT rule firing on the last non-blank screen row (or `partial`)."""
        return self._screen(self._prompt, screen, partial)

    def busy(self, screen: Sequence[str]) -> Hit | None:
        """The first BUSY rule firing anywhere on the last few (5) non-blank rows."""
        return self._screen(self._busy, screen, "")

    def _screen(
        self, rules: tuple[_Compiled, ...], screen: Sequence[str], partial: str
    ) -> Hit | None:
        if not rules:
            return None
        pset, owners = self._screen_sets[id(rules)]
        may: dict[str, set[int]] = {}
        regions: dict[tuple[object, int], list[tuple[int, str]]] = {}
        for n, c in enumerate(rules):
            key = (c.rule.region, c.rule.window)
            rows = regions.get(key)
            if rows is None:
                rows = regions[key] = region_rows(c.rule, screen, partial)
            for _i, text in reversed(rows):  # the topmost row first: the question above a menu
                fits = may.get(text)
                if fits is None:
                    fits = may[text] = {owners[j] for j in pset.match(text)}
                if n not in fits:
                    continue
                groups = c.fire(text)
                if groups is not None:
                    return c.hit(text, groups)
        return None


def _prefilter(rules: Sequence[_Compiled]) -> tuple[PatternSet, list[int]]:
    """A Set of every pattern of `rules`, and for each pattern the index of its rule."""
    texts: list[str] = []
    owners: list[int] = []
    for n, c in enumerate(rules):
        texts += c.rule.patterns
        owners += [n] * len(c.rule.patterns)
    return PatternSet(texts), owners


@attrs.define
class _Block:
    """An open (or ended and waiting to join) block of one BLOCK rule."""

    rule: _Compiled
    lines: list[str]
    seqs: list[int]
    groups: dict[str, str]
    ended: bool = False
    blanks: list[str] = attrs.field(factory=list)
    blank_seqs: list[int] = attrs.field(factory=list)


class Matcher:
    """Matches the settled new lines of one pane, keeping BLOCK rules open across feeds."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._block: _Block | None = None
        self._seq = 0
        self._base = 0

    @property
    def pending(self) -> bool:
        """Whether a block is open or waiting to join (flush() would emit it)."""
        return self._block is not None

    def feed(self, lines: Sequence[str]) -> list[Hit]:
        """Hits for these new lines, in order; a block's Hit comes out when the block ends."""
        self._base = self._seq
        hits: list[Hit] = []
        for raw in lines:
            seq = self._seq
            self._seq += 1
            self._step(raw[:MAX_LINE], seq, hits)
        return hits

    def flush(self) -> list[Hit]:
        """End any pending block and return its Hit."""
        self._base = self._seq
        hits: list[Hit] = []
        self._close(hits)
        return hits

    def _index(self, seq: int) -> int:
        return seq - self._base if seq >= self._base else -1

    def _step(self, line: str, seq: int, hits: list[Hit]) -> None:
        block = self._block
        if block is not None and self._in_block(block, line, seq, hits):
            return
        found = self.ruleset._first(line)
        if found is None:
            return
        c, groups = found
        if c.rule.scope is Scope.BLOCK:
            self._block = _Block(rule=c, lines=[line], seqs=[seq], groups=groups)
            if c.rule.max_lines <= 1:
                self._close(hits)
            return
        hits.append(c.hit(line, groups, index=self._index(seq), seq=seq))

    def _in_block(self, block: _Block, line: str, seq: int, hits: list[Hit]) -> bool:
        """Take `line` into the block if it belongs there; False if it must be matched anew."""
        c = block.rule
        if block.ended:
            if not line.strip():
                block.blanks.append(line)
                block.blank_seqs.append(seq)
                if len(block.lines) + len(block.blanks) >= c.rule.max_lines:
                    self._close(hits)
                return True
            if not c.joins(line):
                self._close(hits)
                return False
            block.lines += [*block.blanks, line]
            block.seqs += [*block.blank_seqs, seq]
            block.blanks.clear()
            block.blank_seqs.clear()
            block.ended = False
        else:
            block.lines.append(line)
            block.seqs.append(seq)
            if c.fire(line) is None and not c.joins(line):
                end = c.ending(line)
                if end is not None:
                    block.groups.update(end)
                    block.ended = True
                    if not c.join:
                        self._close(hits)
                        return True
        if len(block.lines) >= c.rule.max_lines:
            self._close(hits)
        return True

    def _close(self, hits: list[Hit]) -> None:
        block = self._block
        if block is None:
            return
        self._block = None
        at = -1 if block.ended else 0
        line, seq = block.lines[at], block.seqs[at]
        hits.append(
            block.rule.hit(
                line, block.groups, lines=tuple(block.lines), index=self._index(seq), seq=seq
            )
        )


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """The rule set of these pack files, `generic` last; ConfigError(file=, key=) on any fault."""
    packs = [read_pack(Path(p)) for p in paths]
    seen: dict[str, str] = {}
    for pack in packs:
        if pack.name in seen:
            raise ConfigError(
                f"pack {pack.name!r} is loaded twice (also from {seen[pack.name]})",
                file=pack.file,
                key="pack",
            )
        seen[pack.name] = pack.file
    ordered = [p for p in packs if p.name != "generic"] + [p for p in packs if p.name == "generic"]
    return RuleSet(rule for pack in ordered for rule in pack.rules)
