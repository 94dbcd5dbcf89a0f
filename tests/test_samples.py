"""Every rule pack against its annotated real samples, the way fail2ban checks its filters."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import _samples
import pytest

from escalation.rules import load_rules

SAMPLE_FILES = _samples.sample_files()
BENIGN_FILES = _samples.benign_files()
PACKS = _samples.pack_files()
SETS = _samples.rule_sets()


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=_id)
def test_sample_file(path: Path) -> None:
    ruleset = _samples.ruleset_for(path.parent.name)
    if ruleset is None:
        pytest.skip(f"the pack for {path.parent.name} samples is not in conf/rules yet")
    sample = _samples.parse_sample(path)
    assert any(line.expect for line in sample.lines), f"{path}: no '#> fire:' annotation"
    problems = list(_samples.check_sample(sample, ruleset))
    assert not problems, "\n" + "\n".join(problems)


@pytest.mark.parametrize("set_name", sorted(SETS))
@pytest.mark.parametrize("path", BENIGN_FILES, ids=_id)
def test_benign_file_fires_nothing(path: Path, set_name: str) -> None:
    sample = _samples.parse_sample(path)
    annotated = [f"{path}:{line.number}" for line in sample.lines if line.expect]
    assert not annotated, f"benign samples take no annotation: {annotated}"
    problems = list(_samples.check_sample(sample, SETS[set_name]))
    assert not problems, "\n" + "\n".join(problems)


def _annotations() -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in SAMPLE_FILES:
        counts.update(line.expect for line in _samples.parse_sample(path).lines if line.expect)
    return counts


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_every_rule_has_two_samples(pack: str) -> None:
    counts = _annotations()
    rules = load_rules([PACKS[pack]]).rules
    thin = [f"{r.id} ({counts[r.id]})" for r in rules if counts[r.id] < 2]
    assert not thin, f"{PACKS[pack]}: rules with fewer than 2 annotated samples: {', '.join(thin)}"


def test_sample_directories_are_packs() -> None:
    dirs = {p.parent.name for p in SAMPLE_FILES}
    assert dirs <= set(PACKS), f"sample directories without a pack: {sorted(dirs - set(PACKS))}"
    assert BENIGN_FILES, "tests/samples/benign/ has no samples"


def test_annotations_name_existing_rules() -> None:
    known = {r.id for r in load_rules(list(PACKS.values())).rules}
    unknown = sorted(set(_annotations()) - known)
    assert not unknown, f"annotations for rules no pack defines: {unknown}"


def test_sample_report() -> None:
    """Counts and precision/recall per pack; printed with -s, and the message if it fails."""
    stats = _samples.sample_stats()
    report = "\n".join(["", "sample report (benign includes tests/samples/benign):"])
    report += "\n" + "\n".join(s.render() for s in stats.values())
    print(report)
    assert {"generic", "agents"} <= set(stats), report
    for s in stats.values():
        assert s.positives >= 2, report
        assert (s.precision, s.recall) == (1.0, 1.0), report
