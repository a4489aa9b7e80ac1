"""Core commands: init, contract, import, ticket, asset, log, calendar, attach, person, demo."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import mimetypes
import re
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from rich.text import Text

from domain import events as ev
from domain.errors import Phrase, Refused
from domain.terms import TermsError, load_contract_file
from replay.i18n import DEFAULT_TZ, N_, NP_, Texts, word

from ..calendar_data import record_calendar
from ..importer import import_items
from ..ledger import Ledger, open_ledger
from ..store import iter_log, last_position
from . import UserError, position_in_log, positive_int, whole_number
from .errors import code_for
from .output import Column, Progress, console, emit, render, said, speak


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help=N_("create the data folder and record the official calendar years"))
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("contract", help=N_("register, amend and show service contracts"))
    csub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = csub.add_parser("add", help=N_("register contracts from TOML/JSON files (see contracts/)"))
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--actor", default="cli", help=N_("who registers them, recorded with each contract (default cli)"))
    a.set_defaults(func=cmd_contract_add)
    a = csub.add_parser("amend", help=N_("new terms in force from a time (§9.11)"))
    a.add_argument("file", metavar="FILE")
    a.add_argument("--effective-from", required=True, metavar="TIME", help=N_("ISO time with zone, e.g. 2026-01-01T00:00+08:00"))
    a.add_argument("--reason", default="", help=N_("why the terms change, recorded with the amendment (default: none)"))
    a.add_argument("--actor", default="cli", help=N_("who amends it, recorded with the amendment (default cli)"))
    a.set_defaults(func=cmd_contract_amend)
    a = csub.add_parser("show", help=N_("a contract's versions and terms"))
    a.add_argument("id")
    a.add_argument("--version", type=whole_number, default=None, metavar="N",
                   help=N_("whose terms to show, by the version number listed (default: the last to come into force)"))
    a.set_defaults(func=cmd_contract_show)

    p = sub.add_parser("import", help=N_("import commands: JSON Lines, or a service desk export (--format)"),
                       description=N_("Exit status: 0 every item recorded or already recorded; 1 some items refused "
                                   "(listed), the rest recorded; 2 the file refused as a whole, or nothing in it "
                                   "could be recorded."))
    p.add_argument("file", metavar="FILE", help=N_("the export (gzip read directly)"))
    p.add_argument("--format", default="jsonl", help=N_("jsonl (default), servicenow or xes"))
    p.add_argument("--mapping", metavar="FILE.toml",
                   help=N_("desk formats: what the export's states (statuses), hold reasons and priorities mean "
                        "(servicenow default: contracts/servicenow-mapping.toml; xes: required)"))
    p.add_argument("--contract", help=N_("desk formats: the contract the desk's tickets fall under"))
    p.add_argument("--timezone", default=None, help=N_("desk formats: the desk's time zone (default: the contract's)"))
    p.add_argument("--limit", type=positive_int, default=None, help=N_("desk formats: only the first N incidents/traces"))
    p.add_argument("--batch", type=positive_int, default=1000, help=N_("commands per recording transaction"))
    p.add_argument("--date-format", default=None, metavar="FORMAT",
                   help=N_("servicenow: how the export writes times: dmy (29/2/2016 01:16), mdy (2/29/2016 01:16), "
                        "iso (2016-02-29 01:16:00) or a strftime pattern; default: decided from the whole file, "
                        "which is refused when it cannot tell"))
    p.set_defaults(func=cmd_import)

    helps = {"ticket": (N_("show a ticket: current state and event history"), N_("the ticket's state and every event")),
             "asset": (N_("show an asset: current state and event history"), N_("the asset's state and every event"))}
    for kind, (kind_help, show_help) in helps.items():
        p = sub.add_parser(kind, help=kind_help)
        ksub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
        s = ksub.add_parser("show", help=show_help)
        s.add_argument("id")
        s.set_defaults(func=cmd_show, kind=kind)

    p = sub.add_parser("log", help=N_("recent events of the log with positions and hash links"))
    p.add_argument("--limit", type=positive_int, default=20, help=N_("how many events to show (default 20)"))
    p.add_argument("--from", dest="start", type=positive_int, default=None, metavar="POSITION",
                   help=N_("the first log position to show (default: the last --limit events)"))
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("calendar", help=N_("official PRC working-day data recorded in the ledger (§8)"))
    csub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = csub.add_parser("record", help=N_("record years from the installed chinese-calendar package"))
    a.add_argument("--years", default=None, help=N_("e.g. 2024-2026 (default: every year the package knows)"))
    a.set_defaults(func=cmd_calendar_record)
    a = csub.add_parser("show", help=N_("the calendar years the ledger holds"))
    a.set_defaults(func=cmd_calendar_show)

    p = sub.add_parser("attach", help=N_("attach evidence to a ticket: stored content-addressed, hash recorded"))
    p.add_argument("ticket")
    p.add_argument("file")
    p.add_argument("--actor", required=True, help=N_("who attaches it"))
    p.add_argument("--description", default="", help=N_("what the file shows, recorded with its hash (default: none)"))
    p.add_argument("--at", default=None, metavar="TIME", help=N_("when it was produced (default now)"))
    p.set_defaults(func=cmd_attach)

    p = sub.add_parser("person", help=N_("reporters' personal data, outside the log (PIPL, §7)"))
    psub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = psub.add_parser("add", help=N_("store a reporter's name and phone; prints the reference to use in events"))
    a.add_argument("--name", required=True, help=N_("the reporter's name (kept in <data-dir>/persons.sqlite, never in the log)"))
    a.add_argument("--phone", default="", help=N_("the reporter's phone number (default: none)"))
    a.add_argument("--ref", default=None,
                   help=N_("the reference events will name (default: P- and 12 random hex digits); an existing one is refused"))
    a.set_defaults(func=cmd_person_add)
    a = psub.add_parser("show", help=N_("a reporter's details, if not erased"))
    a.add_argument("ref")
    a.set_defaults(func=cmd_person_show)
    p = sub.add_parser("erase-person", help=N_("erase a reporter's personal data (PIPL art. 47); the log still verifies"))
    p.add_argument("ref")
    p.set_defaults(func=cmd_erase_person)

    p = sub.add_parser("demo", help=N_("record a synthetic year of service under the four seed contracts, then summarise"))
    p.add_argument("--tickets", type=positive_int, default=3000, help=N_("about how many tickets (default 3000)"))
    p.add_argument("--seed", type=int, default=7,
                   help=N_("the random seed of the synthetic year: the same seed and --tickets record the same events (default 7)"))
    p.add_argument("--no-stream", action="store_true", help=N_("do not publish to NATS"))
    p.set_defaults(func=cmd_demo)


# Commands that may start a ledger in a new folder: init, import (a first import into a new
# folder is how desk migrations begin) and demo. Every other command needs an existing ledger, so a
# mistyped --data-dir is refused instead of answering from a new, empty one.
CREATES_LEDGER = frozenset({"init", "import", "demo"})


def ledger_for(args: argparse.Namespace) -> Ledger:
    """The ledger of --data-dir (or of TICKETLEDGER_POSTGRES); refused in one line when the
    folder holds none, cannot be written, or its events.sqlite is not a ledger.

    With TICKETLEDGER_POSTGRES the events are in PostgreSQL, and the data folder still holds
    what is local: evidence, the NATS store, the views and personal data. `init` (or a first
    `import`) creates both; every other command needs both, so a mistyped --data-dir or schema
    is refused as it is on SQLite."""
    import sqlite3

    from eventsourcing.persistence import PersistenceError

    from ..message_size import ConfigurationError
    from ..store import mark_store

    config = check_ledger(args)
    folder = config.data_dir
    try:
        ledger = open_ledger(folder)
    except ConfigurationError as e:
        raise UserError(said(e)) from None
    except (sqlite3.Error, PersistenceError) as e:
        refused = privilege_refused(e, config)
        if refused is not None:
            raise refused from None
        _ = speak()
        raise UserError(_("cannot open the ledger {where}: {error}; if it is damaged, restore it from a backup, "
                          "or name another --data-dir",
                          where=ledger_place(config), error=said(e)), code="TL-E012") from None
    mark_store(config)  # a folder made before store.json gets it at its first opening
    return ledger


def privilege_refused(error: BaseException, config: Any) -> UserError | None:
    """A PostgreSQL `insufficient_privilege` (SQLSTATE 42501) anywhere in `error`'s causes, said
    as what it is: the server's words (the object refused) and where the grants are listed; the
    ledger is not damaged, so no restore is suggested. None for any other error."""
    cause: BaseException | None = error
    while cause is not None and getattr(cause, "sqlstate", None) != "42501":
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    from ..store import postgres_params

    _ = speak()
    return UserError(_("PostgreSQL refused the ledger's user {user} {where}: {error}; grant it what this host does "
                       "(README, *PostgreSQL roles*: owner for init, checkpoint and relay; writer; reader)",
                       user=postgres_params(config.postgres_dsn).get("user", ""), where=ledger_place(config),
                       error=str(cause).strip().splitlines()[0]), code="TL-E012")


def check_ledger(args: argparse.Namespace) -> Any:
    """The StoreConfig of --data-dir, refused as `ledger_for` refuses it (TL-E010, TL-E011)
    without opening the ledger: for commands that read only the views, whose missing views
    would otherwise send the user to `views rebuild` in a folder without a ledger."""
    from ..store import StoreConfig, StoreMismatch, check_store

    config = StoreConfig.from_env(data_folder(args))
    create = getattr(args, "command", None) in CREATES_LEDGER
    if config.postgres_dsn:
        _check_dsn(config.postgres_dsn)
    try:
        check_store(config)  # before anything is made or looked for in the folder
    except StoreMismatch as e:
        raise UserError(said(e), code="TL-E013") from None
    if config.postgres_dsn:
        _check_postgres_ledger(config, create=create)
    else:
        _check_sqlite_ledger(config.sqlite_path, create=create)
    return config


def ledger_place(config: Any) -> str:
    """Where the events are, for people: the SQLite file, or the PostgreSQL database and schema
    (never the password)."""
    return config.marker().place(config.data_dir)


def data_folder(args: argparse.Namespace) -> Path:
    """--data-dir as a folder path: refused when empty or when it names a file."""
    _ = speak()
    if not str(args.data_dir).strip():
        raise UserError(_("--data-dir is empty; name the data folder, e.g. --data-dir ./ledger-data"), code="TL-E011")
    folder = Path(args.data_dir)
    if folder.exists() and not folder.is_dir():
        raise UserError(_("--data-dir {folder} is a file, not a folder; name the data folder, e.g. "
                          "--data-dir ./ledger-data", folder=folder), code="TL-E011")
    return folder


def _check_sqlite_ledger(path: Path, *, create: bool) -> None:
    import os

    _ = speak()
    folder = path.parent
    if not path.exists() and not create:
        missing = "" if folder.is_dir() else _(" (no such folder)")
        raise UserError(_("no ledger in {folder}{missing}; run `ticketledger --data-dir {folder} init` first "
                          "(or check --data-dir for a typo)", folder=folder, missing=missing), code="TL-E010")
    if create:
        _make_folder(folder)
    if path.is_dir():
        raise UserError(_("{path} is a folder, not a ledger database; move it away or name another --data-dir",
                          path=path), code="TL-E011")
    for target in (folder, path) if path.exists() else (folder,):
        if not os.access(target, os.W_OK):  # SQLite writes its journal beside the file even to read
            raise UserError(_("cannot write to {target}: the ledger needs write access to its folder and "
                              "events.sqlite, even to read; fix the permissions or work on a copy", target=target),
                            code="TL-E011")


def _check_postgres_ledger(config: Any, *, create: bool) -> None:
    """The data folder (created by init and import), the schema (made by the database's owner:
    `init` makes the ledger's tables in it, never the schema, so a typo in
    TICKETLEDGER_POSTGRES_SCHEMA is refused, not made a new ledger) and the ledger's tables in it."""
    import psycopg

    folder = config.data_dir
    _ = speak()
    init = _("run `ticketledger --data-dir {folder} init` first", folder=folder)
    if not create and not folder.is_dir():
        raise UserError(_("no data folder {folder}; with TICKETLEDGER_POSTGRES the events are in PostgreSQL, "
                          "and the data folder holds this host's evidence, NATS store and views: set up this "
                          "host's data folder with `ticketledger --data-dir {folder} init` (with the log key of "
                          "this schema: {file_env}), or check --data-dir for a typo",
                          folder=folder, file_env="TICKETLEDGER_LOG_KEY_FILE"), code="TL-E010")
    schema = config.postgres_schema
    try:
        with psycopg.connect(config.postgres_dsn, connect_timeout=10) as c:
            held = c.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            table = c.execute("SELECT to_regclass(%s)", (f'"{schema}".ledger_events',)).fetchone() if held else None
    except psycopg.Error as e:
        refused = privilege_refused(e, config)
        if refused is not None:
            raise refused from None
        raise UserError(_("cannot reach the ledger {where}: {error}; check TICKETLEDGER_POSTGRES",
                          where=ledger_place(config),
                          error=str(e).strip().splitlines()[0]), code="TL-E012") from None
    if held is None:
        named = schema if re.fullmatch(r"[a-z_][a-z0-9_$]*", schema) else '"' + schema.replace('"', '""') + '"'
        raise UserError(_("the schema {schema} does not exist {where}; ticketledger makes its tables in a "
                          "schema, never the schema itself: create it (`CREATE SCHEMA {named}` as a user who may, "
                          "owned by or granted to the ledger's user), then run `ticketledger --data-dir {folder} "
                          "init`; or check TICKETLEDGER_POSTGRES_SCHEMA for a typo", schema=schema, named=named,
                          where=ledger_place(config).rsplit(", schema ", 1)[0], folder=folder), code="TL-E012")
    if create:
        _make_folder(folder)
        return
    if table is None or table[0] is None:
        raise UserError(_("no ledger {where}; {init}, or check TICKETLEDGER_POSTGRES_SCHEMA",
                          where=ledger_place(config), init=init),
                        code="TL-E010")


