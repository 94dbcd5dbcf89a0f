"""The project digest: the seed's form across sessions, empty sections left out."""

from __future__ import annotations

import time

from assistants.digest import LINE_CAP, digest, digest_json
from assistants.summary import PaneView, Run, SessionView, Summary, summarize

NOW = 1_700_000_000.0


def _session(name: str, panes: tuple[PaneView, ...], runs: tuple[Run, ...] = ()) -> Summary:
    return summarize(SessionView(session=name, now=NOW, panes=panes, runs=runs))


def test_a_team_digest_in_the_seed_form() -> None:
    dev = _session("dev", (PaneView(target="dev:0.0", command="pytest", state="active",
                                    state_since=NOW - 2400, recent=("$ pytest -q",)),),
                   runs=(Run(ts=NOW - 1500, target="dev:0.0", rule="qa.run_failed",
                             text="pytest: 2 failed, 39 passed"),
                         Run(ts=NOW - 480, target="dev:0.0", rule="qa.run_passed",
                             text="pytest: 41 passed")))
    agent = _session("agent", (PaneView(
        target="agent:1.0", command="claude", state="waiting_input", state_since=NOW - 1200,
        recent=("● I'll use the migration tool instead of raw SQL.",
                "● Next, I will run the migration on staging."),
        prompt='approve "python manage.py migrate --database=production"?'),))
    idle = _session("notes", (PaneView(target="notes:0.0", command="bash", state="idle",
                                       state_since=NOW - 99, recent=()),))
    text = digest([agent, dev, idle], project="shop", now=NOW)
    lines = text.splitlines()
    assert lines[0] == f"[{time.strftime('%H:%M', time.localtime(NOW))}] Project: shop" \
        " - Executive Summary"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "- Current Focus", "- Key Decisions", "- Progress", "- Blockers", "- Next Steps"]
    assert "dev:0.0 pytest (active 40 min, 2 runs in 25 min)" in lines[1]
    assert "agent: ● I'll use the migration tool instead of raw SQL." in lines[2]
    assert "dev:0.0 red -> green at" in lines[3] and "(pytest: 41 passed)" in lines[3]
    assert "agent:1.0: waiting for input: approve" in lines[4] and "(20 min)" in lines[4]
    assert lines[5] == "- Next Steps: agent: ● Next, I will run the migration on staging."
    assert "none seen" not in text and all(len(line) <= LINE_CAP for line in lines)
    data = digest_json([agent, dev], project="shop", now=NOW)
    assert data["project"] == "shop" and len(data["sessions"]) == 2  # type: ignore[arg-type]


def test_a_quiet_project_leaves_every_empty_section_out() -> None:
    quiet = _session("notes", (PaneView(target="notes:0.0", command="bash", state="idle",
                                        state_since=NOW - 99, recent=()),))
    lines = digest([quiet], project="shop", now=NOW).splitlines()
    assert lines[1:] == ["- Current Focus: notes:0.0 bash (idle)"]
    assert digest([], project="shop", now=NOW).splitlines()[1].startswith("- Current Focus: no")
