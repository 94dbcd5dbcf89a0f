"""`.ci/system-packages` (called by `make up`, `make test`): install what is missing, or say how."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "system-packages"
MISSING = "steward-no-such-package"


def _run(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["bash", str(SCRIPT), *args]
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_installed_packages_pass_silently() -> None:
    if shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg here")
    done = _run("make test", "tmux", "bash")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_without_root_or_sudo_one_line_names_the_packages_and_the_command() -> None:
    if shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg here")
    if os.getuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to run the script as a user without sudo")
    done = _run("make test", "tmux", MISSING, user="nobody")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"make test needs the system packages {MISSING}; install them with:"
        f" sudo apt-get install {MISSING}"
    ]
