"""The daemon's housekeeping: retention of the store, and pane rows of sessions that went away.

Runs every `[store] prune_every` seconds inside the daemon's loop, the first time FIRST_AFTER
seconds after the daemon starts (so that a restart decides what waits first); a failure is
logged and tried again next time, never taken out on delivery.
"""

from __future__ import annotations

import logging
import time

from .core.config import StoreConfig
from .core.errors import StewardError
from .core.store import PruneReport, Store
from .core.tmux import Tmux

__all__ = ["DAY", "FIRST_AFTER", "Upkeep"]

log = logging.getLogger(__name__)

DAY = 86400.0
MIB = 1024 * 1024
FIRST_AFTER = 60.0


class Upkeep:
    """Prunes the store by age and size and forgets the panes of gone sessions, when due."""

    def __init__(
        self, store: Store, tmux: Tmux, config: StoreConfig, *, started: float | None = None
    ) -> None:
        self.store = store
        self.tmux = tmux
        self.config = config
        first = (time.time() if started is None else started) + min(
            FIRST_AFTER, config.prune_every
        )
        self._last = first - config.prune_every
        self.last_report: PruneReport | None = None

    def due(self, now: float) -> bool:
        return now - self._last >= self.config.prune_every

    def run(self, now: float, *, ack_cursor: int = 0) -> PruneReport | None:
        """Prune, forget gone sessions' panes and read acks; None when it failed."""
        self._last = now
        try:
            report = self.store.prune(
                before=now - self.config.keep_days * DAY,
                max_bytes=int(self.config.max_mb * MIB),
            )
            if ack_cursor:
                self.store.forget_acks(ack_cursor)
            self.sweep_sessions()
        except StewardError as exc:
            log.warning("store upkeep failed, trying again in %gs: %s",
                        self.config.prune_every, exc)
            return None
        if report.events or report.deliveries or report.summaries:
            log.info(
                "pruned %d events, %d deliveries, %d summaries; %.1f -> %.1f MiB%s",
                report.events, report.deliveries, report.summaries,
                report.bytes_before / MIB, report.bytes_after / MIB,
                " (vacuumed)" if report.vacuumed else "",
            )
        self.last_report = report
        return report

    def sweep_sessions(self) -> list[str]:
        """Forget the pane rows of sessions tmux no longer has (none while no server runs)."""
        live = self.tmux.sessions()
        if not live:
            return []
        stale = self.store.stale_sessions(live)
        if stale:
            self.store.forget_sessions(stale)
            log.info("forgot the panes of gone sessions: %s", ", ".join(stale))
        return stale

    def session_gone(self, session: str) -> None:
        """A `system.session_gone` was decided: forget its panes unless it came back."""
        try:
            if self.tmux.has_session(session):
                return
        except StewardError:
            return
        self.store.forget_sessions([session])
