"""End to end: the QA and deployment assistants read real tmux panes replaying annotated samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _dbus
import _e2e_extra as x
import pytest
from _stack import Stack, start_session, type_line
from libtmux.test.retry import retry_until

pytestmark = pytest.mark.e2e

TARGETS = '[qa]\ntargets = ["ci:*"]\n[deploy]\ntargets = ["ops:*"]\n'
FAILING = x.strip_sample("qa/pytest.txt")
# The one-line green run of pytest_green.txt, without the command line the sample echoes
# (the pane's own prompt shows the command that ran).
GREEN = "".join(
    line + "\n" for line in x.strip_sample("qa/pytest_green.txt").splitlines()[-2:]
)


@pytest.fixture
def make_stack(
    tmp_path: Path, server: object, notification_bus: _dbus.NotificationBus
) -> Iterator[x.StackFactory]:
    yield from x.stack_factory(tmp_path, str(server.socket_name), notification_bus)  # type: ignore[attr-defined]  # libtmux Server, untyped plugin fixture


def _one(stack: Stack, **where: str) -> dict[str, object] | None:
    found = stack.events(**where)
    return found[0] if len(found) == 1 else None


def _logged(stack: Stack, *parts: str) -> list[str]:
    return [ln for ln in x.log_lines(stack) if all(p in ln for p in parts)]


def test_pytest_runs_in_a_ci_pane_failed_green_then_regression(
    make_stack: x.StackFactory, tmp_path: Path
) -> None:
    stack = make_stack(TARGETS)
    run_file = tmp_path / "next-run.txt"
    tools = x.install_tool(tmp_path / "bin", "pytest", f'cat "{run_file}"\n')
    start_session(stack, "ci")
    stack.up()
    retry_until(lambda: x.followed(stack, "qa", "ci"), 15)
    type_line(stack, "ci", f"export PATH={tools}:$PATH; clear")

    run_file.write_text(FAILING)
    type_line(stack, "ci", "pytest tests/")
    retry_until(lambda: _one(stack, assistant="qa", rule="qa.run_failed") is not None, 20)
    failed = stack.events(assistant="qa", rule="qa.run_failed")[0]
    assert failed["session"] == "ci"
    assert failed["target"] == "ci:0.0"
    assert failed["severity"] == "error"
    assert failed["text"].startswith("pytest tests/: 1 failed, 0 passed")
    assert "test_message" in failed["text"]
    retry_until(lambda: len(_logged(stack, "qa.run_failed", "ci:0.0", "1 failed")) == 1, 10)

    run_file.write_text(GREEN)
    type_line(stack, "ci", "pytest tests/")
    # Green after red: a recovery (info), which closes the red run.
    retry_until(lambda: _one(stack, assistant="qa", rule="qa.recovered") is not None, 20)
    assert "1 passed" in stack.events(assistant="qa", rule="qa.recovered")[0]["text"]

    run_file.write_text(FAILING)
    type_line(stack, "ci", "pytest tests/")
    retry_until(lambda: _one(stack, assistant="qa", rule="qa.regression") is not None, 20)
    regression = stack.events(assistant="qa", rule="qa.regression")[0]
    assert regression["severity"] == "critical"
    assert regression["text"].startswith("regression: pytest tests/: 1 failed")
    assert regression["text"].endswith("the last run passed")
    retry_until(lambda: len(_logged(stack, "CRITICAL", "qa.regression", "ci:0.0")) == 1, 10)

    # The first failing run stayed on screen through every later capture: still one event,
    # and the QA assistant said nothing but these three.
    assert len(stack.events(assistant="qa", rule="qa.run_failed")) == 1
    qa_rules = [e["rule"] for e in stack.events(assistant="qa")]
    assert qa_rules == ["qa.run_failed", "qa.recovered", "qa.regression"]
    # The session assistant read the same pane with its own packs, under its own name.
    assert all(e["assistant"] == "session:ci" for e in stack.events(session="ci")
               if e["assistant"] != "qa")


def test_every_watched_pane_reaches_qa_whatever_its_command(make_stack: x.StackFactory) -> None:
    # `cat build.log` in a pane no target names: the QA assistant judges the run all the same,
    # from the line feed the session assistant wrote (one tmux read per pane per tick).
    stack = make_stack("")
    start_session(stack, "ci")
    start_session(stack, "web")
    stack.up()
    retry_until(lambda: x.followed(stack, "qa", "web"), 15)
    type_line(stack, "web", "cat " + str(_written(stack, "web-run.txt", FAILING)))
    type_line(stack, "ci", "cat " + str(_written(stack, "ci-run.txt", FAILING)))
    retry_until(lambda: _one(stack, assistant="qa", session="ci") is not None, 20)
    retry_until(lambda: _one(stack, assistant="qa", session="web") is not None, 20)
    failed = _one(stack, assistant="qa", session="web")
    assert failed is not None and failed["rule"] == "qa.run_failed"
    assert failed["target"] == "web:0.0"


def _written(stack: Stack, name: str, text: str) -> Path:
    path = stack.home.parent / name
    path.write_text(text)
    return path


def test_crashloop_and_helm_failure_in_an_ops_pane_reach_the_log(
    make_stack: x.StackFactory,
) -> None:
    stack = make_stack(TARGETS)
    start_session(stack, "ops")
    stack.up()
    retry_until(lambda: x.followed(stack, "deploy", "ops"), 15)

    pods = _written(stack, "pods.txt", x.strip_sample("deploy/kubectl_pods.txt"))
    type_line(stack, "ops", f"cat {pods}")
    retry_until(lambda: len(stack.events(assistant="deploy", rule="deploy.pod_crashloop")) == 3, 20)
    crash = stack.events(assistant="deploy", rule="deploy.pod_crashloop")
    assert all(e["severity"] == "error" and e["target"] == "ops:0.0" for e in crash)
    assert "elasticsearch-attiy" in crash[0]["text"]
    retry_until(lambda: len(stack.events(assistant="deploy", rule="deploy.pod_image_pull")) == 3,
                10)
    retry_until(lambda: len(_logged(stack, "deploy.pod_crashloop", "ops:0.0")) == 3, 10)
    assert _logged(stack, "ERROR", "deploy.pod_crashloop", "elasticsearch-attiy")

    helm = _written(stack, "helm.txt", x.strip_sample("deploy/helm.txt"))
    type_line(stack, "ops", f"cat {helm}")
    retry_until(lambda: len(stack.events(assistant="deploy", rule="deploy.helm_failed")) >= 1, 20)
    failed = stack.events(assistant="deploy", rule="deploy.helm_failed")
    assert failed[0]["text"].startswith("helm UPGRADE FAILED: another operation")
    assert failed[0]["severity"] == "error"
    # The session assistant reads the same "Error: UPGRADE FAILED" line: one problem, one
    # fingerprint, so whichever assistant stored it first is told and the other is a repeat.
    told = [e for e in stack.events(session="ops", fingerprint=failed[0]["fingerprint"])
            if e["status"] == "delivered"]
    assert len(told) == 1
    assert told[0]["rule"] in {"deploy.helm_failed", "generic.error_line"}
    retry_until(lambda: len(_logged(stack, "ERROR", told[0]["rule"], "UPGRADE FAILED")) == 1, 10)
    retry_until(lambda: len(stack.events(assistant="deploy", rule="deploy.helm_deployed")) == 2,
                10)
    # Nothing of the deploy assistant comes from outside its targets.
    assert {e["session"] for e in stack.events(assistant="deploy")} == {"ops"}
