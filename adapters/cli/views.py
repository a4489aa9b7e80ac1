"""CLI of the views (SPEC §4, §6, §7): views rebuild, report, sql, export.

The DuckDB file is `<data-dir>/views.duckdb`; every checkpoint also publishes the read-only
`<data-dir>/views-snapshot.duckdb`, which `report` and `sql` read when the main file is held
by a writer (the live follower).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from replay.i18n import DEFAULT_TZ, N_, Texts

from .. import data_folder
from ..data_folder import SNAPSHOT_FILE, VIEWS_FILE, Behind, sql_text
from . import UserError, position_in_log, positive_float, positive_int, recorded_by_now
from .output import Column, emit, plain, said, speak
from .tables import REPORTS, STATES, TABLE_LIMIT, column

# `views rebuild --from SOURCE`: source name -> function(args, views file, evaluation time, terms)
# that rebuilds the views from that source and returns the rebuild's stats.
REBUILD_SOURCES: dict[str, Callable[[argparse.Namespace, Path, Any, Any], dict[str, Any]]] = {}


def _rebuild_from_store(args: argparse.Namespace, out: Path, at: Any, terms: Any) -> dict[str, Any]:
    """The store's bulk reader: one Arrow stream into DuckDB (pages of the log on PostgreSQL)."""
    from ..store_arrow import rebuild_from_store
    from .audit import events_in_cut
    from .core import ledger_for
    from .output import rebuild_bars

    ledger = ledger_for(args)
    try:
        position_in_log(getattr(args, "as_of_position", None), ledger.position)
        if getattr(args, "as_of_source_recorded", None) is not None:
            return _rebuild_as_known_to_desks(ledger, args, out, at, terms)
        bars = rebuild_bars(events_in_cut(ledger, getattr(args, "as_of_position", None),
                                          getattr(args, "as_of_recorded", None)))
        stats = rebuild_from_store(ledger, out, at, getattr(args, "as_of_position", None),
                                   getattr(args, "as_of_recorded", None), terms_override=terms, progress=bars)
        if bars:
            bars.done()
        return stats
    finally:
        ledger.close()


REBUILD_SOURCES["store"] = _rebuild_from_store


def _rebuild_as_known_to_desks(ledger: Any, args: argparse.Namespace, out: Path, at: Any, terms: Any) -> dict[str, Any]:
    """`--as-of-source-recorded T`: not a prefix of the log, so the rows are filtered one by one
    (replay.asof: the desk's recording time for imported facts, the ledger's for the others),
    within --as-of-position / --as-of-recorded when given too."""
    from replay import asof

    from .audit import _rebuild_cut

    cut = asof.Cut(position=getattr(args, "as_of_position", None), recorded=getattr(args, "as_of_recorded", None),
                   source_recorded=args.as_of_source_recorded)
    return _rebuild_cut(ledger, cut, out, at, terms)


def _rebuild_from_nats(args: argparse.Namespace, out: Path, at: Any, terms: Any) -> dict[str, Any]:
    """Read the whole LEDGER stream (a given server, or the one in the data folder)."""
    from projections import rebuild_from_store

    from ..follower import stream_batches
    from ..nats_server import server_for
    from .stream import options_of

    if getattr(args, "as_of_position", None) or getattr(args, "as_of_recorded", None) or \
            getattr(args, "as_of_source_recorded", None):
        _ = speak()
        raise UserError(_("--from nats rebuilds from the whole stream; use --from store for an "
                          "as-of rebuild"))
    options = options_of(args)
    from .output import rebuild_bars

    with server_for(args.data_dir, options.url) as url:
        batches = stream_batches(url, options, data_dir=Path(args.data_dir))
    bars = rebuild_bars(sum(b.num_rows for b in batches))
    stats = rebuild_from_store(lambda: iter(batches), out, at, terms_override=terms, progress=bars)
    if bars:
        bars.done()
    return stats


REBUILD_SOURCES["nats"] = _rebuild_from_nats


def cmd_follow(args: argparse.Namespace) -> int:
    from ..allocator import jemalloc_environment, run_under
    from ..follower import BATCH, Follower
    from ..message_size import ConfigurationError
    from ..nats_server import server_for
    from .stream import options_of

    options = options_of(args)
    timings = _appendable("--timings", args.timings, "timings.jsonl") if args.timings else None
    try:
        environment = jemalloc_environment(os.environ)
    except ConfigurationError as e:
        raise UserError(said(e)) from None
    if args.own_command_line and environment is not None:
        run_under(environment)
    with server_for(args.data_dir, options.url) as url:
        _ = speak()
        print(_("views follow: {views} from {server}; snapshot for analysts at {snapshot}",
                views=Path(args.data_dir) / VIEWS_FILE, server=options.describe() if options.url else url,
                snapshot=Path(args.data_dir) / SNAPSHOT_FILE), flush=True)
        follower = Follower(Path(args.data_dir), url, options, interval=args.interval, batch=args.batch or BATCH,
                            alerts=not args.no_alerts, snapshot_every=args.snapshot_every, timings=timings,
                            fsync=not args.no_fsync, threads=args.threads)
        try:
            stats = asyncio.run(follower.run(max_seconds=args.max_seconds))
        except KeyboardInterrupt:
            stats = follower.stats
    _ = speak()
    print(_("applied {applied} events, {reevaluations} re-evaluations, {alerts} alerts, last position {position}, "
            "{skipped} non-ledger messages skipped", applied=stats.applied, reevaluations=stats.reevaluations,
            alerts=stats.alerts, position=stats.last_position, skipped=stats.skipped_garbage))
    return 0