def _check_dsn(dsn: str) -> None:
    """TICKETLEDGER_POSTGRES as libpq reads it, refused in one line when libpq would refuse it."""
    import psycopg

    from ..store import postgres_params

    try:
        postgres_params(dsn)
    except psycopg.Error as e:
        _ = speak()
        # libpq names a wrong key ('invalid connection option "sslmod"'); its other errors quote
        # the text around the fault, which may be a piece of the password: not repeated then
        error = str(e).strip().splitlines()[0] if "invalid" in str(e) else _("its syntax is wrong")
        raise UserError(_("TICKETLEDGER_POSTGRES is not a connection string libpq reads ({error}); write "
                          "key=value pairs (quote a value with spaces: password='p w') or a "
                          "postgresql://user@host:port/dbname?sslmode=verify-full URI",
                          error=error), code="TL-E012") from None


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _ = speak()
        raise UserError(_("cannot create the data folder {folder}: {reason}; name a folder you may write to",
                          folder=folder, reason=e.strerror), code="TL-E011") from None


def parse_time(text: str, what: str = "time") -> datetime:
    _ = speak()
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(_("{what} {text!r} is not an ISO time; write e.g. 2026-01-01T09:00+08:00",
                          what=what, text=text), code="TL-E020") from None
    if t.tzinfo is None:
        raise UserError(_("{what} {text!r} has no time zone; write e.g. 2026-01-01T09:00+08:00", what=what, text=text),
                        code="TL-E020")
    return t


