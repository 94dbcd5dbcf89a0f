"""Executive summaries of a session, built from what Steward knows, so the PM need not read it.

Every item comes from the view: foreground commands, lines typed at a prompt and how long
each pane has been at it (focus); what agents say they chose (decisions) and will do
(next steps), in their own words; run verdicts and their trend, red -> green, and deploys
(progress); open escalations and waits, less what was acknowledged or silenced, and
stalls (blockers).  An empty section is left out.  At most three items a section, most
recent first, each one line of at most 120 characters.  A user's command may write the
summary instead (`summarize_with_command`), from a JSON view on its stdin.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator

import attrs

from escalation.core.events import Event, Severity
from escalation.core.sanitize import sanitize

__all__ = [
    "PaneView",
    "Run",
    "SessionView",
    "Summary",
    "summarize",
    "summarize_with_command",
]

ITEM_CAP = 120
ITEMS = 3
COMMAND_LINES = 8
OUTPUT_CAP = 8000

_APOS = "['’]"
_TYPED = re.compile(
    r"^(?:\([^)]*\)\s*)?"  # a virtualenv or conda marker
    r"(?:(?=[\w.@-]*[A-Za-z])[\w.@-]+(?::\S*?)?[$#%]"  # user@host:~/src$, host%, root@host:/#
    r"|[~/]\S*[$%]|[$%❯›➜λ>])"  # ~/src$, a bare $, starship's ❯, an agent's > input line
    r"\s+(?P<cmd>\S.*)$"
)
_DECISION = re.compile(
    r"\b(?:decided|decide to|decision:|chose|chosen|choosing|going with|go with|switching to|"
    r"switched to|will use|settled on|opted|opting|instead of|"
    rf"let{_APOS}s use|(?:i|we){_APOS}ll (?:use|go with|switch to|stick with))\b",
    re.IGNORECASE,
)
_NEXT = re.compile(
    r"^\W*(?:next(?: steps?)?\s*:|to-?do\s*:|next,|next up\b)"
    rf"|\b(?:then (?:i|we)(?: will|{_APOS}ll)|next,? (?:i|we)(?: will|{_APOS}ll)|"
    rf"now (?:i|we)(?: will|{_APOS}ll)|(?:i|we)(?: will|{_APOS}ll) now|remaining\s*:)",
    re.IGNORECASE,
)
_GREEN_DEPLOYS = ("_done", "_deployed", "_complete")
_RED_RUNS = frozenset({"qa.run_failed", "qa.regression"})
_SECTIONS = {
    "current focus": "focus",
    "focus": "focus",
    "key decisions": "decisions",
    "decisions": "decisions",
    "progress": "progress",
    "blockers": "blockers",
    "next steps": "next_steps",
}
_SECTION_LINE = re.compile(r"^\s*[-*•]?\s*(?P<name>[A-Za-z ]+?)\s*:\s*(?P<rest>.*)$")
_NOTHING = frozenset({"", "none", "none seen", "none identified", "n/a", "-"})
_LABELS = {"waiting_input": "waiting for input"}
_RANK = {"active": 0, "waiting_input": 0, "stalled": 0, "crashed": 1, "exited": 1, "idle": 2}


def _clean(text: str, cap: int = ITEM_CAP) -> str:
    """One line of safe text (escapes and controls shown as placeholders), at most `cap` long."""
    text = " ".join(sanitize(text).split())
    return text if len(text) <= cap else text[: cap - 1].rstrip() + "…"


def _items(values: Iterable[str], limit: int = ITEMS) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        item = _clean(value)
        if item and item not in out:
            out.append(item)
        if len(out) == limit:
            break
    return tuple(out)


@attrs.frozen(kw_only=True)
class PaneView:
    """What the summary may know of one pane; `recent` is already sanitised, oldest first."""

    target: str
    command: str
    state: str
    state_since: float
    recent: tuple[str, ...]
    prompt: str | None = None


@attrs.frozen(kw_only=True)
class Run:
    """One verdict of the QA or deploy assistant about a run in a pane."""

    ts: float
    target: str
    rule: str
    text: str

    @property
    def green(self) -> bool:
        return self.rule in ("qa.run_passed", "qa.recovered") or self.rule.endswith(_GREEN_DEPLOYS)

    def verdict(self, severity: Severity) -> bool:
        """Whether the event says how a run or a deploy ended (not that one is under way)."""
        if self.rule.startswith("qa."):
            return self.rule in ("qa.run_passed", "qa.recovered", "qa.run_failed", "qa.regression")
        return self.rule.startswith("deploy.") and (self.green or severity >= Severity.ERROR)


@attrs.frozen(kw_only=True)
class SessionView:
    """What the summary may know of one session at `now`; `runs` oldest first."""

    session: str
    now: float
    panes: tuple[PaneView, ...]
    open_events: tuple[Event, ...] = ()
    runs: tuple[Run, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The view a summary command reads on stdin: safe text only."""
        return {
            "session": _clean(self.session), "now": self.now,
            "panes": [{"target": p.target, "command": _clean(p.command), "state": p.state,
                       "state_since": p.state_since, "prompt": p.prompt,
                       "recent": [_clean(line, 1000) for line in p.recent]}
                      for p in _ranked(self)],
            "open_events": [{"id": e.id, "ts": e.ts, "target": e.target, "rule": e.rule,
                             "severity": e.severity.label, "text": _clean(e.text)}
                            for e in self.open_events],
            "runs": [{"ts": r.ts, "target": r.target, "rule": r.rule, "green": r.green,
                      "text": _clean(r.text)} for r in self.runs],
        }


