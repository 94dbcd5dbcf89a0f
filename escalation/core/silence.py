"""Silences: the PM's "not now" for events of some rules in some sessions, until a given time."""

from __future__ import annotations

import fnmatch
import re

import attrs

from .events import Event

__all__ = ["Silence", "parse_duration"]


@attrs.frozen(kw_only=True)
class Silence:
    """Events whose rule and session match these globs are stored but not notified until `until`.

    `session` is matched against the event's session; a glob containing ``:`` is matched against
    its target (``session:window.pane``) instead, so that one pane can be silenced.  Globs are
    case-sensitive (`fnmatch.fnmatchcase`).
    """

    id: int | None
    rule: str = "*"
    session: str = "*"
    until: float
    comment: str = ""
    created: float
    author: str = ""

    def active(self, now: float) -> bool:
        """Whether the silence holds at `now`: until `until` (exclusive), whenever created."""
        return now < self.until

    def matches(self, event: Event, now: float) -> bool:
        """Whether this silence holds at `now` and covers `event`."""
        if not self.active(now):
            return False
        if not fnmatch.fnmatchcase(event.rule, self.rule):
            return False
        where = event.target if ":" in self.session else event.session
        return fnmatch.fnmatchcase(where, self.session)


_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(
    r"(?:(?P<w>\d+(?:\.\d+)?)w)?(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)
_EXAMPLES = "like 90s, 15m, 1h, 2h30m, 1d or 1w (a bare number is seconds)"


MAX_DURATION = 366 * 86400.0


def parse_duration(text: str) -> float:
    """Seconds in a duration such as "90s", "15m", "1h", "2h30m", "1d"; ValueError if malformed."""
    spec = text.strip().lower().replace(" ", "")
    if not spec:
        raise ValueError(f"empty duration: give one {_EXAMPLES}")
    try:
        seconds = float(spec)
    except ValueError:
        match = _DURATION.fullmatch(spec)
        if match is None or not any(match.groupdict().values()):
            raise ValueError(
                f"cannot read duration {text!r}: write it {_EXAMPLES}, units in that order"
            ) from None
        seconds = sum(
            float(value) * _UNIT_SECONDS[unit]
            for unit, value in match.groupdict().items()
            if value is not None
        )
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"duration {text!r} must be more than 0 seconds and finite")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than a year: silence for at most 365d")
    return seconds
