"""Audit commands (SPEC §5): verify, explain, replay (as of / what-if), diff.

This module opens the store, the stream and DuckDB; `replay/` only computes over what it
is handed (rows, stream events, connections).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from replay.i18n import N_, texts, word

from ..data_folder import sql_text
from ..dispute import chain_head
from ..store import iter_log, read_log
from . import UserError, position_in_log, positive_int, printer_ahead, recorded_by_now
from .output import Column, Progress, emit, language, said, speak
from .views import document_format, open_views_file, output_file

SOURCE_RECORDED_HELP = N_("what the desks knew at this time: an imported fact counts from its desk's own "
                          "recording time (source_recorded_at), any other fact from the ledger's; contracts, "
                          "calendar years and an import's placeholder assets always count (docs/desks.md)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = sub.add_parser(
        "verify",
        help=N_("prove the log is unaltered: recompute the hash chain, check evidence files, compare with NATS"),
        description=N_("Recompute every event's digest and hash-chain link, check every attached evidence "
                    "file against its recorded hash, and compare the store with the NATS stream event by "
                    "event (count, order, payload sha256, position and link headers). Names the first "
                    "position that differs and exits 1 on any difference."),
    )
    p.add_argument("--nats-url", default=None, metavar="URL",
                   help=N_("compare with the LEDGER stream on this server (default: $TICKETLEDGER_NATS_URL, "
                        "else a self-started server on the data folder's JetStream store if it has one)"))
    p.add_argument("--no-stream", action="store_true",
                   help=N_("do not compare with the NATS stream (without it, a store holding events and no stream "
                        "found, or a stream other than the one the relay recorded, fails with TL-E180)"))
    p.add_argument("--no-evidence", action="store_true", help=N_("do not check evidence files"))
    p.add_argument("--checkpoint", action="append", default=[], metavar="FILE",
                   help=N_("also check the log against this saved checkpoint (a signed note as received)"))
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "explain",
        help=N_("a ticket's dispute report (an A4 exhibit in Chinese or English): verdicts, money, why, timeline, proof"),
        description=N_("One ticket's dispute report, written for the people in the dispute (HTML or PDF to "
                    "print on A4, Markdown) or for programs (JSON). Its first page names the parties, the "
                    "asset and the contract version, each clock's promise with its clause, the verdict and "
                    "by how much, what each side pays in yuan under which clause, the losses claim and the "
                    "proof status; then every verdict explained in sentences taken from the views' rows, a "
                    "timeline picture and table (both times of every event, corrections, late entries), "
                    "evidence files and the log annex. In the contract's language (Simplified Chinese for "
                    "contracts in China's time zone) unless --lang says otherwise; times in the contract's "
                    "zone. Deterministic: the same log and terms give byte-identical output."),
    )
    p.add_argument("ticket")
    p.add_argument("--format", choices=("html", "pdf", "md", "json"), default=None,
                   help=N_("html or pdf (A4, printed by the system's headless Chromium), md, json (default: the "
                        "--out file's suffix, else md)"))
    p.add_argument("--out", default=None, metavar="FILE", help=N_("write the report here (default: stdout)"))
    p.add_argument("--as-of-recorded", default=None, metavar="TIME",
                   help=N_("what the ledger knew at this recording time (views rebuilt for it, evaluated then)"))
    p.add_argument("--as-of-source-recorded", default=None, metavar="TIME", help=SOURCE_RECORDED_HELP)
    p.add_argument("--at", default=None, metavar="TIME",
                   help=N_("evaluation time when views must be rebuilt (default: the as-of time, else now)"))
    p.add_argument("--views", default=None, metavar="FILE.duckdb",
                   help=N_("read clock and liability rows from this views file (e.g. one `replay` wrote)"))
    p.add_argument("--checkpoint", default=None, metavar="SIZE|FILE",
                   help=N_("the signed checkpoint the report's proofs lead to: a tree size the ledger signed, or a "
                        "saved checkpoint file (default: the first checkpoint at or after the cut)"))
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "replay",
        help=N_("rebuild the views as of a time or position, or under other terms, into a separate DuckDB file"),
        description=N_("Rebuild the views from only the events recorded up to a time (--as-of-recorded) or a "
                    "log position (--as-of-position) — what the ledger knew then — or from the events that "
                    "had occurred by a time (--as-of-occurred), or what the desks knew at a time by their own "
                    "recording time (--as-of-source-recorded); --terms FILE replaces the terms of the "
                    "contract the file names (what-if, §9.11). --customer, --contract or --tickets replay "
                    "only the events that scope needs: its tickets, the same assets' other tickets, "
                    "replaced and replacing units, site-wide visits, the contracts and the calendar. "
                    "Writes a DuckDB file with the same tables as the "
                    "views, for `sql`, `report`, `explain --views` and `diff`."),
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--as-of-recorded", default=None, metavar="TIME",
                   help=N_("what the ledger had recorded by this time (ISO with zone)"))
    g.add_argument("--as-of-position", default=None, type=int, metavar="N", help=N_("the log up to this position"))
    g.add_argument("--as-of-occurred", default=None, metavar="TIME",
                   help=N_("what had occurred in the field by this time (ISO with zone), whenever recorded"))
    g.add_argument("--as-of-source-recorded", default=None, metavar="TIME", help=SOURCE_RECORDED_HELP)
    p.add_argument("--terms", default=None, metavar="FILE",
                   help=N_("what-if: a contract file (TOML/JSON) whose [terms] replace the versions of the "
                        "contract it names (its id); prints how many clocks appeared, disappeared and "
                        "changed verdict against the terms as recorded, and the liability totals in yuan"))
    p.add_argument("--terms-for", action="append", default=None, metavar="CONTRACT",
                   help=N_("the contracts whose terms --terms replaces instead (repeatable; '*' = every contract)"))
    s = p.add_mutually_exclusive_group()
    s.add_argument("--customer", action="append", default=None, metavar="CUSTOMER",
                   help=N_("replay only this customer's tickets and what they need (repeatable)"))
    s.add_argument("--contract", action="append", default=None, metavar="CONTRACT",
                   help=N_("replay only the tickets and assets ever under this contract (repeatable)"))
    s.add_argument("--tickets", default=None, metavar="FILE",
                   help=N_("replay only these tickets (one ticket id a line; '#' starts a comment)"))
    p.add_argument("--at", default=None, metavar="TIME",
                   help=N_("evaluation time (default: the as-of time; for a what-if, the evaluation time of "
                           "the ledger's views when it has them, so its figures compare with `report`; else now)"))
    p.add_argument("--out", default=None, metavar="FILE.duckdb",
                   help=N_("where to write (default: <data-dir>/replay/<what>.duckdb)"))
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "diff",
        help=N_("rows that differ between two views files (two as-of points, or two sets of terms)"),
        description=N_("Compare two DuckDB views files row by row (rows keyed by ticket and clock, ticket, "
                    "asset, …; evaluation times ignored). Exit 0 when they agree, 1 when rows differ."),
    )
    p.add_argument("a", metavar="A.duckdb")
    p.add_argument("b", metavar="B.duckdb")
    p.add_argument("--table", action="append", default=None,
                   help=N_("a table to compare (repeatable; default: sla_clocks, liability, visit_periods, "
                        "warranty, replacement_obligations)"))
    p.add_argument("--limit", type=positive_int, default=None, help=N_("at most N differing rows per table"))
    p.set_defaults(func=cmd_diff)


# --- verify ---------------------------------------------------------------------------------------


class StreamRow:
    """One stream message as verify compares it: the ledger's headers and the payload."""

    __slots__ = ("position", "data", "link", "topic", "recorded_at", "seq", "withheld", "sha256")

    def __init__(self, position: int, data: bytes, link: str, topic: str, recorded_at: str, seq: int,
                 withheld: str = "", sha256: str = "") -> None:
        self.position, self.data, self.link, self.topic, self.recorded_at, self.seq = (
            position, data, link, topic, recorded_at, seq)
        self.withheld, self.sha256 = withheld, sha256  # a payload withheld, and the stored bytes' hash

    @classmethod
    def of(cls, msg: Any) -> StreamRow:
        from ..stream import H_LINK, H_POSITION, H_RECORDED_AT, H_SHA, H_TOPIC, H_WITHHELD

        h = msg.headers or {}
        try:
            position = int(h.get(H_POSITION, "-1"))
        except ValueError:
            position = -1
        return cls(position, msg.data or b"", h.get(H_LINK, ""), h.get(H_TOPIC, ""), h.get(H_RECORDED_AT, ""),
                   msg.metadata.sequence.stream, h.get(H_WITHHELD, ""), h.get(H_SHA, ""))


