"""The escalation policy: pure decisions about which events reach whom, and when.

Events and the clock go in, `Notice`s come out; the daemon does all I/O (it stores events, records
each notice's key before delivering it and never delivers a key twice).  Behaviour, after
Alertmanager and the tmux agent monitors:

Statuses.  `offer` gives every event exactly one status: SILENCED (a `Silence` matches; no notice at
all), SUPPRESSED (a repeat within the cooldown, or inhibited; no notice now, but counted) or
DELIVERED (a LOG notice now, other channels later).

Keys.  Unique and deterministic: ``log:<id>``, ``log:repeat:<first id>``,
``log:inhibited:<first id>``, ``<channel>:group:<session>:<first id>``,
``<channel>:renotify:<first id>:<step>``, ``<channel>:escalate:<first id>`` and
``desktop:held:<key of the first held notice, less "desktop:">``.

Log.  Each delivered event gets one LOG notice at once.  Repeats of a fingerprint within `cooldown`
of the delivery that opened it are counted; at the first tick after the cooldown ends, or
`group_interval` after the first of them, one LOG notice "… repeated N times since HH:MM" carries
all their ids.  Inhibited events are counted the same way (flushed when the inhibition lifts or
after `group_interval`).  So every event that is not silenced is in exactly one LOG notice.

Routing by severity.  DISPLAY when pm.mode is "display" and the severity is warning or worse, and in
every mode when it is at least pm.display_min_severity; KEYS when pm.mode is "send-keys" and it is
warning or worse; DESKTOP when notify.desktop and it is at least notify.min_severity.  With the
defaults: info goes to the log only, warning also to the PM (display or keys), error also to the
desktop and to display-message, critical likewise with critical urgency.

Grouping.  DISPLAY, KEYS and DESKTOP notices gather the events of one session: the first event of a
group waits `group_wait`, a later group of the same session waits until `group_interval` after the
previous one was sent.  A group of one reads as its event; a larger one as "7 errors in api:1.0,
first: ValueError: boom".  Desktop bodies are "<rule> · <target>\\n<line>", at most 200 characters,
titled "Steward: <severity> in <session>".  LOG, DISPLAY and KEYS notices carry only the text (their
sinks add time, severity, target and rule) and no title.

Rate limit.  At most notify.rate_per_minute DESKTOP notices in any 60 s.  Once one is held back,
later ones queue behind it; when the window allows, the queue goes out as one notice (itself, if it
is alone, else "12 more notifications held back: 9 errors in api, 3 errors in web").

Ladder.  An error or critical event sent to the desktop (or logged, with notify.desktop off), or
a pane waiting for input ("state.waiting_input", delivered at warning), and not acknowledged is
sent again (log, desktop and display, one notice per session) every `renotify_after`, and raised
to critical once after `escalate_after` (that notice stands in for a renotify due at the same
tick).  When one error of a session is due, the session's errors due within half a
`renotify_after` come along, so a session is reminded about twice per `renotify_after` at most.
Errors of one session and fingerprint share one rung (see `ladder`).  Acknowledging or resolving
any of a rung's events stops it; while a silence matches it, its rungs are skipped.

Inhibition and resolution.  Only a dead pane or a vanished session inhibits.  After a STATE
event "state.exited" or "state.crashed" of a pane whose detail is `PANE_DEAD` (tmux's
`pane_dead`), PATTERN events of that pane (other than run verdicts) are suppressed until any
other state event of it ("state.active", ...).  A command that returned to its shell ("exited"
without `PANE_DEAD`) inhibits nothing: the next command's errors are news.  After a SYSTEM event
"system.session_gone" (session named by `detail`, else its own session), PATTERN events of that
session are suppressed until a state event of a live pane of it.  A state event of a pane whose
rule is not "state.waiting_input" resolves that pane's open waiting_input events
(`Decision.resolved`) and stops their ladder; it also ends the cooldown of the pane's other states,
so a pane that comes back to a state is told again. A green run (qa.run_passed) resolves the pane's
red runs before it the same way. These take effect even for silenced events.

Restart.  `restore` rebuilds cooldowns (from open events), the rate window, the group timers and the
ladder (from delivered notices), and queues again open events that a channel had not been sent yet
(recent ones only).  Counts of suppressed events not yet logged are lost with the old process.
"""

