"""The validators behind every config value's range: finite numbers within bounds, tmux names,
pack names and file paths; each raises ValueError("field: reason"), reported at that key."""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs

from .paths import conf_dir

__all__ = [
    "DAY",
    "RESERVED_LABELS",
    "WEEK",
    "http_url",
    "labels",
    "not_negative",
    "pack_names",
    "paths",
    "positive",
    "short",
    "tmux_name",
    "within",
]

DAY = 86400.0
WEEK = 7 * DAY


def within(
    low: float, high: float, *, above: bool = False
) -> Callable[[object, attrs.Attribute[Any], float], None]:
    """A finite number from `low` (excluded when `above`) to `high`: NaN and infinities fail."""

    def check(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
        if not math.isfinite(value):
            raise ValueError(f"{attr.name}: must be a finite number, not {value}")
        if value < low or (above and value == low):
            least = f"greater than {low:g}" if above else f"at least {low:g}"
            raise ValueError(f"{attr.name}: must be {least}, not {value:g}")
        if value > high:
            raise ValueError(f"{attr.name}: must be at most {high:g}, not {value:g}")

    return check


def positive(
    low: float = 0.0, high: float = WEEK
) -> Callable[[object, attrs.Attribute[Any], float], None]:
    return within(low, high, above=low == 0.0)


def not_negative(high: float = WEEK) -> Callable[[object, attrs.Attribute[Any], float], None]:
    return within(0.0, high)


# tmux turns ':' and '.' in a session name into '_' and reads them as target separators.
_TMUX_NAME_BAD = re.compile(r"[:.\x00-\x1f\x7f]|^[-=]|^\s|\s$")


def tmux_name(_inst: object, attr: attrs.Attribute[Any], value: str) -> None:
    if not value:
        raise ValueError(f"{attr.name}: must not be empty")
    if _TMUX_NAME_BAD.search(value):
        raise ValueError(
            f"{attr.name}: {value!r} is not a usable tmux session name (no ':', '.', control"
            " characters, leading '-' or '=', or surrounding spaces)"
        )


_PACK_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")


def pack_names(_inst: object, attr: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for i, item in enumerate(value):
        if not _PACK_NAME.match(item):
            raise ValueError(f"{attr.name}[{i}]: {item!r} is not a pack name (a shipped pack,"
                             " e.g. generic; a file of your own goes in rules.files)")
        if not (conf_dir() / "rules" / f"{item}.toml").is_file():
            raise ValueError(f"{attr.name}[{i}]: no shipped pack {item!r}")


def paths(_inst: object, attr: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for i, item in enumerate(value):
        if not item.strip():
            raise ValueError(f"{attr.name}[{i}]: must be a file path, not an empty string")


def short(value: Any, limit: int = 60) -> str:
    """A value's repr for an error line, cut short (a deeply nested array has a huge one)."""
    try:
        text = repr(value)
    except RecursionError:
        return f"a deeply nested {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_url(_inst: object, attr: attrs.Attribute[Any], value: str) -> None:
    if not value:
        return
    try:
        parts = urllib.parse.urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise ValueError(f"{attr.name}: not a URL ({exc}): {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError(
            f"{attr.name}: must be an http:// or https:// URL with a host, not {value!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{attr.name}: must not have a query or fragment, not {value!r}")


RESERVED_LABELS = frozenset(
    {"alertname", "severity", "session", "target", "assistant", "fingerprint"}
)
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def labels(_inst: object, attr: attrs.Attribute[Any], value: tuple[tuple[str, str], ...]) -> None:
    for name, text in value:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"{attr.name}: {name!r} is not a valid Alertmanager label name")
        if name in RESERVED_LABELS:
            raise ValueError(
                f"{attr.name}: {name!r} is set by Steward for each alert; choose another name"
            )
        if not text.strip():
            raise ValueError(f"{attr.name}: the value of {name!r} must not be empty")
