"""Delivery sinks: where the policy's notices go (log, PM pane, desktop).

Only the interface is imported here, so that importing a sink does not pull in the
libraries of the others: `from escalation.sinks.log import LogSink`,
`from escalation.sinks.pm import DisplaySink, KeysSink`,
`from escalation.sinks.desktop import DesktopSink` (the only importer of notify-py).
"""

from __future__ import annotations

from .base import RecordingSink, Sink

__all__ = ["RecordingSink", "Sink"]
