"""The QA analyzer: one pane's test-runner output becomes one finding per run, judged by its
outcome (the last verdict wins), regressions first and recoveries noted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from escalation.core.events import Severity
from escalation.core.sanitize import sanitize
from escalation.rules import Hit, Matcher, RuleSet

from ._runs import (
    _AGGREGATING,
    _COUNTED,
    _ECHO,
    _PREFIX,
    FLUSH_AFTER,
    HISTORY,
    QUIET,
    SETTLE,
    STALE,
    Finding,
    TestRun,
    _Run,
    _runners,
    is_test_runner,
)

__all__ = ["FLUSH_AFTER", "SETTLE", "Finding", "QAAnalyzer", "TestRun", "is_test_runner"]


class QAAnalyzer:
    """Follows the test runs of one pane: one finding per finished run."""

    def __init__(self, ruleset: RuleSet) -> None:
        # The qa assistant passes the qa pack alone, used as it is (one compiled set for every
        # pane); a set of other packs too is narrowed to it, which compiles it anew.
        narrow = "qa" in ruleset.packs and ruleset.packs != ("qa",)
        self.ruleset = ruleset.only("qa") if narrow else ruleset
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
            line = _PREFIX.sub("", line, count=1)
            hits = self._matcher.feed([line])
            for hit in hits:
                self._take(hit, now, findings)
            if not hits:
                self._echo(line, findings)
            if line.strip():
                last_hit = bool(hits)
                if self._run is not None:
                    self._run.last = max(self._run.last, now)
        exited = bool(command) and not is_test_runner(command)
        if self._run is not None and command and not exited:
            self._run.runner_seen = True
        if exited:
            for hit in self._matcher.flush():
                self._take(hit, now, findings)
        run = self._run
        if run is not None and run.complete:
            waits = run.runner in _AGGREGATING and last_hit and not exited
            if not waits and not self._matcher.pending:
                self._close(now, findings)
        elif run is not None and exited and run.runner_seen:
            # The runner went back to the shell without a summary: interrupted, not judged.
            # Output from anything else (`cat build.log`, a CI log, a script) is judged once
            # it settles, whatever the pane runs afterwards.
            run.orphan = True
        return findings

    def tick(self, now: float) -> list[Finding]:
        """Findings for a run that went quiet: its held lines let out, a summarised run closed.

        A run that showed a failure but never printed a summary (cut short, or still in the
        foreground) is judged from its failures once its output has been quiet for QUIET.
        """
        findings: list[Finding] = []
        if self._matcher.pending and now - self._last_feed >= FLUSH_AFTER:
            for hit in self._matcher.flush():
                self._take(hit, now, findings)
        run = self._run
        if run is not None and not self._matcher.pending:
            settled = run.complete and now - run.last >= SETTLE
            cut_short = run.sure and not run.orphan and now - run.last >= QUIET
            if settled or cut_short:
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
        if run is None and "joins" in tags and not self._command:
            return  # a wrapper's line (BUILD FAILURE, make's Error 1) with no test run to join
        if run is not None and runners and run.runners and not runners & run.runners:
            if "failure" in tags and not run.complete and not _COUNTED.intersection(tags):
                return  # another runner's failure format showing up in this run's output
            self._close(now, findings)
            run = None
        elif run is not None and ("start" in tags or run.repeats(hit)):
            self._close(now, findings)
            run = None
        if run is None:
            run = self._run = _Run(runners=runners, command=self._command, started=now, last=now)
            self._command = ""
        if runners:
            run.runners = run.runners & runners if run.runners else runners
        run.last = now
        run.take(hit)

    def _close(self, now: float, findings: list[Finding]) -> None:
        """End the run being read; a run without a summary or a sure failure ends silently."""
        run, self._run = self._run, None
        if run is None:
            return
        if not run.complete and (not run.sure or run.orphan):
            self._command = self._command or run.command
            return
        done = run.finish(now)
        findings.append(self._judge(done))
        self._history = [*self._history, done][-HISTORY:]

    def _judge(self, run: TestRun) -> Finding:
        detail = sanitize("\n".join(run.failing), multiline=True)
        before = next((r for r in reversed(self._history) if r.command == run.command), None)
        if not run.red and run.passed == 0:
            if run.skipped or run.verdict == "passed":  # every test skipped, or none counted
                return Finding(rule="qa.run_passed", severity=Severity.INFO, text=run.one_line())
            return Finding(rule="qa.no_tests", severity=Severity.WARNING,
                           text=sanitize(f"{run.command}: no tests ran"))
        if run.green:
            if before is not None and before.red:
                return Finding(rule="qa.recovered", severity=Severity.INFO,
                               text=f"recovered: {run.one_line()}; the last run failed")
            return Finding(rule="qa.run_passed", severity=Severity.INFO, text=run.one_line())
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
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        analyzer._history = runs[-HISTORY:]
        return analyzer
