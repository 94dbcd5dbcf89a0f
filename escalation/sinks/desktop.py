"""Desktop notifications through notify-py, on the D-Bus session bus that `steward up` saw.

The only module that imports notifypy (and jeepney, its D-Bus library).  notify-py's own
Linux backends cannot be given a bus address and drop the urgency without notify-send,
so this module hands notify-py a backend of its own: notify-send with an explicit
DBUS_SESSION_BUS_ADDRESS and `--` before the texts, or jeepney with the urgency hint.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from typing import Any

import notifypy
from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]  # no hints
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]  # no hints
from jeepney.io.blocking import Proxy, open_dbus_connection  # type: ignore[import-untyped]  # no hints

from ..core.events import Severity
from ..core.notice import Channel, Notice
from ..core.sanitize import sanitize

__all__ = ["AVAILABILITY_TTL", "SERVER_NAME", "DesktopSink", "escape_markup", "urgency_for"]

_log = logging.getLogger(__name__)

SERVER_NAME = "org.freedesktop.Notifications"
_SERVER_PATH = "/org/freedesktop/Notifications"
AVAILABILITY_TTL = 30.0  # seconds an availability answer is trusted
_TIMEOUT = 5.0  # seconds for one bus call or one notify-send
_TITLE_CAP = 120
_BODY_CAP = 1000
_BODY_LINES = 8
_URGENCY = {
    Severity.INFO: "low",
    Severity.WARNING: "normal",
    Severity.ERROR: "normal",
    Severity.CRITICAL: "critical",
}
_URGENCY_BYTE = {"low": 0, "normal": 1, "critical": 2}


def urgency_for(severity: Severity) -> str:
    """The freedesktop urgency (low, normal, critical) a severity is shown with."""
    return _URGENCY[severity]


def escape_markup(text: str) -> str:
    """Text that a server parsing body markup shows as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title(notice: Notice) -> str:
    return _cap(sanitize(notice.title).strip(), _TITLE_CAP) or "Steward"


def _body(notice: Notice) -> str:
    lines = [line.strip() for line in sanitize(notice.body, multiline=True).split("\n")]
    kept = [line for line in lines if line][:_BODY_LINES]
    return escape_markup(_cap("\n".join(kept), _BODY_CAP))


def _bus_env(bus_address: str | None) -> dict[str, str] | None:
    if not bus_address:
        return None
    return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus_address}


class _Backend(notifypy.BaseNotifier):  # type: ignore[misc]  # notify-py ships no type hints
    """notify-py's Linux backend, given the bus address and keeping the urgency."""

    def __init__(self, **kwargs: Any) -> None:
        self.bus_address: str | None = kwargs.get("bus_address")
        self.notify_send = shutil.which("notify-send")

    def send_notification(
        self,
        notification_title: str,
        notification_subtitle: str,
        notification_icon: str,
        notification_audio: str | None,
        **kwargs: Any,
    ) -> bool:
        app_name = str(kwargs.get("application_name") or "Steward")
        urgency = str(kwargs.get("notification_urgency") or "normal")
        if self.notify_send:
            return self._send_command(app_name, urgency, notification_title, notification_subtitle)
        return self._send_dbus(app_name, urgency, notification_title, notification_subtitle)

    def _send_command(self, app_name: str, urgency: str, title: str, body: str) -> bool:
        # `--` ends the options: a title that starts with "-" stays a title.
        cmd = [str(self.notify_send), "-u", urgency, "-a", app_name, "--", title, body]
        try:
            proc = subprocess.run(
                cmd,
                env=_bus_env(self.bus_address),
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            _log.warning("notify-send failed: %s", exc)
            return False
        if proc.returncode != 0:
            _log.warning("notify-send exited %d: %s", proc.returncode, proc.stderr.strip()[:200])
            return False
        return True

    def _send_dbus(self, app_name: str, urgency: str, title: str, body: str) -> bool:
        address = DBusAddress(_SERVER_PATH, bus_name=SERVER_NAME, interface=SERVER_NAME)
        hints = {"urgency": ("y", _URGENCY_BYTE.get(urgency, 1))}
        msg = new_method_call(
            address, "Notify", "susssasa{sv}i", (app_name, 0, "", title, body, [], hints, -1)
        )
        try:
            with open_dbus_connection(bus=self.bus_address or "SESSION") as conn:
                conn.send_and_get_reply(msg, timeout=_TIMEOUT)
        except Exception as exc:  # jeepney raises OSError, ValueError, KeyError, its own errors
            _log.warning("D-Bus Notify failed: %s", exc)
            return False
        return True


def _probe(bus_address: str | None) -> str | None:
    """None when a notification server owns its name on the bus; else why not."""
    address = bus_address or os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not address:
        return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
    try:
        with open_dbus_connection(bus=address, auth_timeout=_TIMEOUT) as conn:
            (owned,) = Proxy(message_bus, conn, timeout=_TIMEOUT).NameHasOwner(SERVER_NAME)
    except Exception as exc:  # jeepney raises OSError, ValueError, KeyError, its own errors
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        return f"no D-Bus session bus at {sanitize(address)}: {sanitize(detail)}"
    if not owned:
        return "no notification server on the bus"
    return None


class DesktopSink:
    """Desktop notifications, with urgency from severity and the body escaped for markup."""

    channel = Channel.DESKTOP

    def __init__(self, *, app_name: str, bus_address: str | None) -> None:
        self.app_name = sanitize(app_name).strip() or "Steward"
        self.bus_address = bus_address or None
        self._checked_at: float | None = None
        self._reason: str | None = None
        self._closed = False

    def available(self) -> str | None:
        """None when a notification server listens on the bus; else a one-line reason."""
        now = time.monotonic()
        if self._checked_at is not None and now - self._checked_at < AVAILABILITY_TTL:
            return self._reason
        reason = _probe(self.bus_address)
        if reason != self._reason:
            if reason is None:
                _log.info("desktop notifications available")
            else:
                # info: every caller tells the user itself, once (`steward up`, the daemon's log)
                _log.info("desktop notifications unavailable: %s", reason)
        self._reason, self._checked_at = reason, now
        return reason

    def deliver(self, notice: Notice) -> bool:
        if self._closed or self.available() is not None:
            return False
        notify = notifypy.Notify(
            use_custom_notifier=_Backend,
            bus_address=self.bus_address,
            default_notification_application_name=self.app_name,
        )
        notify.title = _title(notice)
        notify.message = _body(notice) or " "
        notify.urgency = urgency_for(notice.severity)
        try:
            sent = bool(notify.send(block=True))
        except Exception as exc:  # notify-py wraps any backend error in NotificationFailure
            _log.warning("desktop notification %s failed: %s", notice.key, exc)
            return False
        if not sent:
            # The server may have gone away: look again at the next delivery.
            self._checked_at = None
        return sent

    def flush(self) -> None:
        """Every notification is sent when it is delivered."""

    def close(self) -> None:
        self._closed = True
