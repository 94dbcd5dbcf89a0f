"""The reconciler's choices and the scheduler's stagger, without processes."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from assistants.scheduler import first_run
from escalation.core.config import Config, PMConfig, WatchConfig
from supervisor.arbiter import WatcherSpec, circus_ini
from supervisor.reconciler import next_phase, watched_sessions


def test_watched_sessions_follow_globs_and_skip_the_pm() -> None:
    config = Config(watch=WatchConfig(include=("*",), exclude=("scratch-*",)),
                    pm=PMConfig(session="pm"))
    assert watched_sessions(config, ["pm", "api", "scratch-1", "web"]) == ["api", "web"]
    only = Config(watch=WatchConfig(include=("ci-*",)))
    assert watched_sessions(only, ["ci-1", "api"]) == ["ci-1"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=0.999), max_size=30))
def test_next_phase_lands_in_the_widest_gap(taken: list[float]) -> None:
    p = next_phase(taken)
    assert 0 <= p < 1
    if taken:
        pts = sorted(taken)
        gaps = [b - a for a, b in itertools.pairwise(pts)] + [pts[0] + 1 - pts[-1]]
        nearest = min(min(abs(p - t), 1 - abs(p - t)) for t in taken)
        assert nearest >= max(gaps) / 2 - 1e-9


def test_phases_spread_over_the_interval() -> None:
    phases: list[float] = []
    for _ in range(8):
        phases.append(next_phase(phases))
    assert sorted(phases) == [i / 8 for i in range(8)]


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e9, max_value=2e9), st.floats(min_value=0.1, max_value=60),
       st.floats(min_value=0, max_value=0.999))
def test_first_run_sits_at_its_phase(now: float, interval: float, phase: float) -> None:
    t = first_run(now, interval, phase)
    assert now < t <= now + interval + 0.02
    offset = (t % interval) / interval
    assert min(abs(offset - phase), 1 - abs(offset - phase)) < 1e-6 * max(1.0, now / interval)


def test_circus_config_has_no_network_endpoints(tmp_path: object) -> None:
    from pathlib import Path

    run = Path(str(tmp_path))
    ini = circus_ini(run, run, [WatcherSpec(name="qa", args=("python", "-m", "assistants", "qa"))])
    assert "tcp://" not in ini and "udp://" not in ini
    assert "multicast_endpoint =\n" in ini
    assert f"endpoint = ipc://{run}/circus.sock" in ini