def stream_events(data_dir: Path, url: str | None, ledger: Any = None) -> list[Any] | None:
    """Every event of the LEDGER stream in stream order, or None when there is no stream to read
    and none is expected. With `ledger`, the stream is the one the relay recorded
    (adapters.stream_guard): gone while the store holds events, re-created, shortened, sealed or
    given limits raises StreamChanged."""
    from ..nats_server import server_for
    from ..stream import STREAM, SUBJECTS, ConnectOptions, connect
    from ..stream_guard import check, gone, recorded

    known = recorded(ledger, STREAM) if ledger is not None else None
    held = int(ledger.position or 0) if ledger is not None else 0
    url = url or os.environ.get("TICKETLEDGER_NATS_URL") or None
    if url is None and not (data_dir / "nats").exists():
        if known is not None or held:
            raise gone(STREAM, known, held)
        return None

    async def read(u: str) -> list[Any] | None:
        from nats.js import api as jsapi
        from nats.js.errors import NotFoundError

        nc = await connect(u, ConnectOptions.from_env(url=u))
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(STREAM)
            except NotFoundError:
                if known is not None or held:
                    raise gone(STREAM, known, held) from None
                return None
            if ledger is not None:
                check(info, known)
            out: list[Any] = []
            if info.state.messages == 0:
                return out
            sub = await js.subscribe(SUBJECTS, stream=STREAM, ordered_consumer=True,
                                     deliver_policy=jsapi.DeliverPolicy.ALL)
            try:
                while True:
                    msg = await sub.next_msg(timeout=10.0)
                    out.append(StreamRow.of(msg))
                    if msg.metadata.num_pending == 0:
                        return out
            finally:
                await sub.unsubscribe()
        finally:
            await nc.close()

    with server_for(data_dir, url) as u:
        return asyncio.run(read(u))


