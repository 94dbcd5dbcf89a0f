"""`steward explain`: which rule decides a pane's state, on which rows, why the others did not,
and which rules fire on its lines (as `herdr agent explain` and `fail2ban-regex` do)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from .engine import RuleSet
from .model import Region, Rule, Scope, clean_text
from .report import TestRuleReport, test_rule
from .screen import region_rows

__all__ = ["Explanation", "ScreenVerdict", "explain"]

SCREEN_ROWS = 50


@attrs.frozen(kw_only=True)
class ScreenVerdict:
    """One screen rule as the screen was read: where it looked and what it found."""

    rule: str
    scope: str
    region: str
    rows: tuple[int, ...]  # 1-based screen rows it read, top first
    fired_row: int | None  # 1-based row it fired on
    text: str  # the row it fired on, or "" when it did not
    decided: bool  # whether this rule decides its scope (the first to fire, by priority)
    note: str

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class Explanation:
    """The screen's verdicts (prompt rules, then busy rules) and the lines' report."""

    screen_rows: int
    verdicts: tuple[ScreenVerdict, ...]
    lines: TestRuleReport
    versions: tuple[tuple[str, str], ...]

    @property
    def state(self) -> str:
        prompt = next((v for v in self.verdicts if v.decided and v.scope == "prompt"), None)
        busy = next((v for v in self.verdicts if v.decided and v.scope == "busy"), None)
        if prompt is not None:
            return f"waiting for input: {prompt.rule} on row {prompt.fired_row}: {prompt.text}"
        if busy is not None:
            return f"working: {busy.rule} on row {busy.fired_row}: {busy.text}"
        return "no prompt and no busy marker on screen (state comes from output and command)"

    def render(self) -> str:
        packs = ", ".join(f"{p} {v}" if v else p for p, v in self.versions)
        out = [f"Packs: {packs}", f"Screen: the last {self.screen_rows} rows",
               f"State: {self.state}", "", "Screen rules, in the order they are read:"]
        for v in self.verdicts:
            span = f"rows {v.rows[0]}-{v.rows[-1]}" if v.rows else "no rows"
            mark = "=>" if v.decided else "  "
            out.append(f" {mark} {v.rule:<28} {v.scope:<6} {v.region:<10} {span:<12} {v.note}")
        out += ["", "Lines:", self.lines.render()]
        return "\n".join(out)

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "versions": dict(self.versions),
            "screen": [v.to_json() for v in self.verdicts],
            "lines": self.lines.to_json(),
        }


def _verdict(rule: Rule, ruleset: RuleSet, screen: Sequence[str], decided: bool) -> ScreenVerdict:
    rows = region_rows(rule, screen)
    read = tuple(i + 1 for i, _ in reversed(rows))
    region = rule.region.value if rule.region is not Region.BOTTOM else f"bottom {rule.window}"
    for i, text in reversed(rows):
        hits = ruleset.match_line(text, scopes=(rule.scope,))
        if any(h.rule.id == rule.id for h in hits):
            note = f"fired on row {i + 1}: {clean_text(text)[:80]!r}"
            if not decided:
                note += " (an earlier rule decided)"
            return ScreenVerdict(rule=rule.id, scope=rule.scope.value, region=region, rows=read,
                                 fired_row=i + 1, text=clean_text(text), decided=decided,
                                 note=note)
    vetoed = any(rule in ruleset.ignored_by(text) for _, text in rows)
    note = "vetoed by its ignore patterns" if vetoed else "no match in the rows it reads"
    return ScreenVerdict(rule=rule.id, scope=rule.scope.value, region=region, rows=read,
                         fired_row=None, text="", decided=False, note=note)


def explain(ruleset: RuleSet, lines: Sequence[str], *, rows: int = SCREEN_ROWS) -> Explanation:
    """What `ruleset` makes of a pane whose output is `lines` (its screen: the last `rows`)."""
    screen = list(lines)
    while screen and not screen[-1].strip():
        screen.pop()
    screen = screen[-rows:]
    decider = {Scope.PROMPT: ruleset.prompt(screen), Scope.BUSY: ruleset.busy(screen)}
    verdicts = []
    for rule in ruleset.screen_rules:
        hit = decider[rule.scope]
        verdicts.append(_verdict(rule, ruleset, screen, hit is not None and hit.rule.id == rule.id))
    return Explanation(screen_rows=len(screen), verdicts=tuple(verdicts),
                       lines=test_rule(ruleset, list(lines)),
                       versions=tuple(ruleset.versions.items()))
