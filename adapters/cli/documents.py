"""Documents for people beyond one ticket (issue 17): `statement`, the monthly statement.

The command reads its options and writes the file; the statement itself is built in
adapters/statements.py, which the console's download shares.
"""

from __future__ import annotations

import argparse
import sys

from domain.errors import N_
from replay.i18n import plural, texts

from . import UserError, printer_ahead
from .output import Column, emit, said, speak

# counted in the line that says what `statement` wrote ("1 restatement", not "1 restatements")
TICKETS = plural("{n} ticket", "{n} tickets")
RESTATEMENTS = plural("{n} restatement", "{n} restatements")
FORMATS = ("html", "pdf", "xlsx")
# counted in the summary of `statement --all`
FILES = plural("{n} file written", "{n} files written")
PARTIES = plural("{n} customer and contract", "{n} customers and contracts")
FAILED = plural("{n} failed", "{n} failed")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "statement",
        help=N_("a customer's monthly service statement (HTML, PDF or XLSX): breach rates, breaches, money, visits"),
        description=N_("The statement a service manager sends a customer each month, from the views: breach "
                    "rates per clock and severity against the promise, each breached clock, the clocks still "
                    "running at month end, follow-up and inspection periods done, due and missed, what each "
                    "side owes in yuan, and the previous month beside it. Pinned to the views' cut (log "
                    "position and evaluation time, printed); figures of earlier months that facts recorded "
                    "since the previous statement changed are listed as restatements. XLSX cells are real "
                    "numbers, dates and yuan, so the workbook sums in Excel."),
    )
    p.add_argument("--customer", help=N_("the customer's id (as in the contract); or --all, or --list"))
    p.add_argument("--all", action="store_true",
                   help=N_("every customer's statement of the month, one file per customer and contract "
                           "(statement-CUSTOMER-CONTRACT-YYYY-MM.FORMAT) in --out-dir"))
    p.add_argument("--list", action="store_true",
                   help=N_("list the customers and contracts the views hold (with --month: whether each has facts "
                           "in it), and write nothing"))
    p.add_argument("--contract", default=None, help=N_("only this contract of the customer"))
    p.add_argument("--month", metavar="YYYY-MM", help=N_("the month, in the contract's time zone"))
    p.add_argument("--format", choices=FORMATS, action="append", default=None,
                   help=N_("html, pdf (A4) or xlsx (default: the --out file's suffix); with --all it may repeat, "
                           "e.g. --format html (default pdf and xlsx)"))
    p.add_argument("--out", metavar="FILE", help=N_("where to write the statement"))
    p.add_argument("--out-dir", metavar="DIR", help=N_("with --all: the folder the statements are written to"))
    p.add_argument("--views", metavar="FILE", help=N_("another views file, e.g. one written by `replay --out`"))
    p.set_defaults(func=cmd_statement)


# the suffixes a statement file may have when --format does not say (.htm is HTML too)
SUFFIXES = (".html", ".htm", ".pdf", ".xlsx")


def statement_suffix(out: str) -> None:
    """An --out name whose suffix says no statement format (x.docx, no suffix) is refused when
    --format is not given: HTML written under it would open as junk, or not at all."""
    from pathlib import Path

    suffix = Path(out).suffix
    if suffix.lower() not in SUFFIXES:
        _ = speak()
        known = ", ".join(SUFFIXES)
        raise UserError(_("--out {out}: .{suffix} is not a statement's format; name the file {known}, or say "
                          "--format html, pdf or xlsx", out=out, suffix=suffix.removeprefix("."), known=known)
                        if suffix else
                        _("--out {out} has no suffix to say the statement's format; name the file {known}, or say "
                          "--format html, pdf or xlsx", out=out, known=known),
                        code="TL-E001")