def now() -> datetime:
    return datetime.now(UTC)


# --- init and calendar --------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """init; a refused init leaves no data folder it made behind (a folder that existed stays)."""
    import shutil

    folder = data_folder(args)
    made = not folder.exists()
    try:
        return _init(args)
    except BaseException:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _init(args: argparse.Namespace) -> int:
    from ..store import StoreConfig
    from ..store_scope import ensure_indexes

    ledger = ledger_for(args)
    recorded = record_calendar(ledger, None)
    ensure_indexes(ledger)  # made now by the owner, not at a reading host's first scoped replay
    config = StoreConfig.from_env(data_folder(args))
    from .tlog import init_log, init_log_said

    log = init_log(args, ledger)  # the transparency log's key and verifier key (issue 16)
    if args.json:
        emit([{"data_dir": str(args.data_dir), "events": ledger_place(config), "position": last_position(ledger),
               "calendar_years_recorded": list(recorded or []), **log}], True)
        return 0
    _ = speak()
    where = (_("events {place}; the folder holds the evidence, the NATS store and the views", place=ledger_place(config))
             if config.postgres_dsn else _("events {place}", place=ledger_place(config)))
    years = ""
    if recorded:  # a run of years as 2004-2026, as the import summary writes it
        run = list(range(recorded[0], recorded[-1] + 1)) == list(recorded) and len(recorded) > 1
        years = f"{recorded[0]}-{recorded[-1]}" if run else ", ".join(map(str, recorded))
    print(_("data folder {folder} ready ({where}); log position {position}; calendar years recorded now: {years}",
            folder=args.data_dir, where=where, position=last_position(ledger), years=years or _("none new")))
    print(init_log_said(log))
    return 0


def cmd_calendar_record(args: argparse.Namespace) -> int:
    years = None
    if args.years:
        years = _years(args.years)
        _refuse_unpublished(args.years, years)
    ledger = ledger_for(args)
    recorded = record_calendar(ledger, years)
    if args.json:  # what was recorded, for a program: [] when every year was already there
        emit([{"calendar_years_recorded": list(recorded or [])}], True)
        return 0
    _ = speak()
    print(_("recorded calendar years: {years}",
            years=recorded or _("none new (already recorded with the same days)")))
    return 0


