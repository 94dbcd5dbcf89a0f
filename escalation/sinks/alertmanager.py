"""Alerts posted to Prometheus Alertmanager's v2 API from a worker thread, never blocking.

`deliver` only queues an `AlertNotice`; `flush` hands the cycle's queue to the worker, which
posts each alert on its own (so that a 400 for one bad alert names that alert) with the
configured timeout; `results` gives back what became of each post.  Once a post cannot reach
Alertmanager, the rest of that batch is reported as failed without waiting on it again.
Only the standard library's urllib is used (it honours `https_proxy` and `no_proxy`); no
listener is opened.
"""

from __future__ import annotations

import enum
import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import attrs

from ..core.events import Severity
from ..core.notice import Channel, Notice
from ..core.sanitize import sanitize
from ..core.store import AlertRecord

__all__ = [
    "AlertNotice",
    "AlertmanagerSink",
    "Outcome",
    "Result",
    "alert_notice",
    "payload",
    "rfc3339",
]

_log = logging.getLogger(__name__)

_DETAIL_CAP = 300


def rfc3339(ts: float) -> str:
    """Epoch seconds as Alertmanager's time format, in UTC with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


@attrs.frozen(kw_only=True)
class AlertNotice(Notice):
    """A notice for Alertmanager: the alert record and the version of it being posted."""

    alert: AlertRecord


def alert_notice(record: AlertRecord) -> AlertNotice:
    """The notice that posts `record` as it stands (firing, or ended at `ends_at`)."""
    labels = dict(record.labels)
    notes = dict(record.annotations)
    return AlertNotice(
        key=f"alertmanager:{record.key}:{record.version}",
        channel=Channel.ALERTMANAGER,
        severity=Severity.parse(labels.get("severity", "warning")),
        title=notes.get("summary", ""),
        body=notes.get("description", ""),
        target=labels.get("target", ""),
        session=labels.get("session", ""),
        rule=labels.get("alertname", ""),
        event_ids=(record.first_event,),
        ts=record.starts_at,
        alert=record,
    )


def payload(record: AlertRecord) -> dict[str, object]:
    """One alert of the v2 API's `postableAlerts` array."""
    out: dict[str, object] = {
        "labels": dict(record.labels),
        "annotations": dict(record.annotations),
        "startsAt": rfc3339(record.starts_at),
    }
    if record.ends_at is not None:
        out["endsAt"] = rfc3339(record.ends_at)
    return out


class Result(enum.StrEnum):
    """What became of one post."""

    OK = "ok"
    RETRY = "retry"  # Alertmanager unreachable, timed out or 5xx: try again later
    REJECTED = "rejected"  # 400: the alert itself is wrong; never posted again


@attrs.frozen(kw_only=True)
class Outcome:
    """The answer to posting one version of one alert."""

    key: str
    version: int
    result: Result
    detail: str = ""
    at: float = 0.0


def _display(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class AlertmanagerSink:
    """Posts alerts to `{url}/api/v2/alerts`; see the module docstring."""

    channel = Channel.ALERTMANAGER

    def __init__(self, *, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/api/v2/alerts"
        self.where = _display(self.endpoint)
        self.timeout = timeout
        self._opener = urllib.request.build_opener()
        self._pending: list[AlertNotice] = []
        self._jobs: queue.SimpleQueue[list[AlertNotice] | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._reason: str | None = None
        self._closed = False

    # -- the Sink protocol ------------------------------------------------------------------

    def available(self) -> str | None:
        """None unless the last post failed to reach Alertmanager; then why."""
        return "closed" if self._closed else self._reason

    def deliver(self, notice: Notice) -> bool:
        """Queue an AlertNotice for the next flush; False for anything else or once closed."""
        if self._closed or not isinstance(notice, AlertNotice):
            return False
        self._pending.append(notice)
        return True

    def flush(self) -> None:
        """Hand what was queued to the worker thread; returns at once."""
        if not self._pending or self._closed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="alertmanager", daemon=True)
            self._thread.start()
        self._jobs.put(self._pending)
        self._pending = []

    def close(self) -> None:
        """Stop the worker after the post it is making (bounded by the timeout)."""
        if self._closed:
            return
        self._closed = True
        self._pending = []
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=self.timeout + 1.0)

    # -- answers ----------------------------------------------------------------------------

    def results(self) -> list[Outcome]:
        """Outcomes of the posts finished since the last call, in the order they finished."""
        out: list[Outcome] = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                break
        for outcome in out:
            if outcome.result is Result.OK:
                self._reason = None
            elif outcome.result is Result.RETRY:
                self._reason = outcome.detail
        return out

    # -- the worker thread ------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            batch = self._jobs.get()
            if batch is None:
                return
            unreachable = ""
            for notice in batch:
                record = notice.alert
                if unreachable:
                    outcome = Outcome(key=record.key, version=record.version,
                                      result=Result.RETRY, detail=unreachable, at=time.time())
                else:
                    outcome = self._post(record)
                    if outcome.result is Result.RETRY and not outcome.detail.startswith("HTTP"):
                        unreachable = outcome.detail
                self._results.put(outcome)

    def _post(self, record: AlertRecord) -> Outcome:
        data = json.dumps([payload(record)]).encode()
        request = urllib.request.Request(
            self.endpoint,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "steward"},
        )
        result, detail = Result.OK, ""
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read(2000).decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                body = ""
            text = " ".join(sanitize(body).split())[:_DETAIL_CAP]
            result = Result.REJECTED if exc.code == 400 else Result.RETRY
            detail = f"HTTP {exc.code} from {self.where}: {text or exc.reason}"
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            text = " ".join(sanitize(str(reason)).split())[:_DETAIL_CAP] or type(exc).__name__
            result, detail = Result.RETRY, f"cannot post to {self.where}: {text}"
        return Outcome(key=record.key, version=record.version, result=result, detail=detail,
                       at=time.time())
