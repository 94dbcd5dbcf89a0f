"""`make eval`: replay tests/corpus through real tmux panes with Steward running at its defaults.

Each transcript is printed by `cat` into a pane of its own session on a private tmux
server (the pane then waits, so a prompt stays the last row); Steward watches those
sessions as it would a team's, and a transcript counts as escalated when an event of
warning or above about its pane reached the PM (was delivered).  Prints recall and
false escalations per category and overall, then every miss and false escalation.
With --rules it judges at rule level only (what `make test` checks), in a second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import _corpus  # noqa: E402  # the tests' own harness, beside this folder
from _stack import Stack  # noqa: E402

from assistants.qa import QUIET  # noqa: E402  # after the path above

BATCH = 32
# Seconds after a batch was printed: as long as Steward itself waits before it judges a run
# that printed failures but no summary (QA's QUIET), plus a capture or two.
SETTLE = QUIET + 6.0
WARNING = 20


def _rule_level(transcripts: Sequence[_corpus.Transcript]) -> list[tuple[_corpus.Transcript, bool]]:
    sets = _corpus.rule_sets()
    return [(t, _corpus.judge(t, sets).escalates()) for t in transcripts]


def _escalated(stack: Stack) -> set[str]:
    """Sessions with an event of warning or above that the policy delivered."""
    out = stack.steward("events", "--json").stdout
    found = set()
    for line in out.splitlines():
        if not line.strip():
            continue
        e = json.loads(line)
        if e["rule"].startswith("system.") or e["kind"] == "summary":
            continue
        if e["severity"] in ("warning", "error", "critical") and e["status"] == "delivered":
            found.add(e["session"])
    return found


def _live(transcripts: Sequence[_corpus.Transcript]) -> list[tuple[_corpus.Transcript, bool]]:
    tmp = Path(tempfile.mkdtemp(prefix="steward-eval-"))
    socket = f"steward-eval-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    stack = Stack(tmp, socket_name=socket, env=env, interval=1.0,
                  extra_config="[notify]\ndesktop = false\n[watch]\nexclude = [\"keep\"]\n")
    # The defaults but for the server and discovery: a user's settings, on a private server.
    stack.config.write_text(
        f'[tmux]\nsocket_name = "{socket}"\n[notify]\ndesktop = false\n'
        '[watch]\nexclude = ["keep"]\ndiscovery_interval = 0.5\n'
    )
    results: list[tuple[_corpus.Transcript, bool]] = []
    try:
        stack.tmux("new-session", "-d", "-s", "keep", "-x", "160", "-y", "50")
        stack.up()
        for start in range(0, len(transcripts), BATCH):
            batch = list(enumerate(transcripts[start : start + BATCH], start=start))
            names = {}
            for n, t in batch:
                name = f"t{n:03d}"
                names[name] = t
                script = f"cat {json.dumps(str(t.file))}; exec sleep 3600"
                stack.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50",
                           "sh", "-c", script)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                watched = set(stack.watchers())
                if all(f"session:{n}" in watched for n in names):
                    break
                time.sleep(0.2)
            time.sleep(SETTLE)  # the runs settle: a bounded wait, not a condition to poll
            hits = _escalated(stack)
            for name, t in names.items():
                results.append((t, name in hits))
                stack.tmux("kill-session", "-t", name)
            done = start + len(batch)
            print(f"  {done}/{len(transcripts)} replayed", file=sys.stderr, flush=True)
    finally:
        stack.down()
        stack.tmux("kill-server")
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", action="store_true", help="rule level only (fast)")
    p.add_argument("--category", action="append", help="only these categories")
    args = p.parse_args(argv)
    transcripts = _corpus.load_corpus()
    if args.category:
        transcripts = [t for t in transcripts if t.category in args.category]
    verdicts = _rule_level(transcripts) if args.rules else _live(transcripts)
    table = _corpus.stats(verdicts)
    print(f"{'rule level' if args.rules else 'live, Steward at its defaults'}: "
          f"{len(transcripts)} transcripts")
    for s in table.values():
        print(s.row())
    for s in list(table.values())[:-1]:
        for name in s.misses:
            print(f"miss   {name}")
        for name in s.false_names:
            print(f"false  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
