"""The Alertmanager sink, the alert feed and the metrics file, against a real Alertmanager.

The escalation daemon runs in the test process (no circusd) on a real store; events are
written to the store as assistants write them.  The whole stack is in test_e2e_alertmanager.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _alertmanager import Alertmanager
from libtmux.test.retry import retry_until
from prometheus_client.parser import text_string_to_metric_families

from escalation.alerts import AlertFeed, alert_for, backoff
from escalation.core.config import AlertmanagerConfig, load_config
from escalation.core.errors import ConfigError
from escalation.core.events import Event, Kind, Severity, new_event
from escalation.core.paths import StewardHome
from escalation.core.silence import Silence
from escalation.core.store import AlertState, Heartbeat, PaneRecord, Store
from escalation.daemon import Daemon
from escalation.metrics import MetricsFile
from escalation.sinks.alertmanager import AlertmanagerSink, Result, alert_notice, rfc3339
from escalation.sinks.base import Sink

HOST = "build-1"


def _config(tmp: Path, socket_name: str, body: str, *, desktop: bool = False) -> Path:
    path = tmp / "steward.toml"
    path.write_text(
        f'[tmux]\nsocket_name = "{socket_name}"\n'
        f"[notify]\ndesktop = {str(desktop).lower()}\n" + body
    )
    return path


def _daemon(
    tmp: Path, socket_name: str, url: str, extra: str = "", *, desktop: bool = False
) -> Daemon:
    path = _config(
        tmp,
        socket_name,
        f'[alertmanager]\nurl = "{url}"\nresend_interval = 2.0\ntimeout = 2.0\n'
        f'labels = {{ team = "shop", host = "{HOST}" }}\n' + extra,
        desktop=desktop,
    )
    return Daemon(load_config(path), StewardHome(root=tmp / "home").ensure())


def _error(store: Store, *, session: str = "api", text: str = "ValueError: boom") -> Event:
    event = new_event(
        ts=time.time(), session=session, window="0", pane="%1", target=f"{session}:0.0",
        assistant=f"session:{session}", rule="generic.python_traceback",
        severity=Severity.ERROR, kind=Kind.PATTERN, text=text,
        detail=f"Traceback (most recent call last):\n  File \"x.py\", line 1\n{text}",
    )
    return store.add_events([event])[0]


def _until(daemon: Daemon, check: Callable[[], Any], seconds: float) -> None:
    """Run daemon cycles until `check()` is true, as the daemon's loop would."""

    def once() -> bool:
        daemon.cycle(time.time())
        return bool(check())

    retry_until(once, seconds, interval=0.05)


@pytest.fixture
def socket_name(server: Any) -> str:
    return str(server.socket_name)  # libtmux Server, untyped plugin fixture


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    made: list[Daemon] = []
    yield made
    for d in made:
        if d.alerts is not None:
            d.alerts.close()
        d.store.close()


def test_an_escalation_is_an_alert_with_its_labels_and_an_ack_resolves_it(
    tmp_path: Path, socket_name: str, alertmanager: Alertmanager, daemons: list[Daemon]
) -> None:
    daemon = _daemon(tmp_path, socket_name, alertmanager.url)
    daemons.append(daemon)
    event = _error(daemon.store, text="ValueError: token=hunter2hunter2 \x1b[31mred")
    _until(daemon, lambda: alertmanager.alerts(fingerprint=event.fingerprint), 10)

    (alert,) = alertmanager.alerts()
    assert alert["labels"] == {
        "alertname": "generic.python_traceback",
        "severity": "error",
        "host": HOST,
        "session": "api",
        "target": "api:0.0",
        "assistant": "session:api",
        "fingerprint": event.fingerprint,
        "team": "shop",
    }
    notes = alert["annotations"]
    assert notes["summary"].startswith("ValueError: token=")
    assert "hunter2hunter2" not in notes["summary"] and "\x1b" not in notes["summary"]
    assert notes["description"].startswith("Traceback (most recent call last):")
    assert notes["jump"] == f"tmux -L {socket_name} switch-client -t 'api:0.0'"
    assert alert["startsAt"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(event.ts)))
    assert alert["status"]["state"] == "active"

    # Re-posted every resend_interval while open (once the first answer is recorded).
    _until(daemon, lambda: daemon.store.alerts()[0].posted_at is not None, 5)
    first = daemon.store.alerts()[0].posted_at
    assert first is not None
    _until(daemon, lambda: (daemon.store.alerts()[0].posted_at or 0) > first + 1.5, 10)

    assert event.id is not None
    daemon.store.ack(ids=[event.id])
    _until(daemon, lambda: not alertmanager.alerts(), 10)
    _until(daemon, lambda: daemon.store.alerts()[0].state is AlertState.CLOSED, 5)
    # Nothing reopens it: the alert stays resolved over several resend intervals.
    until = time.monotonic() + 2.5
    while time.monotonic() < until:
        daemon.cycle(time.time())
        time.sleep(0.05)
    assert alertmanager.alerts() == []
    assert daemon.store.alerts()[0].state is AlertState.CLOSED


