"""The escalation policy, silences and durations, driven by a fake clock (no I/O, no sleeping)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.core.config import NotifyConfig, PMConfig, PolicyConfig
from escalation.core.events import PANE_DEAD, Event, Kind, Severity, Status
from escalation.core.notice import Channel, Notice
from escalation.core.silence import Silence, parse_duration
from escalation.policy import Decision, Policy

ERROR, WARNING, INFO, CRITICAL = Severity.ERROR, Severity.WARNING, Severity.INFO, Severity.CRITICAL


def event(
    id: int,
    *,
    ts: float = 0.0,
    session: str = "api",
    pane: str = "",
    window: str = "1",
    index: str = "0",
    rule: str = "py.error",
    severity: Severity = ERROR,
    kind: Kind = Kind.PATTERN,
    text: str = "",
    fp: str = "",
    detail: str = "",
) -> Event:
    target = f"{session}:{window}.{index}"
    return Event(
        ts=ts,
        session=session,
        window=window,
        pane=pane or f"%{session}{window}{index}",
        target=target,
        assistant=f"session:{session}",
        rule=rule,
        severity=severity,
        kind=kind,
        text=text or f"ValueError: boom {id}",
        fingerprint=fp or f"fp{id}",
        detail=detail,
        id=id,
    )


def state(id: int, rule: str, *, ts: float = 0.0, severity: Severity = WARNING, **kw: str) -> Event:
    return event(id, ts=ts, rule=rule, kind=Kind.STATE, severity=severity, fp=f"{rule}{kw}", **kw)


class Run:
    """A policy and every notice it gave, in order; fails on a key given twice."""

    def __init__(self, *, mode: str = "log", rate: int = 6, desktop: bool = True, **pol: float):
        cfg = {"cooldown": 300.0, "group_wait": 2.0, "group_interval": 60.0}
        cfg |= {"renotify_after": 600.0, "escalate_after": 1800.0} | pol
        self.policy = Policy(
            policy=PolicyConfig(**cfg),
            notify=NotifyConfig(desktop=desktop, rate_per_minute=rate),
            pm=PMConfig(mode=mode),
        )
        self.notices: list[Notice] = []

    def _keep(self, notices: Sequence[Notice]) -> list[Notice]:
        for notice in notices:
            assert notice.key not in {n.key for n in self.notices}, notice.key
            self.notices.append(notice)
        return list(notices)

    def offer(
        self, ev: Event, now: float | None = None, silences: Sequence[Silence] = ()
    ) -> Decision:
        decision = self.policy.offer(ev, ev.ts if now is None else now, silences=silences)
        self._keep(decision.notices)
        return decision

    def tick(self, now: float, **kw: object) -> list[Notice]:
        return self._keep(self.policy.tick(now, **kw))  # type: ignore[arg-type]  # passes through

    def on(self, channel: Channel) -> list[Notice]:
        return [n for n in self.notices if n.channel is channel]


# -- routing --------------------------------------------------------------------------------


def test_info_goes_to_the_log_only_and_at_once() -> None:
    run = Run(mode="display")
    decision = run.offer(event(1, severity=INFO, text="note: \x1b[1mhello\x1b[0m"))
    assert decision.status is Status.DELIVERED
    (log,) = decision.notices
    assert log.key == "log:1"
    assert log.channel is Channel.LOG and log.title == ""
    assert (log.session, log.target, log.rule, log.event_ids) == (
        "api",
        "api:1.0",
        "py.error",
        (1,),
    )
    assert log.body == "note: ⟨ESC⟩hello⟨ESC⟩"  # the log sink adds time, severity, target, rule
    run.tick(100.0)
    assert [n.channel for n in run.notices] == [Channel.LOG]


@pytest.mark.parametrize(
    ("mode", "want"),
    [("log", set()), ("display", {Channel.DISPLAY}), ("send-keys", {Channel.KEYS})],
)
def test_warnings_reach_the_pm_as_its_mode_says(mode: str, want: set[Channel]) -> None:
    run = Run(mode=mode)
    run.offer(event(1, severity=WARNING))
    assert run.tick(1.0) == []
    run.tick(2.0)
    assert {n.channel for n in run.notices} - {Channel.LOG} == want


def test_an_error_goes_to_log_now_and_to_desktop_and_display_after_group_wait() -> None:
    run = Run()
    decision = run.offer(event(1, text="ValueError: " + "x" * 400))
    assert [n.channel for n in decision.notices] == [Channel.LOG]
    out = run.tick(2.0)
    assert {n.channel for n in out} == {Channel.DESKTOP, Channel.DISPLAY}
    desktop = next(n for n in out if n.channel is Channel.DESKTOP)
    assert desktop.key == "desktop:group:api:1"
    assert desktop.title == "Steward: error in api"
    assert desktop.body.startswith("py.error · api:1.0\nValueError: xxx")
    assert len(desktop.body) <= 200
    assert desktop.severity is ERROR and desktop.event_ids == (1,)


def test_display_and_keys_bodies_carry_the_text_the_sinks_frame() -> None:
    run = Run(mode="send-keys")
    run.offer(event(1, text="ValueError: boom"))
    run.offer(event(2, session="web", text="first\x1b[0m"))
    run.offer(event(3, session="web", index="1", severity=WARNING, text="second"))
    out = {(n.channel, n.session): n for n in run.tick(2.0)}
    assert out[Channel.DISPLAY, "api"].body == "ValueError: boom"
    assert (
        out[Channel.KEYS, "web"].body == "1 error and 1 warning in web (2 panes), first: first⟨ESC⟩"
    )
    assert out[Channel.KEYS, "web"].title == ""


def test_send_keys_mode_still_displays_errors() -> None:
    run = Run(mode="send-keys")
    run.offer(event(1))
    assert {n.channel for n in run.tick(2.0)} == {Channel.KEYS, Channel.DISPLAY, Channel.DESKTOP}


def test_desktop_can_be_off() -> None:
    run = Run(desktop=False)
    run.offer(event(1, severity=CRITICAL))
    assert {n.channel for n in run.tick(2.0)} == {Channel.DISPLAY}


def test_critical_reaches_the_desktop_as_critical() -> None:
    run = Run()
    run.offer(event(1, severity=CRITICAL, kind=Kind.SYSTEM, rule="system.store_full"))
    out = run.tick(2.0)
    assert {(n.channel, n.severity) for n in out} == {
        (Channel.DESKTOP, CRITICAL),
        (Channel.DISPLAY, CRITICAL),
    }


# -- grouping -------------------------------------------------------------------------------


def test_events_of_a_session_within_group_wait_make_one_notice() -> None:
    run = Run()
    for i in range(1, 8):
        run.offer(event(i, ts=i * 0.1, text="ValueError: boom" if i == 1 else f"E{i}"))
    run.offer(event(8, ts=0.5, session="web"))
    out = run.tick(2.5)
    api = next(n for n in out if n.channel is Channel.DESKTOP and n.session == "api")
    assert api.body == "7 errors in api:1.0, first: ValueError: boom"
    assert api.event_ids == tuple(range(1, 8))
    assert len([n for n in out if n.channel is Channel.DESKTOP]) == 2


def test_a_later_group_waits_group_interval() -> None:
    run = Run()
    run.offer(event(1, ts=0.0))
    run.tick(2.0)
    run.offer(event(2, ts=10.0))
    assert run.tick(12.0) == []
    assert run.tick(61.9) == []
    later = run.tick(62.0)
    assert {n.key for n in later} == {"desktop:group:api:2", "display:group:api:2"}


def test_zero_group_wait_delivers_with_the_offer() -> None:
    run = Run(group_wait=0.0)
    decision = run.offer(event(1))
    assert {n.channel for n in decision.notices} == {Channel.LOG, Channel.DESKTOP, Channel.DISPLAY}


# -- dedup ----------------------------------------------------------------------------------


def test_repeats_within_cooldown_are_counted_then_logged() -> None:
    run = Run()
    assert run.offer(event(1, ts=0.0, fp="same")).status is Status.DELIVERED
    for i in range(2, 6):
        decision = run.offer(event(i, ts=float(i), fp="same"))
        assert (decision.status, decision.notices) == (Status.SUPPRESSED, ())
    assert [n for n in run.tick(30.0) if n.channel is Channel.LOG] == []
    (line,) = [n for n in run.tick(62.0) if n.channel is Channel.LOG]
    assert line.key == "log:repeat:2"
    assert "repeated 4 times since" in line.body
    assert line.event_ids == (2, 3, 4, 5)
    assert len(run.on(Channel.DESKTOP)) == 1


def test_the_end_of_the_cooldown_logs_the_count_and_reopens() -> None:
    run = Run(cooldown=20.0, group_interval=100.0)
    run.offer(event(1, ts=0.0, fp="same"))
    run.offer(event(2, ts=5.0, fp="same"))
    (line,) = [n for n in run.tick(20.0) if n.channel is Channel.LOG]
    assert "repeated 1 time since" in line.body
    assert run.offer(event(3, ts=25.0, fp="same")).status is Status.DELIVERED


# -- silences -------------------------------------------------------------------------------


def test_a_matching_silence_means_no_notice_at_all() -> None:
    run = Run()
    quiet = Silence(id=7, rule="py.*", session="api", until=100.0, created=0.0)
    decision = run.offer(event(1), silences=[quiet])
    assert (decision.status, decision.notices) == (Status.SILENCED, ())
    assert "7" in decision.reason
    assert run.offer(event(2, session="web"), silences=[quiet]).status is Status.DELIVERED
    assert run.offer(event(3, ts=100.0), silences=[quiet]).status is Status.DELIVERED
    assert all(1 not in n.event_ids for n in run.tick(200.0, silences=[quiet]))


def test_a_silence_made_while_a_group_waits_holds_it_back() -> None:
    run = Run()
    run.offer(event(1))
    quiet = Silence(id=1, until=100.0, created=1.0)
    assert run.tick(2.0, silences=[quiet]) == []


# -- inhibition and resolution ---------------------------------------------------------------


def test_a_dead_pane_inhibits_its_pattern_events_until_it_is_active() -> None:
    run = Run()
    run.offer(state(1, "state.exited", severity=ERROR, detail=PANE_DEAD))
    suppressed = run.offer(event(2, ts=1.0))
    assert suppressed.status is Status.SUPPRESSED and "inhibited" in suppressed.reason
    assert run.offer(event(3, ts=1.0, session="web")).status is Status.DELIVERED
    # The verdict on the run that just ended in that pane is told all the same.
    verdict = run.offer(event(6, ts=2.0, rule="qa.run_passed", severity=INFO))
    assert verdict.status is Status.DELIVERED
    active = run.offer(state(4, "state.active", ts=5.0, severity=INFO))
    assert active.status is Status.DELIVERED
    assert any(n.key == "log:inhibited:2" and "1 line" in n.body for n in active.notices)
    assert run.offer(event(5, ts=6.0)).status is Status.DELIVERED


@pytest.mark.parametrize("rule", ["state.exited", "state.crashed"])
def test_a_command_back_at_its_shell_inhibits_nothing(rule: str) -> None:
    run = Run()
    run.offer(state(1, rule, severity=WARNING))
    decision = run.offer(event(2, ts=1.0))
    assert decision.status is Status.DELIVERED, decision.reason
    desktop = [n for n in run.tick(3.0) if n.channel is Channel.DESKTOP]
    assert [n.event_ids for n in desktop] == [(2,)]
    assert not any("suppressed" in n.body for n in run.notices)


def test_a_gone_session_inhibits_its_pattern_events() -> None:
    run = Run()
    gone = event(1, kind=Kind.SYSTEM, rule="system.session_gone", severity=INFO, detail="web")
    run.offer(gone)
    assert run.offer(event(2, ts=1.0, session="web")).status is Status.SUPPRESSED
    assert run.offer(event(3, ts=1.0, session="api")).status is Status.DELIVERED
    logged = [n for n in run.tick(62.0) if n.channel is Channel.LOG]
    assert [n.event_ids for n in logged] == [(2,)]


def test_leaving_waiting_input_resolves_it_and_stops_its_ladder() -> None:
    run = Run()
    run.offer(state(1, "state.waiting_input", severity=ERROR))
    run.tick(2.0)
    decision = run.offer(state(2, "state.active", ts=100.0, severity=INFO))
    assert decision.resolved == (1,)
    assert run.tick(700.0) == []
    again = run.offer(state(3, "state.waiting_input", ts=800.0, severity=ERROR))
    assert again.status is Status.DELIVERED  # a new wait is news, cooldown or not


# -- rate limit -----------------------------------------------------------------------------


def test_desktop_rate_limit_holds_back_and_summarises() -> None:
    run = Run(rate=3)
    for i in range(1, 8):
        run.offer(event(i, session=f"s{i}"))
    out = run.tick(2.0)
    assert len([n for n in out if n.channel is Channel.DESKTOP]) == 3
    assert len([n for n in out if n.channel is Channel.DISPLAY]) == 7
    assert run.tick(61.0) == []
    (summary,) = run.tick(62.0)
    assert summary.key == "desktop:held:group:s4:4"
    assert summary.body.startswith("4 more notifications held back: 1 error in s4, 1 error in s5")
    assert summary.event_ids == (4, 5, 6, 7)


# -- ladder ---------------------------------------------------------------------------------


def test_unacked_errors_are_renotified_then_escalated_once() -> None:
    run = Run()
    run.offer(event(1))
    run.tick(2.0)
    assert run.tick(601.0) == []
    first = run.tick(602.0)
    assert {n.key for n in first} == {
        "log:renotify:1:1", "desktop:renotify:1:1", "display:renotify:1:1"
    }
    assert {n.key for n in run.tick(1202.0)} == {
        "log:renotify:1:2", "desktop:renotify:1:2", "display:renotify:1:2"
    }
    raised = run.tick(1802.0)
    assert {(n.key, n.severity) for n in raised} == {
        ("log:escalate:1", CRITICAL),
        ("desktop:escalate:1", CRITICAL),
        ("display:escalate:1", CRITICAL),
    }
    assert [n.body for n in raised if n.channel is Channel.LOG] == [
        "unacknowledged for 30 min, now critical: " + event(1).text
    ]
    later = run.tick(2402.0)
    assert {(n.key, n.severity) for n in later} == {
        ("log:renotify:1:4", CRITICAL),
        ("desktop:renotify:1:4", CRITICAL),
        ("display:renotify:1:4", CRITICAL),
    }
    assert run.tick(3002.0, acked={1}) == []
    assert run.tick(9000.0) == []


def test_errors_spread_in_time_are_reminded_together_per_session() -> None:
    run = Run(group_interval=0.0)
    for i in range(1, 31):  # one new unacknowledged error a minute for half an hour
        run.offer(event(i, ts=60.0 * i))
        run.tick(60.0 * i + 2)
    ladder = []
    now = 1802.0
    while now <= 3600.0:
        ladder += [n for n in run.tick(now) if n.channel is Channel.DISPLAY]
        now += 10.0
    # per-rung timers would remind at about 60 moments in this half hour; together, a handful
    moments = {n.ts for n in ladder}
    assert 2 <= len(moments) <= 6
    assert len(ladder) <= 2 * len(moments)  # one escalation and one renotify at most
    reminded = {i for n in ladder for i in n.event_ids}
    assert reminded == set(range(1, 31))


def test_ack_stops_the_ladder_and_warnings_never_climb_it() -> None:
    run = Run(mode="display")
    run.offer(event(1))
    run.offer(event(2, severity=WARNING, session="web"))
    run.tick(2.0)
    run.policy.ack([1])
    assert run.tick(5000.0) == []


def test_a_pane_waiting_for_an_answer_climbs_the_ladder_like_an_error() -> None:
    run = Run()
    run.offer(state(1, "state.waiting_input", severity=WARNING))
    run.tick(2.0)
    first = run.tick(602.0)
    assert {n.key for n in first} == {
        "log:renotify:1:1", "desktop:renotify:1:1", "display:renotify:1:1"}
    raised = run.tick(1802.0)
    assert {(n.key, n.severity) for n in raised} == {
        ("log:escalate:1", CRITICAL),
        ("desktop:escalate:1", CRITICAL),
        ("display:escalate:1", CRITICAL),
    }
    # Answered: the pane moves on and the reminders stop.
    run.offer(state(2, "state.active", ts=1900.0, severity=INFO))
    assert run.tick(5000.0) == []


# -- restart --------------------------------------------------------------------------------


def test_restore_rebuilds_cooldown_ladder_rate_and_pending_groups() -> None:
    run = Run(rate=2)
    for i in range(1, 4):
        run.offer(event(i, ts=0.0, session=f"s{i}"))
    run.tick(2.0)
    run.tick(602.0)
    delivered = list(run.notices)
    open_events = [event(i, ts=0.0, session=f"s{i}") for i in range(1, 4)]
    open_events.append(event(4, ts=603.0, session="s4"))  # logged, then the daemon died

    fresh = Run(rate=2)
    fresh.notices = list(delivered)
    fresh.policy.restore(delivered, open_events)
    assert fresh.offer(event(9, ts=610.0, session="s4", fp="fp4")).status is Status.SUPPRESSED
    out = fresh.tick(1202.0)
    keys = {n.key for n in out}
    assert "display:renotify:1:2" in keys and "display:renotify:2:2" in keys
    assert "display:group:s4:4" in keys
    assert sum(n.channel is Channel.DESKTOP for n in out) <= 2


# -- silences and durations ------------------------------------------------------------------


def test_silence_matches_rule_and_session_globs_until_it_ends() -> None:
    quiet = Silence(id=1, rule="py.*", session="api*", until=50.0, created=0.0, comment="deploy")
    assert quiet.active(49.9) and not quiet.active(50.0)
    assert quiet.matches(event(1, session="api-2"), 10.0)
    assert not quiet.matches(event(1, rule="sh.error"), 10.0)
    assert not quiet.matches(event(1, session="web"), 10.0)
    assert not quiet.matches(event(1), 60.0)
    pane = Silence(id=2, session="api:1.*", until=50.0, created=0.0)
    assert pane.matches(event(1, window="1"), 1.0)
    assert not pane.matches(event(1, window="2"), 1.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("2h30m", 9000), ("1d", 86400), ("45", 45)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "30m2h", "0s", "-5m", "1x", "inf"])
def test_parse_duration_rejects_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


# -- properties -----------------------------------------------------------------------------

_RULES = ["py.error", "py.error", "state.exited", "state.active", "state.waiting_input",
          "system.session_gone"]  # fmt: skip

_STEP = st.one_of(
    st.tuples(
        st.just("event"),
        st.floats(0, 20),
        st.integers(0, 2),  # session
        st.integers(0, 1),  # pane
        st.sampled_from(_RULES),
        st.sampled_from(list(Severity)),
        st.integers(0, 3),  # text, so fingerprints repeat
    ),
    st.tuples(st.just("tick"), st.floats(0, 200)),
    st.tuples(st.just("ack"), st.integers(1, 40)),
)


def _kind(rule: str) -> Kind:
    if rule.startswith("state."):
        return Kind.STATE
    return Kind.SYSTEM if rule.startswith("system.") else Kind.PATTERN


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(_STEP, max_size=40),
    cooldown=st.sampled_from([0.0, 5.0, 60.0]),
    group_wait=st.sampled_from([0.0, 2.0]),
    group_interval=st.sampled_from([0.0, 10.0, 60.0]),
    rate=st.integers(1, 3),
    mode=st.sampled_from(["log", "display", "send-keys"]),
    silence_rule=st.sampled_from(["", "py.*", "state.*", "*"]),
)
def test_policy_invariants(
    steps: list[tuple[object, ...]],
    cooldown: float,
    group_wait: float,
    group_interval: float,
    rate: int,
    mode: str,
    silence_rule: str,
) -> None:
    run = Run(
        mode=mode, rate=rate, cooldown=cooldown, group_wait=group_wait,
        group_interval=group_interval, renotify_after=30.0, escalate_after=90.0,
    )  # fmt: skip
    silences = [Silence(id=1, rule=silence_rule, session="s1", until=150.0, created=0.0)]
    now, next_id = 0.0, 1
    statuses: dict[int, Status] = {}
    for step in steps:
        if step[0] == "event":
            _, dt, s, p, rule, severity, t = step
            now += float(dt)  # type: ignore[arg-type]  # a float from the strategy
            ev = event(
                next_id, ts=now, session=f"s{s}", index=str(p), rule=str(rule),
                severity=severity, kind=_kind(str(rule)), text=f"text {t}",  # type: ignore[arg-type]
                fp=f"s{s}.{p}.{rule}.{t}", detail=f"s{s}",
            )  # fmt: skip
            decision = run.offer(ev, silences=silences)
            assert decision.status in (Status.DELIVERED, Status.SUPPRESSED, Status.SILENCED)
            assert set(decision.resolved) <= set(statuses)
            statuses[next_id] = decision.status
            next_id += 1
        elif step[0] == "tick":
            now += float(step[1])  # type: ignore[arg-type]  # a float from the strategy
            run.tick(now, silences=silences)
        else:
            run.tick(now, acked={int(step[1])}, silences=silences)  # type: ignore[call-overload]
    run.tick(now + cooldown + group_interval + 1.0, silences=silences)

    ladder = ("renotify", "escalate")  # reminders are logged too, on top of the one line each
    logged = Counter(
        i for n in run.on(Channel.LOG) if n.key.split(":")[1] not in ladder for i in n.event_ids
    )
    not_silenced = {i for i, s in statuses.items() if s is not Status.SILENCED}
    assert set(logged) == not_silenced
    assert all(count == 1 for count in logged.values())
    times = sorted(n.ts for n in run.on(Channel.DESKTOP))
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 60.0) <= rate


# -- the burst ------------------------------------------------------------------------------


def _word(i: int) -> str:
    letters = ""
    for _ in range(4):
        i, r = divmod(i, 26)
        letters += chr(ord("a") + r)
    return letters


def test_a_burst_of_200_errors_across_20_panes_stays_bounded() -> None:
    run = Run()
    t0 = 1000.0
    for i in range(200):
        session, index = f"s{i % 10}", str((i // 10) % 2)
        text = f"ValueError: {_word(i)} failed"
        ev = event(i + 1, ts=t0 + i * 0.05, session=session, index=index, text=text)
        run.offer(ev)
        run.tick(ev.ts)
    now = t0 + 10.0
    while now <= t0 + 200.0:
        run.tick(now)
        now += 0.5

    def count(channel: Channel, until: float) -> int:
        return sum(1 for n in run.on(channel) if n.ts < until)

    first = {c: count(c, t0 + 60.0) for c in Channel}
    two = {c: count(c, t0 + 120.0) for c in Channel}
    print(f"\n200-error burst, first minute: { {c.value: n for c, n in first.items()} }")
    print(f"200-error burst, two minutes:  { {c.value: n for c, n in two.items()} }")
    assert first[Channel.DESKTOP] <= 6 + 1
    assert first[Channel.DISPLAY] <= 10
    assert first[Channel.LOG] == 200
    assert two[Channel.DESKTOP] <= 2 * 6
    assert count(Channel.DESKTOP, t0 + 200.0) <= 4 * 6
    desktop_ids = {i for n in run.on(Channel.DESKTOP) for i in n.event_ids}
    assert desktop_ids == set(range(1, 201))  # nobody's error is dropped from the desktop


def test_without_a_desktop_the_log_still_reminds() -> None:
    run = Run(desktop=False)
    run.offer(event(1))
    run.tick(2.0)
    assert {n.key for n in run.tick(602.0)} == {"log:renotify:1:1", "display:renotify:1:1"}
    assert run.on(Channel.DESKTOP) == []
    assert run.tick(1202.0, acked={1}) == []


def test_a_green_run_resolves_the_red_ones_and_stops_their_reminders() -> None:
    run = Run()
    run.offer(event(1, rule="qa.run_failed"))
    run.tick(2.0)
    green = run.offer(event(2, ts=100.0, rule="qa.run_passed", severity=INFO))
    assert green.resolved == (1,)
    assert [n for n in run.tick(700.0) if "renotify" in n.key] == []
    other = run.offer(event(3, ts=800.0, rule="qa.run_failed", index="1"))
    assert other.resolved == ()


def test_a_recovered_run_resolves_the_red_ones_too() -> None:
    run = Run()
    run.offer(event(1, rule="qa.run_failed"))
    assert run.offer(event(2, ts=50.0, rule="qa.recovered", severity=INFO)).resolved == (1,)