def cmd_statement(args: argparse.Namespace) -> int:
    import contextlib

    from replay.statement import LIST_ROWS

    from .. import statements as sts
    from ..printing import Printer, PrintError
    from .core import ledger_for
    from .output import language
    from .views import (
        document_format,
        open_for_reading,
        output_file,
        say_if_behind,
        unknown_party,
        views_behind,
    )

    which(args)
    if args.list:
        return cmd_statement_list(args)
    if args.all:
        return cmd_statement_all(args)
    if args.format is None:
        statement_suffix(args.out)
    elif len(args.format) > 1:
        _ = speak()
        raise UserError(_("--format {formats}: one --out file holds one format; name one, or write several with "
                          "--all --out-dir DIR", formats=", ".join(args.format)), code="TL-E001")
    args.format = document_format(args.format[0] if args.format else None, args.out, FORMATS, "html")
    out = output_file("--out", args.out, f"statement-{args.month}.{args.format}")
    try:  # Chromium starts while the views are read (adapters.printing.Printer)
        printer = (printer_ahead() or Printer()) if args.format == "pdf" else None
    except PrintError as e:
        raise UserError(said(e)) from None
    with printer or contextlib.nullcontext():
        con = open_for_reading(args)
        try:
            behind = views_behind(args, con)
            # a printed statement shows the first LIST_ROWS of each list; the workbook holds them all
            data = sts.statement_data(con, args.customer, args.month, args.contract,
                                      lambda: contextlib.closing(ledger_for(args)),
                                      listed=None if args.format == "xlsx" else LIST_ROWS)
        except sts.UnknownCustomer:
            from .core import _ledger_zone

            raise with_customers_held(unknown_party(args.customer, args.contract, _ledger_zone(args), args.views),
                                      con, _ledger_zone(args)) from None
        else:
            stated = sts.month_stated(con, args.customer, args.contract, args.month, data["cut"]["evaluated_at"])
            stated_from = None if stated else sts.first_fact(con, args.customer, args.contract)
        finally:
            con.close()
        if data["after_cut"]:  # nothing of it has happened yet: no statement, not an empty one
            _ = speak(data["timezone"])
            raise UserError(_("--month {month}: the month has not begun at the views' evaluation time ({when}); "
                              "name a month up to {latest}, or bring the views up to date (views rebuild)",
                              month=args.month, when=_.time(data["cut"]["evaluated_at"], data["timezone"], zone=True),
                              latest=_.time(data["cut"]["evaluated_at"], data["timezone"])[:7]), code="TL-E041")
        if behind is not None:  # the document says it too, under the cut it is pinned to
            data["cut"]["log_position"] = behind.log
        lang = language(timezone=data["timezone"])  # --lang, else $TICKETLEDGER_LANG, else the contract's
        try:
            body = sts.render(data, args.format, lang, printer)
        except PrintError as e:
            raise UserError(said(e)) from None
    try:
        out.write_bytes(body)
    except OSError as e:
        _ = speak(data["timezone"])
        raise UserError(_("--out {out}: cannot be written ({reason}); name a file you can write",
                          out=args.out, reason=e.strerror),
                        code="TL-E033") from None
    from replay.exhibit import what_if_banner, what_if_fields
    from replay.restated import restated_cut_said

    cur = data["current"]["totals"]
    say_if_behind(behind, texts(lang))
    _ = speak(data["timezone"])
    if not stated:  # written all the same (a month may be asked ahead), but said: it holds nothing yet
        zone, first = data["timezone"], stated_from
        print(_("warning: {customer} has no facts in {month}: the views are evaluated at {when}, and its first "
                "fact dates from {first}; the statement holds nothing", customer=args.customer, month=args.month,
                when=_.time(data["cut"]["evaluated_at"], zone, zone=True),
                first=_.time(first, zone, zone=True) if first else _("no time (none yet)")), file=sys.stderr)
    if data.get("restatements_cut"):  # the list is not the whole: said where the clerk reads it too
        print(_("warning: {cut}", cut=restated_cut_said(data["restatements_cut"], lang)), file=sys.stderr)
    if args.json:  # what was written, for a program (the warning above stays on stderr)
        from datetime import UTC

        evaluated = data["cut"]["evaluated_at"]
        if evaluated:  # to the second with Z, as every other JSON time (not the store's microseconds)
            evaluated = (evaluated.replace(tzinfo=UTC) if evaluated.tzinfo is None else evaluated).astimezone(UTC)
        emit([{"file": str(args.out), "bytes": len(body), "lang": lang, "format": args.format,
               "customer": args.customer, "month": args.month, "breached": cur["breached"],
               "applicable": cur["applicable"], "tickets": cur["tickets"], "restatements": len(data["restatements"]),
               "position": data["cut"]["position"], "evaluated_at": f"{evaluated:%Y-%m-%dT%H:%M:%SZ}" if evaluated else None,
               "facts_in_month": stated, "interim": data["interim"], "restatements_cut": data.get("restatements_cut"),
               "views_behind": behind.as_json() if behind else None,
               **what_if_fields(data.get("what_if"), texts(lang))}], True)
        return 0
    wrote = _("wrote {out} ({size} bytes, {lang}): {customer} {month}, {breached} of {applicable} clocks breached, "
              "{tickets}, {restatements}; log position {position}, evaluated at {evaluated}",
              out=args.out, size=f"{len(body):,}", lang=lang, customer=args.customer, month=args.month,
              breached=cur["breached"], applicable=cur["applicable"], tickets=_.plural(*TICKETS, cur["tickets"]),
              restatements=_.plural(*RESTATEMENTS, len(data["restatements"])), position=data["cut"]["position"],
              evaluated=_.time(data["cut"]["evaluated_at"], data["timezone"], zone=True))
    # a what-if's figures are a hypothesis: the line that reports them says so too
    print(_("{wrote}; {what_if}", wrote=wrote, what_if=what_if_banner(data["what_if"], _)) if data.get("what_if")
          else wrote)
    return 0



