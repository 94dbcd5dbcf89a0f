"""Fingerprints that make "the same problem again" one event: text with its varying parts masked.

`normalise` masks, in this order: UUIDs and hex ids of 7 or more hex digits that contain a digit
(``<hex>``; plain words such as ``deadbeef`` or ``defaced`` stay), memory addresses ``0x7f3a...``
(``<addr>``), dates and times (ISO 8601 with or without ``T``, zone and fraction; ``2024/01/02``;
``12:34:56.789``: ``<ts>``), file paths (``/a/b/c.py``, ``~/x``, ``./x``, ``../x``, and relative
paths with a file extension such as ``src/app/main.py``: ``<path>``), durations (``1.5s``,
``200ms``, ``3m20s``, ``12 seconds``: ``<dur>``) and then every other run of digits (``<n>``, so
``worker-3`` and ``worker-4`` agree); finally it collapses white space.

Quoted strings are NOT masked: they usually name what is wrong (``KeyError: 'user_id'``,
``No module named 'yaml'``), which is what tells two problems apart; the numbers, ids and paths
inside them are masked all the same.  Only the first `MAX_TEXT` characters count.

`fingerprint(target, text)` is the first 16 hex digits of SHA-1 over the target and the normalised
text.  The rule is not part of it: two rules that match one line of one pane give one fingerprint.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_TEXT", "fingerprint", "normalise"]

MAX_TEXT = 4096

_UNITS = r"(?:ns|us|µs|ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)"
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<hex>",
    ),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<addr>"),
    (
        re.compile(
            r"\b\d{4}[-/]\d{2}[-/]\d{2}"
            r"(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2}\b)?"
        ),
        "<ts>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (
        re.compile(
            r"(?<![\w/.~>-])(?:~|\.{1,2})?/(?:[\w.@+-]+/)*[\w.@+-]+/?"
            r"|(?<![\w/.~>-])[\w.-]+(?:/[\w.@+-]+)+\.[A-Za-z]\w*\b"
        ),
        "<path>",
    ),
    (
        re.compile(rf"\b(?:\d+(?:\.\d+)?{_UNITS})+\b|\b\d+(?:\.\d+)? {_UNITS}\b"),
        "<dur>",
    ),
    (re.compile(r"\b(?=[a-fA-F]*\d)[0-9a-fA-F]{7,}\b"), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)*"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def normalise(text: str) -> str:
    """`text` with numbers, ids, times, paths, addresses and durations masked; spaces collapsed."""
    out = text[:MAX_TEXT]
    for pattern, mask in _MASKS:
        out = pattern.sub(mask, out)
    return out.strip()


def fingerprint(target: str, text: str) -> str:
    """A stable 16-hex-digit id of "this text, give or take its numbers, in this pane"."""
    digest = hashlib.sha1(f"{target}\x00{normalise(text)}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]
