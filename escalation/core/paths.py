"""Where Steward keeps its state, log and runtime files, all private to the user."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

__all__ = ["StewardHome", "conf_dir"]


def conf_dir() -> Path:
    """The shipped `conf/` folder (defaults and rule packs)."""
    override = os.environ.get("STEWARD_CONF_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "conf"


@attrs.frozen(kw_only=True)
class StewardHome:
    """The state directory: `steward.db`, `log/`, and `run/` (mode 0700)."""

    root: Path

    @classmethod
    def from_env(cls) -> StewardHome:
        raw = os.environ.get("STEWARD_HOME")
        root = Path(raw) if raw else Path.home() / ".local" / "state" / "steward"
        return cls(root=root.expanduser().absolute())

    @property
    def db(self) -> Path:
        return self.root / "steward.db"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "steward.log"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    def ensure(self) -> StewardHome:
        """Create the directories, private to the user, and tighten them if they exist."""
        for d in (self.root, self.log_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            d.chmod(0o700)
        return self