def cmd_verify(args: argparse.Namespace) -> int:
    from replay.verify import verify_log

    from ..evidence import check_evidence
    from .core import ledger_for
    from .tlog import read_saved_checkpoint

    saved = {f: read_saved_checkpoint(f) for f in args.checkpoint}  # bad input refused before any work
    data_dir = Path(args.data_dir)
    ledger = ledger_for(args)  # refuses a folder without a ledger, on SQLite and PostgreSQL alike
    from ..stream_guard import StreamChanged

    stream = None
    if not args.no_stream:
        try:
            stream = stream_events(data_dir, args.nats_url, ledger)
        except StreamChanged as e:
            ledger.close()
            raise UserError(said(e), code=e.code) from None
        except Exception as e:  # noqa: BLE001 - report why the stream could not be read, then fail
            _ = speak()
            raise UserError(_("cannot read the NATS stream ({kind}: {error}); use --no-stream to "
                              "verify the store alone", kind=type(e).__name__, error=said(e))) from None
    progress = Progress("verify", total=ledger.position or None, every=20_000, unit=speak()("events"))
    report = verify_log(
        iter_log(ledger),
        evidence=None if args.no_evidence else (lambda sha: check_evidence(data_dir, sha)),
        head=chain_head(ledger),
        stream=stream,
        progress=progress.add,
    )
    progress.done()
    try:
        _check_tree(ledger, report, saved)
    finally:
        ledger.close()
    if args.json:
        sys.stdout.write(msgspec.json.encode(report.as_dict()).decode() + "\n")
    else:
        from .core import _ledger_zone

        print(report.text(language(_ledger_zone(args))))
    return 0 if report.ok else 1


def _check_tree(ledger: Any, report: Any, saved: dict[str, str]) -> None:
    """The Merkle tree and the signed checkpoints against the log (replay/tree_check.py);
    `saved`: the reader's saved checkpoints, file name -> signed note."""
    from domain import signed_note as sn
    from replay.tree_check import check_tree

    from ..ledger_tree import LedgerTree, SavedCheckpoint

    tree = LedgerTree(ledger)
    checkpoints = list(tree.checkpoints())
    for i, (f, note) in enumerate(saved.items(), 1):
        checkpoints.append(SavedCheckpoint(id=-i, tree_size=0, key_hash="", signed_at=f"(file {f})", note=note))
    keys = [sn.Verifier.parse(k.vkey) for k in tree.log_keys()]
    cells = tree.cells()
    cell = next(cells, None)

    def entries() -> Any:
        nonlocal cell
        for row in iter_log(ledger):
            while cell is not None and cell[0] < row.position:
                cell = next(cells, None)
            if cell is not None and cell[0] == row.position:
                yield row, cell[1], cell[2]
            else:
                yield row, None, None

    summary = check_tree(entries(), checkpoints, keys, report)
    report.tree_leaves, report.tree_checkpoints = summary.leaves, summary.checkpoints


def _time(text: str | None, what: str) -> Any:
    from .core import parse_time

    return parse_time(text, what) if text else None


def _views_position(path: Path) -> int | None:
    import duckdb

    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        from .views import views_position

        return views_position(con)
    except duckdb.Error:
        return None
    finally:
        con.close()


