"""The QA analyzer: one pane's test-runner output becomes one finding per run, regressions first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

import attrs

from escalation.core.events import Severity
from escalation.core.sanitize import sanitize
from escalation.rules import Hit, Matcher, RuleSet

__all__ = ["Finding", "QAAnalyzer", "TestRun", "is_test_runner"]

RUNNERS = ("pytest", "unittest", "jest", "vitest", "mocha", "go", "cargo", "rspec")
HISTORY = 50  # runs kept per pane
SETTLE = 5.0  # seconds without a hit after which a run with a summary is over
FLUSH_AFTER = 2.0  # seconds after which a held block (unittest's closing lines) is let out
STALE = 3600.0  # seconds after which a run that never printed a summary is dropped
NAMES_SHOWN = 3
NAMES_KEPT = 50

# go test and cargo test print one summary per package or test binary: a run goes on
# after a summary while the runner is still in the foreground.
_AGGREGATING = frozenset({"go", "cargo"})
_ROLES = frozenset({"start", "failure", "summary", "no_tests", "duration"})

# Programs that only run tests, and programs that run tests when a later word says so.
_TEST_PROGRAMS = frozenset({
    "pytest", "py.test", "jest", "vitest", "mocha", "rspec", "tox", "nox", "nosetests", "ctest",
    "phpunit", "karma", "ava", "trial",
})
_DISPATCHERS = frozenset({
    "python", "go", "cargo", "npm", "npx", "yarn", "pnpm", "bun", "deno", "node", "ruby", "bundle",
    "rake", "make", "uv", "poetry", "hatch", "pipenv", "dotnet", "mvn", "gradle", "just",
})
_TEST_WORDS = frozenset({
    "test", "tests", "t", "pytest", "unittest", "jest", "vitest", "mocha", "rspec", "spec",
    "nextest", "tox", "nox", "check",
})
_VERSIONED = re.compile(r"^(python|ruby|node)[\d.]*$")

# A command line echoed after a shell prompt, naming a test run: "$ pytest tests/".
_ECHO = re.compile(
    r"^.{0,120}?[$#%>❯➜»]\s+(?P<cmd>(?:\S+=\S+\s+)*(?:"
    r"python[\d.]*\s+-m\s+(?:pytest|unittest)|py\.test|pytest|jest|vitest|mocha|rspec|tox|nox"
    r"|bundle\s+exec\s+rspec|go\s+test|cargo\s+(?:test|nextest)|react-scripts\s+test"
    r"|(?:npm|pnpm|yarn|bun)(?:\s+run)?\s+test(?::\S+)?|npx\s+(?:jest|vitest|mocha)"
    r"|(?:python[\d.]*\s+)?manage\.py\s+test|make\s+test)(?:\s.*)?)$"
)
_PAIR = re.compile(r"(\d+) ([a-z]+)")
_OUTCOME = re.compile(r"^(?P<word>OK|FAILED)(?: \((?P<counts>[^)]*)\))?$")
_KEYED = re.compile(r"([a-z ]+)=(\d+)")
_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)?$")
_WORD_FIELD = {
    "failed": "failed", "failing": "failed", "failure": "failed", "failures": "failed",
    "passed": "passed", "passing": "passed", "xpassed": "passed",
    "skipped": "skipped", "pending": "skipped", "ignored": "skipped", "todo": "skipped",
    "xfailed": "skipped", "expected failures": "skipped",
    "error": "errors", "errors": "errors", "unexpected successes": "failed", "total": "total",
}


def is_test_runner(command: str) -> bool:
    """Whether a foreground command (tmux's pane_current_command, or a command line) runs tests.

    A bare interpreter or build tool ("python", "go", "npm") counts, because that is how a
    test run shows in tmux (pytest runs as "python"); with arguments, one must name tests.
    """
    words = command.split()
    if not words:
        return False
    program = PurePath(words[0]).name.lower()
    program = _VERSIONED.sub(r"\1", program)
    if program in _TEST_PROGRAMS:
        return True
    if program not in _DISPATCHERS:
        return False
    rest = [w.lower() for w in words[1:]]
    return not rest or any(
        w in _TEST_WORDS or w.startswith("test:") or PurePath(w).name in _TEST_PROGRAMS
        for w in rest
    )


@attrs.frozen(kw_only=True)
class Finding:
    """What an analyzer tells the PM: a rule id, a severity, one line, and optional detail."""

    rule: str
    severity: Severity
    text: str
    detail: str = ""
    line: str = ""  # the pane line it is about, when there is one (fingerprints use it)


def _short(name: str) -> str:
    return name.rsplit("::", 1)[-1]


@attrs.frozen(kw_only=True)
class TestRun:
    """One finished test run in a pane."""

    __test__ = False  # not a pytest test class

    runner: str
    command: str  # the echoed command line, else the runner: the key for regressions
    passed: int
    failed: int
    skipped: int
    errors: int
    duration: float | None
    failing: tuple[str, ...]
    ts: float

    @property
    def green(self) -> bool:
        """Tests ran and none failed."""
        return self.failed == 0 and self.errors == 0 and self.passed > 0

    @property
    def red(self) -> bool:
        return self.failed > 0 or self.errors > 0

    def one_line(self) -> str:
        """`pytest tests/: 2 failed, 40 passed in 3.2s (test_a, test_b)`."""
        parts = [f"{n} {word}" for n, word in (
            (self.failed, "failed"), (self.errors, "error" if self.errors == 1 else "errors"),
            (self.passed, "passed"), (self.skipped, "skipped")) if n or word == "passed"]
        text = f"{self.command}: {', '.join(parts)}"
        if self.duration is not None:
            text += f" in {self.duration:.3g}s"
        if self.failing:
            names = ", ".join(_short(n) for n in self.failing[:NAMES_SHOWN])
            more = len(self.failing) - NAMES_SHOWN
            text += f" ({names}{f' +{more} more' if more > 0 else ''})"
        return sanitize(text)

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self, recurse=False) | {"failing": list(self.failing)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestRun:
        """A run from `to_json`; KeyError/TypeError/ValueError on a malformed entry."""
        duration = data["duration"]
        return cls(
            runner=str(data["runner"]), command=str(data["command"]),
            passed=int(data["passed"]), failed=int(data["failed"]),
            skipped=int(data["skipped"]), errors=int(data["errors"]),
            duration=None if duration is None else float(duration),
            failing=tuple(str(n) for n in data["failing"]), ts=float(data["ts"]),
        )


def _seconds(text: str) -> float | None:
    found = _DURATION.match(text.strip())
    if found is None:
        return None
    scale = {"ms": 0.001, "m": 60.0, "h": 3600.0}.get(found["unit"] or "s", 1.0)
    return float(found["n"]) * scale


def _runners(hit: Hit) -> frozenset[str]:
    return frozenset(t for t in hit.rule.tags if t in RUNNERS)


def _summary_key(hit: Hit) -> tuple[str, frozenset[str]]:
    return hit.rule.id, frozenset(k for k, v in hit.groups.items() if v)


@attrs.define
class _Run:
    """A run being read: what its hits said so far."""

    runners: frozenset[str]
    command: str
    started: float
    last: float
    counts: dict[str, int] = attrs.field(factory=dict)
    duration: float | None = None
    failing: list[str] = attrs.field(factory=list)
    no_tests: bool = False
    complete: bool = False
    summaries: set[tuple[str, frozenset[str]]] = attrs.field(factory=set)

    @property
    def runner(self) -> str:
        return min(self.runners) if self.runners else "tests"

    def add(self, field: str, n: int) -> None:
        self.counts[field] = self.counts.get(field, 0) + n
        self.complete = True

    def took(self, seconds: float | None) -> None:
        if seconds is not None:
            self.duration = (self.duration or 0.0) + seconds

    def repeats(self, hit: Hit) -> bool:
        """Whether `hit` is a second summary (or time) of a run that has had its own: a new run."""
        if not self.complete or self.runner in _AGGREGATING:
            return False
        if "duration" in hit.rule.tags:
            return self.duration is not None
        return "summary" in hit.rule.tags and _summary_key(hit) in self.summaries

    def take(self, hit: Hit) -> None:
        """Fold one hit of this run into it."""
        tags, groups = hit.rule.tags, hit.groups
        if "summary" in tags:
            self.summaries.add(_summary_key(hit))
        if "failure" in tags and groups.get("name") and len(self.failing) < NAMES_KEPT:
            name = sanitize(groups["name"])
            if name not in self.failing:
                self.failing.append(name)
        if "no_tests" in tags:
            self.no_tests = self.complete = True
        if "duration" in tags:
            minutes = int(groups.get("minutes") or 0)
            self.took((_seconds(groups.get("duration", "")) or 0.0) + 60.0 * minutes)
        if "summary" not in tags:
            return
        if "package_ok" in tags:
            self.add("passed", 1)
        elif "package_failed" in tags:
            self.add("failed", 1)
        elif hit.rule.name == "unittest_summary":
            self._unittest(hit)
        else:
            for field in ("passed", "failed", "skipped", "errors", "total"):
                if groups.get(field):
                    self.add(field, int(groups[field]))
            for n, word in _PAIR.findall(groups.get("counts", "")):
                if word in _WORD_FIELD:
                    self.add(_WORD_FIELD[word], int(n))
            self.complete = True
        self.took(_seconds(groups.get("duration", "")))

    def _unittest(self, hit: Hit) -> None:
        self.add("total", int(hit.groups.get("total") or 0))
        outcome = _OUTCOME.match(hit.lines[-1].strip()) if hit.lines else None
        if outcome is not None:
            for word, n in _KEYED.findall(outcome["counts"] or ""):
                field = _WORD_FIELD.get(word.strip())
                if field is not None and field != "total":
                    self.add(field, int(n))

    def finish(self, now: float) -> TestRun:
        c = self.counts
        failed, errors, skipped = c.get("failed", 0), c.get("errors", 0), c.get("skipped", 0)
        passed = c.get("passed", 0)
        if "passed" not in c and c.get("total"):
            passed = max(c["total"] - failed - errors - skipped, 0)
        if self.failing and not (failed or errors or passed):
            errors = len(self.failing)  # suites that failed to run
        return TestRun(
            runner=self.runner, command=sanitize(self.command or self.runner), passed=passed,
            failed=failed, skipped=skipped, errors=errors, duration=self.duration,
            failing=tuple(self.failing), ts=now,
        )


class QAAnalyzer:
    """Follows the test runs of one pane: one finding per finished run."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset.only("qa") if "qa" in ruleset.packs else ruleset
        self._matcher: Matcher = self.ruleset.matcher()
        self._run: _Run | None = None
        self._command = ""  # the last echoed test command not yet taken by a run
        self._history: list[TestRun] = []
        self._last_feed = 0.0

    @property
    def history(self) -> tuple[TestRun, ...]:
        """Finished runs, newest last (at most HISTORY)."""
        return tuple(self._history)

    def feed(self, lines: Sequence[str], now: float, *, command: str = "") -> list[Finding]:
        """Findings for the runs these lines finish; `command`: the pane's foreground program."""
        findings = self.tick(now)
        self._last_feed = now
        last_hit = False  # whether the last non-blank line was a hit
        for line in lines:
            hits = self._matcher.feed([line])
            for hit in hits:
                self._take(hit, now, findings)
            if not hits:
                self._echo(line, findings)
            if line.strip():
                last_hit = bool(hits)
        exited = bool(command) and not is_test_runner(command)
        if exited:
            for hit in self._matcher.flush():
                self._take(hit, now, findings)
        run = self._run
        if run is not None and run.complete:
            waits = run.runner in _AGGREGATING and last_hit and not exited
            if not waits and not self._matcher.pending:
                self._close(now, findings)
        return findings

    def tick(self, now: float) -> list[Finding]:
        """Findings for a run that went quiet: its held lines let out, a summarised run closed."""
        findings: list[Finding] = []
        if self._matcher.pending and now - self._last_feed >= FLUSH_AFTER:
            for hit in self._matcher.flush():
                self._take(hit, now, findings)
        run = self._run
        if run is not None and not self._matcher.pending:
            if run.complete and now - run.last >= SETTLE:
                self._close(now, findings)
            elif not run.complete and now - run.last >= STALE:
                self._run = None
        return findings

    def _echo(self, line: str, findings: list[Finding]) -> None:
        found = _ECHO.match(line.strip())
        if found is None:
            return
        if self._run is not None:
            self._close(self._run.last, findings)
        self._command = " ".join(found["cmd"].split())

    def _take(self, hit: Hit, now: float, findings: list[Finding]) -> None:
        runners, tags = _runners(hit), hit.rule.tags
        run = self._run
        if run is not None and not runners & run.runners:
            if "failure" in tags:
                return  # another runner's failure format showing up in this run's output
            self._close(now, findings)
            run = None
        elif run is not None and ("start" in tags or run.repeats(hit)):
            self._close(now, findings)
            run = None
        if run is None:
            run = self._run = _Run(runners=runners, command=self._command, started=now, last=now)
            self._command = ""
        run.runners = run.runners & runners
        run.last = now
        run.take(hit)

    def _close(self, now: float, findings: list[Finding]) -> None:
        """End the run being read; a run without a summary ends without a finding."""
        run, self._run = self._run, None
        if run is None:
            return
        if not run.complete:
            self._command = self._command or run.command
            return
        done = run.finish(now)
        findings.append(self._judge(done))
        self._history = [*self._history, done][-HISTORY:]

    def _judge(self, run: TestRun) -> Finding:
        detail = sanitize("\n".join(run.failing), multiline=True)
        if not run.red and run.passed == 0:
            return Finding(rule="qa.no_tests", severity=Severity.WARNING,
                           text=sanitize(f"{run.command}: no tests ran"))
        if run.green:
            return Finding(rule="qa.run_passed", severity=Severity.INFO, text=run.one_line())
        before = next((r for r in reversed(self._history) if r.command == run.command), None)
        if before is not None and before.green:
            return Finding(rule="qa.regression", severity=Severity.CRITICAL,
                           text=f"regression: {run.one_line()}; the last run passed",
                           detail=detail)
        return Finding(rule="qa.run_failed", severity=Severity.ERROR, text=run.one_line(),
                       detail=detail)

    def to_json(self) -> dict[str, object]:
        """The history, to survive a restart of the assistant."""
        return {"version": 1, "history": [r.to_json() for r in self._history]}

    @classmethod
    def from_json(cls, ruleset: RuleSet, data: Mapping[str, Any]) -> QAAnalyzer:
        """An analyzer with the history of `to_json`; malformed entries are skipped."""
        analyzer = cls(ruleset)
        entries = data.get("history") if isinstance(data, Mapping) else None
        runs: list[TestRun] = []
        for entry in entries if isinstance(entries, Iterable) else ():
            try:
                runs.append(TestRun.from_json(entry))
            except (KeyError, TypeError, ValueError):
                continue
        analyzer._history = runs[-HISTORY:]
        return analyzer