def _years(text: str) -> list[int]:
    """--years: one year or an ascending range of calendar years, e.g. 2024-2026."""
    try:
        a, _, b = text.partition("-")
        first, last = int(a), int(b or a)
    except ValueError:
        _ = speak()
        raise UserError(_("--years {text}: write a year or a range, e.g. 2024-2026", text=repr(text))) from None
    for y in (first, last):
        if not 1 <= y <= 9999:
            _ = speak()
            raise UserError(_("--years {text}: {y} is not a calendar year; write a year such as "
                              "2026 or a range such as 2024-2026. Nothing recorded", text=text, y=y))
    if first > last:
        _ = speak()
        raise UserError(_("--years {text}: the range runs backwards; write the earlier year "
                          "first, --years {last}-{first}. Nothing recorded", text=text, last=last, first=first))
    return list(range(first, last + 1))


def _refuse_unpublished(asked: str, years: list[int]) -> None:
    """Years the installed chinese-calendar has no official schedule for: the whole command is
    refused, so a year is never recorded as if it had no holidays."""
    from importlib.metadata import version

    import chinese_calendar

    from domain.calendar import official_years

    missing = sorted(set(years) - set(official_years(years)))
    if not missing:
        return
    first, last = min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year
    known = [y for y in years if y not in missing] or [first, last]
    _ = speak()
    raise UserError(
        _("--years {asked}: chinese-calendar {version} has no official schedule for "
                      "{missing} (it knows {first}-{last}; the State Council publishes a year "
                      "late in the year before). Nothing recorded. Ask for years it knows, e.g. "
                      "--years {known_first}-{known_last}, or upgrade the package once the year "
                      "is published; until then clocks that need those days are computed with "
                      "weekends only and marked provisional",
                      asked=asked, version=version('chinese-calendar'), missing=', '.join(map(str, missing)),
                      first=first, last=last, known_first=known[0], known_last=known[-1]))


def cmd_calendar_show(args: argparse.Namespace) -> int:
    ledger = ledger_for(args)
    rows = []
    for r in iter_log(ledger):
        if r.topic.startswith("calendar."):
            f = msgspec.json.decode(r.state)
            rows.append({"calendar": f["id"], "version": r.originator_version, "position": r.position,
                         "days_off": len(f["days_off"]), "days_on": len(f["days_on"]), "source": f["source"]})
    _ = speak()
    emit(rows, args.json, [Column("calendar", N_("calendar year"), "id"), Column("version", N_("version"), "number"),
                           Column("position", N_("position"), "number"),
                           Column("days_off", N_("days off"), "number"),
                           Column("days_on", N_("working weekend days"), "number"), Column("source", N_("source"))],
         title=_("Official calendar years recorded in the ledger"))
    return 0


# --- contracts ------------------------------------------------------------------------------


CONTRACT_FILE = Phrase(N_("a contract file (TOML or JSON with id, supplier, customer and [terms], "
                          "e.g. contracts/seed-000.toml)"))


def contract_file_error(path: str, e: Exception) -> str:
    """Why a contract or terms file (`contract add`/`amend`, `--terms`) cannot be used, in the
    reader's language: a file that cannot be read in the words every input file gets
    (importer.unreadable), one that can in the domain's words for what it holds."""
    from ..importer import unreadable

    if isinstance(e, OSError):
        return said(unreadable(path, e, CONTRACT_FILE, gzip_read=False))
    return said(e)


def cmd_contract_add(args: argparse.Namespace) -> int:
    ledger, failed = ledger_for(args), 0
    for path in args.files:
        try:
            data = load_contract_file(path)
        except (TermsError, OSError) as e:
            _ = speak()
            # one line per file, with its code like every error, and on to the next file
            print(_("contract add {path}: {code}: {error}; nothing recorded from this file", path=path,
                    code=code_for(args.command), error=contract_file_error(path, e)), file=sys.stderr)
            failed += 1
            continue
        if _registered_as(ledger.contract(data["id"]), data):  # the same file again: nothing to do
            _ = speak(_file_zone(data))
            print(_("contract {id}: already recorded", id=data["id"]))
            continue
        fact = ev.ContractRegistered(
            command_id=f"contract-{data['id']}-{hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:16]}",
            id=data["id"], occurred_at=now(), actor=args.actor, channel="cli",
            supplier=data["supplier"], customer_id=data["customer"], name=data.get("name", ""), terms=data["terms"],
        )
        failed += _report(ledger.execute_many([fact]), Phrase(N_("contract {id}"), id=data["id"]), _file_zone(data))
    return 1 if failed else 0


def cmd_contract_amend(args: argparse.Namespace) -> int:
    try:
        data = load_contract_file(args.file)
    except (TermsError, OSError) as e:
        _ = speak()
        raise UserError(_("{error}; nothing recorded", error=contract_file_error(args.file, e))) from None
    effective = parse_time(args.effective_from, "--effective-from")
    ledger, what = ledger_for(args), Phrase(N_("contract {id} amendment"), id=data["id"])
    contract = ledger.contract(data["id"])
    if contract is None:  # bad input, not a refused command: nothing can be amended that is not there
        _ = speak(_ledger_zone(args))
        raise UserError(_("{file}: no contract {id} in the ledger to amend; `ticketledger contract add FILE` "
                          "registers it first", file=args.file, id=data["id"]), code="TL-E040")
    zone = contract.latest.timezone  # the contract's language, as `contract show` speaks
    if _amended_as(contract, data, effective):
        _ = speak(zone)
        print(_("{what}: already recorded", what=what.said(_)))  # the same amendment again: nothing to do
        return 0
    content = msgspec.json.encode([data, ev.utc(effective).isoformat()])
    fact = ev.ContractAmended(
        command_id=f"amend-{data['id']}-{hashlib.sha256(content).hexdigest()[:16]}",
        id=data["id"], occurred_at=now(), actor=args.actor, channel="cli",
        effective_from=effective, terms=data["terms"], reason=args.reason,
    )
    before = contract.version_at(ev.utc(effective))  # read before the amendment joins the versions
    if _report(ledger.execute_many([fact]), what, zone):
        return 1
    _say_if_unchanged(what, before, data, effective)
    _say_if_superseded(what, contract, effective)
    return 0


