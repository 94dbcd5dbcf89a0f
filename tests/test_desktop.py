"""Desktop notifications against a real private D-Bus bus and dbusmock's notification server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _dbus
import pytest

from escalation.core.events import Severity
from escalation.core.notice import Channel, Notice
from escalation.sinks.desktop import DesktopSink, escape_markup, urgency_for


@pytest.fixture
def notification_bus(tmp_path: Path) -> Iterator[_dbus.NotificationBus]:
    yield from _dbus.notification_bus(tmp_path)


def notice(
    severity: Severity = Severity.ERROR,
    *,
    title: str = "api: ValueError",
    body: str = "ValueError: boom",
) -> Notice:
    return Notice(
        key="k",
        channel=Channel.DESKTOP,
        severity=severity,
        title=title,
        body=body,
        target="api:1.0",
    )


def test_one_notify_with_critical_urgency_and_escaped_markup(
    notification_bus: _dbus.NotificationBus,
) -> None:
    sink = DesktopSink(app_name="Steward", bus_address=notification_bus.address)
    assert sink.available() is None
    assert sink.deliver(notice(Severity.CRITICAL, title="-api crashed", body="<b>&"))
    [call] = notification_bus.calls()
    assert call.app_name == "Steward"
    assert call.summary == "-api crashed"
    assert call.body == "&lt;b&gt;&amp;"
    assert call.urgency == 2


@pytest.mark.parametrize(
    ("severity", "byte"),
    [(Severity.INFO, 0), (Severity.WARNING, 1), (Severity.ERROR, 1), (Severity.CRITICAL, 2)],
)
def test_urgency_follows_severity(
    notification_bus: _dbus.NotificationBus, severity: Severity, byte: int
) -> None:
    sink = DesktopSink(app_name="Steward", bus_address=notification_bus.address)
    assert sink.deliver(notice(severity))
    assert [c.urgency for c in notification_bus.calls()] == [byte]
    assert urgency_for(severity) == {0: "low", 1: "normal", 2: "critical"}[byte]


def test_hostile_text_is_sanitised_before_the_bus(notification_bus: _dbus.NotificationBus) -> None:
    sink = DesktopSink(app_name="Steward", bus_address=notification_bus.address)
    hostile = "boom\x1b[31m red\x1b]52;c;aGk=\x07 \u202eexe.gnp\x9b2J\nsecond line"
    assert sink.deliver(notice(title="t\x1b[2Jitle\u202e", body=hostile))
    [call] = notification_bus.calls()
    for text in (call.summary, call.body):
        assert "\x1b" not in text
        assert "\u202e" not in text
        assert "\x9b" not in text
        assert "\x07" not in text
    assert call.body.split("\n") == [
        "boom⟨ESC⟩ red⟨ESC⟩ ⟨U+202E⟩exe.gnp⟨ESC⟩",
        "second line",
    ]


def test_the_jeepney_path_keeps_the_urgency(
    notification_bus: _dbus.NotificationBus, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no notify-send: the D-Bus backend sends
    sink = DesktopSink(app_name="Steward", bus_address=notification_bus.address)
    assert sink.deliver(notice(Severity.CRITICAL, body="a & b"))
    [call] = notification_bus.calls()
    assert call.urgency == 2
    assert call.body == "a &amp; b"


def test_the_bus_comes_from_the_environment_when_not_given(
    notification_bus: _dbus.NotificationBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_bus.address)
    sink = DesktopSink(app_name="Steward", bus_address=None)
    assert sink.available() is None
    assert sink.deliver(notice())
    assert len(notification_bus.calls()) == 1


def test_a_given_address_wins_over_the_environment(
    notification_bus: _dbus.NotificationBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    sink = DesktopSink(app_name="Steward", bus_address=notification_bus.address)
    assert sink.deliver(notice())
    assert len(notification_bus.calls()) == 1


def test_no_server_on_the_bus(tmp_path: Path) -> None:
    with _dbus.NotificationBus(tmp_path, server=False) as bus:
        sink = DesktopSink(app_name="Steward", bus_address=bus.address)
        assert sink.available() == "no notification server on the bus"
        assert sink.deliver(notice()) is False


def test_no_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = DesktopSink(app_name="Steward", bus_address="unix:path=/nonexistent/steward-bus")
    reason = sink.available()
    assert reason is not None
    assert reason.startswith("no D-Bus session bus")
    assert "\n" not in reason
    assert sink.deliver(notice()) is False
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    unset = DesktopSink(app_name="Steward", bus_address=None).available()
    assert unset is not None
    assert unset.startswith("no D-Bus session bus")


def test_availability_is_cached_then_rechecked_after_a_failure(
    notification_bus: _dbus.NotificationBus,
) -> None:
    sink = DesktopSink(app_name="Steward", bus_address=notification_bus.address)
    assert sink.available() is None
    notification_bus.stop_server()
    assert sink.available() is None  # cached for AVAILABILITY_TTL seconds
    assert sink.deliver(notice()) is False  # notify-send finds nobody to deliver to
    assert sink.available() == "no notification server on the bus"


def test_escape_markup() -> None:
    assert escape_markup("<b>&</b>") == "&lt;b&gt;&amp;&lt;/b&gt;"
    assert escape_markup("&amp;") == "&amp;amp;"
