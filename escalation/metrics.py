"""Steward's metrics as a Prometheus text file for node_exporter's textfile collector.

The only module that imports prometheus-client.  Every `INTERVAL` seconds the daemon writes,
atomically (a temporary file renamed over the old one): events by severity and rule, open
escalations, panes by state, capture failures and heartbeat age per assistant, assistants
restarted (a new pid behind the same name, counted since the daemon started) and alerts by
state.  node_exporter reads only files that end in `.prom`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.exposition import write_to_textfile
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .core.store import AlertState, Store

__all__ = ["INTERVAL", "MetricsFile"]

INTERVAL = 15.0

_log = logging.getLogger(__name__)


class _Snapshot(Collector):
    """The metric families of one write, read from the store."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class MetricsFile:
    """Writes the text file at `path` when `maybe_write` finds the last write old enough."""

    def __init__(self, path: Path, store: Store) -> None:
        self.path = path
        self.store = store
        self._written = float("-inf")
        self._pids: dict[str, int] = {}
        self._restarts: dict[str, int] = {}
        self._failing = ""

    def maybe_write(self, now: float) -> bool:
        """Write if `INTERVAL` has passed since the last write; True if it wrote.

        A file that cannot be written is logged (once until it can be) and tried again later.
        """
        if now - self._written < INTERVAL:
            return False
        self._written = now
        try:
            self.write(now)
        except OSError as exc:
            reason = f"cannot write the metrics file {self.path}: {exc.strerror or exc}"
            if reason != self._failing:
                _log.warning("%s", reason)
            self._failing = reason
            return False
        self._failing = ""
        return True

    def write(self, now: float) -> None:
        """Write the file now; a failure is raised as OSError."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(self.path), _Snapshot(self.families(now)))

    def families(self, now: float) -> list[Metric]:
        """Every metric family, as of `now`."""
        events = CounterMetricFamily(
            "steward_events", "Events stored, by severity and rule.", labels=["severity", "rule"]
        )
        for severity, rule, n in self.store.event_tally():
            events.add_metric([severity.label, rule], n)
        opened = GaugeMetricFamily(
            "steward_open_escalations",
            "Delivered events of warning and above not yet acknowledged or resolved.",
            value=self.store.open_escalations(),
        )
        panes = GaugeMetricFamily("steward_panes", "Watched panes by state.", labels=["state"])
        states: dict[str, int] = {}
        for record in self.store.panes():
            states[record.state] = states.get(record.state, 0) + 1
        for state, n in sorted(states.items()):
            panes.add_metric([state], n)
        failures = CounterMetricFamily(
            "steward_capture_failures",
            "Failed pane captures by assistant, since it started.",
            labels=["assistant"],
        )
        age = GaugeMetricFamily(
            "steward_heartbeat_age_seconds",
            "Seconds since each assistant's last heartbeat.",
            labels=["assistant"],
        )
        restarts = CounterMetricFamily(
            "steward_assistant_restarts",
            "Assistants seen with a new process, since the escalation daemon started.",
            labels=["assistant"],
        )
        for hb in self.store.heartbeats():
            failures.add_metric([hb.assistant], hb.failures)
            age.add_metric([hb.assistant], max(0.0, now - hb.ts))
            seen = self._pids.get(hb.assistant)
            if seen is not None and seen != hb.pid:
                self._restarts[hb.assistant] = self._restarts.get(hb.assistant, 0) + 1
            self._pids[hb.assistant] = hb.pid
            restarts.add_metric([hb.assistant], self._restarts.get(hb.assistant, 0))
        alerts = GaugeMetricFamily(
            "steward_alerts", "Alerts for Alertmanager by state.", labels=["state"]
        )
        counts = dict.fromkeys(AlertState, 0)
        for alert in self.store.alerts():
            counts[alert.state] += 1
        for state, n in counts.items():
            alerts.add_metric([state.value], n)
        return [events, opened, panes, failures, age, restarts, alerts]
