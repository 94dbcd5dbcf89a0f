"""The detection corpus: every transcript well-formed and sourced, and the rule-level recall and
false-escalation rate that `make eval` measures live, held to their floors."""

from __future__ import annotations

import _corpus
import pytest

TRANSCRIPTS = _corpus.load_corpus()
RECALL_FLOOR = 0.95
FALSE_CEILING = 0.02
CATEGORY_FLOOR = 0.85


def test_the_corpus_is_large_and_mostly_real_failures_and_benign_lookalikes() -> None:
    assert len(TRANSCRIPTS) >= 400
    assert sum(t.label == "none" for t in TRANSCRIPTS) >= 120


@pytest.mark.parametrize("t", TRANSCRIPTS, ids=lambda t: t.name)
def test_transcript_is_labelled_and_sourced(t: _corpus.Transcript) -> None:
    lines = t.lines()
    assert t.line in lines, f"{t.name}: the justifying line is not a line of the file"
    assert t.source.startswith(("https://", "http://")) or ":" in t.source
    assert (t.severity is not None) == (t.label != "none") or t.label == "info"
    assert not any("\x1b" in line for line in lines), f"{t.name}: escape sequence"


def test_every_transcript_file_is_in_a_manifest() -> None:
    listed = {t.file for t in TRANSCRIPTS}
    files = set(_corpus.CORPUS.glob("*/*.txt"))
    assert files - listed == set()


@pytest.fixture(scope="module")
def table() -> dict[str, _corpus.CategoryStats]:
    sets = _corpus.rule_sets()
    return _corpus.stats((t, _corpus.judge(t, sets).escalates()) for t in TRANSCRIPTS)


def test_recall_and_false_escalations_overall(table: dict[str, _corpus.CategoryStats]) -> None:
    total = table["all"]
    report = "\n".join(s.row() for s in table.values())
    assert total.recall >= RECALL_FLOOR, f"recall below {RECALL_FLOOR}:\n{report}\n" + \
        "\n".join(f"miss {m}" for m in total.misses)
    assert total.false_rate <= FALSE_CEILING, f"false escalations above {FALSE_CEILING}:\n" + \
        "\n".join(f"false {m}" for m in total.false_names)


def test_no_category_below_its_floor(table: dict[str, _corpus.CategoryStats]) -> None:
    low = [s.row() for name, s in table.items() if name != "all" and s.recall < CATEGORY_FLOOR]
    assert not low, "categories below recall " + f"{CATEGORY_FLOOR}:\n" + "\n".join(low)
