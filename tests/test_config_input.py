"""Bad input in the config: one line naming the file and the key, exit 2, nothing started.

Each case runs the real `steward check` and `steward up` against a private tmux socket and
state dir, and then looks that no tmux server, session or circusd was left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def _steward(
    *args: str, home: Path, config: Path, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STEWARD_HOME": str(home),
           "HOME": str(home), "STEWARD_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "supervisor", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _server_runs(socket_name: str) -> bool:
    proc = subprocess.run(["tmux", "-L", socket_name, "list-sessions"], capture_output=True,
                          text=True, timeout=10)
    return proc.returncode == 0


def _circusd_children(home: Path) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"])
            if any(str(home) in part for part in (p.info["cmdline"] or []))
            and "circus.circusd" in " ".join(p.info["cmdline"] or [])]


@pytest.fixture
def socket_name() -> Iterator[str]:
    name = f"steward-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, timeout=10)


def _assert_refused(proc: subprocess.CompletedProcess[str], conf: Path, *expected: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(conf) in lines[0]
    for want in expected:
        assert want in lines[0], lines[0]


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ("[capture]\ninterval = nan\n", "capture.interval", "finite"),
        ("[capture]\ninterval = inf\n", "capture.interval", "finite"),
        ("[capture]\ninterval = -inf\n", "capture.interval", "finite"),
        ("[capture]\ninterval = 1e300\n", "capture.interval", "at most"),
        ("[capture]\ninterval = 0.001\n", "capture.interval", "at least"),
        ("[watch]\ndiscovery_interval = 1e300\n", "watch.discovery_interval", "at most"),
        ("[watch]\ndiscovery_interval = nan\n", "watch.discovery_interval", "finite"),
        ("[capture]\nhistory_lines = 100000000000\n", "capture.history_lines", "at most"),
        ("[states]\nidle_after = inf\n", "states.idle_after", "finite"),
        ("[states]\ndebounce = 0\n", "states.debounce", "at least"),
        ("[summary]\ntimeout = 1e300\n", "summary.timeout", "at most"),
        ("[summary]\ninterval = nan\n", "summary.interval", "finite"),
        ("[notify]\nrate_per_minute = 0\n", "notify.rate_per_minute", "at least"),
        ("[policy]\ncooldown = inf\n", "policy.cooldown", "finite"),
        ("[policy]\nescalate_after = 0\n", "policy.escalate_after", "greater than 0"),
        ("[policy]\nrenotify_after = 1e300\n", "policy.renotify_after", "at most"),
        ('[pm]\nsession = "p:m"\n', "pm.session", "tmux session name"),
        ('[pm]\nsession = "p.m"\n', "pm.session", "tmux session name"),
        ('[pm]\nsession = ""\n', "pm.session", "empty"),
        ('[rules]\nfiles = [""]\n', "rules.files[0]", "empty"),
        ('[rules]\nfiles = ["/no/such/pack.toml"]\n', "rules.files[0]", "no such file"),
        ('[rules]\npacks = [""]\n', "rules.packs[0]", "not a pack name"),
        ('[rules]\npacks = ["generic", "nosuch"]\n', "rules.packs[1]", "no shipped pack"),
    ],
)
def test_bad_values_name_file_and_key(
    tmp_path: Path, socket_name: str, body: str, key: str, reason: str
) -> None:
    conf = tmp_path / "steward.toml"
    conf.write_text(f'[tmux]\nsocket_name = "{socket_name}"\n' + body)
    for command in ("check", "up"):
        proc = _steward(command, home=tmp_path / "h", config=conf)
        _assert_refused(proc, conf, f"{key}:", reason)
    assert not _server_runs(socket_name)
    assert not (tmp_path / "h" / "run" / "circusd.pid").exists()


def test_a_non_utf8_config_is_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "steward.toml"
    conf.write_bytes(b'[notify]\napp_name = "St\xffward"\n')
    for command in ("check", "up"):
        _assert_refused(_steward(command, home=tmp_path / "h", config=conf), conf, "not UTF-8",
                        "line 2")


@pytest.mark.parametrize("nested", ["[" * 5000 + "]" * 5000, "{a=" * 5000 + "1" + "}" * 5000])
def test_deep_nesting_is_one_line(tmp_path: Path, nested: str) -> None:
    conf = tmp_path / "steward.toml"
    conf.write_text(f"[watch]\ninclude = {nested}\n")
    proc = _steward("check", home=tmp_path / "h", config=conf)
    _assert_refused(proc, conf, "nested too deep")
    assert "RecursionError" not in proc.stderr


def test_a_fifo_as_config_is_refused_without_hanging(tmp_path: Path, socket_name: str) -> None:
    fifo = tmp_path / "steward.toml"
    os.mkfifo(fifo)
    for command in ("check", "up"):
        _assert_refused(_steward(command, home=tmp_path / "h", config=fifo, timeout=15), fifo,
                        "not a regular file")
    assert not _server_runs(socket_name)


def test_a_fifo_as_rule_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "mine.toml"
    os.mkfifo(fifo)
    conf = tmp_path / "steward.toml"
    conf.write_text(f'[rules]\nfiles = ["{fifo}"]\n')
    _assert_refused(_steward("check", home=tmp_path / "h", config=conf, timeout=15), conf,
                    "rules.files[0]:", "not a regular file")


def test_a_failed_up_leaves_no_server_session_or_circusd(tmp_path: Path, socket_name: str) -> None:
    conf = tmp_path / "steward.toml"
    conf.write_text(f'[tmux]\nsocket_name = "{socket_name}"\n[notify]\ndesktop = false\n')
    home = tmp_path / "h"
    # circusd cannot open its log (a directory stands where the file goes): it exits at once,
    # after `up` has started the tmux server, the PM session and circusd.
    (home / "log" / "circusd.log").mkdir(parents=True)
    proc = _steward("up", home=home, config=conf, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "circusd did not start" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not _server_runs(socket_name)
    assert not _circusd_children(home)
    assert not (home / "run" / "circusd.pid").exists()


def test_a_failed_up_keeps_a_server_it_did_not_start(tmp_path: Path, socket_name: str) -> None:
    subprocess.run(["tmux", "-L", socket_name, "new-session", "-d", "-s", "work"], check=True,
                   timeout=10)
    conf = tmp_path / "steward.toml"
    conf.write_text(f'[tmux]\nsocket_name = "{socket_name}"\n[notify]\ndesktop = false\n')
    home = tmp_path / "h"
    (home / "log" / "circusd.log").mkdir(parents=True)
    assert _steward("up", home=home, config=conf, timeout=60).returncode == 1
    out = subprocess.run(["tmux", "-L", socket_name, "list-sessions", "-F", "#{session_name}"],
                         capture_output=True, text=True, timeout=10).stdout.split()
    assert out == ["work"]
