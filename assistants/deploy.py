"""The deployment analyzer: a pane's deploy output becomes findings, a stuck rollout a warning."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

import attrs

from escalation.core.events import Severity
from escalation.core.sanitize import sanitize
from escalation.rules import Hit, Matcher, RuleSet

from .qa import Finding

__all__ = ["QUIET_AFTER", "DeployAnalyzer", "is_deploy_tool"]

STALLED_RULE = "deploy.rollout_stalled"
# ansible prints "...ignoring" under a task failure that ignore_errors lets pass.
_IGNORING = re.compile(r"^\.\.\.ignoring\s*$")
# ansible's PLAY RECAP line of one host.
_RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=\d+\s+failed=\d+")
# ansible's banner of the next task or handler: an "...ignoring" after it is about that one.
_TASK = re.compile(r"^(?:TASK|RUNNING HANDLER|PLAY) \[")
# Once the pane has been quiet this long, a held block (a terraform diagnostic whose closing
# corner never came) and held ansible failures come out: deploy tools print in bursts.
QUIET_AFTER = 1.0

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


@attrs.define
class _Held:
    """An ansible task failure waiting for "...ignoring" or its host's recap line."""

    host: str
    finding: Finding
    closed: bool = False  # a later task began: "...ignoring" no longer speaks of it


class DeployAnalyzer:
    """Follows the deployments of one pane: each deploy hit a finding, a stuck rollout a warning."""

    def __init__(self, ruleset: RuleSet, *, stalled_after: float) -> None:
        narrow = "deploy" in ruleset.packs and ruleset.packs != ("deploy",)
        self.ruleset = ruleset.only("deploy") if narrow else ruleset  # as QAAnalyzer does
        self.stalled_after = stalled_after
        self._matcher: Matcher = self.ruleset.matcher()
        self._rollouts: dict[str, _Rollout] = {}
        self._last_feed = 0.0
        self._held: list[_Held] = []  # "ignorable" findings waiting for what follows
        # Whether terraform showed itself in this pane (its command, its banner, its boxes):
        # a bare "Error: ..." line is terraform's only then, else it is any program's.
        self._terraform = False

    @property
    def waiting(self) -> dict[str, str]:
        """Rollouts in progress, by name ("" for kubectl that names none), with their progress."""
        return {name: r.progress for name, r in self._rollouts.items()}

    def feed(self, lines: Sequence[str], now: float, *, command: str = "") -> list[Finding]:
        """Findings for these new lines, plus a stalled rollout's warning when it is due.

        An "ignorable" finding (an ansible task failure) is held: an "...ignoring" line before
        the next task drops it, and so does the PLAY RECAP line of its host (the recap tells
        whether a rescue block handled the failure, and deploy.ansible_failed reports the host
        if not); otherwise it comes out once the pane has been quiet for QUIET_AFTER seconds.
        """
        findings = self._flush_if_quiet(now)
        self._last_feed = now
        if command and not lines:
            self._terraform = "terraform" in command  # a new command: known from scratch
        self._terraform = self._terraform or "terraform" in command or any(
            "erraform" in line or line.startswith(("│ Error:", "╷")) for line in lines
        )
        hits = self._matcher.feed(lines)
        later: dict[int, list[Hit]] = {}
        for hit in hits:
            if hit.index < 0:  # a block that began in an earlier feed
                findings += self._take_held(hit, now)
            else:
                later.setdefault(hit.index, []).append(hit)
        for n, line in enumerate(lines):
            if self._held:
                self._follow(line)
            for hit in later.get(n, ()):
                findings += self._take_held(hit, now)
        return findings + self._stalled(now)

    def _take_held(self, hit: Hit, now: float) -> list[Finding]:
        """The findings of a hit, except an ignorable one's, which wait in self._held."""
        found = self._take(hit, now)
        if "ignorable" not in hit.rule.tags:
            return found
        host = hit.groups.get("host", "")
        self._held += [_Held(host=host, finding=f) for f in found]
        return []

    def _follow(self, line: str) -> None:
        """What a line after held ansible failures says about them."""
        text = line.strip()
        if _IGNORING.match(text):
            self._held = [e for e in self._held if e.closed]
        elif _TASK.match(text):
            for entry in self._held:
                entry.closed = True
        else:
            recap = _RECAP.match(text)
            if recap:
                self._held = [e for e in self._held if e.host != recap.group("host")]

    def tick(self, now: float) -> list[Finding]:
        """Between feeds: a held block let out, and a rollout that has not moved for too long."""
        findings = self._flush_if_quiet(now)
        if self._held and now - self._last_feed >= QUIET_AFTER:
            findings += [e.finding for e in self._held]
            self._held = []
        return findings + self._stalled(now)

    def _flush_if_quiet(self, now: float) -> list[Finding]:
        if not self._matcher.pending or now - self._last_feed < QUIET_AFTER:
            return []
        findings: list[Finding] = []
        for hit in self._matcher.flush():
            findings += self._take(hit, now)
        return findings

    def _take(self, hit: Hit, now: float) -> list[Finding]:
        tags = hit.rule.tags
        if "terraform" in tags and not self._terraform:
            return []  # "Error: ..." of another program: the session's packs read it
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
