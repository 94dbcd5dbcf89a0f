"""`steward service install|uninstall`: a systemd user unit that starts and stops Steward."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _steward(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "STEWARD_HOME": str(tmp_path / "state 100%")}
    for name in ("STEWARD_CONFIG", "TMUX"):
        out.pop(name, None)
    return out


def _settings(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def _argv(value: str) -> list[str]:
    """A command line as systemd reads it: quoted words, %% and $$ for % and $."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(value)]


def test_install_writes_a_unit_that_runs_steward_up_and_down(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = tmp_path / "my conf $HOME %d.toml"
    config.write_text("[notify]\ndesktop = false\n")
    done = _steward(env, "--config", str(config), "service", "install", "--no-systemctl")
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "config" / "systemd" / "user" / "steward.service"
    assert f"wrote {unit}" in done.stdout
    assert "systemctl --user enable --now steward.service" in done.stdout
    s = _settings(unit.read_text())
    assert s["Type"] == ["forking"]
    assert s["Restart"] == ["on-failure"]
    assert s["WantedBy"] == ["default.target"]
    assert s["PIDFile"] == [str(tmp_path / "state 100%%" / "run" / "circusd.pid")]
    home = [v for v in s["Environment"] if "STEWARD_HOME" in v]
    assert home == [f'"STEWARD_HOME={tmp_path}/state 100%%"']
    start, stop = _argv(s["ExecStart"][0]), _argv(s["ExecStop"][0])
    assert start == [sys.executable, "-m", "supervisor", "--config", str(config), "up"]
    assert stop == [*start[:-1], "down"]


def test_systemd_analyze_verifies_the_unit(tmp_path: Path, env: dict[str, str]) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here: the unit was not verified")
    assert _steward(env, "service", "install", "--no-systemctl").returncode == 0
    unit = tmp_path / "config" / "systemd" / "user" / "steward.service"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run([analyze, "--user", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60, env={**env, "XDG_RUNTIME_DIR": str(runtime)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # no warnings either


def test_a_unit_steward_did_not_write_is_left_alone_unless_forced(
    tmp_path: Path, env: dict[str, str]
) -> None:
    unit = tmp_path / "config" / "systemd" / "user" / "steward.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/usr/bin/true\n")
    for action in ("install", "uninstall"):
        refused = _steward(env, "service", action, "--no-systemctl")
        assert refused.returncode == 2
        assert len(refused.stderr.strip().splitlines()) == 1
        assert re.search(rf"{re.escape(str(unit))}: .*not written by steward", refused.stderr)
        assert unit.read_text() == "[Service]\nExecStart=/usr/bin/true\n"
    assert _steward(env, "service", "install", "--no-systemctl", "--force").returncode == 0
    assert "ExecStop=" in unit.read_text()


def test_uninstall_removes_the_unit_and_a_second_one_says_so(
    tmp_path: Path, env: dict[str, str]
) -> None:
    unit = tmp_path / "config" / "systemd" / "user" / "steward.service"
    assert _steward(env, "service", "install", "--no-systemctl").returncode == 0
    assert unit.exists()
    gone = _steward(env, "service", "uninstall", "--no-systemctl")
    assert gone.returncode == 0 and gone.stdout.strip() == f"removed {unit}"
    assert not unit.exists()
    again = _steward(env, "service", "uninstall", "--no-systemctl")
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_the_units_commands_start_and_stop_steward(
    tmp_path: Path, env: dict[str, str], server: object
) -> None:
    config = tmp_path / "steward.toml"
    config.write_text(f'[tmux]\nsocket_name = "{server.socket_name}"\n'  # type: ignore[attr-defined]  # libtmux Server, untyped plugin fixture
                      "[notify]\ndesktop = false\n")
    assert _steward(env, "--config", str(config), "service", "install",
                    "--no-systemctl").returncode == 0
    s = _settings((tmp_path / "config" / "systemd" / "user" / "steward.service").read_text())
    unit_env = dict(_argv(v)[0].split("=", 1) for v in s["Environment"])
    clean = {k: v for k, v in env.items() if not k.startswith("STEWARD_")}
    run_env = {**clean, **unit_env}
    started = subprocess.run(_argv(s["ExecStart"][0]), env=run_env, capture_output=True,
                             text=True, timeout=60)
    try:
        assert started.returncode == 0, started.stderr
        pid_file = Path(s["PIDFile"][0].replace("%%", "%"))
        pid = int(pid_file.read_text())
        os.kill(pid, 0)  # the main process systemd would follow is alive
    finally:
        stopped = subprocess.run(_argv(s["ExecStop"][0]), env=run_env, capture_output=True,
                                 text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    assert "Steward is down." in stopped.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
