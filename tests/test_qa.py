"""The QA analyzer read real test-runner output (the qa samples) and judged each run."""

from __future__ import annotations

import _samples
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistants.qa import QUIET, SETTLE, Finding, QAAnalyzer, TestRun, is_test_runner
from escalation.core.events import Severity
from escalation.rules import RuleSet, load_rules

QA_SAMPLES = _samples.SAMPLES / "qa"
RULES = load_rules([_samples.RULES_DIR / "qa.toml"])


def sections(name: str) -> list[list[str]]:
    """The content lines of a qa sample file, one list per `## source:` it quotes."""
    out: list[list[str]] = [[]]
    for raw in (QA_SAMPLES / name).read_text(encoding="utf-8").splitlines():
        if raw.startswith("## source:") and out[-1]:
            out.append([])
        if not raw.startswith(("## ", "#> ")):
            out[-1].append(raw)
    return out


def lines(name: str, section: int = 0) -> list[str]:
    return sections(name)[section]


def test_a_failing_pytest_run_is_one_finding_with_counts_and_names() -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines("pytest.txt"), 100.0, command="python")
    assert [f.rule for f in findings] == ["qa.run_failed"]
    assert findings[0].severity is Severity.ERROR
    run = qa.history[-1]
    assert (run.runner, run.failed, run.passed, run.errors, run.duration) == (
        "pytest", 1, 0, 0, 0.55)
    assert run.failing == ("test_example_short_test_summary_info.py::test_message",)
    assert findings[0].text == "pytest: 1 failed, 0 passed in 0.55s (test_message)"
    assert "::test_message" in findings[0].detail
    assert qa.feed([], 200.0) == [] and qa.tick(300.0) == []


def _red_then(qa: QAAnalyzer, now: float) -> list[str]:
    echo = "$ pytest -q test_sysexit.py"
    return [f.rule for f in qa.feed([echo, *lines("pytest.txt")], now)]


def test_green_then_red_of_the_same_command_is_a_regression() -> None:
    qa = QAAnalyzer(RULES)
    green = qa.feed(lines("pytest_green.txt", 1), 10.0)
    assert [f.rule for f in green] == ["qa.run_passed"]
    assert green[0].text == "pytest -q test_sysexit.py: 1 passed in 0.12s"
    assert qa.history[-1].green
    assert _red_then(qa, 20.0) == ["qa.regression"]
    assert _red_then(qa, 30.0) == ["qa.run_failed"]  # red after red is no regression


def test_a_regression_survives_a_restart() -> None:
    qa = QAAnalyzer(RULES)
    qa.feed(lines("pytest_green.txt", 1), 10.0)
    reborn = QAAnalyzer.from_json(RULES, qa.to_json())
    assert reborn.history == qa.history
    assert _red_then(reborn, 20.0) == ["qa.regression"]


def test_another_command_green_before_is_not_a_regression() -> None:
    qa = QAAnalyzer(RULES)
    qa.feed(lines("pytest_green.txt", 1), 10.0)
    findings = qa.feed(["$ pytest tests/other", *lines("pytest.txt")], 20.0)
    assert [f.rule for f in findings] == ["qa.run_failed"]


@pytest.mark.parametrize(("name", "section", "label"), [
    ("pytest_no_tests.txt", 0, "py.test"),
    ("pytest_no_tests.txt", 2, "pytest"),
    ("jest_no_tests.txt", 0, "jest"),
    ("unittest_no_tests.txt", 0, "python3 -m unittest discover -v"),
    ("rspec.txt", 2, "rspec"),
])
def test_a_run_with_no_tests_is_a_warning(name: str, section: int, label: str) -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines(name, section), 5.0, command="bash") + qa.tick(5.0 + SETTLE)
    assert [(f.rule, f.severity, f.text) for f in findings] == [
        ("qa.no_tests", Severity.WARNING, f"{label}: no tests ran")]


