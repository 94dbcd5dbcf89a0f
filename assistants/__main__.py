"""`python -m assistants`: the command line Circus runs for each assistant."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

from escalation.core.config import Config, load_config
from escalation.core.errors import StewardError
from escalation.core.paths import StewardHome
from escalation.core.store import Store
from escalation.rules import RuleSet, load_rules

# Each command imports only what it runs: a session assistant never loads the QA and deploy
# analyzers, and no assistant loads notify-py or circus.
SESSION_PACKS_EXCLUDED = ("qa", "deploy")

__all__ = ["main"]


def rules_for(config: Config, kind: str) -> RuleSet:
    """The rule packs an assistant of `kind` (session, qa, deploy) matches with."""
    paths = config.rules.pack_paths()
    if kind == "session":
        keep = [p for p in paths if p.stem not in SESSION_PACKS_EXCLUDED]
    else:
        keep = [p for p in paths if p.stem == kind]
    return load_rules(keep)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m assistants", description=__doc__)
    p.add_argument("--config", help="the user's steward.toml")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("session", help="watch one tmux session")
    s.add_argument("name")
    s.add_argument("--phase", type=float, default=0.0)
    for kind in ("qa", "deploy"):
        k = sub.add_parser(kind, help=f"the {kind} assistant")
        k.add_argument("--phase", type=float, default=0.0)
    sub.add_parser("clock", help="wake every session assistant at its phase")
    m = sub.add_parser("summary", help="write and print executive summaries now")
    m.add_argument("session", nargs="?")
    m.add_argument("--json", action="store_true")
    return p


def _summary(config: Config, home: StewardHome, session: str | None, as_json: bool) -> int:
    from .session import record_summary, session_summary

    with Store(home.db) as store:
        sessions = sorted({r.session for r in store.panes() if r.assistant.startswith("session:")})
        if session is not None:
            sessions = [session]
        for name in sessions:
            summary, error = session_summary(store, config, name, time.time())
            if error:
                print(f"steward: summary command failed, built-in summary used: {error}",
                      file=sys.stderr)
            record_summary(store, summary, assistant="cli")
            print(json.dumps(summary.to_json()) if as_json else summary.render())
        if not sessions:
            print("steward: no watched session has been read yet", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
        home = StewardHome.from_env().ensure()
        if args.command == "summary":
            return _summary(config, home, args.session, args.json)
        if args.command == "clock":
            from .clock import Clock

            Clock(config, home).run()
        elif args.command == "session":
            from .session import SessionAssistant

            SessionAssistant(config, home, session=args.name, phase=args.phase,
                             ruleset=rules_for(config, "session")).run()
        else:
            from .specialist import SpecialistAssistant

            SpecialistAssistant(config, home, kind=args.command, phase=args.phase,
                                ruleset=rules_for(config, args.command)).run()
    except StewardError as exc:
        print(f"steward: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
