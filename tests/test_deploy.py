"""The deployment analyzer read real deploy output (the deploy samples) and timed stuck rollouts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import _samples
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistants.deploy import QUIET_AFTER, STALLED_RULE, DeployAnalyzer, is_deploy_tool
from assistants.qa import FLUSH_AFTER, Finding
from escalation.core.events import Severity
from escalation.rules import load_rules

DEPLOY_SAMPLES = sorted((_samples.SAMPLES / "deploy").glob("*.txt"))
RULES = load_rules([_samples.RULES_DIR / "deploy.toml"])
STALL = 120.0


def texts(path: Path) -> list[str]:
    return [line.text for line in _samples.parse_sample(path).lines]


def sample(name: str) -> Path:
    return _samples.SAMPLES / "deploy" / name


@pytest.mark.parametrize("path", DEPLOY_SAMPLES, ids=lambda p: p.name)
def test_every_annotated_deploy_hit_is_a_finding(path: Path) -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    # The terraform samples were printed by terraform in the pane's foreground.
    command = "terraform" if path.name.startswith("terraform") else ""
    findings = deploy.feed(texts(path), 10.0, command=command) + deploy.tick(10.0 + FLUSH_AFTER)
    wanted = Counter(
        line.expect for line in _samples.parse_sample(path).lines
        if line.expect is not None and line.expect != "deploy.rollout_waiting"
    )
    assert Counter(f.rule for f in findings) == wanted
    for f in findings:
        assert f.severity is RULES.rule(f.rule).severity
        assert f.text and "\n" not in f.text


def test_a_bare_error_line_is_terraform_only_where_terraform_runs() -> None:
    line = ["Error: Cannot find module 'esbuild'"]
    assert DeployAnalyzer(RULES, stalled_after=STALL).feed(line, 1.0, command="node") == []
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    deploy.feed(["Terraform used the selected providers to generate the following plan:"], 1.0)
    found = deploy.feed(line, 2.0) + deploy.tick(2.0 + FLUSH_AFTER)
    assert [f.rule for f in found] == ["deploy.terraform_error"]


def test_ansible_recap_without_failures_is_silent() -> None:
    recap = [t for t in texts(sample("ansible.txt")) if "failed=0" in t and "unreachable=0" in t]
    assert len(recap) >= 5
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed(recap, 1.0) == [] and deploy.tick(100.0) == []


def test_ansible_failures_name_the_host() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    findings = deploy.feed(texts(sample("ansible.txt")), 1.0)
    assert [f.text for f in findings] == [
        "ansible: 192.168.50.219 unreachable=0 failed=1",
        "ansible: 192.168.50.218 unreachable=0 failed=1",
        "ansible: backup-02 unreachable=1 failed=0",
    ]


def _waiting(name: str = "solr", done: int = 0) -> str:
    return f'Waiting for deployment "{name}" rollout to finish: {done} out of 1 new replicas ' \
           "have been updated..."


def test_a_stalled_rollout_warns_exactly_once() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed([_waiting()], 0.0) == []
    assert deploy.feed([_waiting()], 30.0) == []  # the same counts again: no progress
    assert deploy.tick(STALL - 1) == []
    stalled = deploy.tick(STALL)
    assert [(f.rule, f.severity) for f in stalled] == [(STALLED_RULE, Severity.WARNING)]
    assert "solr" in stalled[0].text and "0 out of 1" in stalled[0].text
    assert deploy.tick(STALL + 500) == []
    assert deploy.feed([_waiting()], STALL + 600) == []


def test_progress_restarts_the_clock_and_finishing_ends_it() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    deploy.feed([_waiting(done=0)], 0.0)
    deploy.feed([_waiting(done=1)], 100.0)  # progress
    assert deploy.tick(150.0) == []
    assert [f.rule for f in deploy.tick(220.0)] == [STALLED_RULE]
    done = deploy.feed(['deployment "solr" successfully rolled out'], 230.0)
    assert [f.rule for f in done] == ["deploy.rollout_done"]
    assert deploy.waiting == {} and deploy.tick(10_000.0) == []


def test_kubectl_giving_up_ends_the_unnamed_rollout() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    lines = texts(sample("kubectl_rollout.txt"))
    start = lines.index("kubectl rollout status deployment/app --namespace=app")
    findings = deploy.feed(lines[start:start + 3], 0.0)
    assert findings == [] and list(deploy.waiting) == [""]
    gave_up = deploy.feed(lines[start + 3:start + 5], 50.0)
    assert [f.rule for f in gave_up] == ["deploy.wait_timeout"]
    assert deploy.waiting == {} and deploy.tick(1000.0) == []


def test_two_rollouts_stall_separately() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    deploy.feed([_waiting("web"), _waiting("api")], 0.0)
    deploy.feed([_waiting("api", done=1)], 60.0)
    assert [f.text.split('"')[1] for f in deploy.tick(STALL)] == ["web"]
    assert [f.text.split('"')[1] for f in deploy.tick(60.0 + STALL)] == ["api"]


def test_an_unboxed_terraform_error_comes_out_when_the_pane_goes_quiet() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    lines = texts(sample("terraform.txt"))
    plain = lines[lines.index("Error: Unsupported argument"):]
    assert deploy.feed(plain, 5.0, command="terraform") == []  # the block may still grow
    assert deploy.tick(5.0 + QUIET_AFTER / 2) == []
    findings = deploy.tick(5.0 + QUIET_AFTER)
    assert [(f.rule, f.text) for f in findings] == [
        ("deploy.terraform_error", "terraform: Unsupported argument")]
    assert 'An argument named "custom_schema"' in findings[0].detail


@pytest.mark.parametrize(("command", "deploys"), [
    ("kubectl", True), ("helm", True), ("terraform", True), ("tofu", True),
    ("ansible-playbook", True), ("docker", True), ("docker-compose", True),
    ("/usr/local/bin/helm upgrade web ./chart", True), ("make deploy", True),
    ("npm run release:prod", True), ("make test", False), ("bash", False), ("vim", False),
    ("", False), ("pytest", False),
])
def test_is_deploy_tool(command: str, deploys: bool) -> None:
    assert is_deploy_tool(command) is deploys


_LINES = [t for path in DEPLOY_SAMPLES for t in texts(path)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_LINES), st.text(max_size=80)), max_size=50),
       st.lists(st.floats(min_value=0.0, max_value=400.0), min_size=1, max_size=8))
def test_any_output_at_any_pace_gives_sane_findings(text: list[str], gaps: list[float]) -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    findings: list[Finding] = []
    now, step = 0.0, max(1, len(text) // len(gaps))
    for n, gap in enumerate(gaps):
        now += gap
        findings += deploy.feed(text[n * step:(n + 1) * step], now) + deploy.tick(now)
    findings += deploy.feed(text[len(gaps) * step:], now) + deploy.tick(now + FLUSH_AFTER)
    stalls = sum(f.rule == STALLED_RULE for f in findings)
    assert stalls <= sum(t.startswith("Waiting for ") for t in text)  # one per stuck progress line
    for f in findings:
        assert "\n" not in f.text and "\x1b" not in f.text and "\x1b" not in f.detail


# ansible's default callback (ansible/ansible:test/integration/targets/callback_default/
# callback_default.out.default.stdout): a failure that ignore_errors lets pass, then one that a
# rescue block handles; the recap counts no failure.
_IGNORED = [
    "TASK [Failed task] *************************************************************",
    'fatal: [testhost]: FAILED! => {"changed": false, "msg": "no reason"}',
    "...ignoring",
    "",
    "TASK [Skipped task] ************************************************************",
    "skipping: [testhost]",
]
_RESCUED = [
    "TASK [EXPECTED FAILURE Failed task to be rescued] ******************************",
    'fatal: [testhost]: FAILED! => {"changed": false, "msg": "Failed as requested from task"}',
    "",
    "TASK [Rescue task] *************************************************************",
    "changed: [testhost]",
]
_RECAP = [
    "PLAY RECAP *********************************************************************",
    "testhost                   : ok=11   changed=8    unreachable=0    failed=0    "
    "skipped=1    rescued=1    ignored=1   ",
]


def test_an_ignored_ansible_failure_is_no_finding() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed(_IGNORED, 1.0) == [] and deploy.tick(100.0) == []


def test_the_ignoring_line_may_come_in_the_next_feed() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed(_IGNORED[:2], 1.0) == []
    assert deploy.feed(_IGNORED[2:], 1.2) == [] and deploy.tick(100.0) == []


def test_a_rescued_failure_is_dropped_by_the_recap_of_its_host() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed(_RESCUED + _RECAP, 1.0) == [] and deploy.tick(100.0) == []


def test_an_ansible_failure_comes_out_when_the_pane_goes_quiet() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed(_RESCUED[:2], 1.0) == []  # "...ignoring" may follow
    assert deploy.tick(1.5) == []
    findings = deploy.tick(2.0)
    assert [(f.rule, f.severity) for f in findings] == [("deploy.ansible_fatal", Severity.ERROR)]
    assert deploy.tick(100.0) == []


def test_a_failing_recap_reports_the_host_once() -> None:
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    recap = [_RECAP[0], "testhost                   : ok=0    changed=0    unreachable=0    "
             "failed=1    skipped=0    rescued=0    ignored=0   "]
    findings = deploy.feed(_RESCUED[:2] + recap, 1.0) + deploy.tick(100.0)
    assert [f.rule for f in findings] == ["deploy.ansible_failed"]


def test_failed_loop_items_are_ignored_with_their_task() -> None:
    # ansible/ansible:test/integration/targets/callback_default (a loop with ignore_errors)
    lines = [
        "TASK [Failed loop] *************************************************************",
        "failed: [testhost] (item=debug-2) => {",
        '    "msg": "debug-2"',
        "}",
        'fatal: [testhost]: FAILED! => {"msg": "One or more items failed"}',
        "...ignoring",
    ]
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed(lines, 1.0) == [] and deploy.tick(100.0) == []


def test_ignoring_speaks_only_of_its_own_task() -> None:
    failed = _RESCUED[:2]  # a failure, then the next task's banner closes it
    deploy = DeployAnalyzer(RULES, stalled_after=STALL)
    assert deploy.feed(failed + _IGNORED, 1.0) == []
    assert [f.rule for f in deploy.tick(100.0)] == ["deploy.ansible_fatal"]
