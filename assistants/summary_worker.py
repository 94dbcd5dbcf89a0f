"""The thread that runs the user's summary command, so that a slow one never stops captures.

The scheduler's summary job only takes a snapshot of the session (a `SessionView`, read from the
store in a few milliseconds) and hands it here; the command (up to `summary.timeout` seconds)
runs in this thread, which has its own store connection.  While one summary is still being
written the next snapshot is dropped, and counted.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from escalation.core.store import Store

from .summary import SessionView, Summary, summarize_with_command

__all__ = ["SummaryWorker"]

log = logging.getLogger(__name__)

# What the worker does with a finished summary, in its own thread, with its own store.
Done = Callable[[Store, Summary, str | None], None]


class SummaryWorker:
    """One daemon thread per assistant; `submit` never blocks."""

    def __init__(self, db: Path, *, command: str, timeout: float, done: Done, name: str) -> None:
        self._db = db
        self._command = command
        self._timeout = timeout
        self._done = done
        self._queue: queue.Queue[SessionView | None] = queue.Queue(maxsize=1)
        self._busy = threading.Event()
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"summary {name}", daemon=True)
        self._thread.start()

    def submit(self, view: SessionView) -> bool:
        """Queue a snapshot; False (and counted) when the last one is still being written."""
        if self._busy.is_set():
            self.dropped += 1
            return False
        self._busy.set()  # before the put: the thread clears it when that summary is written
        self._queue.put_nowait(view)  # never full: it holds at most the one snapshot in work
        return True

    def busy(self) -> bool:
        return self._busy.is_set()

    def stop(self, wait: float = 1.0) -> None:
        """Ask the thread to end; a command still running is left to its timeout."""
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(wait)

    def _run(self) -> None:
        store: Store | None = None
        try:
            while (view := self._queue.get()) is not None:
                try:
                    summary, error = summarize_with_command(view, self._command, self._timeout)
                    if store is None:
                        store = Store(self._db)
                    self._done(store, summary, error)
                except Exception:  # a summary must never take the assistant down
                    log.exception("summary of %s failed", view.session)
                finally:
                    self._busy.clear()
        finally:
            if store is not None:
                store.close()
