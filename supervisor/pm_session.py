"""The PM's tmux session: made by `steward up`, and made again by the reconciler when a new tmux
server starts after the old one died."""

from __future__ import annotations

import sys

from escalation.core.config import Config
from escalation.core.paths import StewardHome
from escalation.core.tmux import Tmux

__all__ = ["PM_MARK", "ensure_pm_session"]

PM_MARK = "@steward_pm"


def ensure_pm_session(
    config: Config,
    home: StewardHome,
    *,
    config_file: str | None = None,
    start_server: bool = True,
) -> bool:
    """The PM's session with a pane following the log; True when it had to be created.

    With `start_server` False nothing happens while no tmux server runs: the reconciler waits
    for the user's next server rather than starting one itself.
    """
    tmux = Tmux(socket_name=config.tmux.socket_name, socket_path=config.tmux.socket_path)
    if not start_server and not tmux.is_alive():
        return False
    if tmux.has_session(config.pm.session):
        return False
    tail = [sys.executable, "-m", "supervisor", "tail"]  # attention first: its defaults
    env = ["-e", f"STEWARD_HOME={home.root}"]
    if config_file:
        env += ["-e", f"STEWARD_CONFIG={config_file}"]
    tmux.cmd("new-session", "-d", "-s", config.pm.session, "-x", "200", "-y", "50", *env, *tail)
    try:
        tmux.cmd("set-option", "-t", f"={config.pm.session}:", PM_MARK, "1")
    except BaseException:
        tmux.kill_session(config.pm.session)
        raise
    return True
