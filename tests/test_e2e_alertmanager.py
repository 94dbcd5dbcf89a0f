"""End to end with a real Alertmanager: real tmux servers, real circusd, one Alertmanager."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libtmux
import psutil
import pytest
from _alertmanager import Alertmanager
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

TRACEBACK = "python3 -c \"import json; json.loads('{broken')\""
RULE = "generic.python_traceback"


def _am_config(am: Alertmanager, *, labels: str, textfile: Path | None = None) -> str:
    text = (
        "[notify]\ndesktop = false\n"
        f'[alertmanager]\nurl = "{am.url}"\nresend_interval = 5.0\ntimeout = 2.0\n'
        f"labels = {{ {labels} }}\n"
    )
    if textfile is not None:
        text += f'[metrics]\ntextfile = "{textfile}"\n'
    return text


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return env


def _ticking(stack: Stack, name: str) -> bool:
    return any(a["name"] == name and int(a["ticks"]) > 0 for a in stack.status()["assistants"])


def _wait(check: Any, seconds: float, *stacks: Stack, am: Alertmanager) -> None:
    """Wait for `check()`; on timeout say what the stacks stored and Alertmanager holds."""
    if retry_until(check, seconds, raises=False):
        return
    stored = {str(st.home): st.events() for st in stacks}
    raise AssertionError(f"timed out; events {stored}; alerts {am.alerts()}")


def _no_listener(stack: Stack, am: Alertmanager) -> None:
    """Steward's processes open no listener; their only inet sockets go to Alertmanager."""
    for pid in stack.alive():
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for conn in conns:
            assert conn.status != psutil.CONN_LISTEN, f"pid {pid} listens: {conn}"
            assert conn.raddr and tuple(conn.raddr) == ("127.0.0.1", am.port), conn


def _samples(textfile: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    if not textfile.exists():
        return {}
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(textfile.read_text())
        for s in family.samples
    }


@pytest.fixture
def other_server() -> Iterator[libtmux.Server]:
    srv = libtmux.Server(socket_name=f"steward_am_{uuid.uuid4().hex[:8]}")
    try:
        yield srv
    finally:
        if srv.is_alive():
            srv.kill()


def test_a_traceback_is_an_alert_that_steward_ack_resolves(
    tmp_path: Path, server: Any, alertmanager: Alertmanager
) -> None:
    textfile = tmp_path / "node-exporter" / "steward.prom"
    st = Stack(tmp_path, socket_name=str(server.socket_name), env=_env(),
               extra_config=_am_config(alertmanager, labels='team = "shop"', textfile=textfile))
    try:
        start_session(st, "work")
        st.up()
        retry_until(lambda: _ticking(st, "session:work"), 30)
        type_line(st, "work", TRACEBACK)

        _wait(lambda: alertmanager.alerts(alertname=RULE), 45, st, am=alertmanager)
        (alert,) = alertmanager.alerts(alertname=RULE)
        print("ALERT AS ALERTMANAGER RETURNS IT:", json.dumps(alert, indent=2))
        (event,) = st.events(rule=RULE)
        assert alert["labels"] == {
            "alertname": RULE,
            "severity": "error",
            "host": socket.gethostname(),
            "session": "work",
            "target": event["target"],
            "assistant": event["assistant"],
            "fingerprint": event["fingerprint"],
            "team": "shop",
        }
        assert "JSONDecodeError" in alert["annotations"]["summary"]
        assert alert["annotations"]["jump"].endswith(f"switch-client -t '{event['target']}'")
        assert alert["status"]["state"] == "active"
        _no_listener(st, alertmanager)

        # The metrics file is there, parses, and is rewritten every 15 s.
        beat = ("steward_heartbeat_age_seconds", (("assistant", "session:work"),))
        retry_until(lambda: beat in _samples(textfile), 40)
        samples = _samples(textfile)
        assert samples[("steward_events_total", (("rule", RULE), ("severity", "error")))] == 1
        assert samples[("steward_alerts", (("state", "open"),))] == 1

        st.steward("ack", "--all")
        _wait(lambda: not alertmanager.alerts(alertname=RULE), 30, st, am=alertmanager)
    finally:
        st.down()


def test_two_stewards_feed_one_alertmanager_and_stay_apart(
    tmp_path: Path, server: Any, other_server: libtmux.Server, alertmanager: Alertmanager
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Stack(tmp_path / "a", socket_name=str(server.socket_name), env=_env(),
              extra_config=_am_config(alertmanager, labels='host = "host-a"'))
    b = Stack(tmp_path / "b", socket_name=str(other_server.socket_name), env=_env(),
              extra_config=_am_config(alertmanager, labels='host = "host-b"'))
    try:
        for st in (a, b):
            start_session(st, "work")
            st.up()
        for st in (a, b):
            retry_until(lambda: _ticking(st, "session:work"), 30)  # noqa: B023  # waited on here
            type_line(st, "work", TRACEBACK)
        _wait(lambda: len(alertmanager.alerts(alertname=RULE)) == 2, 60, a, b, am=alertmanager)
        hosts = sorted(x["labels"]["host"] for x in alertmanager.alerts(alertname=RULE))
        assert hosts == ["host-a", "host-b"]
        # The same session, pane and line on both hosts: only `host` tells them apart.
        fps = {x["labels"]["fingerprint"] for x in alertmanager.alerts(alertname=RULE)}
        assert len(fps) == 1

        a.steward("ack", "--all")
        _wait(lambda: not alertmanager.alerts(alertname=RULE, host="host-a"), 30, a, b,
              am=alertmanager)
        assert len(alertmanager.alerts(alertname=RULE, host="host-b")) == 1
    finally:
        a.down()
        b.down()
