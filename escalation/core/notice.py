"""The Notice: one decision of the policy to tell someone something, handed to a sink."""

from __future__ import annotations

import enum

import attrs

from .events import Severity

__all__ = ["Channel", "Notice"]


class Channel(enum.StrEnum):
    """Where a notice goes."""

    LOG = "log"  # the aggregated log, which the PM pane follows with `steward tail`
    DISPLAY = "display"  # `display-message` in the PM session's clients
    DESKTOP = "desktop"  # a desktop notification through notify-py
    KEYS = "keys"  # one batched report typed into the PM agent's pane (pm.mode = send-keys)
    ALERTMANAGER = "alertmanager"  # an alert posted to Prometheus Alertmanager


@attrs.frozen(kw_only=True)
class Notice:
    """What a sink delivers: already sanitised, redacted and short enough for its channel.

    `key` is unique per delivery; the store records it before the sink runs, so a notice
    is never delivered twice, even across a restart of the daemon.
    """

    key: str
    channel: Channel
    severity: Severity
    title: str
    body: str
    target: str = ""
    session: str = ""
    rule: str = ""
    event_ids: tuple[int, ...] = ()
    ts: float = 0.0