def _state(store: Store, rule: str, severity: Severity) -> Event:
    event = new_event(
        ts=time.time(), session="agents", window="0", pane="%7", target="agents:0.0",
        assistant="session:agents", rule=rule, severity=severity, kind=Kind.STATE,
        text=f"{rule} in agents:0.0",
    )
    return store.add_events([event])[0]


def test_an_answered_prompt_resolves_its_alert_and_info_is_never_posted(
    tmp_path: Path, socket_name: str, alertmanager: Alertmanager, daemons: list[Daemon]
) -> None:
    daemon = _daemon(tmp_path, socket_name, alertmanager.url)
    daemons.append(daemon)
    waiting = _state(daemon.store, "state.waiting_input", Severity.WARNING)
    _until(daemon, lambda: alertmanager.alerts(alertname="state.waiting_input"), 10)
    assert alertmanager.alerts()[0]["labels"]["severity"] == "warning"
    # The prompt is answered: the pane is active again, which resolves the waiting event.
    _state(daemon.store, "state.active", Severity.INFO)
    _until(daemon, lambda: not alertmanager.alerts(), 10)
    assert waiting.id is not None
    stored = daemon.store.event(waiting.id)
    assert stored is not None and stored.status.value == "resolved"
    # Below min_severity (warning): the info event opened no alert.
    assert [dict(a.labels)["alertname"] for a in daemon.store.alerts()] == ["state.waiting_input"]


def test_an_error_the_ladder_raises_becomes_a_critical_alert(
    tmp_path: Path, socket_name: str, alertmanager: Alertmanager, daemons: list[Daemon]
) -> None:
    # The ladder climbs for errors routed to the desktop; no bus here, so none is shown.
    daemon = _daemon(tmp_path, socket_name, alertmanager.url,
                     "[policy]\nrenotify_after = 60.0\nescalate_after = 1.0\n", desktop=True)
    daemons.append(daemon)
    event = _error(daemon.store)
    _until(daemon, lambda: alertmanager.alerts(severity="error"), 10)
    _until(daemon, lambda: alertmanager.alerts(severity="critical"), 10)
    _until(daemon, lambda: not alertmanager.alerts(severity="error"), 10)
    (alert,) = alertmanager.alerts()
    assert alert["labels"]["fingerprint"] == event.fingerprint
    assert alert["startsAt"] == rfc3339(event.ts)
    assert event.id is not None
    daemon.store.ack(ids=[event.id])
    _until(daemon, lambda: not alertmanager.alerts(), 10)


def test_a_silence_in_steward_resolves_the_alert(
    tmp_path: Path, socket_name: str, alertmanager: Alertmanager, daemons: list[Daemon]
) -> None:
    daemon = _daemon(tmp_path, socket_name, alertmanager.url)
    daemons.append(daemon)
    _error(daemon.store, session="web")
    _until(daemon, lambda: alertmanager.alerts(session="web"), 10)
    now = time.time()
    daemon.store.add_silence(
        Silence(id=None, rule="generic.*", session="web", until=now + 600, created=now)
    )
    _until(daemon, lambda: not alertmanager.alerts(session="web"), 10)


