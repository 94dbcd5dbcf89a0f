"""The rules engine: rule packs (data in conf/rules) turn a pane's lines and screen into Hits."""

from __future__ import annotations

from .engine import Matcher, RuleSet, load_rules
from .explain import Explanation, explain
from .model import MAX_LINE, Hit, Rule, Scope
from .report import RuleCount, TestRuleReport, test_rule

__all__ = [
    "MAX_LINE",
    "Explanation",
    "Hit",
    "Matcher",
    "Rule",
    "RuleCount",
    "RuleSet",
    "Scope",
    "TestRuleReport",
    "explain",
    "load_rules",
    "test_rule",
]
