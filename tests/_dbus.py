"""A private D-Bus session bus with a mock notification server that records every Notify call.

    with NotificationBus(tmp_path) as bus:        # dbus-daemon + dbusmock's notification_daemon
        DesktopSink(app_name="Steward", bus_address=bus.address).deliver(notice)
        [call] = bus.calls()                        # NotifyCall(summary=..., urgency=2, ...)

The bus listens on a unix socket in a private folder only (no TCP); both processes are
killed by stop() or on leaving the `with` block.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs
from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]  # no hints
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]  # no hints
from jeepney.io.blocking import Proxy, open_dbus_connection  # type: ignore[import-untyped]  # no hints
from libtmux.test.retry import retry_until

__all__ = ["NotificationBus", "NotifyCall", "notification_bus"]

SERVER_NAME = "org.freedesktop.Notifications"
SERVER_PATH = "/org/freedesktop/Notifications"
MOCK_IFACE = "org.freedesktop.DBus.Mock"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@attrs.frozen(kw_only=True)
class NotifyCall:
    """One org.freedesktop.Notifications.Notify call as the mock server received it."""

    app_name: str
    replaces_id: int
    icon: str
    summary: str
    body: str
    actions: tuple[str, ...]
    hints: dict[str, Any]
    urgency: int | None
    expire_timeout: int
    timestamp: float


def _plain(value: Any) -> Any:
    """A jeepney value with its variants, (signature, value) pairs, unwrapped."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return _plain(value[1])
    return value


def _read_line(stream: IO[bytes], seconds: float) -> str:
    """One line from a child's stdout, or RuntimeError after `seconds`."""
    deadline = time.monotonic() + seconds
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise RuntimeError("dbus-daemon printed no address in time")
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                raise RuntimeError("dbus-daemon exited before printing its address")
            buf += chunk
    return buf.split(b"\n", 1)[0].decode()


class NotificationBus:
    """A private session bus, optionally with dbusmock's notification server on it."""

    def __init__(self, workdir: Path, *, server: bool = True, timeout: float = 10.0) -> None:
        self.workdir = workdir
        self.timeout = timeout
        # unix socket paths are limited to 108 bytes: keep the socket folder short.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="stw-bus-"))
        self.address = ""
        self._daemon: subprocess.Popen[bytes] | None = None
        self._mock: subprocess.Popen[bytes] | None = None
        self._want_server = server

    def __enter__(self) -> NotificationBus:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process that should use this bus as its session bus."""
        return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.address}

    def start(self) -> None:
        """Start the bus (and the server unless `server=False`); both bounded by `timeout`."""
        config = self.workdir / "bus.conf"
        config.write_text(_CONFIG.format(socket_dir=self.socket_dir))
        with (self.workdir / "dbus-daemon.log").open("ab") as err:
            self._daemon = subprocess.Popen(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address"],
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        assert self._daemon.stdout is not None
        self.address = _read_line(self._daemon.stdout, self.timeout).strip()
        if not self.address.startswith("unix:"):
            raise RuntimeError(f"unexpected bus address {self.address!r}")
        if self._want_server:
            self.start_server()

    def start_server(self) -> None:
        """Put dbusmock's notification_daemon on the bus and wait until it owns its name."""
        with (self.workdir / "notification-server.log").open("ab") as log:
            self._mock = subprocess.Popen(
                [sys.executable, "-m", "dbusmock", "--template", "notification_daemon"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        retry_until(self.has_server, seconds=self.timeout)

    def stop_server(self) -> None:
        """Take the notification server off the bus and wait until its name is free."""
        _kill(self._mock)
        self._mock = None
        if self._daemon is not None and self._daemon.poll() is None:
            retry_until(lambda: not self.has_server(), seconds=self.timeout)

    def has_server(self) -> bool:
        """Whether anything owns org.freedesktop.Notifications on this bus."""
        with open_dbus_connection(bus=self.address) as conn:
            (owned,) = Proxy(message_bus, conn, timeout=self.timeout).NameHasOwner(SERVER_NAME)
        return bool(owned)

    def _mock_call(self, method: str) -> tuple[Any, ...]:
        mock = DBusAddress(SERVER_PATH, bus_name=SERVER_NAME, interface=MOCK_IFACE)
        with open_dbus_connection(bus=self.address) as conn:
            reply = conn.send_and_get_reply(new_method_call(mock, method), timeout=self.timeout)
        return tuple(reply.body)

    def calls(self) -> list[NotifyCall]:
        """Every Notify call the server received, oldest first."""
        (log,) = self._mock_call("GetCalls")
        out = []
        for ts, method, args in log:
            if method != "Notify":
                continue
            app, replaces, icon, summary, body, actions, hints, expire = (_plain(a) for a in args)
            plain_hints = {k: _plain(v) for k, v in dict(hints).items()}
            urgency = plain_hints.get("urgency")
            out.append(
                NotifyCall(
                    app_name=app,
                    replaces_id=int(replaces),
                    icon=icon,
                    summary=summary,
                    body=body,
                    actions=tuple(actions),
                    hints=plain_hints,
                    urgency=None if urgency is None else int(urgency),
                    expire_timeout=int(expire),
                    timestamp=float(ts),
                )
            )
        return out

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        self._mock_call("ClearCalls")

    def stop(self) -> None:
        """Kill the server and the bus, and remove the socket folder."""
        _kill(self._mock)
        self._mock = None
        _kill(self._daemon)
        if self._daemon is not None and self._daemon.stdout is not None:
            self._daemon.stdout.close()
        self._daemon = None
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def _kill(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate a child (and its process group), then kill it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def notification_bus(tmp_path: Path, *, server: bool = True) -> Iterator[NotificationBus]:
    """For a pytest fixture: `yield from _dbus.notification_bus(tmp_path)`."""
    with NotificationBus(tmp_path, server=server) as bus:
        yield bus
