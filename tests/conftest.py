"""Fixtures shared by the whole suite: a private state dir, a private D-Bus, a running Steward."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import _alertmanager
import _dbus
import _stack
import pytest


@pytest.fixture
def steward_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $STEWARD_HOME for this test."""
    home = tmp_path / "home"
    monkeypatch.setenv("STEWARD_HOME", str(home))
    monkeypatch.delenv("STEWARD_CONFIG", raising=False)
    return home


@pytest.fixture
def notification_bus(tmp_path: Path) -> Iterator[_dbus.NotificationBus]:
    """A private D-Bus session bus (unix socket only) with python-dbusmock's notification daemon."""
    yield from _dbus.notification_bus(tmp_path)


@pytest.fixture
def stack(
    tmp_path: Path, server: object, notification_bus: _dbus.NotificationBus
) -> Iterator[_stack.Stack]:
    """Steward up on the plugin's private tmux server, with the private bus; down afterwards."""
    socket_name = str(server.socket_name)  # libtmux Server, untyped plugin fixture
    st = _stack.Stack(tmp_path, socket_name=socket_name,
                      env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": notification_bus.address})
    try:
        yield st
    finally:
        st.down()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[_alertmanager.Alertmanager]:
    """A real Alertmanager on 127.0.0.1 (free port, storage in tmp, no cluster port)."""
    exe = _alertmanager.binary()
    if exe is None:
        pytest.skip(
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        )
    am = _alertmanager.Alertmanager(tmp_path, exe)
    am.start()
    try:
        yield am
    finally:
        am.stop()
