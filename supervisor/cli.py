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

import attrs

from escalation.core.config import Config, load_config
from escalation.core.errors import ConfigError, StewardError, TmuxError, UsageError
from escalation.core.events import Severity
from escalation.core.files import read_regular
from escalation.core.paths import StewardHome, conf_dir
from escalation.core.silence import Silence, parse_duration
from escalation.core.store import Store
from escalation.core.tmux import Tmux
from escalation.rules import RuleSet, explain, load_rules, test_rule
from escalation.sinks.log import LogSink

from . import lifecycle, pm_view, service
from .arguments import parser
from .matchers import unmatched_warnings
from .reconciler import Reconciler, config_file_arg

__all__ = ["main"]


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
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        if args.command != "down":
            raise
        # Stopping needs no config: a file broken while Steward runs must not keep it running.
        print(f"steward: {exc}; stopping Steward all the same (its PM session is left as is)",
              file=sys.stderr)
        for line in lifecycle.down(None, StewardHome.from_env()):
            print(line)
        return 0
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
        return run(parser().parse_args(argv))
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