def test_alertmanager_down_for_30s_then_up_gets_the_alert_once_across_a_restart(
    tmp_path: Path, socket_name: str, alertmanager: Alertmanager, daemons: list[Daemon]
) -> None:
    alertmanager.stop()
    daemon = _daemon(tmp_path, socket_name, alertmanager.url)
    daemons.append(daemon)
    event = _error(daemon.store)
    down_until = time.monotonic() + 15.0
    while time.monotonic() < down_until:
        daemon.cycle(time.time())
        time.sleep(0.05)
    (record,) = daemon.store.alerts()
    assert record.state is AlertState.OPEN and record.posted_at is None
    assert record.attempts >= 3  # retried with backoff: 1, 2, 2, 2 ... s
    assert daemon.alerts is not None
    reason = daemon.alerts.sink.available()
    assert reason is not None and "cannot post to" in reason
    log = (tmp_path / "home" / "log" / "steward.log").read_text()
    assert log.count("Alertmanager unreachable") == 1

    # The daemon restarts while Alertmanager is still down: what is open is kept.
    daemon.alerts.close()
    daemon.store.close()
    daemons.remove(daemon)
    again = _daemon(tmp_path, socket_name, alertmanager.url)
    daemons.append(again)
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        again.cycle(time.time())
        time.sleep(0.05)
    assert alertmanager.proc is None
    alertmanager.start()
    _until(again, lambda: alertmanager.alerts(fingerprint=event.fingerprint), 10)
    assert len(alertmanager.alerts()) == 1
    log_file = tmp_path / "home" / "log" / "steward.log"
    _until(again, lambda: "takes alerts again" in log_file.read_text(), 5)
    assert len(alertmanager.alerts()) == 1


class _Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str, severity: Severity) -> None:
        self.lines.append(text)


def test_a_400_is_logged_once_and_not_retried(
    tmp_path: Path, alertmanager: Alertmanager
) -> None:
    store = Store(tmp_path / "steward.db")
    event = _error(store)
    assert event.id is not None
    good = alert_for(event, host=HOST)
    bad = alert_for(event, host=HOST, labels=[("bad-name", "x")])  # config would refuse it
    store.open_alert(bad, event.id)
    notes = _Notes()
    config = AlertmanagerConfig(url=alertmanager.url, resend_interval=1.0)
    feed = AlertFeed(config=config, store=store,
                     sink=AlertmanagerSink(url=alertmanager.url, timeout=2.0), host=HOST,
                     note=notes)
    try:
        assert isinstance(feed.sink, Sink)

        def step() -> bool:
            feed.step(time.time())
            return store.alert(bad.key).state is AlertState.REJECTED  # type: ignore[union-attr]

        retry_until(step, 10, interval=0.05)
        (line,) = notes.lines
        assert "refused alert generic.python_traceback of api:0.0" in line
        assert 'invalid name \\"bad-name\\"' in line or "bad-name" in line
        store.open_alert(good, event.id)
        retry_until(lambda: (feed.step(time.time()), alertmanager.alerts())[1], 10,
                    interval=0.05)
        # Several resend intervals later the bad one was never posted again.
        until = time.monotonic() + 2.5
        while time.monotonic() < until:
            feed.step(time.time())
            time.sleep(0.05)
        assert len(notes.lines) == 1
        assert store.alert(bad.key).posted_at is None  # type: ignore[union-attr]
        assert [a["labels"]["fingerprint"] for a in alertmanager.alerts()] == [event.fingerprint]
    finally:
        feed.close()
        store.close()


