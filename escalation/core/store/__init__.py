"""The SQLite event store (WAL): every event is written here before anything is delivered.

`Store` is one connection; its parts are split by what they store: events and their
deliveries, the line feed, acks and silences, panes and heartbeats, summaries, alerts.
"""

from __future__ import annotations

from .alerts import AlertRecord, AlertState, AlertStore
from .events import EventStore
from .feed import FeedBatch
from .marks import MarkStore
from .panes import Heartbeat, PaneRecord, PaneStore
from .summaries import SummaryStore
from .tallies import TallyStore

__all__ = ["AlertRecord", "AlertState", "FeedBatch", "Heartbeat", "PaneRecord", "Store"]


class Store(EventStore, MarkStore, PaneStore, SummaryStore, AlertStore, TallyStore):
    """One connection to `steward.db` with every table's queries; each process opens its own."""
