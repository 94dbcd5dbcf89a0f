"""circusd.log stays free of the ConflictError tracebacks of Circus's own periodic tasks."""

from __future__ import annotations

import logging
import sys

from circus.exc import ConflictError

from supervisor.arbiter import _QuietConflicts


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1,
                             "Exception in callback %r", ("manage_watchers",), info)


def test_conflicts_are_dropped_and_other_errors_kept() -> None:
    quiet = _QuietConflicts()
    assert not quiet.filter(_record(ConflictError("arbiter is already running add command")))
    assert quiet.filter(_record(ValueError("a real bug")))
    assert quiet.filter(logging.LogRecord("x", logging.INFO, __file__, 1, "plain", (), None))