def test_a_hanging_alertmanager_never_blocks_delivery(tmp_path: Path) -> None:
    """A listener that never answers: deliver and flush return at once; the post times out."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(8)
        url = f"http://127.0.0.1:{hang.getsockname()[1]}"
        store = Store(tmp_path / "steward.db")
        event = _error(store)
        sink = AlertmanagerSink(url=url, timeout=3.0)
        try:
            start = time.monotonic()
            assert sink.deliver(alert_notice(alert_for(event, host=HOST)))
            sink.flush()
            assert time.monotonic() - start < 0.5  # well short of the 3 s the post waits
            assert sink.results() == []
            results: list[Any] = []
            retry_until(lambda: results.extend(sink.results()) or results, 15, interval=0.05)
            assert time.monotonic() - start >= 2.9
            assert results[0].result is Result.RETRY
            assert "timed out" in results[0].detail
            assert sink.available() == results[0].detail
        finally:
            closing = threading.Thread(target=sink.close)
            closing.start()
            closing.join(5)
            store.close()


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 60.0) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff(9, 5.0) == 5.0


def test_steward_check_refuses_a_bad_alertmanager_url_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "steward.toml"
    path.write_text('[alertmanager]\nurl = "localhost:9093"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "supervisor", "check"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STEWARD_CONFIG": str(path),
             "STEWARD_HOME": str(tmp_path / "home")},
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"steward: {path}: alertmanager.url: must be an http:// or https:// URL with a host,"
        " not 'localhost:9093'"
    ]


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ('url = "alertmanager:9093"', "alertmanager.url", "http:// or https:// URL with a host"),
        ('url = "ftp://am"', "alertmanager.url", "http:// or https://"),
        ('url = "http://"', "alertmanager.url", "with a host"),
        ('min_severity = "loud"', "alertmanager.min_severity", "severity must be one of"),
        ("resend_interval = 0.5", "alertmanager.resend_interval", "must be at least 1, not 0.5"),
        ("resend_interval = nan", "alertmanager.resend_interval", "a finite number, not nan"),
        ("timeout = inf", "alertmanager.timeout", "must be a finite number, not inf"),
        ('labels = { alertname = "x" }', "alertmanager.labels", "'alertname' is set by Steward"),
        ('labels = { "bad-name" = "x" }', "alertmanager.labels", "'bad-name' is not a valid"),
        ('labels = { team = " " }', "alertmanager.labels", "'team' must not be empty"),
        ("labels = { team = 3 }", "alertmanager.labels", "table of strings"),
        ('colour = "red"', "alertmanager.colour", "unknown key"),
    ],
)
def test_bad_alertmanager_config_names_file_and_key(
    tmp_path: Path, body: str, key: str, reason: str
) -> None:
    path = tmp_path / "steward.toml"
    path.write_text(f"[alertmanager]\n{body}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {key}: ")
    assert reason in str(err.value)


def test_the_metrics_textfile_parses(
    tmp_path: Path, socket_name: str, daemons: list[Daemon]
) -> None:
    textfile = tmp_path / "node" / "steward.prom"
    path = _config(tmp_path, socket_name, f'[metrics]\ntextfile = "{textfile}"\n')
    daemon = Daemon(load_config(path), StewardHome(root=tmp_path / "home").ensure())
    daemons.append(daemon)
    now = time.time()
    _error(daemon.store)
    _error(daemon.store, session="web")
    daemon.store.save_panes([
        PaneRecord(assistant="session:api", pane="%1", session="api", target="api:0.0",
                   command="bash", state="idle", since=now, updated=now),
        PaneRecord(assistant="session:api", pane="%2", session="api", target="api:0.1",
                   command="pytest", state="active", since=now, updated=now),
    ])
    daemon.store.beat(Heartbeat(assistant="session:api", pid=4242, started=now - 60,
                                ts=now - 3, ticks=10, captures=20, failures=2, skipped=0,
                                first_capture=now - 59))
    _until(daemon, textfile.exists, 5)
    assert not list(textfile.parent.glob("*.prom.*"))  # written through a renamed temp file

    samples = {}
    for family in text_string_to_metric_families(textfile.read_text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    rule = ("rule", "generic.python_traceback")
    assert samples[("steward_events_total", (rule, ("severity", "error")))] == 2
    assert samples[("steward_open_escalations", ())] == 2
    assert samples[("steward_panes", (("state", "idle"),))] == 1
    assert samples[("steward_panes", (("state", "active"),))] == 1
    assert samples[("steward_capture_failures_total", (("assistant", "session:api"),))] == 2
    age = samples[("steward_heartbeat_age_seconds", (("assistant", "session:api"),))]
    assert 3 <= age < 30
    assert samples[("steward_assistant_restarts_total", (("assistant", "session:api"),))] == 0

    # A new pid behind the same assistant is a restart; the file is rewritten every 15 s.
    assert daemon.metrics is not None
    daemon.store.beat(Heartbeat(assistant="session:api", pid=4343, started=now, ts=now,
                                ticks=1, captures=1, failures=0, skipped=0, first_capture=now))
    assert not daemon.metrics.maybe_write(time.time())
    assert daemon.metrics.maybe_write(time.time() + 15.0)
    text = textfile.read_text()
    assert 'steward_assistant_restarts_total{assistant="session:api"} 1.0' in text


def test_an_unwritable_metrics_file_is_logged_once_and_the_daemon_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = Store(tmp_path / "steward.db")
    try:
        metrics = MetricsFile(blocker / "steward.prom", store)
        assert not metrics.maybe_write(100.0)
        assert not metrics.maybe_write(115.0)
        warnings = [r for r in caplog.records if "cannot write the metrics file" in r.message]
        assert len(warnings) == 1
        blocker.unlink()
        assert metrics.maybe_write(130.0)
        assert (blocker / "steward.prom").exists()
    finally:
        store.close()