def cmd_explain(args: argparse.Namespace) -> int:
    import contextlib

    from ..printing import Printer, PrintError

    args.format = document_format(args.format, args.out, ("html", "pdf", "md", "json"), "md")
    out_file = output_file("--out", args.out, f"{args.ticket}.{args.format}") if args.out else None
    if args.format == "pdf" and out_file is None:
        _ = speak()
        raise UserError(_("--format pdf writes a file: add --out FILE.pdf"), code="TL-E001")
    try:  # Chromium starts while the log and the views are read (adapters.printing.Printer)
        printer = (printer_ahead() or Printer()) if args.format == "pdf" else None
    except PrintError as e:
        raise UserError(said(e)) from None
    with printer or contextlib.nullcontext():
        return _explain(args, out_file, printer)


def _refuse_views_without(views: Path, ticket: str, zone: Callable[[], str]) -> None:
    """A --views file that holds no clock of a ticket the ledger holds is refused: its report
    would be the timeline alone, with no verdict and exit 0, and read as an answer (said in the
    language of `zone`, the ledger's contracts')."""
    con = open_views_file(views, zone=zone)
    try:
        held = con.execute("SELECT count(*) FROM sla_clocks WHERE ticket = ?", [ticket]).fetchone()[0]
    finally:
        con.close()
    if not held:
        _ = speak(zone())
        raise UserError(_("--views {views} holds no clocks of ticket {ticket}: it was replayed before the ticket "
                          "was recorded, or with a scope that leaves it out; replay again with the ticket in it "
                          "(e.g. `replay --tickets FILE` naming it), or leave out --views to explain it from the "
                          "current views", views=views, ticket=ticket), code="TL-E040")


def _explain(args: argparse.Namespace, out_file: Path | None, printer: Any) -> int:
    from replay import asof

    from ..dispute import UnknownTicket, calendar_rows, render_report, ticket_rows
    from ..printing import PrintError
    from .core import ledger_for, now

    data_dir = Path(args.data_dir)
    if args.views:
        from .core import _ledger_zone

        open_views_file(args.views, zone=lambda: _ledger_zone(args)).close()
    ledger = ledger_for(args)
    as_of = _time(args.as_of_recorded, "--as-of-recorded")
    recorded_by_now(as_of)
    source_as_of = _time(args.as_of_source_recorded, "--as-of-source-recorded")
    if as_of is not None and source_as_of is not None:
        _ = speak()
        raise UserError(_("--as-of-recorded and --as-of-source-recorded: choose one"), code="TL-E001")
    at = _time(args.at, "--at")
    views: Any = None
    try:
        try:
            toid, rows = ticket_rows(ledger, args.ticket)
        except UnknownTicket as e:
            raise UserError(said(e), code="TL-E040") from None
        cut = asof.Cut(recorded=as_of, source_recorded=source_as_of)
        rows = list(asof.cut(rows, cut))
        if not any(r.originator_id == toid for r in rows):  # its asset and contract may be older
            _ = speak()
            raise UserError(_("ticket {ticket} was not yet recorded at {as_of}",
                              ticket=args.ticket, as_of=args.as_of_recorded or args.as_of_source_recorded))
        calendar = list(asof.cut(calendar_rows(ledger), cut))
        proofs = _report_proofs(ledger, rows, cut.recorded_text, args.checkpoint)
        if args.views:
            from .core import _ledger_zone

            views = Path(args.views)
            _refuse_views_without(views, args.ticket, lambda: _ledger_zone(args))
        else:
            current = data_dir / "views.duckdb"
            last = ledger.position
            if as_of is None and source_as_of is None and at is None and _views_position(current) == last:
                views = current
            else:
                # the views for this as-of (or brought up to date), rebuilt by projections in
                # memory: a scratch database the report reads in this process, no file
                from projections import open_views

                from ..dispute import SCRATCH_THREADS
                from ..store_scope import select_scope

                views = open_views(None, threads=SCRATCH_THREADS)
                # replayed in proportion to the question: the ticket, its asset's other tickets,
                # replaced units, site-wide visits, the contracts and the calendar (replay.scope)
                # (the report reads the clocks, their inputs and the liability: no summary or visit
                # period is computed)
                _rebuild_cut(ledger, cut, views, at or cut.evaluation_time() or now(), None,
                             select_scope(ledger, "tickets", [args.ticket], scope_stop(ledger, cut)), upto="liability")
    except BaseException:
        if views is not None and not isinstance(views, Path):
            views.close()
        raise
    finally:
        ledger.close()
    out_dir = out_file.resolve().parent if out_file else Path.cwd()
    try:
        body, report, lang = render_report(
            args.ticket, toid, rows, views, data_dir, args.format, out_dir, as_of_recorded=cut.recorded_text,
            as_of_source_recorded=asof.stamp(source_as_of) if source_as_of else None,
            lang_for=lambda tz: language(timezone=tz), calendar=calendar,  # --lang, else the contract's
            proofs=proofs, printer=printer)
    except PrintError as e:
        raise UserError(said(e)) from None
    finally:
        if not isinstance(views, Path):
            views.close()
    if out_file:
        try:
            out_file.write_bytes(body)
        except OSError as e:
            _ = texts(lang)  # the report's language, as its status line below
            raise UserError(_("--out {out}: cannot be written ({reason}); name a file you can "
                              "write", out=args.out, reason=e.strerror),
                            code="TL-E033") from None
        if args.json:  # what was written, for a program
            emit([{"file": str(args.out), "bytes": len(body), "lang": lang, "format": args.format,
                   "ticket": args.ticket, "events": len(report["timeline"]), "clocks": len(report["clocks"]),
                   "evaluated_at": report["evaluated_at"]}], True)
            return 0
        _ = texts(lang)
        print(_("wrote {out} ({size} bytes, {lang}): ticket {ticket}, {events} events, {clocks} clocks, views "
                "evaluated at {evaluated}", out=args.out, size=f"{len(body):,}", lang=lang, ticket=args.ticket,
                events=len(report["timeline"]), clocks=len(report["clocks"]),
                evaluated=_.time(report["evaluated_at"], report["timezone"], zone=True)))
    else:
        out = getattr(sys.stdout, "buffer", None)
        if out is not None:
            sys.stdout.flush()
            out.write(body)
            out.flush()
        else:
            sys.stdout.write(body.decode())
    return 0


