"""The project digest: one executive summary across every watched session, in the seed's form.

`[14:05] Project: shop - Executive Summary`, then `- Current Focus:`, `- Key Decisions:`,
`- Progress:`, `- Blockers:` and `- Next Steps:` lines, each left out when nothing in
any session says something for it.  Decisions and next steps are the agents' own words.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from escalation.core.sanitize import sanitize

from .summary import Summary

__all__ = ["LINE_CAP", "digest", "digest_json"]

LINE_CAP = 600
_PER_SESSION = {"Current Focus": 2, "Key Decisions": 2, "Progress": 2, "Blockers": 3,
                "Next Steps": 2}
_PREFIXED = ("Key Decisions", "Next Steps")  # an agent's words need its session before them


def _cut(text: str, cap: int) -> str:
    text = " ".join(sanitize(text).split())
    return text if len(text) <= cap else text[: cap - 1].rstrip() + "…"


def _section(summaries: Sequence[Summary], name: str) -> list[str]:
    items: list[str] = []
    for summary in summaries:
        found = dict(summary.sections()).get(name, ())
        for item in found[: _PER_SESSION[name]]:
            items.append(f"{summary.session}: {item}" if name in _PREFIXED else item)
    return items


def digest(summaries: Sequence[Summary], *, project: str, now: float) -> str:
    """The digest's lines; blockers first in their section, sessions in the order given."""
    when = time.strftime("%H:%M", time.localtime(now))
    lines = [f"[{when}] Project: {_cut(project, 60)} - Executive Summary"]
    for name in _PER_SESSION:
        items = _section(summaries, name)
        if items:
            lines.append(_cut(f"- {name}: {'; '.join(items)}", LINE_CAP))
    if len(lines) == 1:
        lines.append("- Current Focus: no watched session has been read yet")
    return "\n".join(lines)


def digest_json(summaries: Sequence[Summary], *, project: str, now: float) -> dict[str, object]:
    """The digest as JSON: its text and every session's summary."""
    return {"project": project, "ts": now,
            "text": digest(summaries, project=project, now=now),
            "sessions": [s.to_json() for s in summaries]}
