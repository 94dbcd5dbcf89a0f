"""The fail2ban-style sample harness: annotated samples, the rule set of each pack, stats."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs

from escalation.rules import RuleSet, Scope, load_rules

__all__ = [
    "BENIGN",
    "RULES_DIR",
    "SAMPLES",
    "Line",
    "PackStats",
    "Sample",
    "benign_files",
    "check_sample",
    "fired_on",
    "pack_files",
    "parse_sample",
    "rule_sets",
    "ruleset_for",
    "sample_files",
    "sample_stats",
]

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "conf" / "rules"
SAMPLES = ROOT / "tests" / "samples"
BENIGN = "benign"
FIRE = "#> fire:"

# The packs a sample directory is checked against: the rule set of the assistant
# that reads such panes.  A session assistant runs agents then generic.
_SETS: dict[str, tuple[str, ...]] = {
    "generic": ("agents", "generic"),
    "agents": ("agents", "generic"),
    "qa": ("qa",),
    "deploy": ("deploy",),
}


@attrs.frozen(kw_only=True)
class Line:
    """One content line of a sample file, with the rule that must fire on it (if any)."""

    number: int  # 1-based line number in the file
    text: str
    expect: str | None


@attrs.frozen(kw_only=True)
class Sample:
    """A parsed sample file."""

    path: Path
    lines: tuple[Line, ...]

    @property
    def pack(self) -> str:
        return self.path.parent.name

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def parse_sample(path: Path) -> Sample:
    """`path` parsed: `## ` lines are comments, `#> fire: <id>` annotates the next content line."""
    lines: list[Line] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("## ") or raw == "##":
            continue
        if raw.startswith(FIRE):
            if pending is not None:
                raise ValueError(f"{path}:{number}: two annotations for one line")
            rule_id = raw[len(FIRE) :].strip()
            if not rule_id:
                raise ValueError(f"{path}:{number}: '{FIRE}' without a rule id")
            pending = (number, rule_id)
            continue
        lines.append(Line(number=number, text=raw, expect=pending[1] if pending else None))
        pending = None
    if pending is not None:
        raise ValueError(f"{path}:{pending[0]}: the annotation has no line after it")
    return Sample(path=path, lines=tuple(lines))


def pack_files() -> dict[str, Path]:
    """Every shipped pack file by pack name."""
    return {p.stem: p for p in sorted(RULES_DIR.glob("*.toml"))}


def ruleset_for(pack_dir: str) -> RuleSet | None:
    """The rule set a sample directory runs against, or None if a pack of it is not there yet."""
    files = pack_files()
    names = _SETS.get(pack_dir, (pack_dir,))
    if not all(n in files for n in names):
        return None
    return load_rules([files[n] for n in names])


def rule_sets() -> dict[str, RuleSet]:
    """Every rule set an assistant can run, plus all packs at once (the default config)."""
    files = pack_files()
    sets: dict[str, RuleSet] = {}
    for names in dict.fromkeys(_SETS.values()):
        if all(n in files for n in names):
            sets["+".join(names)] = load_rules([files[n] for n in names])
    sets["all"] = load_rules(list(files.values()))
    return sets


def sample_files() -> list[Path]:
    """Annotated sample files (not the benign ones), sorted."""
    return sorted(p for p in SAMPLES.glob("*/*.txt") if p.parent.name != BENIGN)


def benign_files() -> list[Path]:
    return sorted((SAMPLES / BENIGN).glob("*.txt"))


def fired_on(ruleset: RuleSet, texts: list[str]) -> list[set[str]]:
    """For each line, the ids of the rules that fire on it.

    The lines go through one fresh Matcher (a block's Hit counts on the line it
    reports), and each line is also read as the last row of a screen by the
    PROMPT and BUSY rules.
    """
    fired: list[set[str]] = [set() for _ in texts]
    matcher = ruleset.matcher()
    for hit in [*matcher.feed(texts), *matcher.flush()]:
        fired[hit.seq].add(hit.rule.id)
    for n, text in enumerate(texts):
        for on_screen in (ruleset.prompt([text]), ruleset.busy([text])):
            if on_screen is not None:
                fired[n].add(on_screen.rule.id)
    return fired


_ALL_SCOPES = tuple(Scope)


def check_sample(sample: Sample, ruleset: RuleSet) -> Iterator[str]:
    """Every way the sample and the rule set disagree, one message each naming file and line."""
    known = {r.id for r in ruleset.rules}
    fired = fired_on(ruleset, [line.text for line in sample.lines])
    where = sample.path.relative_to(ROOT)
    for line, rules in zip(sample.lines, fired, strict=True):
        at = f"{where}:{line.number}: {line.text.strip()[:100]!r}"
        if line.expect is not None and line.expect not in known:
            yield f"{at}: annotated with {line.expect}, which is not a rule of this set"
        elif line.expect is not None and line.expect not in rules:
            also = f" ({', '.join(sorted(rules))} fired instead)" if rules else ""
            yield f"{at}: {line.expect} should fire here but does not{also}"
        elif rules - {line.expect}:
            extra = ", ".join(sorted(rules - {line.expect}))
            yield f"{at}: {extra} fired on a line not annotated for it"
        matching = {h.rule.id for h in ruleset.match_line(line.text, scopes=_ALL_SCOPES)}
        if len(matching) > 1:
            yield f"{at}: matched by several rules at once: {', '.join(sorted(matching))}"


@attrs.frozen(kw_only=True)
class PackStats:
    """Sample counts and confusion counts for one pack's samples."""

    pack: str
    files: int
    positives: int  # annotated lines
    benign: int  # non-blank lines that must fire nothing (the pack's own and tests/samples/benign)
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        fired = self.true_positives + self.false_positives
        return self.true_positives / fired if fired else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    def render(self) -> str:
        return (
            f"{self.pack:<8} files {self.files:>3}  samples {self.positives:>4}  "
            f"benign {self.benign:>5}  TP {self.true_positives:>4}  FP {self.false_positives:>3}  "
            f"FN {self.false_negatives:>3}  precision {self.precision:.3f}  "
            f"recall {self.recall:.3f}"
        )


def sample_stats() -> dict[str, PackStats]:
    """Per pack directory: annotated positives, benign lines, true/false positives, false negatives.

    A positive line counts as a true positive when its rule fires, a false
    negative otherwise; any other rule firing on it, and anything firing on a
    benign line, is a false positive.
    """
    by_pack: dict[str, list[Sample]] = {}
    for path in sample_files():
        by_pack.setdefault(path.parent.name, []).append(parse_sample(path))
    benign = [parse_sample(p) for p in benign_files()]
    stats: dict[str, PackStats] = {}
    for pack, samples in sorted(by_pack.items()):
        ruleset = ruleset_for(pack)
        if ruleset is None:
            continue
        pos = neg = tp = fp = fn = 0
        for sample in [*samples, *benign]:
            fired = fired_on(ruleset, [line.text for line in sample.lines])
            for line, rules in zip(sample.lines, fired, strict=True):
                if line.expect is None:
                    if line.text.strip():
                        neg += 1
                    fp += bool(rules)
                    continue
                pos += 1
                if line.expect in rules:
                    tp += 1
                else:
                    fn += 1
                fp += bool(rules - {line.expect})
        stats[pack] = PackStats(
            pack=pack,
            files=len(samples),
            positives=pos,
            benign=neg,
            true_positives=tp,
            false_positives=fp,
            false_negatives=fn,
        )
    return stats
