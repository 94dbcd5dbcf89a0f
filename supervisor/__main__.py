"""`python -m supervisor`: the same as the `steward` command (Circus runs the reconciler so)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
