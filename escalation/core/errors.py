"""The one family of user-facing errors, each printed as one line with a typed exit code.

    StewardError                  exit 1: something failed at run time
    ├── UsageError                exit 2: bad command-line use
    ├── ConfigError               exit 2: a config or rule file is wrong (file, key, reason)
    ├── StoreError                exit 1: the SQLite store cannot be opened or written
    └── TmuxError                 exit 1: the tmux server cannot be reached
"""

from __future__ import annotations

__all__ = ["ConfigError", "StewardError", "StoreError", "TmuxError", "UsageError"]


class StewardError(Exception):
    """A failure Steward reports to its user as one line."""

    exit_code = 1


class UsageError(StewardError):
    """The command line asks for something that cannot be done."""

    exit_code = 2


class ConfigError(StewardError):
    """A config or rule file is malformed, has an unknown key, a wrong type or a bad pattern."""

    exit_code = 2

    def __init__(self, reason: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        self.reason = reason
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {reason}" if where else reason)


class StoreError(StewardError):
    """The event store cannot be opened or written."""


class TmuxError(StewardError):
    """A tmux command failed or the server is not there."""
