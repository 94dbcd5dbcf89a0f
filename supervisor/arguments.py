"""The `steward` command line: every command, its options, and an example in its --help."""

from __future__ import annotations

import argparse
from typing import Any

from escalation.core.errors import UsageError
from escalation.core.events import Severity

__all__ = ["parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's is NoReturn too
        raise UsageError(f"{self.prog}: {message}")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="steward",
        description="Watches tmux sessions and tells the PM what needs attention.",
        epilog="examples:\n  steward up\n  steward status\n  steward test-rule pane.txt"
        "\n\nEvery command has --help with an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config",
        help="your steward.toml (else $STEWARD_CONFIG, else ~/.config/steward/steward.toml)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    # The metavar names no command: a hidden one would show as ==SUPPRESS==.
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def command(parent: Any, name: str, text: str, *examples: str) -> argparse.ArgumentParser:
        lines = "\n".join(f"  {e}" for e in examples)
        made: argparse.ArgumentParser = parent.add_parser(
            name, help=text, description=text, epilog=f"example{'s' * (len(examples) > 1)}:"
            f"\n{lines}", formatter_class=argparse.RawDescriptionHelpFormatter)
        return made

    command(sub, "up", "start Steward in the background", "steward up",
            "steward --config ~/steward-ci.toml up")
    command(sub, "down", "stop Steward and every assistant", "steward down")
    s = command(sub, "status", "what runs, and every pane's state", "steward status",
                "steward status --json | jq '.panes[] | select(.state == \"stalled\")'")
    s.add_argument("--json", action="store_true")
    t = command(sub, "tail", "the PM pane: sessions on top, what needs attention below",
                "steward tail", "steward tail --plain --all -n 50")
    t.add_argument("-n", "--lines", type=_count, default=20, help="backlog lines (--plain)")
    t.add_argument("--min-severity", default="warning", type=_severity,
                   help="least severity shown besides verdicts and recoveries (default warning)")
    t.add_argument("--all", action="store_true", help="every line of the log")
    t.add_argument("--plain", action="store_true", help="a plain stream: no header, no colour")
    t.add_argument("--no-color", action="store_true")
    sh = command(sub, "show", "one event with its detail and the command to jump to it",
                 "steward show 41")
    sh.add_argument("id")
    g = command(sub, "go", "switch the PM's tmux client to an event's pane or a session",
                "steward go 41", "steward go api")
    g.add_argument("what", metavar="ID|SESSION")
    command(sub, "top", "live table of every watched pane; keys to ack, silence, jump",
            "steward top")
    e = command(sub, "events", "events, oldest first", "steward events --session api -n 20",
                "steward events --json --since 1200 --min-severity error --unacked")
    e.add_argument("--json", action="store_true")
    e.add_argument("--since", type=_count, default=0, help="only events after this id")
    e.add_argument("--session")
    e.add_argument("-n", "--limit", type=_count, default=None)
    e.add_argument("--min-severity", default="info", type=_severity)
    e.add_argument("--unacked", action="store_true", help="only events nobody acknowledged")
    m = command(sub, "summary", "executive summaries now (the project digest, or one session)",
                "steward summary", "steward summary api")
    m.add_argument("session", nargs="?")
    m.add_argument("--json", action="store_true")
    a = command(sub, "ack", "acknowledge events: stops their escalation", "steward ack 41 42",
                "steward ack --session deploy")
    a.add_argument("ids", nargs="*", type=_count)
    a.add_argument("--session")
    a.add_argument("--all", action="store_true")
    si = command(sub, "silence", "silence rules or sessions for a while",
                 'steward silence add --session deploy --for 1h --comment "migrating"',
                 "steward silence list", "steward silence rm 3")
    ss = si.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = command(ss, "add", "silence a rule and/or a session for a while",
                  'steward silence add --rule qa.run_failed --session ci --for 30m',
                  "steward silence add --all --for 15m --comment 'maintenance'")
    add.add_argument("--rule", help="rule id glob, e.g. generic.python_traceback or 'qa.*'")
    add.add_argument("--session", help="session glob, or session:window.pane")
    add.add_argument("--all", action="store_true", help="silence every rule of every session")
    add.add_argument("--for", dest="duration", required=True, help="90s, 15m, 1h, 1d")
    add.add_argument("--comment", default="")
    ls = command(ss, "list", "the silences in force", "steward silence list --json")
    ls.add_argument("--json", action="store_true")
    rm = command(ss, "rm", "end a silence now", "steward silence rm 3")
    rm.add_argument("id", type=_count)
    command(sub, "check", "validate the config and rule packs; starts nothing", "steward check",
            "steward --config ./steward.toml check")
    tr = command(sub, "test-rule", "which rule fires on which line of FILE",
                 "tmux capture-pane -p -J -S -500 -t api > pane.txt; steward test-rule pane.txt",
                 "steward test-rule --pack ./my-rules.toml tests/samples/generic/errors.txt")
    tr.add_argument("file")
    tr.add_argument("--pack", help="one pack by name or path (default: every configured pack)")
    tr.add_argument("--json", action="store_true")
    ex = command(sub, "explain", "which rule decides a pane's state, on which rows, and why",
                 "steward explain api:0.1", "steward explain --file screen.txt")
    ex.add_argument("target", nargs="?", help="a pane (session:window.pane) to capture")
    ex.add_argument("--file", help="a saved screen or transcript instead of a live pane")
    ex.add_argument("--json", action="store_true")
    sv = command(sub, "service", "a systemd user unit that starts Steward at login",
                 "steward service install", "steward service uninstall")
    sva = sv.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for action, text in (("install", "write and enable ~/.config/systemd/user/steward.service"),
                         ("uninstall", "stop, disable and remove the unit")):
        one = command(sva, action, text, f"steward service {action}",
                      f"steward service {action} --no-systemctl")
        one.add_argument("--force", action="store_true",
                         help="even over (or remove) a unit that steward did not write")
        one.add_argument("--no-systemctl", action="store_true",
                         help="only write or remove the file; do not run systemctl --user")
    sub.add_parser("reconcile")  # circusd's, not the user's: no help line, so not listed
    return p


MAX_COUNT = 2**63 - 1  # SQLite's largest integer


def _count(text: str) -> int:
    """A whole number from 0 to SQLite's largest integer (an id, a limit, a line count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text} must be from 0 to {MAX_COUNT}")
    return value


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
