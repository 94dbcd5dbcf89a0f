"""The `steward` command: config errors, the store-backed commands, and `test-rule`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import attrs
import libtmux
import pytest
from libtmux.test.retry import retry_until

import supervisor
from escalation.core.events import Event, Kind, Severity
from escalation.core.paths import StewardHome
from escalation.core.store import Store

REPO = Path(__file__).resolve().parent.parent


def steward(
    *args: str, env_home: Path, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "STEWARD_HOME": str(env_home), "HOME": str(env_home)}
    if config is not None:
        env["STEWARD_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "supervisor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_our_supervisor_package_is_the_one_imported() -> None:
    assert Path(supervisor.__file__).resolve().parent == REPO / "supervisor"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[capture\ninterval = 1\n", "malformed TOML"),
        ("[capture]\nbogus = 1\n", "capture.bogus: unknown key"),
        ('[capture]\ninterval = "fast"\n', "capture.interval: expected a number"),
        ("[capture]\ninterval = -1\n", "capture.interval: must be at least 0.05"),
        ('[pm]\nmode = "shout"\n', "pm.mode: must be one of"),
        ('[pm]\nmode = "send-keys"\n', "pm.target: required when pm.mode is send-keys"),
        ("colour = 1\n", "colour: unknown key"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    conf = tmp_path / "steward.toml"
    conf.write_text(content)
    for command in ("check", "up"):
        proc = steward(command, env_home=tmp_path / "h", config=conf)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert str(conf) in lines[0]
        assert expected in lines[0]
        assert not (tmp_path / "h" / "run" / "circusd.pid").exists()


def test_invalid_pattern_in_a_rule_file_names_file_and_rule(tmp_path: Path) -> None:
    pack = tmp_path / "mine.toml"
    pack.write_text(
        'pack = "mine"\n[[rule]]\nname = "lookahead"\nseverity = "error"\nscope = "line"\n'
        "patterns = ['error(?!s)']\n"
    )
    conf = tmp_path / "steward.toml"
    conf.write_text(f'[rules]\nfiles = ["{pack}"]\n')
    proc = steward("check", env_home=tmp_path / "h", config=conf)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line
    assert str(pack) in line
    assert "rule[0]" in line or "lookahead" in line


def test_check_accepts_the_defaults(tmp_path: Path) -> None:
    proc = steward("check", env_home=tmp_path / "h")
    assert proc.returncode == 0, proc.stderr
    assert "config OK" in proc.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert steward("ack", env_home=tmp_path).returncode == 2
    assert steward("frobnicate", env_home=tmp_path).returncode == 2
    bad = steward("silence", "add", "--all", "--for", "soon", env_home=tmp_path)
    assert bad.returncode == 2
    assert "--for" in bad.stderr


def _event(n: int, session: str = "api") -> Event:
    return Event(
        ts=time.time(),
        session=session,
        window="1",
        pane=f"%{n}",
        target=f"{session}:1.{n}",
        assistant=f"session:{session}",
        rule="generic.error_line",
        severity=Severity.ERROR,
        kind=Kind.PATTERN,
        text=f"Error: thing {n} broke",
        fingerprint=f"fp{n}",
    )


def test_events_json_ack_and_silences(tmp_path: Path) -> None:
    home = StewardHome(root=tmp_path / "h").ensure()
    with Store(home.db) as store:
        store.add_events([_event(1), _event(2), _event(3, "web")])
    out = steward("events", "--json", env_home=home.root)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3]
    keys = {
        "id",
        "ts",
        "session",
        "window",
        "pane",
        "target",
        "assistant",
        "rule",
        "severity",
        "kind",
        "text",
        "fingerprint",
        "status",
    }
    assert keys <= set(rows[0])
    assert rows[0]["severity"] == "error" and rows[0]["kind"] == "pattern"

    assert "acknowledged 2" in steward("ack", "--session", "api", env_home=home.root).stdout
    statuses = [
        json.loads(line)["status"]
        for line in steward("events", "--json", env_home=home.root).stdout.splitlines()
    ]
    assert statuses == ["acked", "acked", "new"]

    added = steward(
        "silence",
        "add",
        "--rule",
        "generic.*",
        "--session",
        "web",
        "--for",
        "1h",
        "--comment",
        "deploying",
        env_home=home.root,
    )
    assert added.returncode == 0, added.stderr
    listed = [
        json.loads(line)
        for line in steward("silence", "list", "--json", env_home=home.root).stdout.splitlines()
    ]
    assert [(s["rule"], s["session"], s["comment"]) for s in listed] == [
        ("generic.*", "web", "deploying")
    ]
    assert steward("silence", "rm", str(listed[0]["id"]), env_home=home.root).returncode == 0
    assert steward("silence", "list", "--json", env_home=home.root).stdout == ""
    assert steward("silence", "rm", str(listed[0]["id"]), env_home=home.root).returncode == 2
    log = (home.log_file).read_text()
    assert "acknowledged 2" in log and "silence 1 added" in log


def test_test_rule_counts_lines(tmp_path: Path) -> None:
    sample = tmp_path / "out.txt"
    sample.write_text(
        "collecting ...\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "ValueError: boom\n"
        "all good\n"
    )
    proc = steward("test-rule", str(sample), "--pack", "generic", env_home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "generic.python_traceback" in proc.stdout
    assert steward("test-rule", str(tmp_path / "nope"), env_home=tmp_path).returncode == 2


def test_help_lists_no_hidden_command() -> None:
    out = steward("--help", env_home=Path("/nonexistent")).stdout
    assert "==SUPPRESS==" not in out and "reconcile" not in out
    for command in ("top", "tail", "show", "go", "summary", "events"):
        assert command in out


def test_events_min_severity_unacked_and_show(tmp_path: Path) -> None:
    home = StewardHome(root=tmp_path / "h").ensure()
    warn = attrs.evolve(_event(2), severity=Severity.WARNING, detail="line one\nline two")
    with Store(home.db) as store:
        store.add_events([_event(1), warn, _event(3, "web")])
        store.ack(ids=[3])
    ids = lambda *a: [json.loads(x)["id"] for x in  # noqa: E731
                      steward("events", "--json", *a, env_home=home.root).stdout.splitlines()]
    assert ids("--min-severity", "error") == [1, 3]
    assert ids("--unacked") == [1, 2]
    assert ids("--unacked", "--min-severity", "error") == [1]
    bad = steward("events", "--min-severity", "loud", env_home=home.root)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    shown = steward("show", "#2", env_home=home.root).stdout
    assert "#2 warning pattern generic.error_line" in shown
    assert "  line two" in shown and "switch-client -t 'api:1.2'" in shown
    missing = steward("show", "99", env_home=home.root)
    assert missing.returncode == 2 and "no event 99" in missing.stderr


def test_explain_names_the_rule_that_decides_a_saved_screen(tmp_path: Path) -> None:
    screen = Path(__file__).parent / "corpus" / "agents" / "claude_bash_proceed_dont_ask_again.txt"
    proc = steward("explain", "--file", str(screen), "--json", env_home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["state"].startswith("waiting for input: agents.permission")
    decided = [v for v in data["screen"] if v["decided"]]
    assert [v["rule"] for v in decided] == ["agents.permission"]
    assert decided[0]["text"] == "Do you want to proceed?"
    # The others say why they did not decide.
    assert all(v["note"] for v in data["screen"] if not v["decided"])
    text = steward("explain", "--file", str(screen), env_home=tmp_path).stdout
    assert "=> agents.permission" in text
    assert steward("explain", env_home=tmp_path).returncode == 2
    assert steward("explain", "--file", str(tmp_path / "nope"), env_home=tmp_path).returncode == 2


def test_explain_reads_a_live_pane(tmp_path: Path, server: libtmux.Server) -> None:
    config = tmp_path / "steward.toml"
    config.write_text(f'[tmux]\nsocket_name = "{server.socket_name}"\n')
    session = server.new_session("agent", window_command="bash --norc --noprofile")
    pane = session.active_window.active_pane
    assert pane is not None
    pane.send_keys("printf 'Allow command?\\n'", enter=True)
    retry_until(lambda: "Allow command?" in "\n".join(pane.capture_pane()), 5)
    proc = steward("explain", "agent:0.0", config=config, env_home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Screen rules, in the order they are read:" in proc.stdout
    assert steward("explain", "nosuch:9.9", config=config, env_home=tmp_path).returncode == 2
