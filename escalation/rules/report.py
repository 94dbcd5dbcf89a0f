"""`steward test-rule`: runs a rule set over a file's lines and reports like fail2ban-regex."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import attrs

from .model import Hit, clean_text

if TYPE_CHECKING:
    from .engine import RuleSet

__all__ = ["RuleCount", "TestRuleReport", "scan", "test_rule"]

_SHOWN = 20


@attrs.frozen(kw_only=True)
class RuleCount:
    """How often one rule fired (or was vetoed), and on which 1-based lines."""

    rule_id: str
    count: int
    line_numbers: tuple[int, ...]

    def __iter__(self) -> Iterator[object]:
        """Unpacks as (rule_id, count, line_numbers)."""
        return iter((self.rule_id, self.count, self.line_numbers))

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule_id, "count": self.count, "line_numbers": list(self.line_numbers)}


@attrs.frozen(kw_only=True)
class TestRuleReport:
    """What a rule set does to a file: matched, ignored and missed lines, per rule."""

    __test__ = False  # not a pytest test class, whatever its name

    total_lines: int
    matched_lines: int
    ignored_lines: int  # lines no rule fired on because an ignore pattern vetoed a match
    per_rule: tuple[RuleCount, ...]  # rules that fired, in evaluation order
    missed: tuple[RuleCount, ...]  # hits that ignore patterns vetoed, per rule
    hits: tuple[tuple[int, Hit], ...] = attrs.field(default=(), repr=False, eq=False)

    @property
    def missed_lines(self) -> int:
        """Lines on which nothing fired and nothing was vetoed."""
        return self.total_lines - self.matched_lines - self.ignored_lines

    def render(self) -> str:
        """The report as text, in the manner of fail2ban-regex."""
        out = [
            f"Lines: {self.total_lines} lines, {self.ignored_lines} ignored, "
            f"{self.matched_lines} matched, {self.missed_lines} missed",
        ]
        if self.per_rule:
            out += ["", "Matched:"] + [_row(c) for c in self.per_rule]
        if self.missed:
            out += ["", "Ignored (a rule matched but its ignore patterns vetoed it):"]
            out += [_row(c) for c in self.missed]
        if self.hits:
            out += ["", "Events:"]
            out += [
                f"  line {n}: {h.rule.id} [{h.rule.severity.label}] {h.message}"
                for n, h in self.hits
            ]
        return "\n".join(out)

    def to_json(self) -> dict[str, object]:
        """The report as a JSON-ready dict."""
        return {
            "total_lines": self.total_lines,
            "matched_lines": self.matched_lines,
            "ignored_lines": self.ignored_lines,
            "missed_lines": self.missed_lines,
            "per_rule": [c.to_json() for c in self.per_rule],
            "missed": [c.to_json() for c in self.missed],
            "hits": [
                {
                    "line_number": n,
                    "rule": h.rule.id,
                    "severity": h.rule.severity.label,
                    "message": h.message,
                    "lines": len(h.lines),
                }
                for n, h in self.hits
            ],
        }


def _row(c: RuleCount) -> str:
    shown = ", ".join(str(n) for n in c.line_numbers[:_SHOWN])
    more = ", …" if len(c.line_numbers) > _SHOWN else ""
    return f"  {c.rule_id}: {c.count} (lines {shown}{more})"


def scan(ruleset: RuleSet, lines: Sequence[str]) -> list[tuple[int, Hit]]:
    """Every Hit on these lines as (0-based line index, Hit), in line order.

    The lines go through one Matcher (so blocks span lines), and each line on
    which no LINE/BLOCK rule fired is also read as the last row of a screen by
    the PROMPT rules, then by the BUSY rules.
    """
    matcher = ruleset.matcher()
    found = {h.seq: h for h in [*matcher.feed(lines), *matcher.flush()]}
    for n, line in enumerate(lines):
        if n in found:
            continue
        on_screen = ruleset.prompt([line]) or ruleset.busy([line])
        if on_screen is not None:
            found[n] = on_screen
    return sorted(found.items(), key=lambda item: item[0])


def test_rule(ruleset: RuleSet, lines: Sequence[str]) -> TestRuleReport:
    """Run `ruleset` over `lines` (as one pane would see them) and count what fires where."""
    lines = [clean_text(line.rstrip("\r\n")) for line in lines]
    hits = scan(ruleset, lines)
    fired: dict[str, list[int]] = defaultdict(list)
    for n, hit in hits:
        fired[hit.rule.id].append(n + 1)
    vetoed: dict[str, list[int]] = defaultdict(list)
    hit_lines = {n for n, _ in hits}
    ignored_lines = 0
    for n, line in enumerate(lines):
        if n in hit_lines:
            continue
        rules = ruleset.ignored_by(line)
        if rules:
            ignored_lines += 1
            for rule in rules:
                vetoed[rule.id].append(n + 1)
    order = {r.id: i for i, r in enumerate(ruleset.rules)}

    def counts(table: dict[str, list[int]]) -> tuple[RuleCount, ...]:
        return tuple(
            RuleCount(rule_id=rid, count=len(ns), line_numbers=tuple(ns))
            for rid, ns in sorted(table.items(), key=lambda item: order[item[0]])
        )

    return TestRuleReport(
        total_lines=len(lines),
        matched_lines=len(hit_lines),
        ignored_lines=ignored_lines,
        per_rule=counts(fired),
        missed=counts(vetoed),
        hits=tuple((n + 1, h) for n, h in hits),
    )


test_rule.__test__ = False  # type: ignore[attr-defined]  # pytest must not collect it where imported
