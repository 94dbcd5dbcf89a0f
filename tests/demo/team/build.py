"""The demo's build: compiles a few files, then hangs without a word (a stalled build)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

UNITS = ("parser", "lexer", "codegen", "optimizer", "linker")


def main() -> None:
    go = Path(os.environ["DEMO_DIR"]) / "go"
    while not go.exists():
        time.sleep(0.2)
    print("$ make -j2 all", flush=True)
    for n, unit in enumerate(UNITS, start=1):
        print(f"[{n * 100 // (len(UNITS) + 1):3d}%] Building C object src/{unit}.o", flush=True)
        time.sleep(0.5)
    print("[ 90%] Linking C executable bin/steward-demo", flush=True)
    while True:  # the linker waits on a lock that never frees: silence from here on
        time.sleep(3600)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
