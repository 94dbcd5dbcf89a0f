"""Replace secrets in pane text with ``[REDACTED:<kind>]`` before anything stores or shows it.

Kinds: ``aws-secret-key`` (the value after aws_secret_access_key), ``slack-webhook``
(hooks.slack.com URLs), ``private-key`` (a PEM private key block, a BEGIN line with the base64
lines after it, or base64 lines ending in an END line), ``password``/``token``/``secret``/
``api-key`` (the value of ``NAME=value``, ``"name": "value"`` and ``Password: value``, and a
credential-shaped value printed right after one of the words secret, key, token, password or
credential, as in ``secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY``), ``bearer`` (Authorization
header values), ``url-password`` (the password in ``scheme://user:password@host``; the user
stays), and the known token formats of `_secret_formats` (``github-token``, ``gitlab-token``,
``slack-token``, ``aws-access-key``, ``stripe-key``, ``google-api-key``, ``openai-key``,
``anthropic-key``, ``npm-token``, ``jwt`` and more).

Names and separators stay so that the line still says what was there.  Matching uses RE2, which
runs in linear time whatever the input; input longer than `MAX_INPUT` characters is cut (the partial
word at the cut is dropped too, so that no prefix of a secret survives) and marked.  Redacting
already redacted text changes nothing.  Works on raw text and on sanitised text (`` ⏎ `` lines).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import re2

from ._secret_formats import TOKEN_FORMATS

__all__ = ["MAX_INPUT", "credential_shaped", "redact"]

MAX_INPUT = 1_000_000

_NL = r"(?:[ \t]*\r?\n| ⏎ )"
_B64_LINE = r"[ \t]*[A-Za-z0-9+/=]{8,}"
_PEM_KIND = r"[A-Z0-9 ]*PRIVATE KEY"
_VALUE = r"(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|\[REDACTED:[a-z-]+\]|[^\s\"',;&]+)"

# Order matters only where two patterns start at the same place: the first listed wins.
_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "pem_block",
        rf"-----BEGIN {_PEM_KIND}-----(?s:.*?)-----END {_PEM_KIND}-----",
    ),
    ("pem_begin", rf"-----BEGIN {_PEM_KIND}-----(?:{_NL}(?:[A-Za-z-]+: [^\r\n⏎]*|{_B64_LINE}))*"),
    ("pem_end", rf"(?:{_B64_LINE}{_NL})*-----END {_PEM_KIND}-----"),
    (
        "slack_webhook",
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
    ),
    (
        "url_password",
        r"(?P<url_head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"'<>]+:)[^\s/@\"'<>]+(?P<url_tail>@)",
    ),
    (
        "aws_secret",
        r"(?i)(?P<aws_head>aws_secret_access_key[\"']?\s*[:=]\s*[\"']?)"
        r"(?:\[REDACTED:[a-z-]+\]|[A-Za-z0-9/+=]{20,})",
    ),
    (
        "bearer",
        r"(?i)(?P<auth_head>\bauthorization[\"']?\s*[:=]\s*[\"']?"
        r"(?:bearer|basic|token|digest|bot)?\s*)[A-Za-z0-9._~+/=-]{8,}",
    ),
    (
        "keyed",
        r"(?i)(?P<keyed_head>(?P<keyed_name>\b[A-Za-z0-9_.-]*?"
        r"(?:password|passwd|pwd|token|secret|api[_-]?key|apikey|private[_-]?key|access[_-]?key"
        r"|account[_-]?key|credentials?))"
        rf"(?:[\"']?\s*=\s*|[\"']\s*:\s*))(?P<keyed_value>{_VALUE})",
    ),
    (
        "labelled",
        r"(?i)(?P<labelled_head>\b(?:password|passwd|api[_-]?key)\s*:\s*)"
        rf"(?P<labelled_value>{_VALUE})",
    ),
    (
        "near",
        r"(?i)(?P<near_head>\b(?P<near_word>secret|key|token|password|passwd|credentials?|apikey)"
        r"s?(?:[ \t]+|[ \t]*[:=][ \t]*)[\"']?)(?P<near_value>[A-Za-z0-9/+=_.~-]{16,})",
    ),
    *((f"fmt{i}", pattern) for i, (_kind, pattern) in enumerate(TOKEN_FORMATS)),
)

_FIXED_KIND = {
    "pem_block": "private-key",
    "pem_begin": "private-key",
    "pem_end": "private-key",
    "slack_webhook": "slack-webhook",
    **{f"fmt{i}": kind for i, (kind, _pattern) in enumerate(TOKEN_FORMATS)},
}

_COMBINED = re2.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS))
_NAMES = tuple(name for name, _ in _PATTERNS)
_INDEX: dict[str, int] = dict(_COMBINED.groupindex)
_OUTER = tuple((name, _INDEX[name]) for name in _NAMES)


def _mark(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _keyed_kind(name: str) -> str:
    lowered = name.lower()
    if "pass" in lowered or lowered.endswith("pwd"):
        return "password"
    if "token" in lowered:
        return "token"
    if lowered.endswith("key"):
        return "api-key" if "api" in lowered else "secret"
    return "secret"


def _replace(match: Any) -> str:  # re2 ships no type stubs: its match is Any
    # By index, and only the groups used: re2's groups() and group(name) cost a Python call
    # per group of the combined pattern, dozens for every redacted value.
    def group(name: str) -> str | None:
        found: str | None = match.group(_INDEX[name])
        return found

    which = next(name for name, index in _OUTER if match.start(index) != -1)
    if which in _FIXED_KIND:
        return _mark(_FIXED_KIND[which])
    if which == "url_password":
        return f"{group('url_head')}{_mark('url-password')}{group('url_tail')}"
    if which == "aws_secret":
        return f"{group('aws_head')}{_mark('aws-secret-key')}"
    if which == "bearer":
        return f"{group('auth_head')}{_mark('bearer')}"
    if which == "near":
        return _near(group("near_head") or "", group("near_word") or "", group("near_value") or "")
    if which == "labelled":
        head = group("labelled_head") or ""
        kind = _keyed_kind(head.split(":")[0].strip())
        return f"{head}{_quoted(_mark(kind), group('labelled_value') or '')}"
    kind = _keyed_kind(group("keyed_name") or "")
    return f"{group('keyed_head')}{_quoted(_mark(kind), group('keyed_value') or '')}"


def _near(head: str, word: str, value: str) -> str:
    """A value printed after a word such as `secret`: redacted when it looks like a credential."""
    inner = str(_COMBINED.sub(_replace, value))
    if inner != value:
        return head + inner  # a known format, named by its own kind
    core = value.rstrip(".")
    if not credential_shaped(core):
        return head + value
    return head + _mark(_keyed_kind(word)) + value[len(core) :]


def credential_shaped(value: str) -> bool:
    """Whether `value` looks like a generated credential rather than a word, a path or a number.

    At least 16 characters that mix upper case, lower case and digits (or 32 hex-like ones with
    digits and letters), with a Shannon entropy of 3 bits a character or more.
    """
    if len(value) < 16 or value[0] in "/." or "//" in value or "[REDACTED:" in value:
        return False
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    mixed = lower and upper and digit
    long_hex = len(value) >= 32 and digit and (lower or upper)
    if not (mixed or long_hex):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.0


def _quoted(mark: str, value: str) -> str:
    """The mark inside the value's quotes, when it had some."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return f"{value[0]}{mark}{value[0]}"
    return mark


def redact(text: str) -> str:
    """Return `text` with every secret it recognises replaced by ``[REDACTED:<kind>]``."""
    suffix = ""
    if len(text) > MAX_INPUT:
        cut = text[:MAX_INPUT]
        kept = cut.rstrip()
        end = len(kept)
        while end and not kept[end - 1].isspace():
            end -= 1
        suffix = f" [TRUNCATED:{len(text) - end} chars]"
        text = kept[:end]
    if _COMBINED.search(text) is None:  # most lines: one pass in C, no substitution
        return text + suffix
    return str(_COMBINED.sub(_replace, text)) + suffix