@attrs.frozen(kw_only=True)
class Summary:
    """An executive summary of one session, five short sections."""

    session: str
    ts: float
    focus: tuple[str, ...]
    decisions: tuple[str, ...]
    progress: tuple[str, ...]
    blockers: tuple[str, ...]
    next_steps: tuple[str, ...]
    source: str = "heuristic"

    def sections(self) -> list[tuple[str, tuple[str, ...]]]:
        """The sections that say something, in the seed's order; empty ones are left out."""
        named = [
            ("Current Focus", self.focus),
            ("Key Decisions", self.decisions),
            ("Progress", self.progress),
            ("Blockers", self.blockers),
            ("Next Steps", self.next_steps),
        ]
        return [(name, items) for name, items in named if items]

    def render(self) -> str:
        """The summary for a person: a title line, then one line per section that says something."""
        when = time.strftime("%H:%M", time.localtime(self.ts))
        lines = [f"[{when}] Session: {_clean(self.session)} - Executive Summary"]
        lines += [f"- {name}: {'; '.join(_clean(i) for i in items)}" for name, items in
                  self.sections()]
        if len(lines) == 1:
            lines.append("- Current Focus: nothing seen yet")
        return "\n".join(lines)

    def headline(self) -> str:
        """One line for the PM pane: the blockers if any, else the focus."""
        when = time.strftime("%H:%M", time.localtime(self.ts))
        if self.blockers:
            n = len(self.blockers)
            what = f"{n} blocker{'s' if n > 1 else ''}: {self.blockers[0]}"
        elif self.focus:
            what = f"focus: {self.focus[0]}"
        else:
            what = "nothing seen yet"
        return _clean(f"[{when}] summary {self.session}: {what}", 200)

    def to_json(self) -> dict[str, object]:
        """The summary as plain JSON values."""
        return {
            "session": self.session,
            "ts": self.ts,
            "focus": list(self.focus),
            "decisions": list(self.decisions),
            "progress": list(self.progress),
            "blockers": list(self.blockers),
            "next_steps": list(self.next_steps),
            "source": self.source,
        }


def _label(state: str) -> str:
    return _LABELS.get(state, state.replace("_", " "))


def _ranked(view: SessionView) -> list[PaneView]:
    """Panes at work first, then the ones that stopped, then idle ones; latest change first."""
    return sorted(view.panes, key=lambda p: (_RANK.get(p.state, 1), -p.state_since))


def _statements(panes: list[PaneView]) -> Iterator[str]:
    """Lines of output, latest first, leaving out commands typed at a prompt."""
    for pane in panes:
        for line in reversed(pane.recent):
            if not _TYPED.match(line):
                yield line


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"


def _focus(view: SessionView, panes: list[PaneView]) -> Iterator[str]:
    for pane in panes:
        typed = next((m["cmd"] for line in reversed(pane.recent) if (m := _TYPED.match(line))), "")
        first, _, rest = typed.partition(" ")
        typed = f"{first.rsplit('/', 1)[-1]} {rest}".strip() if "/" in first else typed
        runs = [r for r in view.runs if r.target == pane.target]
        state = _label(pane.state)
        if pane.state in ("active", "stalled", "waiting_input") and view.now > pane.state_since:
            state += f" {_minutes(view.now - pane.state_since)}"
        if len(runs) > 1:
            state += f", {len(runs)} runs in {_minutes(view.now - runs[0].ts)}"
        head = f"{pane.target} {pane.command} ({state})"
        yield f"{head}: {typed}" if typed else head


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M", time.localtime(ts))