def _refuse_held(path: Path) -> None:
    """Refuse to rebuild a views file another process holds (a running `views follow`): the new
    file would replace it under that process."""
    import duckdb

    if not path.is_file():
        return
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as e:
        if is_locked(e):
            _ = speak()
            raise UserError(_("{path} is in use by another process (a running `views follow`?); "
                              "stop it, or rebuild into another file with `replay --out FILE`",
                              path=path), code="TL-E032") from None
        # a damaged or foreign file: the rebuild replaces it


def is_locked(e: BaseException) -> bool:
    """DuckDB refused to open a file another process holds: its IOException saying so, not any
    error whose text happens to hold "lock" (an overflow in `terms_clocks` was taken for one)."""
    import duckdb

    return isinstance(e, duckdb.IOException) and "Could not set lock on file" in str(e)


def views_path(args: argparse.Namespace) -> Path:
    return data_folder.views_path(args.data_dir)


def snapshot_path(args: argparse.Namespace) -> Path:
    return data_folder.snapshot_path(args.data_dir)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("views", help=N_("rebuild the DuckDB views from the log"))
    vsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = vsub.add_parser("rebuild", help=N_("replay the whole log into <data-dir>/views.duckdb"))
    r.add_argument("--at", metavar="TIME", help=N_("evaluation time (ISO with zone; default: now)"))
    r.add_argument("--from", dest="source", default="store", help=N_("where to read the log: store (default) or nats"))
    r.add_argument("--as-of-position", type=int, default=None, help=N_("only events up to this log position"))
    r.add_argument("--as-of-recorded", metavar="TIME", default=None, help=N_("only events recorded up to this time"))
    r.add_argument("--as-of-source-recorded", metavar="TIME", default=None,
                   help=N_("only what the desks knew at this time: imported facts by the desk's own recording time "
                        "(source_recorded_at), the others by the ledger's; contracts, calendar years and an import's "
                        "placeholder assets always count (docs/desks.md)"))
    # Refused (cmd_rebuild): kept so that an old script hears where a what-if goes now
    r.add_argument("--terms", metavar="FILE", help=argparse.SUPPRESS)
    r.set_defaults(func=cmd_rebuild)
    from .stream import nats_options

    nats_options(r)

    f = vsub.add_parser("follow", help=N_("keep the views current from the JetStream stream (durable consumer)"))
    f.add_argument("--interval", type=positive_float, default=30.0,
                   help=N_("re-evaluate clocks not yet final at least this often, in seconds (default 30)"))
    f.add_argument("--batch", type=positive_int, default=None, help=N_("the most events one views transaction takes (default 5,000; a follower that keeps up takes what arrived during its last batch)"))
    f.add_argument("--max-seconds", type=positive_float, default=None, help=N_("stop after this long (default: run until Ctrl-C)"))
    f.add_argument("--no-alerts", action="store_true", help=N_("do not publish clock state changes on alert.>"))
    f.add_argument("--snapshot-every", type=positive_float, default=2.0, metavar="SECONDS",
                   help=N_("copy the analysts' snapshot at most this often, in the background (default 2)"))
    f.add_argument("--timings", metavar="FILE", help=N_("append one JSON line per committed batch (position, events, fetch and apply seconds)"))
    f.add_argument("--threads", type=positive_int, default=None,
                   help=N_("DuckDB's threads (default: 1 while the views hold fewer than 2M events, else one per core)"))
    f.add_argument("--no-fsync", action="store_true",
                   help=N_("commit without waiting for the disk: shorter batches on a busy disk; after an OS or power "
                        "failure the views may need `views rebuild` (a stopped or killed follower loses nothing)"))
    from .stream import nats_options

    nats_options(f)
    f.set_defaults(func=cmd_follow)

    p = sub.add_parser("report", help=N_("the views for people (tables) or programs (--json)"))
    p.add_argument("view", choices=["sla", "visits", "liability", "summary", "totals", "compare-sla"],
                   help=N_("compare-sla: our resolution verdict beside a ServiceNow log's made_sla, per priority"))
    p.add_argument("--contract", metavar="K", help=N_("only the rows of this contract id, e.g. K-001"))
    p.add_argument("--customer", metavar="C", help=N_("only the rows of this customer id, e.g. buyer-001"))
    p.add_argument("--site", help=N_("only the rows of this site id (reports whose rows name a site)"))
    p.add_argument("--month", help=N_("YYYY-MM (report month, local time)"))
    p.add_argument("--state", help=N_("sla: met, breached, running, at_risk, not_applicable; visits: done, due, missed, upcoming"))
    p.add_argument("--limit", type=positive_int, default=None,
                   help=N_("at most this many rows (default: 200 in a table, every row with --json/--csv)"))
    p.add_argument("--csv", action="store_true", help=N_("CSV for programs: every column, raw values (fen, UTC)"))
    p.add_argument("--wide", action="store_true", help=N_("more columns in the table (every column: --json/--csv)"))
    p.add_argument("--columns", metavar="A,B,…", help=N_("these columns of the view, in this order"))
    p.add_argument("--views", metavar="FILE", help=N_("another views file, e.g. one written by `replay --out`"))
    p.add_argument("--file", metavar="LOG", help=N_("compare-sla: the ServiceNow incident log that was imported (.csv or .csv.gz)"))
    p.add_argument("--priority", help=N_("compare-sla: one priority, e.g. 3, moderate or '3 - Moderate'"))
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("sql", help=N_("run SQL against the views (read-only: no file is written or read)"))
    p.add_argument("query")
    p.add_argument("--csv", action="store_true", help=N_("CSV for programs (UTC ISO instants, raw values)"))
    p.add_argument("--views", metavar="FILE", help=N_("another views file, e.g. one written by `replay --out`"))
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("export", help=N_("export every view table to Parquet files"))
    p.add_argument("--parquet", required=True, metavar="DIR",
                   help=N_("the folder to write TABLE.parquet into, one file per table and view (created if missing)"))
    p.add_argument("--views", metavar="FILE", help=N_("another views file, e.g. one written by `replay --out`"))
    p.set_defaults(func=cmd_export)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from projections import open_views, publish_snapshot

    from .core import parse_time

    if args.terms:
        # It rewrote the ledger's own views (which reports, statements and the console read) with
        # the file's terms in place of every contract, unmarked: a what-if has a file of its own.
        _ = speak()
        raise UserError(_("--terms: `views rebuild` writes the ledger's own views, which reports, statements and "
                          "the console read; a what-if goes to a file of its own, with only the contract the terms "
                          "file names replaced: `ticketledger replay --terms {terms} --out what-if.duckdb`, then "
                          "`ticketledger report sla --views what-if.duckdb`", terms=args.terms), code="TL-E001")
    at = parse_time(args.at, "--at") if args.at else None
    if args.as_of_recorded:
        args.as_of_recorded = parse_time(args.as_of_recorded, "--as-of-recorded")
        recorded_by_now(args.as_of_recorded)
    if args.as_of_source_recorded:
        args.as_of_source_recorded = parse_time(args.as_of_source_recorded, "--as-of-source-recorded")
    if args.source not in REBUILD_SOURCES:
        _ = speak()
        raise UserError(_("--from {source}: sources are {sources}",
                          source=repr(args.source), sources=sorted(REBUILD_SOURCES)))
    _refuse_held(views_path(args))
    try:
        stats = REBUILD_SOURCES[args.source](args, views_path(args), at, None)
    except Exception as e:  # a locked file is the one failure a user can act on
        if is_locked(e):
            _ = speak()
            raise UserError(_("{views} is in use by another process (a running `views follow`?)",
                              views=views_path(args)), code="TL-E032") from None
        raise
    con = open_views(views_path(args))
    try:
        publish_snapshot(con, snapshot_path(args))
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in COUNTED}
    finally:
        con.close()
    when = f"{stats['evaluated_at']:%Y-%m-%dT%H:%M:%SZ}"
    if args.json:
        emit([{"views": str(views_path(args)), "events": stats["events"], "seconds": round(stats["seconds"], 3),
               "evaluated_at": when, "rows": counts}], True)
        return 0
    from .core import _ledger_zone

    zone = _ledger_zone(args)
    _ = speak(zone)
    print(_("rebuilt {views}: {events} events in {seconds} s, evaluated at {when}; {rows}", views=views_path(args),
            events=_.number(stats["events"]), seconds=f"{stats['seconds']:.2f}",
            when=_.time(stats["evaluated_at"], zone, zone=True),
            rows=_.listing([_(COUNTED[k], n=_.number(v)) for k, v in counts.items()])))
    return 0