def which(args: argparse.Namespace) -> None:
    """One of --customer, --all and --list, with the options each takes: refused before any work."""
    _ = speak()
    chosen = [o for o, v in (("--customer", args.customer), ("--all", args.all), ("--list", args.list)) if v]
    if len(chosen) != 1:
        raise UserError(_("{given}: name one customer (--customer C --month YYYY-MM --out FILE), or every customer "
                          "(--all --month YYYY-MM --out-dir DIR), or --list the customers",
                          given=" ".join(chosen) if chosen else _("none of --customer, --all, --list")),
                        code="TL-E001")
    # what each takes: --customer an --out file, --all an --out-dir, --list neither (nor a --format)
    refused = {"--customer": ("--out-dir",), "--all": ("--out",), "--list": ("--out", "--out-dir", "--format")}
    wrong = [o for o in refused[chosen[0]] if getattr(args, o[2:].replace("-", "_")) is not None]
    if wrong:
        raise UserError(_("{options} with {chosen}: {chosen} takes {takes}", options=", ".join(wrong), chosen=chosen[0],
                          takes={"--customer": "--out FILE", "--all": "--out-dir DIR", "--list": "--month, --contract"}[chosen[0]]),
                        code="TL-E001")
    needed = [o for o, v in (("--month", args.month), ("--out", args.out), ("--out-dir", args.out_dir))
              if v is None and (o == "--month" and not args.list or o == "--out" and args.customer
                                or o == "--out-dir" and args.all)]
    if needed:
        raise UserError(_("{chosen} needs {options}", chosen=chosen[0], options=", ".join(needed)), code="TL-E001")
    if args.month is not None:
        from ..statements import MONTH

        if not MONTH.fullmatch(args.month):
            raise UserError(_("--month {month}: write a month as YYYY-MM, e.g. 2025-10",
                              month=repr(args.month)), code="TL-E001")


CUSTOMERS_SHOWN = 10  # an unknown customer's refusal names this many of the views' customers


def with_customers_held(error: UserError, con: object, zone: str | None) -> UserError:
    """The refusal of an unknown --customer, naming the customers the views hold (the first
    CUSTOMERS_SHOWN, "…" beyond), so that a typo is seen at once."""
    held = [r[0] for r in con.execute(  # type: ignore[attr-defined]
        "SELECT DISTINCT customer FROM terms WHERE customer IS NOT NULL ORDER BY customer").fetchall()]
    _ = speak(zone)
    if not held:
        return UserError(_("{error}; the views hold no customer yet", error=str(error)), code=error.code)
    shown = ", ".join(held[:CUSTOMERS_SHOWN]) + (", …" if len(held) > CUSTOMERS_SHOWN else "")
    return UserError(_("{error}; the views hold {n} customers: {customers} (`ticketledger statement --list` lists "
                       "them with their contracts)", error=str(error), n=len(held), customers=shown), code=error.code)


