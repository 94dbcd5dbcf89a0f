"""The demo's coding agent: does a little work, then stops at an approval prompt and waits."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

WORK = (
    "● Reading src/orders/api.py",
    "● Reading tests/test_orders.py",
    "● The retry loop in submit_order() swallows the timeout; I'll make it re-raise.",
    "",
    "Bash command",
    "  pytest tests/test_orders.py -q",
    "  Run the orders tests",
    "",
)
PROMPT = (
    "Do you want to proceed?",
    "❯ 1. Yes",
    "  2. Yes, and don't ask again for pytest commands in this project",
    "  3. No, and tell Claude what to do differently (esc)",
)


def main() -> None:
    go = Path(os.environ["DEMO_DIR"]) / "go"
    while not go.exists():
        time.sleep(0.2)
    time.sleep(3)
    for line in WORK:
        print(line, flush=True)
        time.sleep(0.4)
    print("\n".join(PROMPT), flush=True)
    answer = sys.stdin.readline()  # a person answers, or nobody does
    print(f"answered {answer.strip()!r}; carrying on", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