# the tables the rebuild summary counts, as it names them for people (JSON keeps the table names)
COUNTED = {"events": N_("events {n}"), "sla_clocks": N_("SLA clocks {n}"),
               "visit_periods": N_("visit periods {n}"), "liability": N_("liability rows {n}")}


def open_for_reading(args: argparse.Namespace):
    """The views file read-only, or the published snapshot when a writer holds it (§7)."""
    import duckdb

    from projections import open_views

    chosen = getattr(args, "views", None)
    if chosen:  # an as-of or what-if file: the same tables, so the same SQL and reports
        from .core import _ledger_zone

        return open_views_file(chosen, zone=lambda: _ledger_zone(args))
    main = views_path(args)
    if not main.exists() and not snapshot_path(args).exists():
        from .core import check_ledger

        check_ledger(args)  # no ledger there either: say that (TL-E010), not `views rebuild`
        _ = speak()
        raise UserError(_("no views in {data_dir}; run `ticketledger views rebuild` first",
                          data_dir=args.data_dir), code="TL-E030")
    if main.exists():
        try:
            return open_views(main, read_only=True)
        except duckdb.Error:
            pass
    if snapshot_path(args).exists():
        return open_views(snapshot_path(args), read_only=True)
    _ = speak()
    raise UserError(_("{main} is locked and no snapshot was published yet", main=main), code="TL-E032")


def views_evaluated_at(args: argparse.Namespace) -> Any:
    """The evaluation time the ledger's own views carry (their checkpoint's, as `report` titles
    it), in UTC; None when the ledger has no views yet or they cannot be read."""
    from datetime import UTC

    import duckdb

    if not views_path(args).exists() and not snapshot_path(args).exists():
        return None
    try:
        con = open_for_reading(args)
    except (UserError, duckdb.Error):
        return None
    try:
        evaluated = con.execute("SELECT max(evaluated_at) FROM checkpoint").fetchall()[0][0]
    except duckdb.Error:
        return None
    finally:
        con.close()
    return evaluated.replace(tzinfo=UTC) if evaluated is not None else None


def views_position(con: Any) -> int | None:
    """The log position the views hold: their checkpoint's (None: no checkpoint yet)."""
    r = con.execute("SELECT max(position) FROM checkpoint").fetchone()
    return int(r[0]) if r and r[0] is not None else None


def views_behind(args: argparse.Namespace, con: Any) -> Behind | None:
    """Whether the views `con` holds (the data folder's own, or its snapshot) are behind the log.
    A --views file the user named is an as-of or what-if replay, behind on purpose: None. Costs
    the store's max(position), read by its index, at any size of log."""
    if getattr(args, "views", None):
        return None
    from .core import ledger_for

    held = views_position(con) or 0
    ledger = ledger_for(args)
    try:
        last = ledger.position
    finally:
        ledger.close()
    return Behind(held, last) if held < last else None


