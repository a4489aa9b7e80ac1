"""The monthly statement as a document (issue 17), below the CLI and the console: both build it
here, so `ticketledger statement` and the console's download are one path.

The figures are the views' (replay/statement.py); this module finds the restatements (facts
recorded since the previous statement that occurred before this month), replays the tickets
they touch without them, and writes HTML, PDF or XLSX.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import msgspec

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
RESTATED_TICKETS_MAX = 500  # a statement lists restatements, it is not a replay of the year
RESTATED_COLUMNS = "ticket, clock, month, state, breach_minutes, deadline, stopped_at"
# the money of a ticket a restatement compares (what each side owes, the losses, who pays)
RESTATED_MONEY = ("customer_pays_fen", "supplier_pays_fen", "losses_claimed_fen", "supplier_liable_for_losses",
                  "parts_payer", "labour_payer",
                  # the value in question of a ticket no payer rule decides: a late repair changes it alone
                  "parts_value_fen", "labour_value_fen")
RESTATED_MONEY_COLUMNS = "ticket, reported_at, " + ", ".join(RESTATED_MONEY)

# a ledger to read the restated tickets' rows from, held for the time of the reading
LedgerAccess = Callable[[], AbstractContextManager[Any]]


class UnknownCustomer(LookupError):
    """No such customer (or contract of that customer) in the views."""


def month_stated(con: Any, customer: str, contract: str | None, month: str, evaluated_at: datetime | None,
                 where: str = "TRUE", params: Sequence[Any] = ()) -> bool:
    """The month has a statement: it began before the views' evaluation time (a later month is
    not known yet) and ended after the customer's first fact (an earlier one holds nothing).
    `where`/`params`: a filter of the rows the reader may see (the console's scope)."""
    from replay.statement import month_bounds

    extra, more = ("AND contract = ?", [contract]) if contract else ("", [])
    zone = con.execute(f"""SELECT arg_max(timezone, version) FROM terms WHERE contract = (
                               SELECT min(contract) FROM terms WHERE customer = ? {extra} AND {where})""",
                       [customer, *more, *params]).fetchone()[0] or "Asia/Shanghai"
    start, end = month_bounds(month, zone)
    if evaluated_at is not None and start > evaluated_at.replace(tzinfo=None):
        return False
    first = first_fact(con, customer, contract, where, params)
    return first is not None and end > first


def first_fact(con: Any, customer: str, contract: str | None, where: str = "TRUE",
               params: Sequence[Any] = ()) -> datetime | None:
    """The customer's first fact in the views (a clock's start, a delivery or acceptance, a
    report), naive UTC."""
    extra, more = ("AND contract = ?", [contract]) if contract else ("", [])
    mine = f"customer = ? {extra} AND {where}"
    return con.execute(f"""SELECT least((SELECT min(start) FROM sla_clocks WHERE {mine}),
                                        (SELECT min(least(delivered_at, accepted_at)) FROM warranty WHERE {mine}),
                                        (SELECT min(reported_at) FROM liability WHERE {mine}))""",
                       [customer, *more, *params] * 3).fetchone()[0]


def customer_known(con: Any, customer: str | None, contract: str | None) -> bool:
    """Whether the views' terms hold this customer, this contract (of that customer), or both."""
    named = [(c, v) for c, v in (("customer", customer), ("contract", contract)) if v]
    sql = "SELECT count(*) FROM terms WHERE " + " AND ".join(f"{c} = ?" for c, _ in named)
    return bool(con.execute(sql, [v for _, v in named]).fetchone()[0])


def statement_data(con: Any, customer: str, month: str, contract: str | None, ledger: LedgerAccess, *,
                   listed: int | None = None) -> dict[str, Any]:
    """The statement as plain data (replay.statement.build_statement) with its restatements.
    UnknownCustomer when the views have no such customer (or contract of it). `listed`: the
    month's lists cut to their first `listed` rows (replay.statement.figures), for a printed
    statement (LIST_ROWS); all of them (None) for a workbook."""
    from replay import statement as st

    if not MONTH.fullmatch(month):
        raise ValueError(f"month {month!r}: write a month as YYYY-MM, e.g. 2025-10")
    if not customer_known(con, customer, contract):
        raise UnknownCustomer(f"contract {contract} of customer {customer}" if contract else f"customer {customer}")
    from concurrent.futures import ThreadPoolExecutor

    head = st.statement_head(con, customer, month, contract=contract)
    tz = head["timezone"]
    # The figures on a thread and a DuckDB cursor of their own while this thread finds and replays
    # the restatements (a query over the events, the ledger's rows, an in-memory replay): DuckDB
    # runs both at once, without the GIL. The ledger stays on the caller's thread, which may own it.
    # The restated tickets' rows in the views are read on that thread too, after the figures.
    reader = _cursor_beside(con)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="statement-figures") as pool:
            current = pool.submit(st.figures, reader, customer, contract, month, tz, listed=listed)
            previous = pool.submit(st.figures, reader, customer, contract, st.previous_month(month), tz, lists=False)
            restated, cut = restatements_cut(con, head, customer, contract, month, ledger,
                                             beside=lambda f: pool.submit(f, reader).result)
            return {**head, "current": current.result(), "previous": previous.result(), "restatements": restated,
                    "restatements_cut": cut}
    finally:
        reader.close()


