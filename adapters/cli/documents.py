"""Documents for people beyond one ticket (issue 17): `statement`, the monthly statement.

The figures are the views' (replay/statement.py); this module opens the views and the store,
finds the restatements (facts recorded since the previous statement that occurred before this
month) and replays the tickets they touch without them, and writes HTML, PDF or XLSX.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from . import UserError

RESTATED_TICKETS_MAX = 500  # a statement lists restatements, it is not a replay of the year


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "statement",
        help="a customer's monthly service statement (HTML, PDF or XLSX): breach rates, breaches, money, visits",
        description="The statement a service manager sends a customer each month, from the views: breach "
                    "rates per clock and severity against the promise, each breached clock, the clocks still "
                    "running at month end, follow-up and inspection periods done, due and missed, what each "
                    "side owes in yuan, and the previous month beside it. Pinned to the views' cut (log "
                    "position and evaluation time, printed); figures of earlier months that facts recorded "
                    "since the previous statement changed are listed as restatements. XLSX cells are real "
                    "numbers, dates and yuan, so the workbook sums in Excel.",
    )
    p.add_argument("--customer", required=True, help="the customer's id (as in the contract)")
    p.add_argument("--contract", default=None, help="only this contract of the customer")
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="the month, in the contract's time zone")
    p.add_argument("--format", choices=("html", "pdf", "xlsx"), default="html")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the statement")
    p.add_argument("--views", metavar="FILE", help="another views file, e.g. one written by `replay --out`")
    p.set_defaults(func=cmd_statement)


def cmd_statement(args: argparse.Namespace) -> int:
    from replay import statement as st

    from .output import language
    from .views import open_for_reading, output_file

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        raise UserError(f"--month {args.month!r}: write a month as YYYY-MM, e.g. 2025-10", code="TL-E001")
    out = output_file("--out", args.out, f"statement-{args.month}.{args.format}")
    con = open_for_reading(args)
    try:
        known = con.execute("SELECT count(*) FROM terms WHERE customer = ?" + (" AND contract = ?" if args.contract
                            else ""), [args.customer] + ([args.contract] if args.contract else [])).fetchone()[0]
        if not known:
            what = f"contract {args.contract} of customer {args.customer}" if args.contract else f"customer {args.customer}"
            raise UserError(f"no {what} in the views; `ticketledger contract show ID` shows a contract's customer",
                            code="TL-E040")
        data = st.build_statement(con, args.customer, args.month, contract=args.contract)
        data["restatements"] = restatements(args, con, data)
    finally:
        con.close()
    lang = language(timezone=data["timezone"])  # --lang, else $TICKETLEDGER_LANG, else the contract's
    if args.format == "xlsx":
        body = st.render_xlsx(data, lang)
    else:
        body = st.render_html(data, lang)
        if args.format == "pdf":
            from ..printing import PrintError, print_pdf

            try:
                body = print_pdf(body, data["cut"]["evaluated_at"])
            except PrintError as e:
                raise UserError(str(e)) from None
    try:
        out.write_bytes(body)
    except OSError as e:
        raise UserError(f"--out {args.out}: cannot be written ({e.strerror}); name a file you can write",
                        code="TL-E033") from None
    cur = data["current"]["totals"]
    print(f"wrote {args.out} ({len(body):,} bytes, {lang}): {args.customer} {args.month}, "
          f"{cur['breached']} of {cur['applicable']} clocks breached, {cur['tickets']} tickets, "
          f"{len(data['restatements'])} restatements; log position {data['cut']['position']}, "
          f"evaluated at {data['cut']['evaluated_at']}")
    return 0


def restatements(args: argparse.Namespace, con: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Clock verdicts of earlier months changed by facts recorded since the previous statement
    (the end of the previous month) that occurred before this month — recorded by the source desk
    for imported facts, else by the ledger, as late entries are measured (§9.12): each such
    ticket replayed without those facts (the projections' one code path, in memory) beside the
    views' rows."""
    from replay import statement as st

    from ..dispute import calendar_rows, clocks_without, ticket_rows
    from .core import ledger_for

    tz = data["timezone"]
    month_start, _ = st.month_bounds(args.month, tz)
    since, _ = st.month_bounds(args.month, tz)  # the previous statement's cut: this month's start
    late = con.execute(
        """SELECT e.id, e.position, e.type, e.occurred_at, e.recorded_at FROM events e
           JOIN liability l ON l.ticket = e.id
           WHERE e.aggregate = 'ticket' AND coalesce(e.source_recorded_at, e.recorded_at) >= ?
             AND e.occurred_at < ? AND l.customer = ?
             AND l.reported_at < ?""" + (" AND l.contract = ?" if args.contract else "") + " ORDER BY e.id, e.position",
        [since, month_start, args.customer, month_start] + ([args.contract] if args.contract else [])).fetchall()
    if not late:
        return []
    by_ticket: dict[str, list[tuple]] = {}
    for row in late:
        by_ticket.setdefault(row[0], []).append(row)
    tickets = sorted(by_ticket)[:RESTATED_TICKETS_MAX]
    evaluated = data["cut"]["evaluated_at"]
    ledger = ledger_for(args)
    try:
        calendar = calendar_rows(ledger)
        rows = {t: ticket_rows(ledger, t)[1] for t in tickets}
    finally:
        ledger.close()
    cut = data["cut"]["position"]
    leave_out = {r[1] for t in tickets for r in by_ticket[t]}
    kept = [r for t in tickets for r in rows[t] if cut is None or r.position <= cut]
    before: dict[tuple[str, str], dict[str, Any]] = {
        (c["ticket"], c["clock"]): c for c in clocks_without(tickets, kept + calendar, leave_out, evaluated)}
    cur = con.execute("SELECT * FROM sla_clocks WHERE list_contains(?, ticket) ORDER BY ticket, clock", [tickets])
    cols = [d[0] for d in cur.description]
    out = []
    for after in (dict(zip(cols, r, strict=True)) for r in cur.fetchall()):
        was = before.get((after["ticket"], after["clock"]))
        if was is not None and (was["state"], _rounded(was["breach_minutes"]), was["deadline"]) == (
                after["state"], _rounded(after["breach_minutes"]), after["deadline"]):
            continue
        out.append({"ticket": after["ticket"], "month": after["month"], "clock": after["clock"],
                    "before": was or {"state": "not_applicable"}, "after": after,
                    "facts": [{"position": r[1], "type": r[2], "occurred_at": r[3], "recorded_at": r[4]}
                              for r in by_ticket[after["ticket"]]]})
    return out


def _rounded(v: Any) -> Any:
    return round(v) if isinstance(v, float) else v