def say_if_behind(behind: Behind | None, _: Texts | None = None) -> None:
    """One line on stderr, in the language of the report (`_`): stdout keeps the report, and
    --json/--csv stay what programs read."""
    if behind is not None:
        print(behind.said(_ or speak()), file=sys.stderr)


@dataclass(frozen=True)
class ViewsCaveats:
    """What `report` says beside the views' rows, said too beside the raw rows of `sql` and
    `export`: the views behind the log, or a what-if's hypothesis (replay --terms)."""

    behind: Behind | None
    what_if: dict[str, Any] | None
    zone: str | None  # the contracts' one zone, whose language says them (None: several, or none)

    def say(self) -> None:
        """On stderr, so that stdout, --json and --csv stay what programs read."""
        _ = speak(self.zone)
        say_if_behind(self.behind, _)
        if self.what_if:
            from replay.exhibit import what_if_banner

            print(what_if_banner(self.what_if, _), file=sys.stderr)


def views_caveats(args: argparse.Namespace, con: Any) -> ViewsCaveats:
    import duckdb

    from replay.explain import views_what_if

    try:
        what_if = views_what_if(con)
    except duckdb.Error:  # a views file older than what-if terms: under the contract as recorded
        what_if = None
    zones = set(contract_zones(con).values())
    return ViewsCaveats(views_behind(args, con), what_if, zones.pop() if len(zones) == 1 else None)


VIEWS_HINT = N_("name a file written by `views rebuild` (<data-dir>/views.duckdb) or by `replay --out`")


def said_zone(zone: str | Callable[[], str] | None) -> str | None:
    """A zone given as itself or as a function finding it, called only when something is to be said:
    finding the ledger's contracts' zone opens its views, a cost an answer without error never pays."""
    return zone() if callable(zone) else zone


def open_views_file(path: str | Path, option: str = "--views", zone: str | Callable[[], str] | None = None) -> Any:
    """A views file the user named, opened read-only; one clear line when it is not one, in the
    language of `zone` (the ledger's contracts' zone, `core._ledger_zone`; a function: found when needed)."""
    import duckdb

    from projections import open_views

    p = Path(path)
    if p.is_dir():
        _ = speak(said_zone(zone))
        raise UserError(_("{option} {path} is a folder, not a views database (DuckDB); {hint}", option=option,
                          path=path, hint=_(VIEWS_HINT)).lstrip(), code="TL-E031")
    if not p.exists():
        _ = speak(said_zone(zone))
        raise UserError(_("no views file {path}; {hint}", path=path, hint=_(VIEWS_HINT)), code="TL-E031")
    try:
        con = open_views(p, read_only=True)
    except duckdb.Error as e:
        if is_locked(e):
            _ = speak(said_zone(zone))
            raise UserError(_("{path} is in use by another process (a running `views follow`?); "
                              "read its snapshot {snapshot} beside it",
                              path=path, snapshot=SNAPSHOT_FILE), code="TL-E032") from None
        reason = str(e).splitlines()[0]
        if "not a valid DuckDB database" in reason:
            reason = "not a DuckDB file at all"
        _ = speak(said_zone(zone))
        raise UserError(_("{path} is not a views database (DuckDB): {reason}; {hint}",
                          path=path, reason=reason, hint=_(VIEWS_HINT)), code="TL-E031") from None
    try:
        con.execute("SELECT position, evaluated_at FROM checkpoint LIMIT 0")
    except duckdb.Error:
        con.close()
        _ = speak(said_zone(zone))
        raise UserError(_("{path} is a DuckDB database but not a views database (no checkpoint "
                          "table); {hint}", path=path, hint=_(VIEWS_HINT)), code="TL-E031") from None
    return con


def document_format(fmt: str | None, out: str | None, choices: Sequence[str], default: str) -> str:
    """A document's format: --format, else the --out file's suffix, else `default`. A --format that
    the --out file's suffix names otherwise is refused (an XLSX written into x.html opens as junk)."""
    suffix = Path(out).suffix.lower().removeprefix(".") if out else ""
    suffix = {"htm": "html", "markdown": "md"}.get(suffix, suffix)
    if fmt is None:
        return suffix if suffix in choices else default
    if suffix in choices and suffix != fmt:
        _ = speak()
        raise UserError(_("--format {format} but --out {out} names a .{suffix} file; name the file .{format}, or "
                          "leave --format out to write what the name says", format=fmt, out=out, suffix=suffix),
                        code="TL-E001")
    return fmt


def output_file(option: str, path: str, example: str) -> Path:
    """A file a command will write: its folder created if missing; a folder or an unwritable place
    refused before any work, naming the option and an example of a right value."""
    p = Path(path)
    if p.is_dir():
        _ = speak()
        raise UserError(_("{option} {path} is a folder; name a file in it, e.g. {example}",
                          option=option, path=path, example=p / example), code="TL-E033")
    blocking = next((d for d in p.parents if d.exists() and not d.is_dir()), None)
    if blocking is not None:
        _ = speak()
        raise UserError(_("{option} {path}: {blocking} is a file, not a folder; name a file in a "
                          "folder, e.g. {example}",
                          option=option, path=path, blocking=blocking, example=example), code="TL-E033")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _ = speak()
        raise UserError(_("{option} {path}: cannot create its folder ({reason}); name a file "
                          "in a folder you can write, e.g. {example}",
                          option=option, path=path, reason=e.strerror, example=example), code="TL-E033") from None
    return p