def _say_if_superseded(what: Phrase, contract: Any, effective: datetime) -> None:
    """An amendment effective before a version already recorded applies only until that version's
    date: its change does not carry over into the later version, which the person who amended is told."""
    later = [v for v in contract.versions if v.in_force_from is not None and v.in_force_from > ev.utc(effective)]
    if not later:
        return
    first = min(later, key=lambda v: v.in_force_from)
    zone = first.terms.timezone
    _ = speak(zone)
    print(_("{what}: applies until {until}, when version {version} (recorded earlier) comes into force with its "
            "own terms; amend that version too if the change should last",
            what=what.said(_), until=_.time(first.in_force_from, zone, zone=True), version=first.number))


def _say_if_unchanged(what: Phrase, before: Any, data: dict[str, Any], effective: datetime) -> None:
    """A recorded amendment whose terms are those of the version in force before it changes
    nothing from that time: likely the wrong file, so the person who amended is told."""
    from domain.terms import terms_from_mapping

    if before.terms != terms_from_mapping(data["terms"]):
        return
    _ = speak(before.terms.timezone)  # the language of the outcome line above it
    print(_("{what}: no term changed: the terms are those of version {version}, in force before {time}",
            what=what.said(_), version=before.number, time=_.time(effective, before.terms.timezone, zone=True)))


def _registered_as(contract: Any, data: dict[str, Any]) -> bool:
    """Whether `contract` (None: not registered) was registered with exactly this file's content."""
    from domain.terms import terms_from_mapping

    if contract is None:
        return False
    first = contract.facts[0]
    return ((first.supplier, first.customer_id, first.name) == (data["supplier"], data["customer"], data.get("name", ""))
            and contract.versions[0].terms == terms_from_mapping(data["terms"]))


def _amended_as(contract: Any, data: dict[str, Any], effective: datetime) -> bool:
    """Whether these terms are already in force from `effective` (other terms from that time
    are refused by the contract itself: §9.11)."""
    from domain.terms import terms_from_mapping

    terms = terms_from_mapping(data["terms"])
    return any(v.in_force_from == effective and v.terms == terms for v in contract.versions[1:])


def _file_zone(data: dict[str, Any]) -> str:
    """The time zone of a contract file's terms: the language its outcome lines are said in."""
    from domain.terms import terms_from_mapping

    return terms_from_mapping(data["terms"]).timezone


def _report(outcomes: list, what: Phrase, zone: str | None = None) -> int:
    """Each outcome in one line, in the contract's language (`zone`: its time zone)."""
    bad, _ = 0, speak(zone)
    for o in outcomes:
        if o.status == "refused":
            why = o.refusal.said(_) if o.refusal else o.error
            print(_("{what}: TL-E070: refused: {reason}", what=what.said(_), reason=why), file=sys.stderr)
            bad += 1
        else:
            print(_("{what}: {status}", what=what.said(_), status=status_said(o.status, _)))
    return bad


# What a command's outcome is called, for people (the codes stay in JSON)
OUTCOMES = {"recorded": NP_("outcome", "recorded"), "already_recorded": NP_("outcome", "already recorded")}


def status_said(status: str, _: Texts) -> str:
    return _.word(OUTCOMES[status]) if status in OUTCOMES else status.replace("_", " ")


def cmd_contract_show(args: argparse.Namespace) -> int:
    contract = ledger_for(args).contract(args.id)
    if contract is None:
        _ = speak(_ledger_zone(args))
        raise UserError(_("no contract {id}; `ticketledger contract add FILE` registers one", id=args.id),
                        code="TL-E040")
    from domain.terms import terms_changes

    # in the order they come into force, each numbered as recorded (the number the views and
    # reports cite); what each changed against the version in force before it
    versions = contract.versions
    changes = [terms_changes(versions[i - 1].terms, v.terms) if i else [] for i, v in enumerate(versions)]
    chosen = _version_chosen(contract, args.version)
    if args.json:
        from domain.terms import terms_to_mapping

        emit([{"version": v.number, "in_force_from": v.in_force_from.isoformat() if v.in_force_from else "(start)",
               "name": v.terms.name, "severities": ",".join(v.terms.severities), "reason": v.reason,
               "changes": [{"term": p, "before": a, "after": b} for p, a, b in changes[i]],
               "terms": terms_to_mapping(v.terms)}
              for i, v in enumerate(versions) if args.version is None or v is chosen], True)
        return 0
    zone = contract.latest.timezone
    _ = speak(zone)
    from .contract_terms import change_said

    def changed(i: int) -> str:
        if not i:
            return ""
        shown = "; ".join(change_said(p, a, b, _) for p, a, b in changes[i])
        return shown or _("no term changed")

    rows = [{"version": v.number,
             "in_force_from": _.time(v.in_force_from, v.terms.timezone, zone=True) if v.in_force_from else _("signed"),
             "name": v.terms.name, "severities": _.listing(word(_.lang, "severity", s) for s in v.terms.severities),
             "timezone": v.terms.timezone, "reason": v.reason, "changes": changed(i)}
            for i, v in enumerate(versions)]
    emit(rows, False, [Column("version", N_("version"), "number"), Column("in_force_from", N_("in force from")),
                       Column("name", N_("name")), Column("severities", N_("severities")),
                       Column("timezone", N_("time zone")), Column("reason", N_("reason")),
                       Column("changes", N_("changed from the version before"))],
         title=_("contract {id}: supplier {supplier}, customer {customer}", id=args.id, supplier=contract.supplier,
                 customer=contract.customer), lang=_.lang)
    from .contract_terms import show_terms

    show_terms(chosen, _)
    return 0


