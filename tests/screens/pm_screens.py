"""Screens for the README, from a real run: the PM pane and `steward top` with a small team.

Runs Steward on a private tmux socket with state in a temporary directory, plays a team of
four sessions (a red then green pytest run, an agent that plans and asks, a crashing
service, a quiet shell), attaches a client to the PM session, and writes what the PM pane,
`steward top` and `steward summary` show into `--out` (default tests/screens/).  Needs
tmux.  `python tests/screens/pm_screens.py [--out DIR] [--width 100]`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from _client import AttachedClient  # noqa: E402  # tests/ helpers, after the path is set
from libtmux.test.retry import retry_until  # noqa: E402

SOCKET = "steward-screens"
AGENT = """
import time
print("● I'll use the migration tool instead of raw SQL for the orders table.")
print("● Plan: 1. add the column 2. backfill 3. switch reads")
print("● Next, I will run the migration against staging.")
time.sleep(1)
input("Run python manage.py migrate --database=production? [y/N] ")
"""
TEST_RED = "def test_total():\n    assert 2 + 2 == 5\n\ndef test_cart():\n    assert True\n"
TEST_GREEN = "def test_total():\n    assert 2 + 2 == 4\n\ndef test_cart():\n    assert True\n"


def tmux(*args: str) -> str:
    out = subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True,
                         timeout=20, check=False)
    return out.stdout


def type_line(target: str, line: str) -> None:
    tmux("send-keys", "-t", target, "-l", line)
    tmux("send-keys", "-t", target, "Enter")


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--out", default=str(REPO / "tests" / "screens"))
    args.add_argument("--width", type=int, default=100)
    opts = args.parse_args()
    out = Path(opts.out)
    work = Path(tempfile.mkdtemp(prefix="steward-screens-"))
    config = work / "steward.toml"
    config.write_text(f'[tmux]\nsocket_name = "{SOCKET}"\n[capture]\ninterval = 0.5\n'
                      "[watch]\ndiscovery_interval = 0.5\n[states]\nidle_after = 3.0\n"
                      '[summary]\ninterval = 5.0\nproject = "shop"\n'
                      "[policy]\nrenotify_after = 8.0\n[notify]\ndesktop = false\n")
    env = {**os.environ, "STEWARD_HOME": str(work / "home"), "STEWARD_CONFIG": str(config)}
    env.pop("TMUX", None)
    steward = [sys.executable, "-m", "supervisor"]
    (work / "shop").mkdir()
    (work / "shop" / "test_cart.py").write_text(TEST_RED)
    (work / "agent.py").write_text(AGENT)
    for name in ("dev", "agent", "api", "notes"):
        subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", name, "-x", "120",
                        "-y", "30", "-c", str(work / "shop"), "-e", "PS1=$ ",
                        "bash", "--norc", "--noprofile"], check=True, env=env, timeout=20)
    client = None
    try:
        subprocess.run([*steward, "up"], env=env, check=True, timeout=60)
        retry_until(lambda: "session:notes" in subprocess.run(
            [*steward, "status"], env=env, capture_output=True, text=True).stdout, 30)
        client = AttachedClient(SOCKET, "pm", env, width=opts.width, height=32)
        py = shlex.quote(sys.executable)
        type_line("dev", f"{py} -m pytest -q -p no:cacheprovider")
        type_line("agent", f"{py} {shlex.quote(str(work / 'agent.py'))}")
        type_line("api", f"{py} -c \"import json; json.loads('{{broken')\"")
        time.sleep(6)  # a script, not a test: let the red run be seen before the fix
        (work / "shop" / "test_cart.py").write_text(TEST_GREEN)
        type_line("dev", f"{py} -m pytest -q -p no:cacheprovider")
        retry_until(lambda: "unacknowledged for" in tmux("capture-pane", "-p", "-t", "pm"), 60)
        time.sleep(6)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pm-pane.txt").write_text(tmux("capture-pane", "-p", "-t", "pm").rstrip() + "\n")
        top = f"{py} -m supervisor top"
        tmux("new-window", "-t", "notes", "-e", f"STEWARD_HOME={env['STEWARD_HOME']}",
             "-e", f"STEWARD_CONFIG={config}", "bash", "--norc", "--noprofile")
        tmux("resize-window", "-t", "notes:1", "-x", str(opts.width), "-y", "20")
        type_line("notes:1", top)
        retry_until(lambda: "steward top" in tmux("capture-pane", "-p", "-t", "notes:1"), 20)
        time.sleep(2)
        (out / "top.txt").write_text(tmux("capture-pane", "-p", "-t", "notes:1").rstrip() + "\n")
        tmux("send-keys", "-t", "notes:1", "q")
        digest = subprocess.run([*steward, "summary"], env=env, capture_output=True, text=True,
                                timeout=60).stdout
        (out / "digest.txt").write_text(digest)
        print((out / "pm-pane.txt").read_text(), (out / "top.txt").read_text(), digest, sep="\n")
    finally:
        if client is not None:
            client.close()
        subprocess.run([*steward, "down"], env=env, timeout=60, check=False)
        tmux("kill-server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