def writable_file(option: str, path: str, example: str) -> Path:
    """A file a command writes after work it cannot take back (a checkpoint signed and kept): that
    it can be written is tried before, and the place is left as it was (an earlier file kept)."""
    existed = Path(path).exists()
    p = _appendable(option, path, example)
    if not existed:
        p.unlink()
    return p


def _appendable(option: str, path: str, example: str) -> Path:
    """A file to append to: checked (and created) before any work."""
    p = output_file(option, path, example)
    try:
        with open(p, "a"):
            pass
    except OSError as e:
        _ = speak()
        raise UserError(_("{option} {path}: cannot be written ({reason}); name a file you can "
                          "write", option=option, path=path, reason=e.strerror), code="TL-E033") from None
    return p


def _breaches_of(con: Any, tickets: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The breached clocks liability's breaches_cited names for these tickets, by ticket, read
    from sla_clocks to be said in the reader's words. Which breaches are cited (the clocks the
    losses clause answers for) is the view's rule: the clocks are taken from what the column
    holds ("arrival breached by 402.5 min (§23 …); resolution breached by …"), not chosen again."""
    out: dict[str, list[dict[str, Any]]] = {}
    for ticket, clock, minutes, clause in con.execute(
            "SELECT k.ticket, k.clock, k.breach_minutes, k.clause FROM sla_clocks k JOIN liability l USING (ticket) "
            "WHERE k.state = 'breached' AND list_contains(?, k.ticket) "
            "AND ('; ' || l.breaches_cited) LIKE '%; ' || k.clock || ' breached by %' "
            "ORDER BY k.ticket, k.clock", [tickets]).fetchall():
        out.setdefault(ticket, []).append({"clock": clock, "state": "breached", "breach_minutes": minutes,
                                           "clause": clause})
    return out


def unknown_party(customer: str | None, contract: str | None, zone: str | None = None,
                  views: str | None = None) -> UserError:
    """The refusal of a --customer (or --contract of that customer) the views do not hold, in the
    language of `zone`; from a --views file the user named, which may be a scoped replay's."""
    _ = speak(zone)
    what = _("contract {contract} of customer {customer}", contract=contract, customer=customer) \
        if contract and customer else _("contract {contract}", contract=contract) if contract \
        else _("customer {customer}", customer=customer)
    if views:
        return UserError(_("no {what} in the views file {views}: a replay's views hold only its scope (its "
                           "--customer, --contract or --tickets); replay with it in the scope, or leave out --views",
                           what=what, views=views), code="TL-E040")
    return UserError(_("no {what} in the views; `ticketledger contract show ID` shows a contract's customer",
                       what=what), code="TL-E040")


