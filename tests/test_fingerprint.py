"""normalise() and fingerprint(): the same problem in the same pane gets the same fingerprint."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.core.fingerprint import MAX_TEXT, fingerprint, normalise


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("worker-3 died", "worker-<n> died"),
        ("took 1.5s then 200ms then 3m20s, 12 seconds", "took <dur> then <dur> then <dur>, <dur>"),
        ("at 0x7f3a12bc44d0 in frame", "at <addr> in frame"),
        ("req 550e8400-e29b-41d4-a716-446655440000 failed", "req <hex> failed"),
        ("commit 4e9d2b5 and deadbeef", "commit <hex> and deadbeef"),
        ("2024-01-02T03:04:05.123Z ERROR x", "<ts> ERROR x"),
        ("2024-01-02 03:04:05+01:00 x", "<ts> x"),
        ("[12:34:56] tick", "[<ts>] tick"),
        ('File "/usr/lib/python3.11/json/decoder.py", line 337', 'File "<path>", line <n>'),
        ("see ~/proj/a.txt and ./b/c and ../d", "see <path> and <path> and <path>"),
        ("src/app/main.py:12: error", "<path>:<n>: error"),
        ("KeyError: 'user_id'", "KeyError: 'user_id'"),
        ("  lots   of\tspace  ", "lots of space"),
        ("and/or either", "and/or either"),
    ],
)
def test_normalise_masks_what_varies(raw: str, want: str) -> None:
    assert normalise(raw) == want


def test_fingerprint_is_sha1_of_target_and_normalised_text() -> None:
    fp = fingerprint("api:1.0", "worker 3 died")
    want = hashlib.sha1(b"api:1.0\x00worker <n> died").hexdigest()[:16]
    assert fp == want
    assert len(fp) == 16
    assert int(fp, 16) >= 0


def test_the_same_problem_again_has_the_same_fingerprint() -> None:
    a = fingerprint("api:1.0", "2024-01-02 03:04:05 timeout after 30s on /srv/a.py:12 (req 42)")
    b = fingerprint("api:1.0", "2024-01-03 09:00:00 timeout after 31s on /srv/b.py:99 (req 7)")
    assert a == b


def test_other_panes_and_other_problems_differ() -> None:
    assert fingerprint("api:1.0", "boom") != fingerprint("api:1.1", "boom")
    assert fingerprint("api:1.0", "KeyError: 'a'") != fingerprint("api:1.0", "KeyError: 'b'")


def test_only_the_start_of_a_huge_line_counts() -> None:
    base = "x" * MAX_TEXT
    assert fingerprint("t", base + "tail one") == fingerprint("t", base + "tail two")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab0123456789xf/.:-_ ~\t'\"Tsm")), max_size=60))
def test_normalise_is_idempotent_and_digit_free(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert not any(c.isdigit() for c in once)