@pytest.mark.parametrize(("name", "section", "expected"), [
    ("pytest_forms.txt", 0, ("pytest", 2, 1, 1, 2, 0.12)),
    ("unittest_summary.txt", 0, ("unittest", 60, 20, 3, 0, 2.843)),
    ("unittest_summary.txt", 2, ("unittest", 129, 0, 0, 0, 7.508)),
    ("jest.txt", 1, ("jest", 533, 3, 0, 1, None)),
    ("vitest.txt", 0, ("vitest", 8818, 0, 0, 0, 21.47)),
    ("vitest.txt", 4, ("vitest", 71, 1, 0, 0, None)),
    ("mocha.txt", 0, ("mocha", 0, 1, 0, 0, 0.093)),
    ("mocha.txt", 2, ("mocha", 2, 0, 0, 0, 23.0)),
    ("cargo.txt", 0, ("cargo", 13, 1, 0, 0, 0.03)),
    ("rspec.txt", 0, ("rspec", 0, 1, 0, 0, 0.00076)),
    ("rspec.txt", 1, ("rspec", 16, 2, 0, 0, 0.04571)),
    ("go.txt", 2, ("go", 0, 1, 0, 0, None)),
])
def test_counts_of_each_runner(name: str, section: int, expected: tuple[object, ...]) -> None:
    qa = QAAnalyzer(RULES)
    qa.feed(lines(name, section), 1.0, command="bash")
    run = qa.history[-1]
    got = (run.runner, run.passed, run.failed, run.errors, run.skipped, run.duration)
    assert got[:5] == expected[:5]
    assert got[5] == pytest.approx(expected[5])


def test_a_suite_that_failed_to_run_counts_as_an_error() -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines("jest.txt", 0) + lines("jest.txt", 2), 1.0)
    assert [f.rule for f in findings] == ["qa.run_failed"]
    assert qa.history[-1].errors == 2  # the FAIL file line and the failing test named


def test_go_packages_wait_while_go_runs_then_settle() -> None:
    qa = QAAnalyzer(RULES)
    packages = lines("go_packages.txt", 1)
    assert qa.feed(packages[:3], 1.0, command="go") == []
    assert qa.feed(packages[3:4], 2.0, command="go") == []
    assert qa.tick(2.0 + SETTLE / 2) == []
    findings = qa.tick(2.0 + SETTLE)
    assert [f.rule for f in findings] == ["qa.run_passed"]
    assert (qa.history[-1].passed, qa.history[-1].failed) == (2, 0)


def test_go_run_ends_when_the_shell_is_back() -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines("go_packages.txt", 0), 1.0, command="bash")
    assert [f.rule for f in findings] == ["qa.run_passed"]


def test_failures_without_a_summary_make_no_finding() -> None:
    qa = QAAnalyzer(RULES)
    assert qa.feed(lines("unittest.txt", 0), 1.0, command="bash") == []
    assert qa.tick(1.0 + 10 * SETTLE) == []
    assert qa.history == ()


def test_one_line_names_at_most_three_tests() -> None:
    run = TestRun(runner="pytest", command="pytest tests/", passed=40, failed=5, skipped=0,
                  errors=1, duration=3.2, failing=("a::t1", "a::t2", "b::t3", "b::t4"), ts=0.0)
    expected = "pytest tests/: 5 failed, 1 error, 40 passed in 3.2s (t1, t2, t3 +1 more)"
    assert run.one_line() == expected
    assert not run.green and run.red


def test_history_is_capped_and_bad_json_entries_are_skipped() -> None:
    qa = QAAnalyzer(RULES)
    for n in range(60):
        qa.feed(lines("pytest_green.txt", 1), float(n))
    assert len(qa.history) == 50
    entries = qa.to_json()["history"]
    assert isinstance(entries, list)
    torn = {"version": 1, "history": [{"runner": "x"}, *entries]}
    assert QAAnalyzer.from_json(RULES, torn).history == qa.history
    assert QAAnalyzer.from_json(RULES, {"history": 3}).history == ()