def cmd_report(args: argparse.Namespace) -> int:
    if args.view == "compare-sla":
        return cmd_compare_sla(args)
    if args.json and args.csv:
        _ = speak()
        raise UserError(_("--json and --csv: choose one"), code="TL-E001")
    report = REPORTS[args.view]
    table = report.table
    con = open_for_reading(args)
    try:
        behind = views_behind(args, con)
        have = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        chosen = _chosen_columns(args, have)
        if args.customer or args.contract:  # a name the views do not hold is a mistake, not "no data"
            from ..statements import customer_known

            if not customer_known(con, args.customer, args.contract):
                from .core import _ledger_zone

                raise unknown_party(args.customer, args.contract, _ledger_zone(args), getattr(args, "views", None))
        where, params = _party_filter(args, table, have)
        if args.state:
            col = "status" if "status" in have else "state" if "state" in have else None
            if col is None:
                _ = speak()
                raise UserError(_("--state does not apply to `report {view}`", view=args.view), code="TL-E041")
            if args.state not in STATES[table]:
                _ = speak()
                raise UserError(_("--state {state}: `report {view}` states are {states}",
                                  state=repr(args.state), view=args.view, states=', '.join(STATES[table])),
                                code="TL-E041")
            where.append(f"{col} = ?")
            params.append(args.state)
        if args.month:
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
                _ = speak()
                raise UserError(_("--month {month}: write a month as YYYY-MM, e.g. 2025-10",
                                  month=repr(args.month)), code="TL-E041")
            if table == "sla_clocks":
                where.append("month = ?")
            elif table == "visit_periods":
                where.append("strftime(start, '%Y-%m') <= ? AND ? <= strftime(\"end\", '%Y-%m')")
                params.append(args.month)
            elif table == "liability":  # the month in the zone of the ticket's contract, as sla_clocks.month
                where.append("strftime(timezone(coalesce((SELECT t.timezone FROM terms t WHERE t.contract = "
                             "liability.contract AND t.version = liability.contract_version), ?), "
                             "timezone('UTC', reported_at)), '%Y-%m') = ?")
                params.append(DEFAULT_TZ)
            elif table == "sla_summary":
                where.append("dimension = 'month' AND key = ?")
            else:
                _ = speak()
                raise UserError(_("--month does not apply to `report {view}`", view=args.view), code="TL-E041")
            params.append(args.month)
        machine = args.json or args.csv
        limit = args.limit or (None if machine else TABLE_LIMIT)
        sql = f"FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
        rows = _rows(con, f"SELECT * {sql} ORDER BY {report.order}" + (f" LIMIT {int(limit)}" if limit else ""),
                     params)
        total = len(rows)
        if limit and total == limit:
            total = con.execute(f"SELECT count(*) {sql}", params).fetchone()[0]
        evaluated = con.execute("SELECT max(evaluated_at) FROM checkpoint").fetchall()[0][0]
        zones = contract_zones(con)
        cited = _breaches_of(con, [r["ticket"] for r in rows]) if table == "liability" and not machine else {}
        from replay.explain import views_what_if

        what_if = views_what_if(con)  # views of `replay --terms`: their figures are a hypothesis
    finally:
        con.close()
    contracts = {r.get("contract") for r in rows} if "contract" in have else set(zones)
    in_zones = sorted({zones.get(c, DEFAULT_TZ) for c in contracts} or {DEFAULT_TZ})
    zone = in_zones[0] if len(in_zones) == 1 else None
    _ = speak(zone)  # the report's language: its warning on stderr too, whatever the output format
    say_if_behind(behind, _)
    if what_if:  # not the ledger's figures: above the table, as its title; beside JSON/CSV, on stderr
        from replay.exhibit import what_if_banner

        print(what_if_banner(what_if, _), file=sys.stderr if machine else sys.stdout)
    if machine:  # CSV: the header even when no row matches
        emit(rows, args.json, have if args.csv else None, as_csv=args.csv)
        return 0
    columns = report.shown(args.wide, chosen, have)
    if cited:  # the column holds English built by the views' SQL; people read each breach in their words
        from replay.explanations import clause_text, verdict_short
        from replay.i18n import word as said_word

        rows = [{**r, "breaches_cited": "; ".join(
            f"{said_word(_.lang, 'clock', c['clock'])} {verdict_short(c, _.lang)} {clause_text(c['clause'])}".strip()
            for c in cited.get(r["ticket"], []))} for r in rows]
    if table == "sla_clocks":  # the clock ran under one severity's target; the ticket ended in another (§9.4)
        from replay.i18n import word

        rows = [{**r, "clock_severity": _("{severity} (later {final})",
                                          severity=word(_.lang, "severity", r["clock_severity"]),
                                          final=word(_.lang, "severity", r["severity"]))}
                if r.get("clock_severity") and r.get("severity") and r["clock_severity"] != r["severity"] else r
                for r in rows]
    if table == "sla_summary":  # a severity's key is a code of its vocabulary (the other keys are ids, months)
        from replay.i18n import word

        rows = [{**r, "key": word(_.lang, "severity", r["key"])} if r["dimension"] == "severity" else r for r in rows]
    timed = any(c.kind in ("time", "end") for c in columns)
    if zone is None and timed:  # contracts in several zones: each row says its own
        rows = [{**r, "time_zone": zones.get(r.get("contract"), DEFAULT_TZ)} for r in rows]
        columns.append(column(table, "time_zone"))
    title = _(report.title)
    if evaluated:  # the zone is named once: here, or after it when the rows' times are in it too
        when = _.time(evaluated, zone or DEFAULT_TZ, zone=not (zone and timed))
        title = _("{what}, evaluated at {when}", what=title, when=when)
    if zone and timed:
        title += _("; times in {zone}", zone=_.zone_name(zone))
    emit(rows, False, columns, title=title, total=total, lang=_.lang, limit_given=args.limit is not None,
         zone=zone or (lambda r: zones.get(r.get("contract"), DEFAULT_TZ)))
    if table == "liability_totals" and any(r.get("undetermined_tickets") for r in rows):
        from replay.statement import (
            undetermined_line,  # tickets no payer rule decides: in neither sum
        )

        print(undetermined_line(_, sum(r["undetermined_tickets"] for r in rows),
                                sum(r["undetermined_value_fen"] or 0 for r in rows)))
    return 0


def _party_filter(args: argparse.Namespace, table: str, have: list[str]) -> tuple[list[str], list[Any]]:
    """The WHERE terms of --contract, --customer and --site. A filter the view cannot apply is
    refused: it used to be dropped, so the whole ledger's figures read as one customer's."""
    named = [(o, getattr(args, o)) for o in ("contract", "customer", "site") if getattr(args, o)]
    if table == "sla_summary":  # rates by one dimension at a time: a filter picks that dimension's rows
        if len(named) + bool(args.month) > 1:
            _ = speak()
            raise UserError(_("`report summary` gives the rates by one of contract, customer, site or month at a "
                              "time; name one of them (for one customer's month: `ticketledger statement "
                              "--customer C --month YYYY-MM`)"), code="TL-E041")
        return (["dimension = ? AND key = ?"], list(named[0])) if named else ([], [])
    where, params = [], []
    for option, value in named:
        if option in have:
            where.append(f"{option} = ?")
        elif option == "customer" and "contract" in have:  # a contract binds one customer
            where.append("contract IN (SELECT contract FROM terms WHERE customer = ?)")
        else:
            _ = speak()
            raise UserError(_("--{option} does not apply to `report {view}`", option=option, view=args.view),
                            code="TL-E041")
        params.append(value)
    return where, params


def _chosen_columns(args: argparse.Namespace, have: list[str]) -> list[str] | None:
    """--columns a,b,c: those columns of the table, in that order; an unknown one is refused."""
    if not args.columns:
        return None
    chosen = [c.strip() for c in args.columns.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in have]
    if unknown or not chosen:
        _ = speak()
        raise UserError(_("--columns {columns}: `report {view}` has no column {unknown}; its "
                          "columns: {have}", columns=repr(args.columns), view=args.view,
                          unknown=", ".join(unknown) or _("(none named)"), have=", ".join(have)), code="TL-E041")
    return chosen


def contract_zones(con: Any) -> dict[str, str]:
    """Each contract's time zone (its latest version's) from the views' terms table."""
    import duckdb

    try:
        return dict(con.execute("SELECT contract, arg_max(timezone, version) FROM terms GROUP BY contract").fetchall())
    except duckdb.Error:  # a views file of another version: times in the default zone
        return {}