from __future__ import annotations

import collections
from collections.abc import Collection, Iterable, Sequence

import attrs

from ..core.config import NotifyConfig, PMConfig, PolicyConfig
from ..core.events import PANE_DEAD, Event, Kind, Severity, Status
from ..core.notice import Channel, Notice
from ..core.silence import Silence
from . import text
from .decision import (
    _GROUPED,
    EXITED,
    GREEN_RUNS,
    RED_RUNS,
    SESSION_GONE,
    VERDICTS,
    WAITING,
    WAITS_CLIMB,
    Decision,
    _pane,
    _silenced,
)
from .ladder import Ladder
from .state import Bucket, Group, Held, RateWindow

__all__ = ["Decision", "Policy"]

class Policy:
    """Dedup, routing, grouping, rate limit, ladder, inhibition: see the module docstring."""

    def __init__(self, *, policy: PolicyConfig, notify: NotifyConfig, pm: PMConfig) -> None:
        self._cfg = policy
        self._notify = notify
        self._pm = pm
        self._desktop_min = Severity.parse(notify.min_severity)
        self._display_min = Severity.parse(pm.display_min_severity)
        self._opened: dict[str, float] = {}  # fingerprint -> delivery that opened its cooldown
        self._opened_order: collections.deque[tuple[float, str]] = collections.deque()
        self._repeats: dict[str, Bucket] = {}  # fingerprint -> repeats counted in its cooldown
        self._inhibited: dict[str, Bucket] = {}  # "pane:%1" | "session:api" -> counted events
        self._dead: dict[str, str] = {}  # pane -> the exit rule that inhibits it
        self._gone: set[str] = set()  # sessions that went away
        self._state_fps: dict[str, set[str]] = {}  # pane -> fingerprints of its delivered states
        self._waiting: dict[str, list[Event]] = {}  # pane -> open waiting_input events
        self._red: dict[str, list[Event]] = {}  # pane -> its failed runs since the last green
        self._closed: list[Bucket] = []  # buckets to log at the next chance
        self._groups: dict[tuple[Channel, str], Group] = {}
        self._last_sent: dict[tuple[Channel, str], float] = {}
        self._held: list[Held] = []
        self._window = RateWindow(notify.rate_per_minute)
        self._ladder = Ladder(renotify_after=policy.renotify_after,
                              escalate_after=policy.escalate_after)
        self._ladder_channels = tuple(c for c in (Channel.LOG, Channel.DESKTOP, Channel.DISPLAY)
                                      if c is not Channel.DESKTOP or notify.desktop)

    # -- the three entry points ------------------------------------------------------------

    def offer(self, event: Event, now: float, *, silences: Sequence[Silence] = ()) -> Decision:
        """Decide about a stored event (its id is set); returns the notices to deliver now."""
        if event.id is None:
            raise ValueError("the policy needs stored events: event.id is None")
        resolved = self._track(event)
        silence = _silenced(event, now, silences)
        if silence is not None:
            reason = f"silenced by silence {silence.id}" if silence.id is not None else "silenced"
            return Decision(status=Status.SILENCED, notices=(), resolved=resolved, reason=reason)
        inhibition = self._inhibition(event)
        if inhibition is not None:
            scope, reason = inhibition
            bucket = self._inhibited.setdefault(scope, Bucket(reason=reason, created=now))
            bucket.events.append(event)
            return Decision(status=Status.SUPPRESSED, notices=(), resolved=resolved, reason=reason)
        fp = event.fingerprint or f"event:{event.id}"
        opened = self._opened.get(fp)
        if opened is not None and now < opened + self._cfg.cooldown:
            self._repeats.setdefault(fp, Bucket(reason="", created=now)).events.append(event)
            reason = f"repeat of fingerprint {fp} within the cooldown"
            return Decision(status=Status.SUPPRESSED, notices=(), resolved=resolved, reason=reason)
        self._close(self._repeats, fp)
        self._delivered(event, now)
        out = self._flush_closed(now)
        out.append(text.log_notice(event, now))
        for channel in self._route(event.severity):
            self._enqueue(channel, event, now)
        if event.id is not None and event.rule in WAITS_CLIMB:
            # A pane waiting for an answer (an agent's approval) is reminded and raised like an
            # error: twenty minutes of waiting to run a migration must not stay one warning.
            self._ladder.add(event, now)
        elif not self._notify.desktop and event.severity >= Severity.ERROR:  # no desktop: log
            self._ladder.add(event, now)
        self._flush_groups(now, silences, out, session=event.session)
        self._release_held(now, out)
        return Decision(status=Status.DELIVERED, notices=tuple(out), resolved=resolved)

    def tick(
        self, now: float, *, acked: Collection[int] = (), silences: Sequence[Silence] = ()
    ) -> list[Notice]:
        """Everything that is due at `now`: groups, counted suppressions, the ladder, held ones."""
        if acked:
            self.ack(acked)
        out = self._flush_closed(now)
        self._flush_buckets(now, out)
        self._climb_ladder(now, silences, out)
        self._flush_groups(now, silences, out)
        self._release_held(now, out)
        return out

    def ack(self, event_ids: Collection[int]) -> None:
        """The PM has seen these events: no more renotifies, and drop them from waiting groups."""
        self._finish(set(event_ids))

    # -- restart ---------------------------------------------------------------------------

    def restore(self, delivered: Iterable[Notice], open_events: Iterable[Event]) -> None:
        """Rebuild state after a restart from recently delivered notices and still-open events."""
        notices = sorted(delivered, key=lambda n: n.ts)
        events = sorted(open_events, key=lambda e: (e.ts, e.id or 0))
        by_id = {e.id: e for e in events if e.id is not None}
        for event in events:
            self._track(event)
            self._delivered(event, event.ts)
            climbs = event.rule in WAITS_CLIMB or (
                not self._notify.desktop and event.severity >= Severity.ERROR
            )
            if climbs and event.id:
                self._ladder.add(event, event.ts)
        sent: dict[Channel, set[int]] = {}
        for notice in notices:
            sent.setdefault(notice.channel, set()).update(notice.event_ids)
            parts = notice.key.split(":")
            if notice.channel is Channel.DESKTOP:
                self._window.record(notice.ts)
            if notice.channel in _GROUPED and parts[1] == "group":
                slot = (notice.channel, notice.session)
                self._last_sent[slot] = max(self._last_sent.get(slot, notice.ts), notice.ts)
            if notice.channel is not Channel.DESKTOP:
                continue
            for event_id in notice.event_ids:
                found = by_id.get(event_id)
                if parts[1] in ("group", "held") and found and found.severity >= Severity.ERROR:
                    self._ladder.add(found, notice.ts)
                rung = self._ladder.get(event_id)
                if rung is not None and parts[1] in ("renotify", "escalate"):
                    ra = self._cfg.renotify_after
                    step = int((notice.ts - rung.start + ra / 2) // ra)
                    rung.step = max(rung.step, step)
                    rung.escalated = rung.escalated or parts[1] == "escalate"
        self._ladder.touched()
        self._requeue(events, sent, notices)

    def _requeue(
        self, events: Sequence[Event], sent: dict[Channel, set[int]], notices: Sequence[Notice]
    ) -> None:
        """Queue again recent open events that a grouped channel had not been sent yet."""
        latest = max([e.ts for e in events] + [n.ts for n in notices], default=0.0)
        horizon = latest - max(self._cfg.group_interval, 60.0) - self._cfg.group_wait
        for event in events:
            if event.ts < horizon:
                continue
            for channel in self._route(event.severity):
                if event.id not in sent.get(channel, set()):
                    self._enqueue(channel, event, event.ts)

    # -- pieces ----------------------------------------------------------------------------

    def _route(self, severity: Severity) -> list[Channel]:
        channels: list[Channel] = []
        pm_worthy = severity >= Severity.WARNING
        if (pm_worthy and self._pm.mode == "display") or severity >= self._display_min:
            channels.append(Channel.DISPLAY)
        if pm_worthy and self._pm.mode == "send-keys":
            channels.append(Channel.KEYS)
        if self._notify.desktop and severity >= self._desktop_min:
            channels.append(Channel.DESKTOP)
        return channels

    def _track(self, event: Event) -> tuple[int, ...]:
        """Inhibitions, state transitions, waiting_input and red runs resolved; resolved ids."""
        pane = _pane(event)
        if event.rule in RED_RUNS:
            self._red.setdefault(pane, []).append(event)
        elif event.rule in GREEN_RUNS:
            fixed = tuple(e.id for e in self._red.pop(pane, []) if e.id is not None)
            self._finish(set(fixed))
            return fixed
        if event.kind is Kind.SYSTEM and event.rule == SESSION_GONE:
            self._gone.add(event.detail or event.session)
        if event.kind is not Kind.STATE:
            return ()
        if event.rule in EXITED and event.detail == PANE_DEAD:
            self._dead[pane] = event.rule
        else:
            self._dead.pop(pane, None)
            self._gone.discard(event.session)
            self._close(self._inhibited, f"pane:{pane}")
            self._close(self._inhibited, f"session:{event.session}")
        fps = self._state_fps.get(pane, set())
        for fp in [f for f in fps if f != event.fingerprint]:
            fps.discard(fp)
            self._opened.pop(fp, None)
            self._close(self._repeats, fp)
        if event.rule == WAITING:
            return ()
        resolved = tuple(e.id for e in self._waiting.pop(pane, []) if e.id is not None)
        self._finish(set(resolved))
        return resolved

    def _delivered(self, event: Event, at: float) -> None:
        """Open the event's cooldown at `at`; remember a state it put its pane in."""
        fp = event.fingerprint or f"event:{event.id}"
        self._opened[fp] = max(self._opened.get(fp, at), at)
        self._opened_order.append((self._opened[fp], fp))
        if event.kind is Kind.STATE:
            self._state_fps.setdefault(_pane(event), set()).add(fp)
            if event.rule == WAITING:
                self._waiting.setdefault(_pane(event), []).append(event)

    def _inhibition(self, event: Event) -> tuple[str, str] | None:
        if event.kind is not Kind.PATTERN or event.rule in VERDICTS:
            return None  # a verdict is about a run that has just ended: never inhibited
        pane = _pane(event)
        if pane in self._dead:
            return f"pane:{pane}", f"inhibited: {event.target} is dead, {self._dead[pane]}"
        if event.session in self._gone:
            return f"session:{event.session}", f"inhibited: session {event.session} is gone"
        return None

    def _close(self, buckets: dict[str, Bucket], key: str) -> None:
        """Log the bucket's count at the next chance: what it counted has ended."""
        bucket = buckets.pop(key, None)
        if bucket is not None:
            self._closed.append(bucket)

    def _bucket_notice(self, bucket: Bucket, now: float) -> Notice:
        if bucket.reason:
            return text.inhibited_notice(bucket.events, bucket.reason, now)
        return text.repeat_notice(bucket.events, now)

    def _flush_closed(self, now: float) -> list[Notice]:
        out = [self._bucket_notice(b, now) for b in self._closed]
        self._closed.clear()
        return out

    def _flush_buckets(self, now: float, out: list[Notice]) -> None:
        interval = self._cfg.group_interval
        for fp, bucket in list(self._repeats.items()):
            cooled = now >= self._opened.get(fp, now) + self._cfg.cooldown
            if cooled or now >= bucket.created + interval:
                out.append(self._bucket_notice(self._repeats.pop(fp), now))
        for scope, bucket in list(self._inhibited.items()):
            if now >= bucket.created + interval:
                out.append(self._bucket_notice(self._inhibited.pop(scope), now))
        # Cooldowns end oldest first: only those that ended are looked at, not every one open.
        # (A cooled fingerprint's repeats were flushed just above.)
        order = self._opened_order
        while order and now >= order[0][0] + self._cfg.cooldown:
            at, fp = order.popleft()
            if self._opened.get(fp) == at and fp not in self._repeats:
                del self._opened[fp]

    def _enqueue(self, channel: Channel, event: Event, now: float) -> None:
        slot = (channel, event.session)
        group = self._groups.get(slot)
        if group is None:
            flush_at = now + self._cfg.group_wait
            last = self._last_sent.get(slot)
            if last is not None:
                flush_at = max(flush_at, last + self._cfg.group_interval)
            group = self._groups[slot] = Group(
                channel=channel, session=event.session, flush_at=flush_at
            )
        group.events.append(event)

    def _flush_groups(
        self,
        now: float,
        silences: Sequence[Silence],
        out: list[Notice],
        *,
        session: str | None = None,
    ) -> None:
        for slot, group in list(self._groups.items()):
            if group.flush_at > now or (session is not None and group.session != session):
                continue
            del self._groups[slot]
            events = [e for e in group.events if _silenced(e, now, silences) is None]
            if not events:
                continue
            self._last_sent[slot] = now
            notice = text.group_notice(group.channel, group.session, events, now)
            self._send(notice, events, now, out)

    def _send(self, notice: Notice, events: list[Event], now: float, out: list[Notice]) -> None:
        """Deliver `notice` now, unless it is for the desktop and the rate limit says wait."""
        if notice.channel is not Channel.DESKTOP:
            out.append(notice)
        elif self._held or not self._window.allows(now):
            self._held.append(Held(notice=notice, events=events))
        else:
            self._desktop(notice, events, now, out)

    def _desktop(
        self, notice: Notice, events: Sequence[Event], now: float, out: list[Notice]
    ) -> None:
        self._window.record(now)
        out.append(notice if notice.ts == now else attrs.evolve(notice, ts=now))
        kind = notice.key.split(":")[1]
        if kind in ("group", "held"):
            for event in events:
                if event.id is not None and event.severity >= Severity.ERROR:
                    self._ladder.add(event, now)

    def _release_held(self, now: float, out: list[Notice]) -> None:
        self._held = [h for h in self._held if h.events]
        if not self._held or not self._window.allows(now):
            return
        held, self._held = self._held, []
        if len(held) == 1:
            self._desktop(held[0].notice, held[0].events, now, out)
            return
        events = list({e.id: e for h in held for e in h.events}.values())
        summary = text.held_summary([h.notice.key for h in held], events, now)
        firsts = [e for h in held if h.notice.key.split(":")[1] == "group" for e in h.events]
        self._desktop(summary, firsts, now, out)

    def _climb_ladder(self, now: float, silences: Sequence[Silence], out: list[Notice]) -> None:
        due = self._ladder.climb(now, lambda e: _silenced(e, now, silences) is not None)
        for rungs, escalate in due:
            events = [r.event for r in rungs]
            age = now - rungs[0].start
            for channel in self._ladder_channels:
                notice = text.ladder_notice(
                    channel, events, now, step=rungs[0].step, escalate=escalate, age=age
                )
                if escalate or any(r.escalated for r in rungs):
                    notice = attrs.evolve(notice, severity=Severity.CRITICAL)
                self._send(notice, events, now, out)

    def _finish(self, ids: set[int]) -> None:
        """Acknowledged or resolved: off the ladder, out of waiting groups and held notices."""
        if not ids:
            return
        self._ladder.finish(ids)
        for slot, group in list(self._groups.items()):
            group.events = [e for e in group.events if e.id not in ids]
            if not group.events:
                del self._groups[slot]
        for held in self._held:
            held.events = [e for e in held.events if e.id not in ids]
        for pane, waiting in list(self._waiting.items()):
            self._waiting[pane] = [e for e in waiting if e.id not in ids]
        self._red = {pane: [e for e in red if e.id not in ids] for pane, red in self._red.items()}
