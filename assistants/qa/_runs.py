"""Test runs as the QA analyzer reads them: which commands run tests, the rule roles, the counts
and names a run gathers, and the finished `TestRun`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import attrs

from escalation.core.events import Severity
from escalation.core.sanitize import sanitize
from escalation.rules import Hit

__all__ = ["Finding", "TestRun", "is_test_runner"]

RUNNERS = (
    "pytest", "unittest", "jest", "vitest", "mocha", "playwright", "go", "cargo", "rspec",
    "phpunit", "maven", "gradle", "dotnet", "ctest", "unity", "tox", "nox", "julia", "eunit",
    "dart", "gtest", "karma", "xctest", "minitest", "exunit", "automake",
)
HISTORY = 50  # runs kept per pane
SETTLE = 5.0  # seconds without a hit after which a run with a summary is over
FLUSH_AFTER = 2.0  # seconds after which a held block (unittest's closing lines) is let out
STALE = 3600.0  # seconds after which a run that never printed a summary is dropped
QUIET = 30.0  # seconds without output after which a run with a failure but no summary is judged
NAMES_SHOWN = 3
NAMES_KEPT = 50

# go test and cargo test print one summary per package or test binary (tox and nox one per
# environment or session, automake one line per count): a run goes on after a summary while
# the runner is in the foreground.
_AGGREGATING = frozenset({"go", "cargo", "tox", "nox", "dotnet", "automake"})
_ROLES = frozenset({
    "start", "failure", "summary", "no_tests", "duration", "sure", "failed_verdict",
    "passed_verdict", "joins", "totals",
})

# Programs that only run tests, and programs that run tests when a later word says so.
_TEST_PROGRAMS = frozenset({
    "pytest", "py.test", "jest", "vitest", "mocha", "rspec", "tox", "nox", "nosetests", "ctest",
    "phpunit", "karma", "ava", "trial", "playwright", "karva", "prove",
})
_DISPATCHERS = frozenset({
    "python", "go", "cargo", "npm", "npx", "yarn", "pnpm", "bun", "deno", "node", "ruby", "bundle",
    "rake", "make", "uv", "poetry", "hatch", "pipenv", "dotnet", "mvn", "mvnw", "gradle",
    "gradlew", "just", "php", "swift", "mix", "flutter", "dart", "bazel", "xcodebuild", "sbt",
    "lein", "stack", "cabal", "rebar3", "zig", "meson", "rails", "pio", "platformio", "nx",
    "turbo", "lerna",
})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash"})  # "bash run_tests.sh": only with a test script
_TESTISH = re.compile(r"(?:^|[-_.])(?:tests?|spec|check)(?:$|[-_.])|^(?:unit|run|integ)_?tests?")
_TEST_WORDS = frozenset({
    "test", "tests", "t", "pytest", "unittest", "jest", "vitest", "mocha", "rspec", "spec",
    "nextest", "tox", "nox", "check", "playwright",
})
# Build tools whose usual lifecycle goals run the tests first ("mvn package", "gradle build").
_BUILD_TOOLS = frozenset({"mvn", "mvnw", "gradle", "gradlew"})
_BUILD_GOALS = frozenset({"verify", "package", "install", "build", "deploy", "check"})
_VERSIONED = re.compile(r"^(python|ruby|node|php)[\d.]*$")

# A command line echoed after a shell prompt, naming a test run: "$ pytest tests/".
_ECHO = re.compile(
    r"^.{0,120}?[$#%>❯➜»]\s+(?P<cmd>(?:\S+=\S+\s+)*(?:"
    r"python[\d.]*\s+-m\s+(?:pytest|unittest)|py\.test|pytest|jest|vitest|mocha|rspec|tox|nox"
    r"|\S*/(?:nox|tox|pytest|phpunit)|phpunit|ctest|bundle\s+exec\s+rspec|go\s+test"
    r"|cargo\s+(?:test|nextest)|react-scripts\s+test|npx\s+playwright\s+test|dotnet\s+test"
    r"|(?:npm|pnpm|yarn|bun)(?:\s+run)?\s+test(?::\S+)?|npx\s+(?:jest|vitest|mocha)"
    r"|(?:\./)?(?:mvnw?|gradlew?)\s+(?:\S+\s+)*?(?:test|check|verify)"
    r"|(?:python[\d.]*\s+)?manage\.py\s+test|make\s+(?:test|check)\S*)(?:\s.*)?)$"
)
_PAIR = re.compile(r"(\d+) ([a-z]+)")
_OUTCOME = re.compile(r"^(?P<word>OK|FAILED)(?: \((?P<counts>[^)]*)\))?$")
_KEYED = re.compile(r"([a-z ]+)=(\d+)")
_COLON = re.compile(r"([A-Za-z][A-Za-z ]*): (\d+)")  # phpunit: "Tests: 5, Failures: 1"
_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)?$")
_WORD_FIELD = {
    "failed": "failed", "failing": "failed", "failure": "failed", "failures": "failed",
    "passed": "passed", "passing": "passed", "xpassed": "passed",
    "skipped": "skipped", "pending": "skipped", "ignored": "skipped", "todo": "skipped",
    "xfailed": "skipped", "expected failures": "skipped", "incomplete": "skipped",
    "error": "errors", "errors": "errors", "errored": "errors", "unexpected successes": "failed",
    "total": "total",
}
_COLON_FIELD = {**_WORD_FIELD, "tests": "total"}
# What a CI log or docker compose writes before each line of the output it carries:
# "2024-05-01T12:34:56.1234567Z ", "web_1  | ", "api-1  | ".
_PREFIX = re.compile(
    r"^(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z )?(?:[a-z0-9][\w.-]*[-_]\d+\s+\| )?"
)
_COUNTED = frozenset({"summary", "failed_verdict", "passed_verdict"})
_FILE_ONLY = re.compile(r"^[\w./\\-]+\.[A-Za-z]{1,5}$")  # a failed file, not a test: "a.test.ts"


def is_test_runner(command: str) -> bool:
    """Whether a foreground command (tmux's pane_current_command, or a command line) runs tests.

    A bare interpreter or build tool ("python", "go", "npm") counts, because that is how a
    test run shows in tmux (pytest runs as "python"); with arguments, one must name tests
    ("mvn package" and "gradle build" do: their lifecycles run the tests).
    """
    words = command.split()
    if not words:
        return False
    program = PurePath(words[0]).name.lower()
    program = _VERSIONED.sub(r"\1", program)
    if program in _TEST_PROGRAMS or _TESTISH.search(PurePath(program).stem):
        return True  # "run_tests.sh", "unit-tests", a test binary "foo_test"
    rest = [w.lower() for w in words[1:]]
    if program in _SHELLS:
        return any(_TESTISH.search(PurePath(w).stem) for w in rest)
    if program not in _DISPATCHERS:
        return False
    goals = _TEST_WORDS | (_BUILD_GOALS if program in _BUILD_TOOLS else frozenset())
    return not rest or any(
        w in goals or w.startswith(("test:", "test-")) or w.endswith(":test")
        or PurePath(w).name in _TEST_PROGRAMS or PurePath(w).stem in _TEST_PROGRAMS
        or any(part in ("test", "tests") for part in PurePath(w).parts[:-1])
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


_PARTS = re.compile(r"::| > | › ")
_SECTION = re.compile(r"^ERROR (?:collecting|at \w+ of) ")
_EXTENSION = re.compile(r"\.\w{1,4}$")
_AT_LINE = re.compile(r"^[\w$]+\.([\w$]+):\d+$")  # surefire's "FooTest.testX:24"
_CALLED = re.compile(r"^(\w+)\([\w$.]+\)$")


def _ident(name: str) -> str:
    """The test a name is about, whatever the runner wrote around it ("a.py::T::test_x",
    "T.test_x" and "test_x" are one test)."""
    last = _PARTS.split(_SECTION.sub("", name))[-1].strip()
    found = _AT_LINE.match(last) or _CALLED.match(last)  # JUnit's "testX(pkg.FooTest)"
    if found is not None:
        return found[1]
    if "/" not in last and not _EXTENSION.search(last):
        last = last.rsplit(".", 1)[-1]
    return last


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
    verdict: str = ""  # the last outcome line's word: "failed", "passed", or "" (counts only)
    outcome: str = ""  # what a failed outcome line said ("BUILD FAILURE", "Test Run Failed.")

    @property
    def green(self) -> bool:
        """Tests ran and none failed."""
        return not self.red and self.passed > 0

    @property
    def red(self) -> bool:
        return self.failed > 0 or self.errors > 0 or self.verdict == "failed"

    def one_line(self) -> str:
        """`pytest tests/: 2 failed, 40 passed in 3.2s (test_a, test_b)`."""
        parts = [f"{n} {word}" for n, word in (
            (self.failed, "failed"), (self.errors, "error" if self.errors == 1 else "errors"),
            (self.passed, "passed"), (self.skipped, "skipped")) if n or word == "passed"]
        counted = self.failed or self.errors or self.passed or self.skipped
        if not counted and self.verdict == "failed":
            parts = ["failed"]
        text = f"{self.command}: {', '.join(parts)}"
        if self.duration is not None:
            text += f" in {self.duration:.3g}s"
        if self.failing:
            names = ", ".join(_short(n) for n in self.failing[:NAMES_SHOWN])
            more = len(self.failing) - NAMES_SHOWN
            text += f" ({names}{f' +{more} more' if more > 0 else ''})"
        if self.outcome and self.verdict == "failed":
            text += f": {self.outcome}"
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
            verdict=str(data.get("verdict", "")), outcome=str(data.get("outcome", "")),
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


def _verdict(hit: Hit) -> str:
    tags = hit.rule.tags
    return "failed" if "failed_verdict" in tags else "passed" if "passed_verdict" in tags else ""


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
    complete: bool = False  # a summary, an outcome line or an empty-run line was seen
    sure: bool = False  # a line that alone shows a failure was seen
    orphan: bool = False  # the shell was back before any summary: not judged without one
    verdict: str = ""
    outcome: str = ""
    suites_failed: int = 0
    named_at_summary: int = 0  # how many failing names came before the last summary
    summaries: set[tuple[str, frozenset[str]]] = attrs.field(factory=set)
    verdicts: set[str] = attrs.field(factory=set)

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
        if "totals" in hit.rule.tags:
            return False  # running totals: each one replaces the last
        return "summary" in hit.rule.tags and _summary_key(hit) in self.summaries

    def take(self, hit: Hit) -> None:
        """Fold one hit of this run into it."""
        tags, groups = hit.rule.tags, hit.groups
        if "summary" in tags:
            self.summaries.add(_summary_key(hit))
        if "failure" in tags and groups.get("name") and len(self.failing) < NAMES_KEPT:
            self._name(sanitize(groups["name"].strip()))
        if "sure" in tags:
            self.sure = True
        verdict = _verdict(hit)
        if verdict == "failed" and "joins" in tags and self.no_tests:
            verdict = ""  # the wrapper's exit code is the runner's "no tests found"
        if verdict:
            self.verdicts.add(hit.rule.id)
            self.verdict, self.complete = verdict, True
            if verdict == "failed":
                self.outcome = sanitize((groups.get("outcome") or hit.line).strip())
        if "no_tests" in tags:
            self.no_tests = self.complete = True
        if "duration" in tags:
            minutes = int(groups.get("minutes") or 0)
            self.took((_seconds(groups.get("duration", "")) or 0.0) + 60.0 * minutes)
        if "summary" not in tags:
            return
        self.named_at_summary = len(self.failing)
        if "package_ok" in tags:
            self.add("passed", 1)
        elif "package_failed" in tags:
            self.add("failed", 1)
        elif hit.rule.name == "unittest_summary":
            self._unittest(hit)
        elif "totals" in tags:  # the run so far (karma's progress, XCTest's nested suites)
            for field in ("passed", "failed", "skipped", "errors", "total"):
                self.counts[field] = int(groups.get(field) or 0)
            if not groups.get("passed"):
                del self.counts["passed"]
            self.complete = True
        else:
            for field in ("passed", "failed", "skipped", "errors", "total"):
                if groups.get(field):
                    self.add(field, int(groups[field]))
            if groups.get("suites_failed"):
                self.suites_failed += int(groups["suites_failed"])
            counts = groups.get("counts", "")
            for n, word in _PAIR.findall(counts):
                if word in _WORD_FIELD:
                    self.add(_WORD_FIELD[word], int(n))
            for word, n in [*_KEYED.findall(counts), *_COLON.findall(counts)]:
                keyed = _COLON_FIELD.get(word.strip().lower())
                if keyed is not None:
                    self.add(keyed, int(n))
            self.complete = True
        self.took(_seconds(groups.get("duration", "")))

    def _name(self, name: str) -> None:
        """Keep a failing test's name once, in its fullest form (a node id over a title)."""
        ident = _ident(name)
        for i, known in enumerate(self.failing):
            if _ident(known) == ident:
                if "::" in name and "::" not in known:
                    self.failing[i] = name
                return
        self.failing.append(name)

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
        late = len(self.failing) - self.named_at_summary  # failures no summary counted
        if self.failing and not (failed or errors or passed):
            if c and not late:
                errors = len(self.failing)  # summarised with no tests: suites that failed to run
            else:  # judged from its failures alone: the tests named, else the files
                tests = [n for n in self.failing if not _FILE_ONLY.match(n)]
                failed = len(tests or self.failing)
        elif late and not (failed or errors):
            failed = late  # a part of the run that failed after the summaries of others
        if self.suites_failed and not (failed or errors):
            errors = self.suites_failed  # suites that failed to run, their tests all passed
        verdict = self.verdict
        if not self.complete and self.sure:
            verdict = "failed"
        return TestRun(
            runner=self.runner, command=sanitize(self.command or self.runner), passed=passed,
            failed=failed, skipped=skipped, errors=errors, duration=self.duration,
            failing=tuple(self.failing), ts=now, verdict=verdict, outcome=self.outcome,
        )