AGREEMENT_COLUMNS = [Column("priority", N_("priority")), Column("incidents", N_("incidents"), "number"),
                     Column("both_met", N_("both met"), "number"),
                     Column("both_breached", N_("both breached"), "number"),
                     Column("we_met_platform_not", N_("we met, the platform not"), "number"),
                     Column("we_breached_platform_met", N_("we breached, the platform met"), "number"),
                     Column("undecided", N_("undecided"), "number"), Column("agreement", N_("agreement"), "percent")]
MATRIX_COLUMNS = [Column("priority", N_("priority")), Column("made_sla", N_("made_sla (the platform)"), "bool"),
                  Column("our_state", N_("our verdict"), "state"), Column("incidents", N_("incidents"), "number")]


def _cut_gzip(path: str) -> BaseException | None:
    """Why a gzip file cannot be read to its end (None: it can), to tell a cut file from DuckDB's IO error."""
    import gzip
    import zlib

    if not path.endswith(".gz"):
        return None
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as e:
        return e
    return None


def cmd_compare_sla(args: argparse.Namespace) -> int:
    """`report compare-sla --file LOG`: the confusion matrix of our resolution verdict against
    the log's own made_sla, per final priority (SQL: adapters/desks/compare_sla.sql)."""
    import duckdb

    from ..desks.compare_sla import CompareError, compare_sla

    if not args.file:
        _ = speak()
        raise UserError(_("compare-sla needs --file LOG: the ServiceNow incident log that was "
                          "imported"))
    con = open_for_reading(args)
    try:
        say_if_behind(views_behind(args, con))
        matrix, agreement = compare_sla(con, args.file, args.priority)
        evaluated = con.execute("SELECT max(evaluated_at) FROM checkpoint").fetchall()[0][0]
    except CompareError as e:
        raise UserError(said(e)) from None
    except duckdb.Error as e:
        cut = _cut_gzip(args.file)
        if cut is not None:  # said as import says a cut file, not as DuckDB's IO error with its SQL
            from domain.errors import Phrase

            from ..importer import unreadable

            raise UserError(said(unreadable(args.file, cut, Phrase(N_("a ServiceNow incident log (CSV)"))))) from None
        _ = speak()
        raise UserError(_("compare-sla on {file}: {error}", file=args.file, error=_duckdb_error(e))) from None
    finally:
        con.close()
    if args.priority and not matrix:
        _ = speak()
        raise UserError(_("--priority {priority}: no incident of {file} has that final priority",
                          priority=repr(args.priority), file=args.file))
    when = f"{evaluated:%Y-%m-%dT%H:%M:%SZ}" if evaluated else None
    if args.json:
        emit([{"file": args.file, "evaluated_at": when,
               "matrix": [{k: plain(v) for k, v in r.items()} for r in matrix],
               "agreement": [{k: plain(v) for k, v in r.items()} for r in agreement]}], True)
        return 0
    _ = speak()
    for r in agreement:
        r["priority"] = r["priority"] or _("all")
        r["agreement"] = None if r["agreement_pct"] is None else r["agreement_pct"] / 100
    for r in matrix:
        if r["our_state"] == "no clock":
            r["our_state"] = _("no clock")
    emit(agreement, False, AGREEMENT_COLUMNS,
         title=_("resolution verdict vs made_sla (final row) of {file}, views evaluated at {when}; agreement over "
                 "the incidents our clock decided (met/breached)", file=Path(args.file).name, when=when))
    print()
    emit(matrix, False, MATRIX_COLUMNS, title=_("confusion matrix"))
    return 0


def _rows(con, sql: Any, params: list[Any] | None = None, *, naive_utc: bool = True) -> list[dict[str, Any]]:
    return _result(con, sql, params, naive_utc=naive_utc)[1]


def _result(con, sql: Any, params: list[Any] | None = None, *,
            naive_utc: bool = True) -> tuple[list[str], list[dict[str, Any]]]:
    """A query's column names and rows as programs read them (output.plain)."""
    cols, _types, rows = _fetch(con, sql, params)
    return cols, [{c: plain(v, naive_utc=naive_utc) for c, v in zip(cols, r, strict=True)} for r in rows]


def _fetch(con, sql: Any, params: list[Any] | None = None) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """A query's column names, DuckDB types (`JSON`, `INTERVAL`, …) and rows as DuckDB gives them.
    DuckDB's error is passed on whole: its "Did you mean", candidates and `LINE n:` with the caret
    under the place."""
    import duckdb

    try:
        cur = con.execute(sql, params or [])
        if cur is None:  # DuckDB's answer to text without a statement (only comments or ';')
            _ = speak()
            raise UserError(_("{sql} holds no SQL statement; write e.g. \"SELECT state, count(*) "
                              "FROM sla_clocks GROUP BY state\"", sql=repr(sql.strip())), code="TL-E050")
        cols = [d[0] for d in cur.description] if cur.description else []
        types = [str(d[1]) for d in cur.description] if cur.description else []
        rows = cur.fetchall()  # a query's errors may come only now, with its rows
    except duckdb.PermissionException as e:
        _ = speak()
        raise UserError(_duckdb_error(e, lambda first: _(
            "{error}: `sql` reads the views only, no other file and no extension "
            "(`export --parquet DIR` writes the tables to files)", error=first)), code="TL-E050") from None
    except duckdb.InvalidInputException as e:
        if "configuration has been locked" not in str(e):
            raise UserError(_duckdb_error(e), code="TL-E050") from None
        _ = speak()
        raise UserError(_duckdb_error(e, lambda first: _(
            "{error}: `sql` runs queries on the views and changes no setting "
            "(profiling, logging and the like would write files)", error=first)), code="TL-E050") from None
    except duckdb.Error as e:
        raise UserError(_duckdb_error(e), code="TL-E050") from None
    return cols, types, rows


