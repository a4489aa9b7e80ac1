"""The `ticketledger` command line. Each module registers its own subcommands.

Modules: core (init, contract, import, ticket, asset, log, demo, calendar, attach,
erase-person), views (views, report, sql, export), stream (nats, tail, schema, relay),
desks (import --format), audit (replay, explain, verify, diff).
"""

from __future__ import annotations

import argparse
import importlib
import sys

MODULES = ("core", "views", "stream", "audit", "web")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketledger",
        description="An event-sourced ledger of after-sales service tickets.",
    )
    parser.add_argument("--data-dir", default="./ledger-data", help="data folder (default ./ledger-data)")
    parser.add_argument("--json", action="store_true", help="JSON output for programs instead of tables")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    _globals_after_the_command(parser, [a for a in parser._actions if a.dest in ("data_dir", "json")])
    return parser


def _globals_after_the_command(parser: argparse.ArgumentParser, shared: list[argparse.Action]) -> None:
    """`ticketledger report sla --json` as well as `ticketledger --json report sla`: every
    subcommand also accepts the global options; SUPPRESS keeps the global value when not given."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in set(action.choices.values()):
            for g in shared:
                if not any(o in child._option_string_actions for o in g.option_strings):
                    kind = "store_true" if g.dest == "json" else "store"
                    child.add_argument(*g.option_strings, dest=g.dest, action=kind, default=argparse.SUPPRESS,
                                       help=g.help)
            _globals_after_the_command(child, shared)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except UserError as e:
        print(f"ticketledger {args.command}: {e}", file=sys.stderr)
        return 2
    except TimeoutError as e:  # a server that did not answer (e.g. NATS unreachable): one line, no traceback
        print(f"ticketledger {args.command}: {e or 'timed out'}", file=sys.stderr)
        return 2


class UserError(Exception):
    """Bad input or state the user can fix; printed without a traceback."""


def position_in_log(position: int | None, last: int, option: str = "--as-of-position") -> None:
    """An as-of position must name an event of the log (1..last)."""
    if position is not None and not 1 <= position <= last:
        held = f"positions 1-{last}" if last else "no event yet"
        raise UserError(f"{option} {position}: the log holds {held}; name a position in it "
                        "(`ticketledger log` shows them)")


def positive_int(text: str) -> int:
    """An argparse type for counts and limits: a whole number above 0."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: write a whole number above 0")
    return int(text)


def positive_float(text: str) -> float:
    """An argparse type for durations: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: write a number of seconds above 0, e.g. 2.5")
    return value


if __name__ == "__main__":
    sys.exit(main())