def _version_chosen(contract: Any, number: int | None) -> Any:
    """The version `--version` names (by its recorded number), else the last to come into force."""
    if number is None:
        return contract.versions[-1]
    found = next((v for v in contract.versions if v.number == number), None)
    if found is None:
        _ = speak(contract.latest.timezone)
        raise UserError(_("contract {id} has no version {version}; its versions are {versions}", id=contract.facts[0].id,
                          version=number, versions=_.listing(str(n) for n in sorted(v.number for v in contract.versions))),
                        code="TL-E040")
    return found


# --- import ------------------------------------------------------------------------------------


# the import options each format reads (--batch: every format)
IMPORT_OPTIONS = {"jsonl": (), "servicenow": ("mapping", "contract", "timezone", "limit", "date_format"),
                  "xes": ("mapping", "contract", "timezone", "limit")}
DESK_OPTIONS = ("mapping", "contract", "timezone", "limit", "date_format")

# Exit codes of import (README, docs/desks.md): a script tells "all recorded" from "some rows
# refused, the rest recorded" from "nothing could be read" (2, as for every UserError).
ALL_RECORDED, SOME_REFUSED, NOTHING_READ = 0, 1, 2


def _check_import_options(args: argparse.Namespace, formats: list[str], zone: str) -> None:
    if args.format not in formats:
        _ = speak(zone)
        raise UserError(_("unknown --format {format}; formats: {formats}",
                          format=repr(args.format), formats=', '.join(formats)))
    wrong = [f"--{o.replace('_', '-')}" for o in DESK_OPTIONS
             if getattr(args, o, None) is not None and o not in IMPORT_OPTIONS.get(args.format, IMPORT_OPTIONS["xes"])]
    if wrong:
        _ = speak(zone)
        why = _(" (each JSON Lines command names its own contract and times)") if args.format == "jsonl" else ""
        said = {"options": ", ".join(wrong), "format": args.format, "why": why}
        does = _("{options} does not apply to --format {format}{why}", **said) if len(wrong) == 1 else \
            _("{options} do not apply to --format {format}{why}", **said)
        raise UserError(_("{does}; --contract, "
                          "--timezone and --limit apply to --format servicenow and xes, "
                          "--mapping to both (xes needs one), --date-format to servicenow only "
                          "(XES times are ISO 8601). Nothing recorded", does=does))
    if Path(args.file).is_dir():
        _ = speak(zone)
        raise UserError(_("{file} is a folder; name the file to import (gzip read directly)", file=args.file))
    if not Path(args.file).exists():
        _ = speak(zone)
        raise UserError(_("no file {file}", file=args.file))


def _told_absolute(progress: Progress) -> Callable[[int], None]:
    """Progress.add for a reader that tells how far it is (bytes of the file read so far)."""
    told = 0

    def to(position: int) -> None:
        nonlocal told
        progress.add(position - told)
        told = position
    return to


def cmd_import(args: argparse.Namespace) -> int:
    from ..importer import ImportInputError, jsonl_source

    try:
        from ..desks import SOURCES
    except ImportError:
        SOURCES = {}
    # the ledger's language where its contracts share a zone (as the log and rebuild summaries)
    zone = _ledger_zone(args)
    _check_import_options(args, ["jsonl", *sorted(SOURCES)], zone)
    ledger = ledger_for(args)
    name = Path(args.file).name
    first_import = ledger.position == 0  # like init, the first import into a ledger records the calendar
    calendar: list[int] = []

    def calendar_first(facts: list[ev.Fact]) -> None:
        """Just before the file's first batch (a file refused as a whole records nothing); not when
        the file brings calendar years of its own (an export of another ledger)."""
        if first_import and not any(isinstance(f, ev.CalendarYearRecorded) for f in facts):
            calendar.extend(record_calendar(ledger, None))

    # the first pass (bytes of the file), then the import (its rows, counted by the first pass);
    # an error half-way is printed after main() has stopped the bar
    _ = speak(zone)
    check = Progress(_("check {file}", file=name), total=Path(args.file).stat().st_size, every=1 << 22,
                     unit=_("bytes"))
    try:
        if args.format == "jsonl":
            source = jsonl_source(args.file, _told_absolute(check))
        else:
            source = SOURCES[args.format](ledger, args, _told_absolute(check))
        check.done()
        progress = Progress(_("import {file}", file=name), total=source.rows, every=5000, unit=_("rows"))
        summary = import_items(ledger, source.items, batch_size=args.batch, progress=progress.add,
                               summary=source.summary, before_first_batch=calendar_first)
    except ImportInputError as e:  # the file (or the mapping, or an option) cannot be used at all
        raise UserError(said(e, zone)) from None
    progress.done()  # the progress line ends before the summary is printed
    d = summary.as_dict()
    code = _exit_code(summary)
    if args.json:
        emit([{**d, "calendar_years_recorded": calendar, "exit": code,
               "refusals": [{"where": summary.refused[i][0], "reason": str(summary.refused[i][1])}
                                                       for i in summary.in_file_order()]}], True)
    else:
        _ = speak(zone)
        for where, reason in itertools.islice(summary.reasons(_), 50):
            print(_("{file}: {where}: {reason}", file=args.file, where=where, reason=reason), file=sys.stderr)
        if len(summary.refused) > 50:
            print(_("... and {n} more refused (use --json for all)", n=len(summary.refused) - 50), file=sys.stderr)
        if source.zone is not None:
            print(_("desk times without an offset read in {zone}", zone=source.zone.said(_)))
        if "tickets" in d:
            print(_("desk rows {rows}, tickets {tickets}, rows implying no new fact {no_fact}", rows=_.number(d["rows"]),
                    tickets=_.number(d["tickets"]), no_fact=_.number(d["no_fact_rows"])))
        for note in getattr(summary, "notes", []):
            print(note.said(_))
        print(_("read {read}, recorded {recorded}, already recorded {already}, refused {refused}",
                read=_.number(d["read"]), recorded=_.number(d["recorded"]),
                already=_.number(d["already_recorded"]), refused=_.number(d["refused"])))
        for reason, n in summary.kinds(_):
            print(_("  refused {n}  {reason}", n=f"{_.number(n):>7}", reason=reason))
        if calendar:
            print(_("calendar years recorded (the first import into this ledger, as init does): {first}-{last}",
                    first=calendar[0], last=calendar[-1]))
    if code == NOTHING_READ:
        n, _ = d["read"], speak(zone)
        items = _("its one item was refused") if n == 1 else _("all {n} of its items were refused", n=_.number(n))
        print(_("ticketledger import: {code}: {file}: nothing recorded: {items} (reasons above); exit 2",
                code=code_for("import"), file=args.file, items=items), file=sys.stderr)
    return code


