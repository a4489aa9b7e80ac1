"""The `ticketledger` command line. Each module registers its own subcommands.

Modules: core (init, contract, import, ticket, asset, log, demo, calendar, attach,
erase-person), views (views, report, sql, export), stream (nats, tail, schema, relay),
desks (import --format), audit (replay, explain, verify, diff), documents (statement),
tlog (checkpoint, prove, proof verify).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from domain.errors import N_

from .errors import code_for
from .usage_language import usage_said

if TYPE_CHECKING:
    from datetime import datetime

MODULES = ("core", "views", "stream", "audit", "documents", "web", "tlog", "witness")
GLOBALS = ("data_dir", "json", "lang")

# Exit codes (README: *Errors and exit codes*)
EXIT_FOUND = 1          # the work was done and found something: refused lines, differences, a failed verify
EXIT_USER_ERROR = 2     # bad input or state the user can fix (a TL-E code says which)
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_CLOSED_PIPE = 141  # the reader of stdout went away (`| head`): 128 + SIGPIPE, as other Unix tools


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors carrying their code like every other error, and its help
    in the reader's language (every subcommand's parser is of this class too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from .usage_language import SaidHelp

        kwargs.setdefault("formatter_class", SaidHelp)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Subcommands)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        # lang_option's refusal (replay.i18n.normalise_lang's "language 'fr' is not …") reaches here
        # as argparse's text; an unknown language has a code of its own, a missing one is usage
        code = "TL-E002" if message.startswith("argument --lang: language ") else "TL-E001"
        self.exit(EXIT_USER_ERROR, f"{self.prog}: {code}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ticketledger",
        description=N_("An event-sourced ledger of after-sales service tickets."),
    )
    parser.add_argument("--data-dir", default="./ledger-data", help=N_("data folder (default ./ledger-data)"))
    parser.add_argument("--json", action="store_true", help=N_("JSON output for programs instead of tables"))
    parser.add_argument("--lang", default=None, type=lang_option, metavar="zh_CN|en",
                        help=N_("language of the output for people (default: $TICKETLEDGER_LANG, else the "
                             "contract's — Chinese for contracts in China — else the system locale's)"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    _globals_after_the_command(parser, [a for a in parser._actions if a.dest in GLOBALS])
    _given_once(parser)
    return parser


class _Once:
    """A single-valued option (argparse's `store`) refused when given twice: argparse itself keeps
    the last value silently (`statement --customer buyer-000 --customer buyer-001` wrote only
    buyer-001's). Options meant to repeat are `append` actions and are left as they are."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        given = namespace.__dict__.setdefault("_options_given", {})
        if option_string is not None and self.dest in given:  # type: ignore[attr-defined]
            first = f"{given[self.dest]} {getattr(namespace, self.dest, None)!r}"  # type: ignore[attr-defined]
            parser.error(usage_said(TWICE, option=option_string, first=first, second=f"{option_string} {values!r}"))
        given[self.dest] = option_string  # type: ignore[attr-defined]
        super().__call__(parser, namespace, values, option_string)  # type: ignore[misc]


_ONCE: dict[type, type] = {}
TWICE = N_("{option} given twice ({first}, then {second}); it takes one value: give it once")


class _Subcommands(argparse._SubParsersAction):
    """A command's options are parsed into a namespace of their own (argparse's way), then copied
    over the global ones: `--data-dir A report sla --data-dir B` read B, silently. An option given
    both before the command and after it is refused as one given twice at the same level is."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        before = namespace.__dict__.get("_options_given", {})
        values_before = {dest: getattr(namespace, dest, None) for dest in before}
        super().__call__(parser, namespace, values, option_string)
        after = namespace.__dict__.get("_options_given", {})  # the command's own, if it was given any
        for dest, option in after.items():
            if dest in before and after is not before:
                parser.error(usage_said(TWICE, option=option, first=f"{before[dest]} {values_before[dest]!r}",
                                        second=f"{option} {getattr(namespace, dest, None)!r}"))
        namespace._options_given = {**before, **after}


def _given_once(parser: argparse.ArgumentParser) -> None:
    """Every `store` option of the parser and its subcommands' parsers taking a value at most once
    (_Once), in one place for the whole command line."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _given_once(child)
        elif type(action) is argparse._StoreAction and action.option_strings:
            action.__class__ = _ONCE.setdefault(type(action), type("_OnceStore", (_Once, type(action)), {}))


def lang_option(text: str) -> str:
    from replay.i18n import normalise_lang

    try:
        return normalise_lang(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _globals_after_the_command(parser: argparse.ArgumentParser, shared: list[argparse.Action]) -> None:
    """`ticketledger report sla --json` as well as `ticketledger --json report sla`: every
    subcommand also accepts the global options; SUPPRESS keeps the global value when not given."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in set(action.choices.values()):
            for g in shared:
                if not any(o in child._option_string_actions for o in g.option_strings):
                    if g.dest == "json":
                        child.add_argument(*g.option_strings, dest=g.dest, action="store_true",
                                           default=argparse.SUPPRESS, help=g.help)
                    else:
                        child.add_argument(*g.option_strings, dest=g.dest, type=g.type, metavar=g.metavar,
                                           default=argparse.SUPPRESS, help=g.help)
            _globals_after_the_command(child, shared)


# the commands that print a PDF with `--format pdf` (adapters.printing.Printer)
PRINTING = ("explain", "statement")
_ahead: list[object] = []  # a Printer started by `main` before the imports, for the command to take


def printer_ahead() -> object | None:
    """The Printer `main` started before the command modules were imported, if any (once)."""
    return _ahead.pop() if _ahead else None


def _start_printer_ahead(argv: list[str]) -> None:
    """Chromium started before the command modules are imported (~0.35 s on one core), when the
    words say a PDF is printed: its start (~0.6 s of CPU over its processes) then runs on the
    other core meanwhile, instead of beside the command's reading of the views. A false guess
    costs a browser started for nothing, closed at exit; a start that fails is left to the
    command, which starts its own and says why."""
    words = [w for w in argv if not w.startswith("-")]
    pdf = any(a == "--format=pdf" or (a == "--format" and b == "pdf") or (a == "--out" and b.lower().endswith(".pdf"))
              for a, b in zip(argv, [*argv[1:], ""], strict=True))
    if not pdf or not any(w in PRINTING for w in words):
        return
    from ..printing import Printer

    with contextlib.suppress(Exception):  # the command's own start reports it
        _ahead.append(Printer())


def main(argv: list[str] | None = None) -> int:
    _start_printer_ahead(sys.argv[1:] if argv is None else list(argv))
    try:
        return _main(argv)
    finally:
        left = printer_ahead()
        if left is not None:
            left.close()  # type: ignore[attr-defined]


def _main(argv: list[str] | None) -> int:
    from . import output
    from .usage_language import speak_usage_errors

    speak_usage_errors(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.own_command_line = argv is None  # this process runs the command (may re-execute itself)
    try:
        output.configure(args.lang or _lang_from_env())
    except UserError as e:
        return _fail(args, e)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader gone away is noticed here, not at exit
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        output.stop_progress()
        return EXIT_INTERRUPTED
    except UserError as e:
        return _fail(args, e)
    except TimeoutError as e:  # a server that did not answer (e.g. NATS unreachable): one line, no traceback
        from .output import said

        return _fail(args, UserError(said(e) or "timed out", code="TL-E060"))
    except Exception as e:
        refused = _privilege_refused(args, e)  # a grant missing for what the command did: one line
        if refused is None:
            raise
        return _fail(args, refused)


def _privilege_refused(args: argparse.Namespace, e: Exception) -> UserError | None:
    if not os.environ.get("TICKETLEDGER_POSTGRES") or not hasattr(args, "data_dir"):
        return None
    from ..store import StoreConfig
    from .core import privilege_refused

    return privilege_refused(e, StoreConfig.from_env(args.data_dir))


def _fail(args: argparse.Namespace, e: UserError) -> int:
    from . import output

    output.stop_progress()
    try:
        print(f"ticketledger {args.command}: {e.code or code_for(args.command)}: {e}", file=sys.stderr)
    except BrokenPipeError:
        return _closed_pipe()
    return EXIT_USER_ERROR


def _lang_from_env() -> str | None:
    from replay.i18n import normalise_lang

    from .output import LANG_ENV

    value = os.environ.get(LANG_ENV, "").strip()
    if not value:
        return None
    try:
        return normalise_lang(value)
    except ValueError as e:  # no language to speak yet: both of them
        from domain.errors import N_
        from replay.i18n import texts

        zh = texts("zh_CN")(N_("{setting}={value}: ticketledger writes zh_CN or en"), setting=LANG_ENV, value=value)
        raise UserError(f"{LANG_ENV}={value}: {e} / {zh}", code="TL-E002") from None


def _closed_pipe() -> int:
    """stdout's reader went away (`ticketledger report sla | head`): stop quietly. stdout is
    pointed at /dev/null so that Python's own flush at exit finds nothing to complain about."""
    from . import output

    output.stop_progress()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (tests capture it)
        pass
    return EXIT_CLOSED_PIPE


def runnable() -> str:
    """How to run this CLI again from the current folder, for hints people copy: `ticketledger`
    when PATH finds this very script, else its path (`.venv/bin/ticketledger`), else
    `<python> -m adapters.cli`."""
    import shutil
    from pathlib import Path

    exe = Path(sys.argv[0]).absolute()
    if exe.name != "ticketledger":
        return f"{_relative(Path(sys.executable).absolute())} -m adapters.cli"
    found = shutil.which("ticketledger")
    if found and Path(found).absolute() == exe:
        return "ticketledger"
    return _relative(exe)


def _relative(path: object) -> str:
    # relative only below the working folder (`.venv/bin/ticketledger` from the repository):
    # `../../work/…` reads as a typo and breaks once pasted elsewhere
    text = os.path.relpath(str(path))
    return text if "/" in text and not text.startswith("..") else str(path)


class UserError(Exception):
    """Bad input or state the user can fix; printed without a traceback, with a stable code:
    `code` (one of errors.CODES), else the code of the command that raised it."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def position_in_log(position: int | None, last: int, option: str = "--as-of-position") -> None:
    """An as-of position must name an event of the log (1..last)."""
    if position is not None and not 1 <= position <= last:
        from .output import speak

        _ = speak()
        held = _("positions 1-{last}", last=last) if last else _("no event yet")
        raise UserError(_("{option} {position}: the log holds {held}; name a position in it "
                          "(`ticketledger log` shows them)", option=option, position=position, held=held),
                        code="TL-E021")


def recorded_by_now(when: datetime | None, option: str = "--as-of-recorded") -> None:
    """An as-of recording time must not be later than now: nothing is recorded after now, and
    the views would be evaluated then (refused as a position beyond the log is)."""
    from datetime import UTC, datetime

    if when is not None and when > datetime.now(UTC):
        from .output import speak

        _ = speak()
        raise UserError(_("{option} {when}: later than now, and the log holds only what was recorded until now; "
                          "name a time up to now, or leave {option} out for all that is recorded",
                          option=option, when=when.isoformat()), code="TL-E021")


def positive_int(text: str) -> int:
    """An argparse type for counts and limits: a whole number above 0."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(usage_said(N_("{value}: write a whole number above 0"), value=repr(text)))
    return int(text)


def whole_number(text: str) -> int:
    """An argparse type for a number that names something (`contract show --version 0`): any whole
    number, so the command that knows what exists says which do, in the language of what it names."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(usage_said(N_("{value}: write a whole number"), value=repr(text)))
    return int(text)


def positive_float(text: str) -> float:
    """An argparse type for durations: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(usage_said(N_("{value}: write a number of seconds above 0, e.g. 2.5"),
                                                    value=repr(text)))
    return value


if __name__ == "__main__":
    sys.exit(main())