@pytest.mark.parametrize(("command", "runs_tests"), [
    ("pytest", True), ("py.test", True), ("python", True), ("python3.11", True),
    ("python -m pytest tests/", True), ("python manage.py runserver", False),
    ("/usr/bin/python3 -m unittest", True), ("go", True), ("go test ./...", True),
    ("go build", False), ("cargo test", True), ("npm", True), ("npm run test:unit", True),
    ("npm start", False), ("yarn test", True), ("npx jest", True), ("jest", True),
    ("vitest", True), ("rspec", True), ("bundle exec rspec", True), ("tox", True),
    ("nox", True), ("node", True), ("bash", False), ("vim", False), ("", False),
    ("kubectl", False),
])
def test_is_test_runner(command: str, runs_tests: bool) -> None:
    assert is_test_runner(command) is runs_tests


def test_the_analyzer_keeps_only_the_qa_pack() -> None:
    everything = load_rules(list(_samples.pack_files().values()))
    assert QAAnalyzer(everything).ruleset.packs == ("qa",)
    assert isinstance(QAAnalyzer(RULES).ruleset, RuleSet)


_SAMPLE_LINES = [line for path in sorted(QA_SAMPLES.glob("*.txt")) for s in sections(path.name)
                 for line in s]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_SAMPLE_LINES), st.text(max_size=80)), max_size=60),
       st.lists(st.integers(min_value=1, max_value=10), max_size=10),
       st.sampled_from(["", "python", "bash", "go"]))
def test_any_output_in_any_batches_gives_sane_findings(
    text: list[str], cuts: list[int], command: str
) -> None:
    qa = QAAnalyzer(RULES)
    findings: list[Finding] = []
    now, start = 0.0, 0
    for size in [*cuts, len(text)]:
        now += 1.0
        findings += qa.feed(text[start:start + size], now, command=command)
        start += size
    findings += qa.tick(now + SETTLE)
    assert len(qa.history) == min(len(findings), 50)
    for f in findings:
        assert f.rule in {
            "qa.run_passed", "qa.run_failed", "qa.regression", "qa.no_tests", "qa.recovered"}
        assert "\n" not in f.text and "\x1b" not in f.text and "\x1b" not in f.detail
    assert QAAnalyzer.from_json(RULES, qa.to_json()).history == qa.history



def test_a_red_command_that_goes_green_has_recovered() -> None:
    qa = QAAnalyzer(RULES)
    assert _red_then(qa, 10.0) == ["qa.run_failed"]
    findings = qa.feed(["$ pytest -q test_sysexit.py", *lines("pytest_green.txt", 1)[1:]], 20.0)
    assert [(f.rule, f.severity) for f in findings] == [("qa.recovered", Severity.INFO)]
    assert findings[0].text.startswith("recovered: pytest -q test_sysexit.py: 1 passed")


def test_failures_without_a_summary_are_judged_once_the_output_settles() -> None:
    qa = QAAnalyzer(RULES)
    assert qa.feed(lines("pytest_verbose.txt", 0), 1.0, command="python") == []
    assert qa.feed(["platform linux -- Python 3.12"], 20.0, command="python") == []
    assert qa.tick(20.0 + QUIET / 2) == []  # still printing a moment ago
    findings = qa.tick(20.0 + QUIET)
    assert [(f.rule, f.severity) for f in findings] == [("qa.run_failed", Severity.ERROR)]
    assert "test_manytests_to_one_import_error" in findings[0].text
    assert qa.history[-1].failed == 1


