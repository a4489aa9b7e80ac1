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
from .output import emit, said, speak

# counted in the line that says what `statement` wrote ("1 restatement", not "1 restatements")
TICKETS = plural("{n} ticket", "{n} tickets")
RESTATEMENTS = plural("{n} restatement", "{n} restatements")


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
    p.add_argument("--customer", required=True, help=N_("the customer's id (as in the contract)"))
    p.add_argument("--contract", default=None, help=N_("only this contract of the customer"))
    p.add_argument("--month", required=True, metavar="YYYY-MM", help=N_("the month, in the contract's time zone"))
    p.add_argument("--format", choices=("html", "pdf", "xlsx"), default=None,
                   help=N_("html, pdf (A4) or xlsx (default: the --out file's suffix, else html)"))
    p.add_argument("--out", required=True, metavar="FILE", help=N_("where to write the statement"))
    p.add_argument("--views", metavar="FILE", help=N_("another views file, e.g. one written by `replay --out`"))
    p.set_defaults(func=cmd_statement)


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

    if not sts.MONTH.fullmatch(args.month):
        _ = speak()
        raise UserError(_("--month {month}: write a month as YYYY-MM, e.g. 2025-10",
                          month=repr(args.month)), code="TL-E001")
    args.format = document_format(args.format, args.out, ("html", "pdf", "xlsx"), "html")
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

            raise unknown_party(args.customer, args.contract, _ledger_zone(args), args.views) from None
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

    cur = data["current"]["totals"]
    say_if_behind(behind, texts(lang))
    _ = speak(data["timezone"])
    if not stated:  # written all the same (a month may be asked ahead), but said: it holds nothing yet
        zone, first = data["timezone"], stated_from
        print(_("warning: {customer} has no facts in {month}: the views are evaluated at {when}, and its first "
                "fact dates from {first}; the statement holds nothing", customer=args.customer, month=args.month,
                when=_.time(data["cut"]["evaluated_at"], zone, zone=True),
                first=_.time(first, zone, zone=True) if first else _("no time (none yet)")), file=sys.stderr)
    if args.json:  # what was written, for a program (the warning above stays on stderr)
        from datetime import UTC

        evaluated = data["cut"]["evaluated_at"]
        if evaluated:  # to the second with Z, as every other JSON time (not the store's microseconds)
            evaluated = (evaluated.replace(tzinfo=UTC) if evaluated.tzinfo is None else evaluated).astimezone(UTC)
        emit([{"file": str(args.out), "bytes": len(body), "lang": lang, "format": args.format,
               "customer": args.customer, "month": args.month, "breached": cur["breached"],
               "applicable": cur["applicable"], "tickets": cur["tickets"], "restatements": len(data["restatements"]),
               "position": data["cut"]["position"], "evaluated_at": f"{evaluated:%Y-%m-%dT%H:%M:%SZ}" if evaluated else None,
               "facts_in_month": stated, "interim": data["interim"], "views_behind": behind.as_json() if behind else None,
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