def _exit_code(summary: Any) -> int:
    if not summary.refused:
        return ALL_RECORDED
    return SOME_REFUSED if summary.recorded or summary.already_recorded else NOTHING_READ


# --- showing ---------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    ledger = ledger_for(args)
    agg = ledger.aggregate(args.kind, args.id)
    if agg is None:
        _ = speak(_ledger_zone(args))  # as the ticket's own page would speak: the contracts' language
        raise UserError(_("no ticket {id}", id=args.id) if args.kind == "ticket" else _("no asset {id}", id=args.id),
                        code="TL-E040")
    state = _state(agg)
    if args.json:
        emit([{"state": state, "history": [msgspec.to_builtins(f) for f in agg.facts]}], True)
        return 0
    zone = contract_zone(ledger, state.get("contract"))
    _ = speak(zone)
    history = [{"version": i + 1, "type": type(f).__name__, "occurred_at": f.occurred_at, "actor": f.actor,
                "detail": _detail(f, _.lang, zone)} for i, f in enumerate(agg.facts)]
    title = _("ticket {id}", id=args.id) if args.kind == "ticket" else _("asset {id}", id=args.id)
    out = console()
    out.print(Text(_("{what}; times in {zone}", what=title, zone=_.zone_name(zone))))
    out.print(render([{k: _state_value(_, k, v, zone) for k, v in state.items()}], list(STATE_COLUMNS[args.kind]), _))
    emit(history, False, HISTORY_COLUMNS, zone=zone, lang=_.lang)
    return 0


def contract_zone(ledger: Ledger, contract_id: str | None) -> str:
    """The time zone of a contract's latest terms (the default zone when there is none)."""
    contract = ledger.contract(contract_id) if contract_id else None
    return contract.latest.timezone if contract is not None else DEFAULT_TZ


STATE_COLUMNS = {
    "ticket": (Column("status", N_("status"), "ticket_status"), Column("severity", N_("severity"), "severity"),
               Column("asset", N_("asset"), "id"), Column("customer", N_("customer"), "id"),
               Column("contract", N_("contract"), "id"), Column("site", N_("site"), "id"),
               Column("open_waits", N_("open waits"))),
    "asset": (Column("serial", N_("serial"), "id"), Column("type", N_("type")), Column("customer", N_("customer"), "id"),
              Column("site", N_("site"), "id"), Column("contract", N_("contract"), "id"),
              Column("accepted_at", N_("accepted"), "time"), Column("decommissioned", N_("decommissioned"), "bool"),
              Column("replaced_by", N_("replaced by"), "id")),
}
HISTORY_COLUMNS = [Column("version", N_("version"), "number"), Column("type", N_("event"), "fact"),
                   Column("occurred_at", N_("occurred"), "time"), Column("actor", N_("actor"), "id"),
                   Column("detail", N_("detail"))]


def _state_value(_: Texts, key: str, value: Any, zone: str) -> Any:
    if key == "open_waits":
        return ", ".join(word(_.lang, "wait", w) for w in value) or "—"
    return value


def _state(agg: Any) -> dict[str, Any]:
    if agg.kind == "ticket":
        s = agg.state
        return {"status": s.status, "severity": s.severity, "asset": s.opened.asset_id, "customer": s.opened.customer,
                "contract": s.opened.contract_id, "site": s.opened.site, "open_waits": sorted(s.open_waits)}
    return {"serial": agg.registered.serial, "type": agg.registered.asset_type, "customer": agg.customer,
            "site": agg.site, "contract": agg.contract_id,
            "accepted_at": agg.accepted_at.isoformat() if agg.accepted_at else None,
            "decommissioned": agg.decommissioned, "replaced_by": agg.replaced_by}


_ENVELOPE = {"type", "command_id", "id", "occurred_at", "actor", "channel", "customer", "v", "source_recorded_at"}


def _detail(f: ev.Fact, lang: str, zone: str) -> str:
    """A fact's own fields as the dispute report words them (field names, codes as words, yuan, local
    times, parts one per item), whole: the table wraps the column."""
    from replay.exhibit import detail_lines

    d = {k: v for k, v in msgspec.to_builtins(f).items() if k not in _ENVELOPE and v not in ("", None, [], {}, False)}
    return "; ".join(detail_lines(type(f).__name__, d, lang, zone))


def cmd_log(args: argparse.Namespace) -> int:
    ledger = ledger_for(args)
    last = last_position(ledger)
    position_in_log(args.start, last, "--from")  # beyond the log: TL-E021, as every other position
    start = args.start if args.start is not None else max(1, last - args.limit + 1)
    rows = []
    for r in iter_log(ledger, start=start, stop=start + args.limit - 1):
        f = msgspec.json.decode(r.state)
        rows.append({"position": r.position, "recorded_at": r.recorded_at, "occurred_at": f.get("occurred_at"),
                     "type": f.get("type"), "id": f.get("id"), "customer": f.get("customer"), "link": r.link[:16]})
    if args.json:
        emit(rows, True)
        return 0
    zone = _ledger_zone(args)
    _ = speak(zone)
    emit(rows, False, LOG_COLUMNS, zone=zone, lang=_.lang, total=last if rows and start == 1 else None,
         title=_("log positions {first}-{last} of {n}; times in {zone}", first=_.number(rows[0]["position"]),
                 last=_.number(rows[-1]["position"]), n=_.number(last), zone=_.zone_name(zone)) if rows else None)
    return 0


