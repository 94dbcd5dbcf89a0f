"""The deployment analyzer: a pane's deploy output becomes findings, a stuck rollout a warning."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

import attrs

from escalation.core.events import Severity
from escalation.core.sanitize import sanitize
from escalation.rules import Hit, Matcher, RuleSet

from .qa import FLUSH_AFTER, Finding

__all__ = ["DeployAnalyzer", "is_deploy_tool"]

STALLED_RULE = "deploy.rollout_stalled"

_DEPLOY_PROGRAMS = frozenset({
    "kubectl", "oc", "helm", "helmfile", "terraform", "tofu", "terragrunt", "pulumi",
    "ansible", "ansible-playbook", "docker", "docker-compose", "podman", "podman-compose",
    "kustomize", "skaffold", "tilt", "argocd", "flux", "eksctl", "kind", "minikube", "nomad",
    "kamal", "cdk", "serverless", "sls",
})
_RUNNERS = frozenset({"make", "just", "task", "npm", "yarn", "pnpm", "bun", "npx"})
_DEPLOY_WORDS = ("deploy", "release", "rollout", "provision")


def is_deploy_tool(command: str) -> bool:
    """Whether a foreground command (tmux's pane_current_command, or a command line) deploys.

    A task runner counts only when a later word names a deployment ("make deploy").
    """
    words = command.split()
    if not words:
        return False
    program = PurePath(words[0]).name.lower()
    if program in _DEPLOY_PROGRAMS:
        return True
    if program not in _RUNNERS:
        return False
    return any(part in word.lower() for word in words[1:] for part in _DEPLOY_WORDS)


@attrs.define
class _Rollout:
    """A rollout printing "Waiting for ...": its last progress and since when it has not moved."""

    progress: str
    since: float
    warned: bool = False


class DeployAnalyzer:
    """Follows the deployments of one pane: each deploy hit a finding, a stuck rollout a warning."""

    def __init__(self, ruleset: RuleSet, *, stalled_after: float) -> None:
        self.ruleset = ruleset.only("deploy") if "deploy" in ruleset.packs else ruleset
        self.stalled_after = stalled_after
        self._matcher: Matcher = self.ruleset.matcher()
        self._rollouts: dict[str, _Rollout] = {}
        self._last_feed = 0.0

    @property
    def waiting(self) -> dict[str, str]:
        """Rollouts in progress, by name ("" for kubectl that names none), with their progress."""
        return {name: r.progress for name, r in self._rollouts.items()}

    def feed(self, lines: Sequence[str], now: float) -> list[Finding]:
        """Findings for these new lines, plus a stalled rollout's warning when it is due."""
        findings = self._flush_if_quiet(now)
        self._last_feed = now
        for hit in self._matcher.feed(lines):
            findings += self._take(hit, now)
        return findings + self._stalled(now)

    def tick(self, now: float) -> list[Finding]:
        """Between feeds: a held block let out, and a rollout that has not moved for too long."""
        return self._flush_if_quiet(now) + self._stalled(now)

    def _flush_if_quiet(self, now: float) -> list[Finding]:
        if not self._matcher.pending or now - self._last_feed < FLUSH_AFTER:
            return []
        findings: list[Finding] = []
        for hit in self._matcher.flush():
            findings += self._take(hit, now)
        return findings

    def _take(self, hit: Hit, now: float) -> list[Finding]:
        tags = hit.rule.tags
        name = hit.groups.get("name", "")
        if "waiting" in tags:
            progress = hit.groups.get("progress", hit.line)
            rollout = self._rollouts.get(name)
            if rollout is None or rollout.progress != progress:
                self._rollouts[name] = _Rollout(progress=progress, since=now)
            return []
        if "done" in tags or "failed" in tags:
            if name:
                self._rollouts.pop(name, None)
                self._rollouts.pop("", None)  # kubectl before 1.6 named no deployment
            elif hit.rule.name == "wait_timeout":
                self._rollouts.clear()
        detail = "\n".join(hit.lines) if len(hit.lines) > 1 else ""
        return [Finding(
            rule=hit.rule.id, severity=hit.rule.severity, text=sanitize(hit.message),
            detail=sanitize(detail, multiline=True), line=hit.line,
        )]

    def _stalled(self, now: float) -> list[Finding]:
        findings = []
        for name, rollout in self._rollouts.items():
            if rollout.warned or now - rollout.since < self.stalled_after:
                continue
            rollout.warned = True
            what = f'deployment "{name}"' if name else "a rollout"
            quiet = now - rollout.since
            took = f"{quiet:.0f} s" if quiet < 90 else f"{quiet / 60.0:.0f} min"
            findings.append(Finding(
                rule=STALLED_RULE, severity=Severity.WARNING,
                text=sanitize(f"{what} has not moved for {took}: {rollout.progress}"),
            ))
        return findings
