"""The interface every delivery sink implements, and the recording double that tests use."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..core.notice import Channel, Notice

__all__ = ["RecordingSink", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """Delivers notices to one channel; a failed delivery is logged and reported as False."""

    channel: Channel

    def available(self) -> str | None:
        """None when the channel can take notices now; else a one-line reason why not."""
        ...

    def deliver(self, notice: Notice) -> bool:
        """True when the notice reached its channel; never raises for a delivery failure."""
        ...

    def flush(self) -> None:
        """The end of a daemon cycle: a sink that batches notices sends what it holds."""
        ...

    def close(self) -> None:
        """Release files, connections and subprocesses; the sink is not used afterwards."""
        ...


class RecordingSink:
    """A sink that keeps every notice it is given, for tests (as httpx ships MockTransport).

    `fail` makes deliver() report failure while still recording the attempt.
    """

    def __init__(self, channel: Channel, *, fail: bool = False) -> None:
        self.channel = channel
        self.fail = fail
        self.notices: list[Notice] = []
        self.closed = False

    def available(self) -> str | None:
        return "closed" if self.closed else None

    def deliver(self, notice: Notice) -> bool:
        self.notices.append(notice)
        return not self.fail and not self.closed

    def flush(self) -> None:
        """Nothing is batched."""

    def close(self) -> None:
        self.closed = True
