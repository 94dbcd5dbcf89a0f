"""`steward silence add` and `steward ack` refuse what they cannot mean, on a real store and tmux.

A silence needs a matcher (--rule, --session, or an explicit --all); a glob that matches no
known session or rule is a warning naming it; an ack of an id that does not exist is exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from escalation.core.events import Kind, Severity, new_event
from escalation.core.store import Store

REPO = Path(__file__).resolve().parent.parent


class Cli:
    def __init__(self, tmp_path: Path, socket_name: str) -> None:
        self.home = tmp_path / "h"
        self.config = tmp_path / "steward.toml"
        self.config.write_text(f'[tmux]\nsocket_name = "{socket_name}"\n')

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STEWARD_HOME": str(self.home),
               "HOME": str(self.home), "STEWARD_CONFIG": str(self.config)}
        return subprocess.run([sys.executable, "-m", "supervisor", *args], env=env,
                              capture_output=True, text=True, timeout=60, cwd=REPO)

    def silences(self) -> list[dict[str, Any]]:
        out = self("silence", "list", "--json").stdout.splitlines()
        return [json.loads(line) for line in out if line.strip()]


@pytest.fixture
def cli(tmp_path: Path, server: Any) -> Cli:
    server.new_session(session_name="api")  # a real session on the plugin's private server
    return Cli(tmp_path, str(server.socket_name))


def test_a_silence_without_a_matcher_is_refused(cli: Cli) -> None:
    proc = cli("silence", "add", "--for", "1h")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "--rule" in proc.stderr and "--session" in proc.stderr and "--all" in proc.stderr
    assert cli.silences() == []


def test_all_must_be_said_and_goes_alone(cli: Cli) -> None:
    assert cli("silence", "add", "--all", "--session", "api", "--for", "1h").returncode == 2
    proc = cli("silence", "add", "--all", "--for", "1h")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    (silence,) = cli.silences()
    assert (silence["rule"], silence["session"]) == ("*", "*")


def test_a_known_session_and_rule_give_no_warning(cli: Cli) -> None:
    proc = cli("silence", "add", "--session", "api", "--rule", "generic.python_traceback",
               "--for", "15m")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = cli("silence", "add", "--rule", "state.*", "--for", "15m")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_an_unknown_session_is_a_warning_that_names_it(cli: Cli) -> None:
    proc = cli("silence", "add", "--session", "apii", "--for", "1h")
    assert proc.returncode == 0
    assert "warning" in proc.stderr and "'apii'" in proc.stderr and "api" in proc.stderr
    assert [s["session"] for s in cli.silences()] == ["apii"]


def test_an_unknown_rule_is_a_warning_that_names_it(cli: Cli) -> None:
    proc = cli("silence", "add", "--rule", "generic.pythn_traceback", "--for", "1h")
    assert proc.returncode == 0
    assert "warning" in proc.stderr and "'generic.pythn_traceback'" in proc.stderr
    assert "--session" not in proc.stderr


def test_a_session_seen_only_in_the_store_is_known(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    with Store(cli.home / "steward.db") as store:
        store.add_events([new_event(ts=1.0, session="gone-ci", target="gone-ci:0.0",
                                    assistant="session:gone-ci", rule="generic.panic",
                                    severity=Severity.ERROR, kind=Kind.PATTERN, text="panic")])
    proc = cli("silence", "add", "--session", "gone-*", "--for", "1h")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


@pytest.mark.parametrize("duration", ["1e300", "nan", "400d", "inf"])
def test_absurd_durations_are_refused(cli: Cli, duration: str) -> None:
    proc = cli("silence", "add", "--session", "api", "--for", duration)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--for" in proc.stderr
    assert cli.silences() == []


def test_ack_of_a_missing_event_says_so_and_exits_2(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    with Store(cli.home / "steward.db") as store:
        (event,) = store.add_events([new_event(
            ts=1.0, session="api", target="api:0.0", assistant="session:api",
            rule="generic.panic", severity=Severity.ERROR, kind=Kind.PATTERN, text="panic")])
    proc = cli("ack", "99999")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "steward ack: no such event 99999 (see `steward events`)"
    proc = cli("ack", str(event.id), "99999")
    assert proc.returncode == 2  # nothing is acknowledged when one id is wrong
    with Store(cli.home / "steward.db") as store:
        assert store.acked_ids() == set()
    proc = cli("ack", str(event.id))
    assert proc.returncode == 0 and f"acknowledged 1 event(s): {event.id}" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("events", "-n", "-1"),
        ("events", "-n", "99999999999999999999"),
        ("events", "--since", "x"),
        ("ack", "99999999999999999999999"),
        ("silence", "rm", "99999999999999999999"),
        ("tail", "-n", "-3"),
    ],
)
def test_numbers_on_the_command_line_have_a_range(cli: Cli, args: tuple[str, ...]) -> None:
    proc = cli(*args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_test_rule_refuses_what_is_not_a_file(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "screen.txt"
    os.mkfifo(fifo)
    for target in (str(fifo), "/dev/zero"):
        proc = cli("test-rule", target)
        assert proc.returncode == 2
        assert proc.stderr.strip() == f"steward: {target}: cannot read: not a regular file" \
            " (a FIFO, device or socket is refused)"
