"""`steward`: the one command a user types; every error is one line with a typed exit code."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from escalation.core.config import Config, load_config
from escalation.core.errors import StewardError, TmuxError, UsageError
from escalation.core.events import Severity
from escalation.core.files import read_regular
from escalation.core.paths import StewardHome, conf_dir
from escalation.core.silence import Silence, parse_duration
from escalation.core.store import Store
from escalation.core.tmux import Tmux
from escalation.rules import RuleSet, explain, load_rules, test_rule
from escalation.sinks.log import LogSink

from . import lifecycle, pm_view, service
from .matchers import unmatched_warnings
from .reconciler import Reconciler, config_file_arg

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's is NoReturn too
        raise UsageError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
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


def all_rules(config: Config, pack: str | None = None) -> RuleSet:
    """Every configured pack, or one pack by name or path."""
    if pack is None:
        return load_rules(config.rules.pack_paths())
    path = Path(pack)
    if not path.suffix:
        path = conf_dir() / "rules" / f"{pack}.toml"
    if not path.exists():
        raise UsageError(f"--pack {pack}: no such pack ({path})")
    return load_rules([path])


def _log_note(home: StewardHome, text: str) -> None:
    LogSink(home.log_file).write_line(text, severity=Severity.INFO, ts=time.time())


def _events(home: StewardHome, args: argparse.Namespace) -> int:
    with Store(home.db) as store:
        events = store.events(
            since_id=args.since,
            session=args.session,
            limit=args.limit,
            newest=args.limit is not None,
        )
    events = [e for e in events if e.severity >= args.min_severity
              and (not args.unacked or e.status.value in ("new", "delivered"))]
    for e in events:
        if args.json:
            print(json.dumps(e.to_json(), ensure_ascii=False))
        else:
            when = time.strftime("%H:%M:%S", time.localtime(e.ts))
            print(
                f"{e.id:>6} {when} {e.severity.label:<8} {e.target:<20} {e.rule:<32}"
                f" {e.status.value:<10} {e.text}"
            )
    return 0


def _ack(home: StewardHome, args: argparse.Namespace) -> int:
    if not (args.ids or args.session or args.all):
        raise UsageError("steward ack: give event ids, --session NAME or --all")
    with Store(home.db) as store:
        missing = [i for i in args.ids if store.event(i) is None]
        if missing:
            raise UsageError(f"steward ack: no such event {', '.join(map(str, missing))}"
                             " (see `steward events`)")
        done = store.ack(ids=args.ids, session=args.session, every=args.all)
    what = ", ".join(map(str, done[:20])) + (" …" if len(done) > 20 else "")
    print(f"acknowledged {len(done)} event(s){': ' + what if done else ''}")
    if done:
        _log_note(home, f"acknowledged {len(done)} event(s): {what}")
    return 0


def _silence_globs(args: argparse.Namespace) -> tuple[str, str]:
    """(rule, session) of `silence add`: a matcher is required; everything only with --all."""
    if args.all and (args.rule or args.session):
        raise UsageError("steward silence add: --all silences everything; drop --rule/--session")
    if not (args.all or args.rule or args.session):
        raise UsageError("steward silence add: give --rule GLOB, --session GLOB, or --all to"
                         " silence everything")
    return args.rule or "*", args.session or "*"


def _silence(config: Config, home: StewardHome, args: argparse.Namespace) -> int:
    now = time.time()
    with Store(home.db) as store:
        if args.action == "add":
            rule, session = _silence_globs(args)
            try:
                seconds = parse_duration(args.duration)
            except ValueError as exc:
                raise UsageError(f"steward silence add: --for: {exc}") from None
            sessions, rules = store.known_names()
            sessions |= set(_tmux_sessions(config))
            rules |= {r.id for r in all_rules(config).rules}
            for warning in unmatched_warnings(rule=rule, session=session, rules=rules,
                                              sessions=sessions):
                print(f"steward: {warning}", file=sys.stderr)
            silence = store.add_silence(
                Silence(
                    id=None,
                    rule=rule,
                    session=session,
                    until=now + seconds,
                    comment=args.comment,
                    created=now,
                    author=os.environ.get("USER", ""),
                )
            )
            until = time.strftime("%H:%M", time.localtime(silence.until))
            print(
                f"silence {silence.id}: rule {silence.rule} session {silence.session} until {until}"
            )
            _log_note(
                home,
                f"silence {silence.id} added: rule {silence.rule} session"
                f" {silence.session} until {until} {silence.comment}".rstrip(),
            )
        elif args.action == "list":
            for s in store.silences(active_at=now):
                if args.json:
                    print(
                        json.dumps(
                            {
                                "id": s.id,
                                "rule": s.rule,
                                "session": s.session,
                                "until": s.until,
                                "comment": s.comment,
                                "created": s.created,
                                "author": s.author,
                            }
                        )
                    )
                else:
                    until = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.until))
                    print(
                        f"{s.id:>4}  rule {s.rule}  session {s.session}  until {until}  {s.comment}"
                    )
        else:
            if not store.remove_silence(args.id):
                raise UsageError(f"steward silence rm: no active silence {args.id}")
            print(f"silence {args.id} removed")
            _log_note(home, f"silence {args.id} removed")
    return 0


def _tmux_sessions(config: Config) -> list[str]:
    try:
        return Tmux(socket_name=config.tmux.socket_name,
                    socket_path=config.tmux.socket_path).sessions()
    except StewardError:
        return []


def _test_rule(config: Config, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        lines = read_regular(path).decode(errors="replace").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    report = test_rule(all_rules(config, args.pack), lines)
    print(json.dumps(report.to_json()) if args.json else report.render())
    return 0


def _service(home: StewardHome, config_file: str | None, args: argparse.Namespace) -> int:
    path = service.unit_path()
    systemctl = not args.no_systemctl
    if args.action == "install":
        unit = service.ServiceUnit.current(config_file, home, os.environ)
        said = service.install(unit, path, force=args.force, systemctl=systemctl)
    else:
        said = service.uninstall(path, force=args.force, systemctl=systemctl)
    print("\n".join(said))
    return 0


def _explain(config: Config, args: argparse.Namespace) -> int:
    if (args.file is None) == (args.target is None):
        raise UsageError("steward explain: give a pane TARGET or --file FILE (one of them)")
    if args.file is not None:
        try:
            lines = Path(args.file).read_text(errors="replace").splitlines()
        except OSError as exc:
            raise UsageError(f"{args.file}: cannot read: {exc.strerror}") from None
    else:
        tmux = Tmux(socket_name=config.tmux.socket_name, socket_path=config.tmux.socket_path)
        try:
            lines = tmux.cmd("capture-pane", "-p", "-J", "-t", args.target)
        except TmuxError as exc:
            raise UsageError(f"steward explain: cannot read pane {args.target}: {exc}") from None
    # The screen as a session assistant reads it; the lines against every pack.
    session = all_rules(config).without("qa", "deploy")
    report = explain(session, lines)
    every = test_rule(all_rules(config), lines)
    if args.json:
        print(json.dumps({**report.to_json(), "lines": every.to_json()}))
    else:
        print(attrs.evolve(report, lines=every).render())
    return 0


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    home = StewardHome.from_env()
    config_file = config_file_arg(args.config or os.environ.get("STEWARD_CONFIG"))
    cmd = args.command
    if cmd == "check":
        rules = all_rules(config)
        packs = sorted({r.pack for r in rules.rules})
        print(f"config OK: {config.source}; {len(rules.rules)} rules in packs {', '.join(packs)}")
        return 0
    if cmd == "test-rule":
        return _test_rule(config, args)
    if cmd == "service":
        return _service(home, config_file, args)
    if cmd == "explain":
        return _explain(config, args)
    if cmd == "up":
        all_rules(config)  # a bad pack stops `up` before anything starts
        for line in lifecycle.up(config, home, config_file=config_file):
            print(line)
        return 0
    if cmd == "down":
        for line in lifecycle.down(config, home):
            print(line)
        return 0
    if cmd == "status":
        data = lifecycle.status(config, home)
        print(json.dumps(data) if args.json else lifecycle.render_status(data))
        return 0
    home.ensure()
    if cmd == "tail":
        return pm_view.tail(config, home, plain=args.plain, everything=args.all,
                            min_severity=args.min_severity, lines=args.lines,
                            color=pm_view.use_color(args.no_color))
    if cmd == "show":
        print("\n".join(pm_view.show(config, home, args.id)))
        return 0
    if cmd == "go":
        print(pm_view.go(config, home, args.what))
        return 0
    if cmd == "top":
        from escalation.top import run_top

        return int(run_top(config, home, tmux=pm_view.pm_tmux(config)))
    if cmd == "events":
        return _events(home, args)
    if cmd == "ack":
        return _ack(home, args)
    if cmd == "silence":
        return _silence(config, home, args)
    if cmd == "summary":
        argv = [sys.executable, "-m", "assistants"]
        argv += ["--config", config_file] if config_file else []
        argv += [
            "summary",
            *([args.session] if args.session else []),
            *(["--json"] if args.json else []),
        ]
        return subprocess.call(argv)
    if cmd == "reconcile":
        Reconciler(config, home, config_file=config_file).run()
        return 0
    raise UsageError(f"steward: unknown command {cmd}")


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        return run(_parser().parse_args(argv))
    except StewardError as exc:
        if debug:
            raise
        print(
            f"steward: {exc}" if not str(exc).startswith("steward") else str(exc), file=sys.stderr
        )
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