@pytest.mark.parametrize(("name", "section", "runner", "counts", "first"), [
    ("gradle.txt", 1, "gradle", (1, 0, 0), "GreeterTest > testThatGreeterReturnsTheCorrect"),
    ("maven.txt", 0, "maven", (1, 0, 1), "shouldFail(org.spideruci.asserttracker.AppTest)"),
    ("dotnet.txt", 0, "dotnet", (2, 0, 3007), ""),
    ("ctest.txt", 0, "ctest", (1, 0, 0), "zgoubi-tests"),
    ("phpunit.txt", 1, "phpunit", (1, 0, 2), "Test::testFailure"),
    ("tox.txt", 0, "tox", (1, 0, 3), "py26"),
    ("nox.txt", 0, "nox", (1, 0, 1), "bad"),
    ("unity.txt", 0, "unity", (1, 0, 0), "test_config"),
    ("playwright.txt", 0, "playwright", (1, 0, 0), "tests/axeTest.spec.ts:96:3"),
])
def test_one_finding_per_failed_run_with_its_counts_and_first_failure(
    name: str, section: int, runner: str, counts: tuple[int, int, int], first: str
) -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines(name, section), 1.0) + qa.tick(1.0 + QUIET)
    assert [f.rule for f in findings] == ["qa.run_failed"]
    run = qa.history[-1]
    assert (run.runner, (run.failed, run.errors, run.passed)) == (runner, counts)
    assert run.failing[0].startswith(first) if first else run.failing == ()


def test_the_last_verdict_wins_over_green_counts_above_it() -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines("wrappers.txt", 2), 1.0) + qa.tick(1.0 + SETTLE)
    assert [f.rule for f in findings] == ["qa.run_failed"]
    assert findings[0].text == "jest: 163 passed: Process completed with exit code 1"
    assert qa.history[-1].red and not qa.history[-1].green


def test_no_tests_stays_no_tests_when_the_wrapper_exits_nonzero() -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines("jest_no_tests.txt", 0), 1.0) + qa.tick(1.0 + SETTLE)
    assert [f.rule for f in findings] == ["qa.no_tests"]


def test_make_test_wrapping_a_runner_that_failed_to_start_is_a_failed_run() -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(lines("wrappers.txt", 0), 1.0, command="make") + qa.tick(1.0 + SETTLE)
    assert [f.rule for f in findings] == ["qa.run_failed"]
    assert findings[0].text == "make test: failed: make: *** [test-python] Error 1"


def test_a_run_whose_tests_were_all_skipped_is_a_quiet_note() -> None:
    qa = QAAnalyzer(RULES)
    findings = qa.feed(["Ran 4 tests in 0.005s", "", "OK (skipped=4)"], 1.0, command="bash")
    findings += qa.tick(1.0 + SETTLE)
    assert [(f.rule, f.severity) for f in findings] == [("qa.run_passed", Severity.INFO)]
    assert qa.history[-1].skipped == 4 and not qa.history[-1].red


@pytest.mark.parametrize("command", [
    "mvn clean package", "./gradlew build", "bin/rails test", "./run_tests.sh", "bash test.sh",
    "sbt test", "make check",
])
def test_build_lifecycles_and_test_scripts_run_tests(command: str) -> None:
    assert is_test_runner(command)


@pytest.mark.parametrize("command", ["./gradlew assembleDebug", "make build", "bash", "git log"])
def test_other_commands_do_not_run_tests(command: str) -> None:
    assert not is_test_runner(command)


def test_ci_timestamps_and_compose_prefixes_are_read_through() -> None:
    qa = QAAnalyzer(RULES)
    prefixed = [f"web_1  | {line}" for line in lines("gtest.txt", 0)]
    findings = qa.feed(prefixed, 1.0) + qa.tick(1.0 + SETTLE)
    assert [f.text for f in findings] == ["gtest: 1 failed, 0 passed (testCase.test0)"]
    stamped = [f"2024-05-01T12:34:56.1234567Z {line}" for line in lines("pytest_forms.txt", 0)]
    findings = qa.feed(stamped, 20.0) + qa.tick(20.0 + SETTLE)
    assert [f.rule for f in findings] == ["qa.run_failed"]


def test_a_wrapper_runner_after_a_finished_run_is_a_run_of_its_own() -> None:
    qa = QAAnalyzer(RULES)
    text = ["no tests ran in 0.01s", "nox > Command pytest -q failed with exit code 5",
            "nox > Session tests-3.14 failed."]
    findings = qa.feed(text, 1.0) + qa.tick(1.0 + SETTLE)
    assert [f.rule for f in findings] == ["qa.no_tests", "qa.run_failed"]
    assert findings[1].text == "nox: 1 failed, 0 passed (tests-3.14)"