def _cursor_beside(con: Any) -> Any:
    """A cursor of its own reading what `con` reads: the same database and schema (the console's
    cursors read a views file attached to an in-memory instance, `USE views`)."""
    database, schema = con.execute("SELECT current_database(), current_schema()").fetchone()
    cur = con.cursor()
    try:
        cur.execute("USE " + ".".join('"' + name.replace('"', '""') + '"' for name in (database, schema)))
    except BaseException:
        cur.close()
        raise
    return cur


def render(data: dict[str, Any], fmt: str, lang: str, printer: Any = None, where_all: str = "cli") -> bytes:
    """The statement in `fmt` (html, pdf, xlsx). A PDF is printed by the system's Chromium
    (adapters.printing: PrintError when it cannot), dated at the views' evaluation time; by
    `printer` when the caller started one ahead (adapters.printing.Printer)."""
    from replay import statement as st

    if fmt == "xlsx":
        return st.render_xlsx(data, lang)
    body = st.render_html(data, lang, where_all=where_all)
    if fmt == "pdf":
        from .printing import print_pdf

        return print_pdf(body, data["cut"]["evaluated_at"], printer=printer)
    if fmt != "html":
        raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    return body


def restatements(con: Any, data: dict[str, Any], customer: str, contract: str | None, month: str,
                 ledger: LedgerAccess, beside: Callable[[Callable[[Any], Any]], Callable[[], Any]] | None = None
                 ) -> list[dict[str, Any]]:
    """The restatements of restatements_cut, without saying whether the tickets were cut."""
    return restatements_cut(con, data, customer, contract, month, ledger, beside)[0]


