"""The detection corpus (tests/corpus): loading, validating, and judging it at rule level."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

import attrs

from assistants.replay import Replay, replay
from escalation.core.events import Severity
from escalation.core.paths import conf_dir
from escalation.rules import RuleSet, load_rules

__all__ = [
    "CORPUS",
    "CategoryStats",
    "Transcript",
    "judge",
    "load_corpus",
    "rule_sets",
    "stats",
]

CORPUS = Path(__file__).resolve().parent / "corpus"
LABELS = ("escalate", "info", "none")


@attrs.frozen(kw_only=True)
class Transcript:
    """One labelled real transcript."""

    category: str
    file: Path
    label: str
    severity: Severity | None
    line: str
    source: str
    form: str
    command: str = ""
    screen: bool = False

    @property
    def name(self) -> str:
        return f"{self.category}/{self.file.name}"

    def lines(self) -> list[str]:
        return self.file.read_text(encoding="utf-8").splitlines()


def load_corpus(root: Path = CORPUS) -> list[Transcript]:
    """Every transcript of every category's manifest; a malformed entry raises naming it."""
    out: list[Transcript] = []
    for manifest in sorted(root.glob("*/manifest.toml")):
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        for n, entry in enumerate(data.get("transcript", [])):
            where = f"{manifest}: transcript[{n}]"
            label = entry.get("label")
            if label not in LABELS:
                raise ValueError(f"{where}: label must be one of {LABELS}, not {label!r}")
            sev = entry.get("severity")
            out.append(Transcript(
                category=manifest.parent.name,
                file=manifest.parent / entry["file"],
                label=label,
                severity=Severity.parse(sev) if sev else None,
                line=entry["line"],
                source=entry["source"],
                form=entry["form"],
                command=entry.get("command", ""),
                screen=bool(entry.get("screen", False)),
            ))
    return out


def rule_sets() -> tuple[RuleSet, RuleSet, RuleSet]:
    """The session, QA and deploy rule sets of the default configuration."""
    rules = conf_dir() / "rules"
    packs = sorted(rules.glob("*.toml"))
    session = load_rules([p for p in packs if p.stem not in ("qa", "deploy")])
    return session, load_rules([rules / "qa.toml"]), load_rules([rules / "deploy.toml"])


def judge(t: Transcript, sets: tuple[RuleSet, RuleSet, RuleSet]) -> Replay:
    session, qa, deploy = sets
    return replay(t.lines(), session=session, qa=qa, deploy=deploy, command=t.command)


@attrs.define
class CategoryStats:
    """Recall over transcripts that must escalate; false escalations over the others."""

    category: str
    must: int = 0
    caught: int = 0
    quiet: int = 0
    false: int = 0
    misses: list[str] = attrs.field(factory=list)
    false_names: list[str] = attrs.field(factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.must if self.must else 1.0

    @property
    def false_rate(self) -> float:
        return self.false / self.quiet if self.quiet else 0.0

    def row(self) -> str:
        return (f"{self.category:<9} escalate {self.caught:>3}/{self.must:<3} recall "
                f"{self.recall:.3f}   quiet {self.quiet:>3}  false {self.false:>2}  "
                f"rate {self.false_rate:.3f}")


def stats(verdicts: Iterable[tuple[Transcript, bool]]) -> dict[str, CategoryStats]:
    """Per category and overall ("all"), from (transcript, escalated) pairs."""
    table: dict[str, CategoryStats] = {}
    total = CategoryStats("all")
    for t, escalated in verdicts:
        cat = table.setdefault(t.category, CategoryStats(t.category))
        for s in (cat, total):
            if t.label == "escalate":
                s.must += 1
                s.caught += escalated
                if not escalated:
                    s.misses.append(t.name)
            else:
                s.quiet += 1
                s.false += escalated
                if escalated:
                    s.false_names.append(t.name)
    return {**dict(sorted(table.items())), "all": total}