def _progress(view: SessionView) -> Iterator[str]:
    """Per pane, newest verdict first: the trend of its runs (red -> green) and the last one."""
    by_target: dict[str, list[Run]] = {}
    for run in view.runs:
        by_target.setdefault(run.target, []).append(run)
    latest = sorted(by_target.values(), key=lambda runs: -runs[-1].ts)
    for runs in latest:
        last = runs[-1]
        red_before = any(not r.green for r in runs[:-1])
        if last.green and red_before:
            yield f"{last.target} red -> green at {_hhmm(last.ts)} ({last.text})"
        elif last.green:
            yield f"{last.target} green ({last.text})"
        else:
            greens = [r for r in runs if r.green]
            since = f", red since {_hhmm(runs[-1].ts)}" if not greens else (
                f", green until {_hhmm(greens[-1].ts)}")
            yield f"{last.target} red ({last.text}{since})"


def _fixed(view: SessionView, event: Event) -> bool:
    """A red run whose pane has had a green run since: the green one replaces it."""
    return event.rule in _RED_RUNS and any(
        r.green and r.target == event.target and r.ts >= event.ts for r in view.runs)


def _blockers(view: SessionView) -> list[str]:
    found: list[tuple[int, float, str]] = []
    for event in view.open_events:
        if event.severity >= Severity.WARNING and not _fixed(view, event):
            found.append((event.severity, event.ts, f"{event.target}: {event.text}"))
    for pane in view.panes:
        if pane.state == "stalled":
            found.append((Severity.WARNING, pane.state_since,
                          f"{pane.target}: {pane.command} stalled for"
                          f" {_minutes(view.now - pane.state_since)}"))
        if pane.prompt or pane.state == "waiting_input":
            what = (pane.prompt if pane.prompt and pane.prompt.lower().startswith("waiting")
                    else f"waiting for input: {pane.prompt}" if pane.prompt
                    else "waiting for input")
            waited = f" ({_minutes(view.now - pane.state_since)})" if pane.state == (
                "waiting_input") and view.now - pane.state_since >= 60 else ""
            item = f"{pane.target}: {what}"
            if not any(_clean(item) in _clean(text) for _s, _t, text in found):
                found.append((Severity.WARNING, pane.state_since, item + waited))
    found.sort(key=lambda f: (-f[0], -f[1]))
    return [text for _s, _t, text in found]


def summarize(view: SessionView) -> Summary:
    """A summary read from the view alone; nothing in it is invented."""
    panes = _ranked(view)
    return Summary(
        session=view.session,
        ts=view.now,
        focus=_items(_focus(view, panes)),
        decisions=_items(line for line in _statements(panes) if _DECISION.search(line)),
        progress=_items(_progress(view)),
        blockers=_items(_blockers(view)),
        next_steps=_items(line for line in _statements(panes) if _NEXT.search(line)),
    )


def _session_text(view: SessionView) -> str:
    """What the summary command reads on stdin: the view as one JSON object."""
    return json.dumps(view.to_json(), ensure_ascii=False) + "\n"


def _parse(view: SessionView, stdout: str) -> Summary:
    """The command's output as a summary: its sections if it follows the format, else its lines."""
    sections: dict[str, tuple[str, ...]] = {}
    lines = [_clean(line) for line in stdout.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        m = _SECTION_LINE.match(line)
        field = _SECTIONS.get(m["name"].strip().lower()) if m else None
        if m and field:
            rest = m["rest"].strip()
            items = [] if rest.lower() in _NOTHING else rest.split("; ")
            sections[field] = _items(items)
    if not sections:
        sections["focus"] = _items(lines, COMMAND_LINES)
    return Summary(
        session=view.session,
        ts=view.now,
        focus=sections.get("focus", ()),
        decisions=sections.get("decisions", ()),
        progress=sections.get("progress", ()),
        blockers=sections.get("blockers", ()),
        next_steps=sections.get("next_steps", ()),
        source="command",
    )


def summarize_with_command(
    view: SessionView, command: str, timeout: float
) -> tuple[Summary, str | None]:
    """The summary `command` writes from the session's text; else the heuristic one and why."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return summarize(view), _clean(f"summary command is malformed: {exc}")
    if not argv:
        return summarize(view), "summary command is empty"
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
    except OSError as exc:
        return summarize(view), _clean(f"summary command cannot start: {argv[0]}: {exc.strerror}")
    try:
        out, err = proc.communicate(_session_text(view).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=1.0)  # a child that left the group may hold the pipes
        proc.kill()
        proc.wait()
        return summarize(view), f"summary command timed out after {timeout:g}s"
    stdout = out[:OUTPUT_CAP].decode(errors="replace")
    if proc.returncode != 0:
        lines = [_clean(x) for x in err.decode(errors="replace").splitlines() if x.strip()]
        code = proc.returncode
        why = (
            f"summary command exited with status {code}"
            if code > 0
            else f"summary command was killed by signal {-code}"
        )
        return summarize(view), _clean(f"{why}: {lines[-1]}" if lines else why)
    if not _clean(stdout):
        return summarize(view), "summary command printed nothing"
    return _parse(view, stdout), None