def _duckdb_error(e: BaseException, explain: Callable[[str], str] | None = None) -> str:
    """DuckDB's message as DuckDB gives it, every line; `explain` rewrites its first line (the
    error itself), the rest (the suggestions, `LINE n:` and its caret) following unchanged."""
    text = str(e).rstrip("\n")
    if explain is None:
        return text
    first, newline, rest = text.partition("\n")
    return explain(first) + newline + rest


def cmd_sql(args: argparse.Namespace) -> int:
    if not args.query.strip():
        _ = speak()
        raise UserError(_("the query is empty; write one, e.g. ticketledger sql \"SELECT state, "
                          "count(*) FROM sla_clocks GROUP BY state\""), code="TL-E050")
    if args.json and args.csv:
        _ = speak()
        raise UserError(_("--json and --csv: choose one"), code="TL-E001")
    con = open_for_reading(args)
    try:
        caveats = views_caveats(args, con)
        # Read-only: the views, no file written or read. Locking the configuration refuses, in
        # one clean error, every setting that would write a file or stop the process: profiling
        # output, logging to files (DuckDB aborted the process on it), query logs, temp folders.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        statements = _statements(con, args.query)
        if len(statements) > 1 and (args.json or args.csv):
            _ = speak()
            raise UserError(_("the query holds {n} statements, and --json or --csv prints one result; run one "
                              "statement at a time", n=len(statements)), code="TL-E050")
        results = [_fetch(con, statement) for statement in statements]
    finally:
        con.close()
    caveats.say()
    for i, (cols, types, rows) in enumerate(results):  # each statement's result, in order, as the duckdb shell prints them
        if i:
            print()
        if args.json or args.csv:
            emit(_for_programs(cols, types, rows, nest_json=args.json), args.json, cols if args.csv else None,
                 as_csv=args.csv)
        else:  # the analyst's own expressions: each value as it is, not as a report rounds it
            emit([dict(zip(cols, r, strict=True)) for r in rows], False, [Column(c, kind="value") for c in cols])
    return 0


def _for_programs(cols: list[str], types: list[str], rows: list[tuple[Any, ...]], *,
                  nest_json: bool) -> list[dict[str, Any]]:
    """`sql --json`/`--csv` rows (README, `sql`): naive timestamps as they are, for the query may
    have turned a UTC time into any zone's; intervals in seconds; a JSON column nested as the JSON
    value it holds (`nest_json`; CSV keeps its text), not a string of JSON inside JSON."""
    nested = {c for c, t in zip(cols, types, strict=True) if nest_json and t == "JSON"}

    def value(c: str, v: Any) -> Any:
        if c in nested and isinstance(v, str):
            return msgspec.json.decode(v)
        return plain(v, naive_utc=False)

    return [{c: value(c, v) for c, v in zip(cols, r, strict=True)} for r in rows]


def _statements(con: Any, sql: str) -> list[Any]:
    """The statements of the query text; the text itself when it holds none or does not parse,
    so that running it says why (_rows)."""
    import duckdb

    try:
        return con.extract_statements(sql) or [sql]
    except duckdb.Error:
        return [sql]


def cmd_export(args: argparse.Namespace) -> int:
    from projections.schema import VIEW_TABLES

    out = Path(args.parquet)
    if out.exists() and not out.is_dir():
        _ = speak()
        raise UserError(_("--parquet {out}: is a file; name a folder (created if missing)", out=out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _ = speak()
        raise UserError(_("--parquet {out}: cannot create the folder ({reason}); name a folder you can write",
                          out=out, reason=e.strerror), code="TL-E033") from None
    con = open_for_reading(args)
    try:
        caveats = views_caveats(args, con)
        # every table and view of the views file, the schema's own first (so a reader finds them all)
        held = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = 'main' ORDER BY table_name").fetchall()]
        first = ("events", "terms", "terms_clocks", "calendar_years", *VIEW_TABLES, "checkpoint")
        tables = [t for t in first if t in held] + [t for t in held if t not in first]
        for t in tables:
            con.execute(f"COPY (SELECT {_parquet_columns(con, t)} FROM {t}) TO {sql_text(out / f'{t}.parquet')} "
                        "(FORMAT parquet)")
    finally:
        con.close()
    caveats.say()
    if args.json:  # what was written, for a program, and what `report --json` says of the same views
        emit([{"parquet": str(out), "tables": [{"table": t, "file": str(out / f"{t}.parquet")} for t in tables],
               "views_behind": caveats.behind.as_json() if caveats.behind else None,
               "what_if": caveats.what_if}], True)
        return 0
    _ = speak()
    print(_("exported {n} tables to {out}", n=len(tables), out=out))
    return 0


def _parquet_columns(con: Any, table: str) -> str:
    """A table's columns for Parquet, in types every reader reads (pyarrow, pandas, Polars, Spark):
    HUGEINT (the bounded amounts, sums) as BIGINT, for DuckDB writes a HUGEINT as DOUBLE and fen
    would reach the reader as floats; INTERVAL (terms_calendars.close_time) as DuckDB's text
    `HH:MM:SS`, for Parquet's interval type is read as raw bytes or not at all (Polars panics) and a
    TIME cannot hold `24:00:00`, a day's end (pyarrow reads it back as 00:00); JSON as VARCHAR, for
    DuckDB marks it JSON in the file and Polars reads that as binary. The others as they are."""
    cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
                       "AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()
    as_type = {"HUGEINT": "BIGINT", "INTERVAL": "VARCHAR", "JSON": "VARCHAR"}

    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    return ", ".join(f"CAST({quoted(c)} AS {as_type[kind]}) AS {quoted(c)}" if kind in as_type else quoted(c)
                     for c, kind in cols) or "*"
