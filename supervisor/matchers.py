"""What a silence's globs would match: the sessions and rules Steward knows, for `silence add`."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

__all__ = ["GENERATED_NAMESPACES", "unmatched_warnings"]

# Rules whose names Steward makes up as it goes (`state.<state>`, `system.<fault>`).
GENERATED_NAMESPACES = ("state.", "system.", "summary.")


def _matches(glob: str, names: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for name in names)


def _listed(names: Iterable[str], limit: int = 8) -> str:
    shown = sorted(names)
    more = f", … ({len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more if shown else "none yet"


def unmatched_warnings(
    *, rule: str, session: str, rules: Iterable[str], sessions: Iterable[str]
) -> list[str]:
    """One warning per glob that matches nothing Steward knows of, naming the glob."""
    known_rules = set(rules)
    known_sessions = set(sessions)
    out = []
    session_part = session.split(":", 1)[0]
    if session_part != "*" and not _matches(session_part, known_sessions):
        out.append(f"warning: --session {session!r} matches no session Steward knows"
                   f" (known: {_listed(known_sessions)}); the silence is added all the same")
    generated = rule.startswith(GENERATED_NAMESPACES)
    if rule != "*" and not generated and not _matches(rule, known_rules):
        out.append(f"warning: --rule {rule!r} matches no configured rule"
                   f" (e.g. {_listed(known_rules, 5)}); the silence is added all the same")
    return out