def _parties(con: object, contract: str | None) -> list[dict]:
    """The views' customers and contracts, each pair once, with the customer's and supplier's names."""
    rows = con.execute(  # type: ignore[attr-defined]
        """SELECT customer, contract, arg_max(terms->>'customer_name', version) AS customer_name,
                  arg_max(supplier, version) AS supplier FROM terms
           WHERE customer IS NOT NULL AND (CAST(? AS VARCHAR) IS NULL OR contract = ?)
           GROUP BY customer, contract ORDER BY customer, contract""", [contract, contract])
    cols = [d[0] for d in rows.description]
    return [dict(zip(cols, r, strict=True)) for r in rows.fetchall()]


def cmd_statement_list(args: argparse.Namespace) -> int:
    """`statement --list [--month M] [--contract K]`: the customers and contracts a statement can be
    written for, and with --month whether each has facts in that month."""
    from .. import statements as sts
    from .core import _ledger_zone
    from .views import open_for_reading, unknown_party

    con = open_for_reading(args)
    try:
        rows = _parties(con, args.contract)
        if args.contract and not rows:
            raise unknown_party(None, args.contract, _ledger_zone(args), args.views)
        if args.month:
            evaluated = con.execute("SELECT max(evaluated_at) FROM checkpoint").fetchone()[0]
            for r in rows:
                r["facts_in_month"] = sts.month_stated(con, r["customer"], r["contract"], args.month, evaluated)
    finally:
        con.close()
    columns = [Column("customer", N_("customer"), "id"), Column("customer_name", N_("customer name")),
               Column("contract", N_("contract"), "id"), Column("supplier", N_("supplier"), "id")]
    if args.month:
        columns.append(Column("facts_in_month", N_("facts in the month"), "bool"))
    emit(rows, args.json, columns, lang=None if args.json else speak(_ledger_zone(args)).lang)
    return 0