LOG_COLUMNS = [Column("position", N_("position"), "number"), Column("recorded_at", N_("recorded"), "time"),
               Column("occurred_at", N_("occurred"), "time"), Column("type", N_("event"), "fact"),
               Column("id", N_("id"), "id"), Column("customer", N_("customer"), "id"), Column("link", N_("link"), "id")]


def _ledger_zone(args: argparse.Namespace) -> str:
    """The zone the ledger's contracts share, else UTC: the log holds events of every contract,
    so its times are local only when the contracts agree on a zone. The views' terms say it;
    where they cannot (no views file, one in use or of another version, or no terms in it), the
    store's contracts do."""
    zones = _views_zones(args)
    if not zones:
        zones = _store_zones(args)
    return zones.pop() if len(zones) == 1 else "UTC"


def _views_zones(args: argparse.Namespace) -> set[str]:
    """The zones of the contracts in the views' terms table; empty when the views cannot tell."""
    from .views import contract_zones, views_path

    if not views_path(args).exists():
        return set()
    try:
        from projections import open_views

        con = open_views(views_path(args), read_only=True)
    except Exception:  # noqa: BLE001 - a views file in use or of another version: the store tells
        return set()
    try:
        return set(contract_zones(con).values())
    finally:
        con.close()


def _store_zones(args: argparse.Namespace) -> set[str]:
    """The zones of the ledger's contracts (each one's latest terms), read from the store; empty
    where there is no ledger yet (never made by asking: a command that creates one is asked as
    one that reads) or it cannot be opened (the command itself says why)."""
    from ..store_scope import contract_ids

    try:
        ledger = ledger_for(argparse.Namespace(**{**vars(args), "command": None}))
        contracts = (ledger.contract(c) for c in contract_ids(ledger))
        return {c.latest.timezone for c in contracts if c is not None}
    except Exception:  # noqa: BLE001 - no ledger, or one that cannot be read: UTC, and the command says why
        return set()


# --- evidence and personal data ---------------------------------------------------------------


def cmd_attach(args: argparse.Namespace) -> int:
    from ..evidence import keep_evidence, stage_evidence

    path = Path(args.file)
    if not path.is_file():
        _ = speak(_ledger_zone(args))
        raise UserError(_("no file {file}", file=args.file))
    at = parse_time(args.at, "--at") if args.at else now()
    data_dir = Path(args.data_dir)
    ledger = ledger_for(args)  # a folder without a ledger is refused before anything is staged in it
    sha, size, staged = stage_evidence(data_dir, path)
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    fact = ev.EvidenceAttached(
        command_id=f"evidence-{args.ticket}-{sha[:24]}", id=args.ticket, occurred_at=at, actor=args.actor,
        channel="cli", sha256=sha, media_type=media, size=size, filename=path.name, description=args.description,
    )
    try:
        outcome = ledger.execute(fact)
    except BaseException as e:  # refused (or failed): the file is not kept
        staged.unlink(missing_ok=True)
        if isinstance(e, Refused) and e.wrong.startswith(f"command id {fact.command_id} was already used"):
            _ = speak(_ledger_zone(args))
            raise UserError(_("{name} (sha256 {sha}…) is already attached to ticket {ticket}; "
                              "nothing recorded", name=path.name, sha=sha[:16], ticket=args.ticket)) from None
        if isinstance(e, Refused):
            raise UserError(said(e)) from None
        raise
    keep_evidence(data_dir, sha, staged)
    if args.json:  # what was recorded, for a program
        emit([{"status": outcome.status, "ticket": args.ticket, "file": path.name, "sha256": sha, "size": size,
               "media_type": media}], True)
        return 0
    _ = speak(_ledger_zone(args))
    print(_("{status}: {name} sha256 {sha} ({size} bytes, {media}) on ticket {ticket}",
            status=status_said(outcome.status, _), name=path.name, sha=sha, size=size, media=media, ticket=args.ticket))
    return 0


def cmd_person_add(args: argparse.Namespace) -> int:
    from ..persons import PersonError, PersonStore

    ref = args.ref if args.ref is not None else f"P-{uuid.uuid4().hex[:12]}"
    try:
        PersonStore(data_folder(args)).add(ref, args.name, args.phone)
    except PersonError as e:
        _ = speak()
        raise UserError(_("person add: {error}", error=said(e))) from None
    if args.json:  # the reference to use in events; the name and phone stay in the store
        emit([{"ref": ref, "stored": True}], True)
        return 0
    print(ref)
    return 0


def cmd_person_show(args: argparse.Namespace) -> int:
    from ..persons import PersonStore

    person = PersonStore(Path(args.data_dir)).get(args.ref)
    if person is None:
        _ = speak()
        raise UserError(_("no personal data for {ref} (never stored, or erased)", ref=args.ref))
    emit([person], args.json, None if args.json else [
        Column(k, h) for k, h in (("ref", N_("reference")), ("name", N_("name")), ("phone", N_("phone"))) if k in person])
    return 0


def cmd_erase_person(args: argparse.Namespace) -> int:
    from ..persons import PersonStore

    folder = data_folder(args)
    if not folder.is_dir():
        _ = speak()
        raise UserError(_("no data folder {folder}; check --data-dir for a typo. Nothing erased", folder=folder))
    erased = PersonStore(folder).erase(args.ref)
    if args.json:  # erased false: nothing was stored under the reference (never, or erased before)
        emit([{"ref": args.ref, "erased": erased, "log_changed": False}], True)
        return 0
    _ = speak()
    print(_("{ref}: erased; the log is unchanged", ref=args.ref) if erased else
          _("{ref}: nothing stored (already erased?); the log is unchanged", ref=args.ref))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    ledger = ledger_for(args)
    try:
        return run_demo(args, ledger)
    finally:
        ledger.close()

