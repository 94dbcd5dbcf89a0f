"""The one adapter to APScheduler: interval jobs on a shared wall-clock grid, staggered by phase."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .timing import first_run

__all__ = ["Ticker"]

log = logging.getLogger(__name__)
# APScheduler logs two lines a run at INFO; only its warnings (missed runs) are worth keeping.
logging.getLogger("apscheduler").setLevel(logging.WARNING)


class Ticker:
    """Runs jobs on interval triggers; a run due while the last still goes is skipped."""

    counts_gaps = True

    def __init__(
        self,
        *,
        on_skipped: Callable[[str], None] = lambda _name: None,
        on_error: Callable[[str, BaseException], None] = lambda _name, _exc: None,
    ) -> None:
        # Jobs run in the scheduler's own thread: one thread owns the store's connection, and a
        # run that overruns makes the next one late (reported as missed), never concurrent.
        self._scheduler = BlockingScheduler(
            timezone=dt.UTC, executors={"default": DebugExecutor()}
        )
        self._on_skipped = on_skipped
        self._on_error = on_error
        self._scheduler.add_listener(
            self._listen, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR
        )

    def _listen(self, event: object) -> None:
        name = str(getattr(event, "job_id", "?"))
        exc = getattr(event, "exception", None)
        if exc is not None:
            self._on_error(name, exc)
        else:
            self._on_skipped(name)

    def every(
        self, name: str, seconds: float, fn: Callable[[], None], *, phase: float = 0.0
    ) -> None:
        """Run `fn` every `seconds`, the first run at `phase` of an interval from now."""
        start = first_run(time.time(), seconds, phase)
        self._scheduler.add_job(
            fn,
            IntervalTrigger(seconds=seconds, start_date=dt.datetime.fromtimestamp(start, dt.UTC)),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(seconds)),
        )

    def run(self) -> None:
        """Block, running jobs, until `stop()`."""
        self._scheduler.start()

    def has(self, name: str) -> bool:
        """Whether the job `name` is there and running (not paused)."""
        job = self._scheduler.get_job(name)
        # A job added before the scheduler started has no next run time yet.
        if job is not None and getattr(job, "next_run_time", True) is None:
            job.resume()  # retired a moment ago, and wanted again
        return job is not None

    def retire(self, name: str) -> bool:
        """Stop the job `name`: paused at once, removed at a later call; True once it is gone.

        A job removed while the scheduler runs a batch of due jobs that holds it makes
        APScheduler fail on it; a paused job is in no batch, so removing it later is safe.
        """
        job = self._scheduler.get_job(name)
        if job is None:
            return True
        if not self._scheduler.running or getattr(job, "next_run_time", True) is None:
            self._scheduler.remove_job(name)
            return True
        job.pause()
        return False

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