def _report_proofs(ledger: Any, rows: Any, recorded: str | None, checkpoint: str | None) -> dict[str, Any]:
    from ..tlog_evidence import NoCheckpoint, report_proofs

    try:
        return report_proofs(ledger, rows, recorded, checkpoint)
    except NoCheckpoint as e:
        raise UserError(said(e), code="TL-E169") from None


# --- replay (as of / what-if) and diff ---------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    import duckdb

    from replay import asof

    from .core import ledger_for, now
    from .output import emit
    from .scoped import clock_changes, money_changes, scope_of, what_if_of, what_if_scope

    recorded = _time(args.as_of_recorded, "--as-of-recorded")
    recorded_by_now(recorded)
    cut = asof.Cut(position=args.as_of_position, recorded=recorded,
                   occurred=_time(args.as_of_occurred, "--as-of-occurred"),
                   source_recorded=_time(args.as_of_source_recorded, "--as-of-source-recorded"))
    at = _time(args.at, "--at")
    data_dir = Path(args.data_dir)
    ledger_for(args).close()  # a folder without a ledger is refused before the replay folder is made
    ledger = ledger_for(args)
    try:
        terms = what_if_of(args, ledger)
        scope = scope_of(args, ledger, scope_stop(ledger, cut)) or what_if_scope(ledger, terms, scope_stop(ledger, cut))
    finally:
        ledger.close()
    if args.out:
        out = _replay_target(args.out, data_dir)
    else:
        parts = []
        if cut.position is not None:
            parts.append(f"pos{cut.position}")
        for label, t in (("rec", cut.recorded), ("occ", cut.occurred), ("src", cut.source_recorded)):
            if t is not None:
                parts.append(label + asof.stamp(t)[:19].replace(":", "").replace("-", ""))
        if args.terms:
            parts.append("terms-" + Path(args.terms).stem)
        if scope is not None:
            parts.append(scope.kind + "-" + (Path(args.tickets).stem if args.tickets else "-".join(scope.names))[:60])
        out = _replay_target(str(data_dir / "replay" / (("-".join(parts) or "full") + ".duckdb")), data_dir)
    # a what-if's comparison: the same replay under the recorded terms, beside the output
    base = _replay_target(str(out.with_name(out.stem + ".as-recorded.duckdb")), data_dir) if terms else None
    evaluate_at, evaluation = _evaluation_time(args, cut, at, terms)
    ledger = ledger_for(args)
    changes = None
    try:
        position_in_log(cut.position, ledger.position)
        if evaluate_at is None:  # as of a position: its recording time (recording time never decreases)
            last = read_log(ledger, min(cut.position, ledger.position), 1) if ledger.position else []
            evaluate_at = _parse_stamp(last[0].recorded_at) if last else now()
            if cut.recorded_text is not None and last and last[0].recorded_at > cut.recorded_text:
                evaluate_at = cut.recorded
        # a scoped what-if's comparison is the same events' views under the terms as recorded:
        # computed beside the what-if's from the one read and load of those events (projections.Twin);
        # both files hold the same scope, so `diff` of the two shows what the terms changed
        beside = base if base is not None and scope is not None else None
        stats = _rebuild_cut(ledger, cut, out, evaluate_at, terms, scope, compare=beside)
        if base is not None:
            compare_seconds = stats["compared"]["seconds"] if beside is not None else \
                _rebuild_cut(ledger, cut, base, evaluate_at, None, scope).get("seconds", 0.0)
            changes = clock_changes(out, base, scope)
            changes["totals"] = money_changes(out, base, terms.contracts)
    finally:
        ledger.close()
    con = duckdb.connect(str(out), read_only=True)
    try:
        states = con.execute("SELECT state, count(*) FROM sla_clocks GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.close()
    replaced = "as recorded" if terms is None else (
        "every contract" if terms.contracts is None else ", ".join(sorted(terms.contracts)))
    evaluated = stats.get("evaluated_at")
    summary = {"file": str(out), "events": stats.get("events"), "last_position": stats.get("last_position"),
               "cut": cut.describe(), "evaluated_at": asof.stamp(evaluated) if evaluated else None,
               "evaluation": evaluation,
               "terms": args.terms or "as recorded", "terms_for": replaced,
               "scope": scope.describe() if scope else "every event",
               "clocks": {s: n for s, n in states}, "seconds": round(stats.get("seconds", 0.0), 2)}
    if changes is not None:
        summary["what_if"] = changes
        summary["compare_seconds"] = round(compare_seconds, 2)
    if args.json:
        emit([summary], True)
    else:
        from .core import _ledger_zone

        zone = _ledger_zone(args)
        _ = speak(zone)
        every = terms is not None and terms.contracts is None
        terms_used = (_("{file} for {contracts}", file=args.terms, contracts=_("every contract") if every else replaced)
                      if args.terms else _("as recorded"))
        print(_("replayed {events} events ({cut}; terms {terms}) into {out}, evaluated at {when} in {seconds} s",
                events=_.number(summary["events"] or 0), cut=cut.said(_, zone, scoped=scope is not None), terms=terms_used, out=out,
                when=_.time(stats.get("evaluated_at"), zone, zone=True), seconds=summary["seconds"]))
        if terms is not None:  # a what-if's figures are compared: say which moment they are of
            print(_("evaluation time: {why}", why=_(EVALUATION_REASONS[evaluation])))
        if scope is not None and not (args.customer or args.contract or args.tickets):
            print(_("only the contracts the terms replace are replayed (and their comparison): the others keep "
                    "their terms as recorded, as the views show them"))
        if scope is not None:
            print(_("scope: {scope} (the same assets' other tickets, replaced units and site-wide visits "
                    "included)", scope=scope.said(_)))
        print(_("clocks: {states}", states=_.tally((word(_.lang, "state", s), n) for s, n in states) or _("none")))
        if changes is not None:
            moves = _.listing(f"{word(_.lang, 'state', a)} → {word(_.lang, 'state', b)} {_.number(n)}"
                              for a, b, n in ((*k.split("->"), v) for k, v in changes["moves"].items()))
            print(_("what-if against the terms as recorded ({base}): {appeared} clocks appeared, {disappeared} "
                    "disappeared, {changed} changed verdict, {same} unchanged", base=changes["against"],
                    appeared=_.number(changes["appeared"]), disappeared=_.number(changes["disappeared"]),
                    changed=_.number(changes["changed_verdict"]), same=_.number(changes["unchanged"])))
            if moves:
                print(_("verdicts changed: {moves}", moves=moves))
            _print_money_changes(changes["totals"], _)
        print(_("use it: ticketledger explain TICKET --views {out}; ticketledger diff {out} OTHER.duckdb; "
                "or open it read-only in DuckDB (the same tables as views.duckdb)", out=out))
    return 0


# why a replay is evaluated when it is (JSON `evaluation`; said in the summary)
EVALUATION_REASONS = {
    "at": N_("as --at says"),
    "cut": N_("the as-of time"),
    "position": N_("the recording time of the cut's last event"),
    "views": N_("the evaluation time of the ledger's views, so its figures compare with `report`"),
    "now": N_("now: the ledger has no views to compare with"),  # said of a what-if only
}


def _evaluation_time(args: argparse.Namespace, cut: Any, at: Any, terms: Any) -> tuple[Any, str]:
    """When a replay is evaluated, and why (a key of EVALUATION_REASONS): --at, else the as-of
    time (as of a position: None, its recording time is read from the log), else for a what-if
    the ledger's views' evaluation time (its money and verdicts then compare with `report`),
    else now."""
    from .core import now
    from .views import views_evaluated_at

    if at is not None:
        return at, "at"
    if cut.evaluation_time() is not None:
        return cut.evaluation_time(), "cut"
    if cut.position is not None:
        return None, "position"
    if terms is None:
        return now(), "now"
    views_at = views_evaluated_at(args)
    return (views_at, "views") if views_at is not None else (now(), "now")


WHAT_IF_MONEY_COLUMNS = [Column("contract", N_("contract"), "id"), Column("supplier", N_("supplier"), "id"),
                         Column("amount", N_("amount")), Column("as_recorded", N_("as recorded"), "money"),
                         Column("what_if", N_("what-if"), "money"), Column("change", N_("change"), "money_change")]


def _print_money_changes(totals: list[dict[str, Any]], _: Any) -> None:
    """The what-if's money for people: each liability total of the replaced contracts as recorded,
    under the what-if, and the change, in yuan (the amounts' names as `report totals` heads them)."""
    from .tables import REPORTS, column

    table = REPORTS["totals"].table
    rows = [{"contract": t["contract"], "supplier": t["supplier"], "amount": column(table, k).title(_),
             "as_recorded": t["as_recorded"][k], "what_if": t["what_if"][k],
             "change": t["change"][k]}
            for t in totals for k in t["change"]]
    if rows:
        emit(rows, False, columns=WHAT_IF_MONEY_COLUMNS, lang=_.lang,
             title=_("liability totals, as recorded → what-if:"))


def _replay_target(path: str, data_dir: Path) -> Path:
    """`replay --out FILE`: a new file, or a views file to replace; never the ledger's own views
    nor a file that is not a views database (it would be lost without a word)."""
    from ..data_folder import SNAPSHOT_FILE, VIEWS_FILE

    out = output_file("--out", path, "asof.duckdb")
    if out.resolve() in ((data_dir / VIEWS_FILE).resolve(), (data_dir / SNAPSHOT_FILE).resolve()):
        _ = speak()
        raise UserError(_("--out {path} is the ledger's own views; name another file, e.g. "
                          "{example}", path=path, example=data_dir / 'replay' / 'asof.duckdb'))
    if out.exists():
        try:
            open_views_file(out, "--out").close()
        except UserError:
            _ = speak()
            raise UserError(_("--out {path} exists and is not a views file (DuckDB): replay "
                              "replaces only views files; name a new file, or move this one away "
                              "first", path=path)) from None
    return out


def _rebuild_cut(ledger: Any, cut: Any, out: Any, evaluate_at: Any, terms: Any,
                 scope: Any = None, upto: str = "all", twin: Any = None, compare: Path | None = None) -> dict[str, Any]:
    """Views of the events inside `cut` (of `scope` only, if given: replay.scope) in a fresh file
    (or an open views database, rebuilt in place).
    A cut by position or recording time is a prefix of the log: the store's bulk reader streams
    it straight into DuckDB. A cut by occurrence time or by the desk's recording time filters
    row by row (replay.asof.cut). `upto`: the views computed (projections.rebuild), for an open
    database read once (explain's). `compare` (with a scope, into a file): a second file of the
    same events' views under the terms as recorded, computed beside them (projections.Twin; its
    computation's stats are `compared`); `twin`: that Twin, passed on to the rebuild."""
    from replay import asof

    from .output import rebuild_bars

    # the log position a scoped replay reads up to, read before it: its checkpoint holds it (prune)
    read_to = (scope_stop(ledger, cut) or ledger.position) if scope is not None else None
    if scope is not None and isinstance(out, Path):
        # rebuilt aside (the file it replaces stays whole until then) and pruned on the same
        # connection: not reopened to prune
        from projections import Twin, open_views
        from replay.scope import prune

        aside = [(f, f.with_name(f.name + ".rebuild")) for f in (out, compare) if f is not None]
        for _, fresh in aside:
            for p in (fresh, Path(str(fresh) + ".wal")):
                p.unlink(missing_ok=True)
        twin = Twin(aside[1][1], None, then=lambda c: prune(c, scope, read_to)) if compare is not None else None
        con = open_views(aside[0][1])
        try:
            stats = _rebuild_cut(ledger, cut, con, evaluate_at, terms, scope, twin=twin)
        finally:
            con.close()
        for final, fresh in aside:
            os.replace(fresh, final)
            Path(str(final) + ".wal").unlink(missing_ok=True)
        return {**stats, "compared": twin.stats} if twin is not None else stats

    originators = scope.originators if scope is not None else None
    filtered = cut.occurred is not None or cut.source_recorded is not None
    # a scope's share of the log is not known before it is read: its bar counts without a total
    bars = rebuild_bars(None if scope is not None else
                        events_in_cut(ledger, cut.position, None if filtered else cut.recorded))
    if not filtered:
        from ..store_arrow import rebuild_from_store

        stats = rebuild_from_store(ledger, out, evaluate_at, as_of_position=cut.position,
                                   as_of_recorded=cut.recorded_text, terms_override=terms, progress=bars,
                                   originators=originators, upto=upto, twin=twin)
    else:  # every row up to the cut's position or recording time is read, and counted as read
        from ..store_scope import scoped_rows

        rows = iter_log(ledger, stop=cut.position) if scope is None else \
            scoped_rows(ledger, originators, stop=cut.position)
        stats = asof.rebuild(asof.cut(bars.reading(rows) if bars else rows, cut), out, evaluate_at=evaluate_at,
                             terms_override=terms, progress=bars, upto=upto, twin=twin)
    if bars:
        bars.done()
    if scope is not None:
        from replay.scope import prune

        prune(out, scope, read_to)  # an open views database (above; explain's, in memory)
    return stats


def events_in_cut(ledger: Any, position: int | None, recorded: Any) -> int:
    """How many stored events a prefix cut holds (a rebuild's total): up to `position`, and up to
    the last position recorded by `recorded` — found by bisection, recording time never
    decreasing along the log (§9.13) — on the ledger's positions 1…N."""
    from replay import asof

    last = ledger.position if position is None else min(position, ledger.position)
    if recorded is None or last == 0:
        return last
    stamp = recorded if isinstance(recorded, str) else asof.stamp(recorded)
    lo, hi = 0, last  # position lo is recorded by then (0: none), hi + 1 is not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if read_log(ledger, mid, 1)[0].recorded_at <= stamp:
            lo = mid
        else:
            hi = mid - 1
    return lo


def scope_stop(ledger: Any, cut: Any) -> int | None:
    """The last log position a cut can hold (None: any): a scope is selected among the events up
    to it, since links made by facts after the cut are not replayed. Recording time is a prefix
    of the log (§9.13); occurrence and the desk's recording time are not."""
    if cut.position is None and cut.recorded is None:
        return None
    return events_in_cut(ledger, cut.position, cut.recorded)


def _parse_stamp(s: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def cmd_diff(args: argparse.Namespace) -> int:
    import duckdb

    from replay.diff import DEFAULT_TABLES, MissingTable, diff_table, flat, summary

    from .output import emit

    for f in (args.a, args.b):
        open_views_file(f, "").close()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH {sql_text(Path(args.a).resolve())} AS va (READ_ONLY)")
        if Path(args.a).resolve() == Path(args.b).resolve():
            con.execute("CREATE VIEW _same AS SELECT 1")
            b = "va"
        else:
            con.execute(f"ATTACH {sql_text(Path(args.b).resolve())} AS vb (READ_ONLY)")
            b = "vb"
        rows: list[dict[str, Any]] = []  # every differing row: the summary and the total count them all
        listed: list[dict[str, Any]] = []  # what is printed: at most --limit of each table
        tables = args.table or DEFAULT_TABLES
        with Progress("diff", total=len(tables), every=1, unit=speak()("tables")) as progress:
            for t in tables:
                try:
                    found = diff_table(con, "va", b, t)
                except MissingTable as e:  # name the file, not its attached alias
                    _ = speak()
                    raise UserError(_("table {table} is not in {views}; its tables: {have}",
                                      table=repr(e.table), views=args.a if e.db == 'va' else args.b,
                                      have=', '.join(e.have))) from None
                rows += found
                listed += found[:args.limit]
                progress.add(1)
    finally:
        con.close()
    if args.json:
        sys.stdout.write(msgspec.json.encode(listed).decode() + "\n")
        return 1 if rows else 0
    _ = speak()
    emit(summary(rows, tables), False, columns=DIFF_SUMMARY_COLUMNS, title=f"A = {args.a}\nB = {args.b}",
         lang=_.lang)
    if listed:
        print()
        emit(flat(listed), False, columns=DIFF_COLUMNS, lang=_.lang)
    if len(listed) < len(rows):
        print(_("{n} row(s) differ; {shown} listed (--limit {limit} per table)", n=_.number(len(rows)),
                shown=_.number(len(listed)), limit=_.number(args.limit)))
    else:
        print(_("{n} row(s) differ", n=_.number(len(rows))))
    return 1 if rows else 0


DIFF_SUMMARY_COLUMNS = [Column("table", N_("table"), "id"), Column("changed", N_("changed"), "number"),
                        Column("only_in_a", N_("only in A"), "number"), Column("only_in_b", N_("only in B"), "number")]
DIFF_COLUMNS = [Column("table", N_("table"), "id"), Column("key", N_("row")), Column("change", N_("change"), "change"),
                Column("column", N_("column"), "id"), Column("a", "A"), Column("b", "B")]

