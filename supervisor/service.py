"""`steward service install|uninstall`: a systemd user unit that starts Steward at login."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from escalation.core.errors import UsageError
from escalation.core.paths import StewardHome

__all__ = ["MARK", "UNIT_NAME", "ServiceUnit", "install", "uninstall", "unit_path"]

UNIT_NAME = "steward.service"
MARK = "# Written by `steward service install`; `steward service uninstall` removes it."
_KEPT_ENV = ("STEWARD_HOME", "STEWARD_CONFIG", "STEWARD_CONF_DIR")
_SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


def unit_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the user's unit goes: `$XDG_CONFIG_HOME/systemd/user/steward.service`."""
    env = os.environ if env is None else env
    config_home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(config_home).expanduser() / "systemd" / "user" / UNIT_NAME


def _quoted(arg: str, *, command: bool = True) -> str:
    """One word of a command line (or, `command=False`, an Environment= assignment), quoted
    so that systemd reads it back as it is: specifiers (%) everywhere, variables ($) only in
    command lines."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return '"' + (escaped.replace("$", "$$") if command else escaped) + '"'


def _path(path: str) -> str:
    """A path setting (PIDFile=): the rest of the line, specifiers escaped."""
    return path.replace("%", "%%")


@attrs.frozen(kw_only=True)
class ServiceUnit:
    """What the unit runs: the interpreter of this install, its config and its environment."""

    python: str
    pid_file: str
    config_file: str | None = None
    environment: tuple[tuple[str, str], ...] = ()

    @classmethod
    def current(
        cls, config_file: str | None, home: StewardHome, env: Mapping[str, str]
    ) -> ServiceUnit:
        """The unit for this install of Steward, as the user runs it now."""
        kept = [(k, env[k]) for k in _KEPT_ENV if env.get(k)]
        if config_file:
            kept = [(k, v) for k, v in kept if k != "STEWARD_CONFIG"]
        tmux = shutil.which("tmux", path=env.get("PATH"))
        dirs = [str(Path(sys.executable).parent)]
        if tmux is not None:
            dirs.append(str(Path(tmux).resolve().parent))
        dirs += [d for d in _SYSTEM_PATH if d not in dirs]
        kept.append(("PATH", ":".join(dict.fromkeys(dirs))))
        config = str(Path(config_file).expanduser().absolute()) if config_file else None
        pid_file = home.run_dir / "circusd.pid"
        for name, value in [*kept, ("--config", config or ""), ("STEWARD_HOME", str(pid_file))]:
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
                raise UsageError(
                    f"steward service install: {name} {value!r} has a control character;"
                    " a systemd unit cannot hold it"
                )
        return cls(python=sys.executable, pid_file=str(pid_file), config_file=config,
                   environment=tuple(kept))

    def _steward(self, command: str) -> str:
        argv = [self.python, "-m", "supervisor"]
        argv += ["--config", self.config_file] if self.config_file else []
        return " ".join(_quoted(a) for a in [*argv, command])

    def render(self) -> str:
        """The unit file's text."""
        env_lines = [
            f"Environment={_quoted(f'{k}={v}', command=False)}" for k, v in self.environment
        ]
        return "\n".join([
            MARK,
            "[Unit]",
            "Description=Steward: watches tmux sessions and tells the PM what needs attention",
            "",
            "[Service]",
            # `steward up` returns once circusd answers; circusd is the main process.
            "Type=forking",
            f"PIDFile={_path(self.pid_file)}",
            *env_lines,
            f"ExecStart={self._steward('up')}",
            f"ExecStop={self._steward('down')}",
            "Restart=on-failure",
            "RestartSec=5",
            "TimeoutStartSec=60",
            "TimeoutStopSec=30",
            # A tmux server that `steward up` started (the PM's session) must outlive the
            # service: only the main process is killed; `steward down` stops the rest.
            "KillMode=process",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ])


def _ours(path: Path) -> bool:
    try:
        return path.read_text().startswith(MARK)
    except OSError:
        return False


def _systemctl(*args: str) -> str | None:
    """Run `systemctl --user ARGS`; None when it worked, else why not (one line)."""
    if shutil.which("systemctl") is None:
        return "no systemctl here"
    try:
        proc = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"systemctl --user {' '.join(args)}: {exc}"
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return f"systemctl --user {' '.join(args)}: {reason}"
    return None


def install(
    unit: ServiceUnit, path: Path, *, force: bool = False, systemctl: bool = True
) -> list[str]:
    """Write the unit (and enable it, when systemctl can); the lines to tell the user."""
    if path.exists() and not force and not _ours(path):
        raise UsageError(
            f"{path}: exists and was not written by steward service install;"
            " remove it or pass --force"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit.render())
    said = [f"wrote {path}"]
    if not systemctl:
        return [*said, "enable it with: systemctl --user daemon-reload &&"
                " systemctl --user enable --now steward.service"]
    for step in (("daemon-reload",), ("enable", UNIT_NAME)):
        failed = _systemctl(*step)
        if failed is not None:
            return [*said, f"not enabled ({failed}); enable it with:"
                    " systemctl --user enable --now steward.service"]
    return [*said, "enabled: Steward starts at your next login"
            " (now: systemctl --user start steward.service)"]


def uninstall(path: Path, *, force: bool = False, systemctl: bool = True) -> list[str]:
    """Stop and disable the unit when systemctl can, then remove it; the lines to tell."""
    if not path.exists():
        return [f"no unit at {path}: nothing to remove"]
    if not force and not _ours(path):
        raise UsageError(
            f"{path}: was not written by steward service install; remove it yourself"
            " or pass --force"
        )
    said: list[str] = []
    steps: Sequence[tuple[str, ...]] = (("disable", "--now", UNIT_NAME),) if systemctl else ()
    for step in steps:
        failed = _systemctl(*step)
        if failed is not None:
            said.append(f"could not disable it ({failed})")
    path.unlink()
    said.append(f"removed {path}")
    if systemctl:
        _systemctl("daemon-reload")
    return said