def cmd_statement_all(args: argparse.Namespace) -> int:
    """`statement --all --month M --out-dir DIR [--format pdf,xlsx]`: every customer's statement of
    the month, one file per customer, contract and format, named as the console names its
    downloads (statement-CUSTOMER-CONTRACT-YYYY-MM.FORMAT). One failure does not stop the rest: each
    is said at the end, and the exit code is 1 when any failed. A customer and contract without
    facts in the month is skipped and said (a statement of nothing is not sent)."""
    import contextlib
    import re
    from pathlib import Path

    from replay.statement import LIST_ROWS, month_bounds

    from .. import statements as sts
    from ..printing import Printer, PrintError
    from .core import _ledger_zone, ledger_for
    from .output import Progress, language
    from .views import (
        DEFAULT_TZ,
        contract_zones,
        open_for_reading,
        say_if_behind,
        unknown_party,
        views_behind,
    )

    # each once, in the order asked; by default the PDF to print and the workbook it points to for every line
    formats = list(dict.fromkeys(args.format or ["pdf", "xlsx"]))
    out_dir = Path(args.out_dir)
    _ = speak(_ledger_zone(args))  # the clerk's lines in the ledger's language, as a single statement's
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(_("--out-dir {dir} is a file; name a folder (it is created if missing)", dir=args.out_dir),
                        code="TL-E033")
    held: list = []  # one ledger for every statement's restatements, opened at the first that needs it

    @contextlib.contextmanager
    def ledger():  # type: ignore[no-untyped-def]
        if not held:
            held.append(ledger_for(args))
        yield held[0]

    written: list[dict] = []
    skipped: list[dict] = []
    failed: list[dict] = []
    try:
        printer = (printer_ahead() or Printer()) if "pdf" in formats else None
    except PrintError as e:
        raise UserError(said(e)) from None
    con = open_for_reading(args)
    try:
        with printer or contextlib.nullcontext():
            behind = views_behind(args, con)
            parties = _parties(con, args.contract)
            if args.contract and not parties:
                raise unknown_party(None, args.contract, _ledger_zone(args), args.views)
            evaluated = con.execute("SELECT max(evaluated_at) FROM checkpoint").fetchone()[0]
            zone = DEFAULT_TZ if not parties else contract_zones(con).get(parties[0]["contract"], DEFAULT_TZ)
            if evaluated is not None and month_bounds(args.month, zone)[0] > evaluated:
                # nothing of it has happened yet, for any customer: refused as a single statement's is
                raise UserError(_("--month {month}: the month has not begun at the views' evaluation time ({when}); "
                                  "name a month up to {latest}, or bring the views up to date (views rebuild)",
                                  month=args.month, when=_.time(evaluated, zone, zone=True),
                                  latest=_.time(evaluated, zone)[:7]), code="TL-E041")
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise UserError(_("--out-dir {dir}: cannot be made ({reason}); name a folder you can write",
                                  dir=args.out_dir, reason=e.strerror), code="TL-E033") from None
            with Progress(_("statements {month}", month=args.month), total=len(parties), every=1,
                          unit=_("customers and contracts")) as progress:
                for party in parties:
                    customer, contract = party["customer"], party["contract"]
                    one = {"customer": customer, "contract": contract}
                    try:
                        if not (re.fullmatch(r"[A-Za-z0-9_-]{1,64}", customer)
                                and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", contract)):
                            # a file name made of it could leave the folder
                            raise UserError(_("an id that cannot name a file: write this one with --customer and --out"))
                        if not sts.month_stated(con, customer, contract, args.month, evaluated):
                            skipped.append({**one, "reason": "no_facts_in_month"})
                            continue
                        data = sts.statement_data(con, customer, args.month, contract, ledger,
                                                  listed=None if "xlsx" in formats else LIST_ROWS)
                        lang = language(timezone=data["timezone"])
                        for fmt in formats:
                            path = out_dir / f"statement-{customer}-{contract}-{args.month}.{fmt}"
                            try:
                                body = sts.render(data, fmt, lang, printer)
                                path.write_bytes(body)
                            except (PrintError, OSError) as e:
                                failed.append({**one, "format": fmt, "file": str(path), "error": said(e)})
                                continue
                            cur = data["current"]["totals"]
                            written.append({**one, "format": fmt, "file": str(path), "bytes": len(body),
                                            "lang": lang, "breached": cur["breached"],
                                            "applicable": cur["applicable"], "tickets": cur["tickets"],
                                            "restatements": len(data["restatements"]),
                                            "restatements_cut": data.get("restatements_cut")})
                    except UserError as e:
                        failed.append({**one, "format": None, "file": None, "error": str(e)})
                    except Exception as e:  # noqa: BLE001 — one statement's failure is said; the others are written
                        failed.append({**one, "format": None, "file": None, "error": said(e) or type(e).__name__})
                    finally:
                        progress.add(1)
    finally:
        con.close()
        for h in held:
            h.close()
    say_if_behind(behind, _)
    if args.json:
        from .output import write_json

        write_json([{"month": args.month, "out_dir": str(out_dir), "written": written, "skipped": skipped,
                     "failed": failed, "views_behind": behind.as_json() if behind else None}])
        return 1 if failed else 0
    for w in written:
        print(_("wrote {file} ({size} bytes, {lang}): {breached} of {applicable} clocks breached, {tickets}, "
                "{restatements}", file=w["file"], size=f"{w['bytes']:,}", lang=w["lang"], breached=w["breached"],
                applicable=w["applicable"], tickets=_.plural(*TICKETS, w["tickets"]),
                restatements=_.plural(*RESTATEMENTS, w["restatements"])))
    for s in skipped:
        print(_("skipped {customer} {contract}: no facts in {month}", customer=s["customer"],
                contract=s["contract"], month=args.month))
    for f in failed:
        print(_("failed {customer} {contract}{format}: {error}", customer=f["customer"], contract=f["contract"],
                format=f" {f['format']}" if f["format"] else "", error=f["error"]), file=sys.stderr)
    print(_("{month}: {written} in {dir}; {skipped} without facts in the month skipped; {failed}", month=args.month,
            written=_.plural(*FILES, len(written)), dir=out_dir, skipped=_.plural(*PARTIES, len(skipped)),
            failed=_.plural(*FAILED, len(failed))))
    return 1 if failed else 0
