"""Telling the PM of a fault by channels that need no disk: their tmux clients and the desktop.

An assistant that cannot write the store cannot reach the PM through it (the daemon delivers
only what is stored), so it says so itself: `display-message` on every client of the PM
session and a desktop notification, once per fault, with the same sinks the daemon uses.
"""

from __future__ import annotations

import logging
import os

from escalation.core.config import Config
from escalation.core.events import Severity
from escalation.core.notice import Channel, Notice
from escalation.core.tmux import Tmux
from escalation.sinks.base import Sink

__all__ = ["Alarm"]

log = logging.getLogger(__name__)


class Alarm:
    """One fault at a time, told once when it begins and once when it ends."""

    def __init__(self, config: Config, tmux: Tmux) -> None:
        self._config = config
        self._tmux = tmux
        self._sinks: list[Sink] | None = None
        self.raised: str | None = None
        self.told: list[tuple[Channel, str]] = []  # what reached whom, newest last

    @property
    def sinks(self) -> list[Sink]:
        """The PM's clients and the desktop; made at the first fault, so that an assistant
        that never has one never loads notify-py and D-Bus (a few MiB each process)."""
        if self._sinks is None:
            from escalation.sinks.desktop import DesktopSink
            from escalation.sinks.pm import DisplaySink

            config = self._config
            self._sinks = [DisplaySink(self._tmux, config.pm.session)]
            if config.notify.desktop:
                self._sinks.append(DesktopSink(
                    app_name=config.notify.app_name,
                    bus_address=os.environ.get("DBUS_SESSION_BUS_ADDRESS"),
                ))
        return self._sinks

    def _tell(self, text: str, severity: Severity, title: str, now: float) -> None:
        notice = Notice(key="", channel=Channel.DISPLAY, severity=severity, title=title,
                        body=text, rule="steward", ts=now)
        for sink in self.sinks:
            try:
                if sink.deliver(notice):
                    self.told.append((sink.channel, text))
            except Exception:  # telling of a fault must not add one; logged with its trace
                log.exception("cannot tell the PM through %s", sink.channel)

    def raise_(self, text: str, now: float) -> None:
        """A fault began: tell the PM now (again only after `clear`)."""
        if self.raised is not None:
            return
        self.raised = text
        self._tell(text, Severity.CRITICAL, "Steward cannot record what it reads", now)

    def clear(self, text: str, now: float) -> None:
        """The fault ended: say so where it was told."""
        if self.raised is None:
            return
        self.raised = None
        self._tell(text, Severity.INFO, "Steward records again", now)
