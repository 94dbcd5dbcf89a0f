"""`python -m escalation`: the escalation daemon that Circus runs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .core.config import load_config
from .core.errors import StewardError
from .core.paths import StewardHome
from .daemon import Daemon

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m escalation", description=__doc__)
    parser.add_argument("--config", help="the user's steward.toml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        Daemon(load_config(args.config), StewardHome.from_env().ensure()).run()
    except StewardError as exc:
        print(f"steward: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