def restatements_cut(con: Any, data: dict[str, Any], customer: str, contract: str | None, month: str,
                     ledger: LedgerAccess, beside: Callable[[Callable[[Any], Any]], Callable[[], Any]] | None = None
                     ) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    """(restatements, cut): `cut` is None when every ticket with such facts was replayed, else
    `{"tickets": n, "replayed": RESTATED_TICKETS_MAX}` (the first by ticket id; the document and
    the CLI say so, so that a cut list is never read as the whole).

    Clock verdicts and money (what the customer pays, what the supplier bears, the losses, who
    pays: RESTATED_MONEY; rows with `"money": True`) of earlier months changed by facts recorded since the previous statement
    (the end of the previous month) that occurred before this month — recorded by the source desk
    for imported facts, else by the ledger, as late entries are measured (§9.12): each such
    ticket replayed without those facts (the projections' one code path, in memory) beside the
    views' rows. `beside(read)`: runs `read(cursor)` elsewhere and gives what waits for its result
    (statement_data's thread); the views' rows are a scan of the clocks, read while this replays.

    Which clocks changed is decided at one evaluation time (the views'), so that time passing is
    not taken for a restatement; what a restated clock "was" is what the previous statement showed:
    the facts entered before its cut, evaluated at its cut (not the same facts evaluated today,
    which would read as a breach of thousands of hours no statement ever showed). Views of a
    what-if (`replay --terms`) are compared with replays under the same terms, read back from the
    views: under the terms as recorded, every verdict the what-if changed read as a restatement."""
    from replay import statement as st
    from replay.asof import what_if_in_views

    from .dispute import calendar_rows, tickets_rows, views_without

    month_start, _ = st.month_bounds(month, data["timezone"])
    since = month_start  # the previous statement's cut: this month's start
    late = con.execute(
        """SELECT e.id, e.position, e.type, e.occurred_at, e.recorded_at, e.source_recorded_at FROM events e
           JOIN liability l ON l.ticket = e.id
           WHERE e.aggregate = 'ticket' AND coalesce(e.source_recorded_at, e.recorded_at) >= ?
             AND e.occurred_at < ? AND l.customer = ?
             AND l.reported_at < ?""" + (" AND l.contract = ?" if contract else "") + " ORDER BY e.id, e.position",
        [since, month_start, customer, month_start] + ([contract] if contract else [])).fetchall()
    if not late:
        return [], None
    by_ticket: dict[str, list[tuple]] = {}
    for row in late:
        by_ticket.setdefault(row[0], []).append(row)
    tickets = sorted(by_ticket)[:RESTATED_TICKETS_MAX]
    cut_at = {"tickets": len(by_ticket), "replayed": len(tickets)} if len(by_ticket) > len(tickets) else None

    def views_rows(cur: Any) -> tuple[list[str], list[tuple]]:
        # the columns a restatement compares and shows (replay.explanations.verdict_short): the
        # tickets' rows lie in every row group, so each column read is a column of the whole table
        c = cur.execute(f"SELECT {RESTATED_COLUMNS} FROM sla_clocks WHERE list_contains(?, ticket) "
                        "ORDER BY ticket, clock", [tickets])
        clocks = [d[0] for d in c.description], c.fetchall()
        c = cur.execute(f"SELECT {RESTATED_MONEY_COLUMNS} FROM liability WHERE list_contains(?, ticket) "
                        "ORDER BY ticket", [tickets])
        return clocks, ([d[0] for d in c.description], c.fetchall())

    siblings = [r[0] for r in con.execute(
        "SELECT DISTINCT ticket FROM liability WHERE asset IN (SELECT asset FROM liability WHERE list_contains(?, ticket))",
        [tickets]).fetchall()]
    views_now = beside(views_rows) if beside is not None else functools.partial(views_rows, con)
    evaluated = data["cut"]["evaluated_at"]
    terms = what_if_in_views(con)
    with ledger() as held:
        calendar = calendar_rows(held)
        # with their assets' facts and the other tickets of those assets: an asset's warranty (its
        # downtime), coverage and repeat failures read all its tickets (projections.liability), so
        # the money of a ticket replayed alone could differ from the views' for no fact at all
        rows = tickets_rows(held, sorted(set(tickets) | set(siblings)))
    cut = data["cut"]["position"]
    leave_out = {r[1] for t in tickets for r in by_ticket[t]}
    kept = [r for r in rows if cut is None or r.position <= cut]

    def by_clock(clocks: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(c["ticket"], c["clock"]): c for c in clocks}

    # the two replays are DuckDB's work (the GIL let go): side by side on the cores
    entered_later = {r.position for r in kept if r.topic.startswith("ticket.") and _entered_at(r) >= since}
    with ThreadPoolExecutor(max_workers=1) as pool:
        shown_later = pool.submit(views_without, tickets, kept + calendar, entered_later, since, terms,
                                  liability=True)
        without_clocks, without_money = views_without(tickets, kept + calendar, leave_out, evaluated, terms,
                                                      liability=True)
        shown_clocks, shown_money = shown_later.result()
    without, shown = by_clock(without_clocks), by_clock(shown_clocks)
    (cols, now), (money_cols, money_now) = views_now()

    def facts(ticket: str) -> list[dict[str, Any]]:
        # when each entered the record, as it was selected: the desk's time for an imported fact
        return [{"position": r[1], "type": r[2], "occurred_at": r[3], "recorded_at": r[4],
                 "source_recorded_at": r[5]} for r in by_ticket[ticket]]

    out = []
    for after in (dict(zip(cols, r, strict=True)) for r in now):
        was = without.get((after["ticket"], after["clock"]))
        if was is not None and (was["state"], _rounded(was["breach_minutes"]), was["deadline"]) == (
                after["state"], _rounded(after["breach_minutes"]), after["deadline"]):
            continue
        out.append({"ticket": after["ticket"], "month": after["month"], "clock": after["clock"],
                    "before": shown.get((after["ticket"], after["clock"])) or {"state": "not_applicable"},
                    "after": after, "facts": facts(after["ticket"])})
    # the money the same way: changed is decided at the views' evaluation time (a replay without the
    # facts beside the views), and what it was is what the previous statement showed (the facts
    # entered before its cut, evaluated at its cut); its month is the month the ticket was reported
    # in, as the statement's money counts it
    money_without = {m["ticket"]: m for m in without_money}
    money_shown = {m["ticket"]: m for m in shown_money}
    zone = data["timezone"]
    for after in (dict(zip(money_cols, r, strict=True)) for r in money_now):
        was = money_without.get(after["ticket"])
        if was is not None and all(was[k] == after[k] for k in RESTATED_MONEY):
            continue
        before = money_shown.get(after["ticket"])
        out.append({"ticket": after["ticket"], "month": f"{_local(after['reported_at'], zone):%Y-%m}", "clock": None,
                    "money": True, "before": {k: before[k] for k in after} if before else None, "after": after,
                    "facts": facts(after["ticket"])})
    out.sort(key=lambda x: (x["ticket"], x.get("money", False), x["clock"] or ""))  # a ticket's clocks, then its money
    return out, cut_at


def _local(t: datetime, zone: str) -> datetime:
    """A naive UTC time of the views in the contract's zone."""
    from zoneinfo import ZoneInfo

    return t.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))


def _entered_at(row: Any) -> datetime:
    """When a ticket's fact entered the record, as late entries are measured (§9.12): its source
    desk's recording time for an imported fact, else the ledger's."""
    source = msgspec.json.decode(row.state).get("source_recorded_at")
    t = datetime.fromisoformat((source or row.recorded_at).replace("Z", "+00:00"))
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t  # naive UTC, as the views and month_bounds


def _rounded(v: Any) -> Any:
    return round(v) if isinstance(v, float) else v
