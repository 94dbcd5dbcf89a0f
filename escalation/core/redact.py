"""Replace secrets in pane text with ``[REDACTED:<kind>]`` before anything stores or shows it.

Kinds: ``aws-access-key`` (AKIA/ASIA ids), ``aws-secret-key`` (the value after
aws_secret_access_key), ``github-token`` (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_),
``gitlab-token`` (glpat-), ``slack-token`` (xoxa/b/p/r/s-), ``slack-webhook`` (hooks.slack.com
URLs), ``jwt``, ``private-key`` (a PEM private key block, a BEGIN line with the base64 lines after
it, or base64 lines ending in an END line), ``password``/``token``/``secret``/``api-key`` (the
value of ``NAME=value``, ``"name": "value"`` and ``Password: value``), ``bearer`` (Authorization
header values) and ``url-password`` (the password in ``scheme://user:password@host``; the user
stays).

Names and separators stay so that the line still says what was there.  Matching uses RE2, which
runs in linear time whatever the input; input longer than `MAX_INPUT` characters is cut (the partial
word at the cut is dropped too, so that no prefix of a secret survives) and marked.  Redacting
already redacted text changes nothing.  Works on raw text and on sanitised text (`` ⏎ `` lines).
"""

from __future__ import annotations

from typing import Any

import re2

__all__ = ["MAX_INPUT", "redact"]

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
        r"(?:password|passwd|pwd|token|secret|api[_-]?key|apikey|private[_-]?key|access[_-]?key))"
        rf"(?:[\"']?\s*=\s*|[\"']\s*:\s*))(?P<keyed_value>{_VALUE})",
    ),
    (
        "labelled",
        r"(?i)(?P<labelled_head>\b(?:password|passwd|api[_-]?key)\s*:\s*)"
        rf"(?P<labelled_value>{_VALUE})",
    ),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    ("aws_key", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    ("github", r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b"),
    ("gitlab", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    ("slack", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
)

_FIXED_KIND = {
    "pem_block": "private-key",
    "pem_begin": "private-key",
    "pem_end": "private-key",
    "slack_webhook": "slack-webhook",
    "jwt": "jwt",
    "aws_key": "aws-access-key",
    "github": "github-token",
    "gitlab": "gitlab-token",
    "slack": "slack-token",
}

_COMBINED = re2.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS))
_NAMES = tuple(name for name, _ in _PATTERNS)
_INDEX: dict[str, int] = dict(_COMBINED.groupindex)


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
    found: tuple[str | None, ...] = match.groups()  # one call: re2's group(name) is slow

    def group(name: str) -> str | None:
        return found[_INDEX[name] - 1]

    which = next(name for name in _NAMES if group(name) is not None)
    if which in _FIXED_KIND:
        return _mark(_FIXED_KIND[which])
    if which == "url_password":
        return f"{group('url_head')}{_mark('url-password')}{group('url_tail')}"
    if which == "aws_secret":
        return f"{group('aws_head')}{_mark('aws-secret-key')}"
    if which == "bearer":
        return f"{group('auth_head')}{_mark('bearer')}"
    if which == "labelled":
        head = group("labelled_head") or ""
        kind = _keyed_kind(head.split(":")[0].strip())
        return f"{head}{_quoted(_mark(kind), group('labelled_value') or '')}"
    kind = _keyed_kind(group("keyed_name") or "")
    return f"{group('keyed_head')}{_quoted(_mark(kind), group('keyed_value') or '')}"


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
