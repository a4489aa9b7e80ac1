"""The monthly statement a service manager sends each customer (issue 17): HTML (A4) and XLSX.

Read from the views (a DuckDB connection the CLI opens) for one customer, optionally one
contract, and one month in the contract's time zone: breach rates per clock and severity
against the promise, each breached clock, the clocks still running at month end, follow-up and
inspection periods done, due and missed, what each side owes in yuan, and the previous month
beside it. Pinned to a cut: the log position and evaluation time the views hold are printed.
Restatements (figures of earlier months that facts recorded since the previous statement
changed) are handed in by the caller, who can replay (`restatements=`).

Nothing here decides a verdict: every figure is a count or a sum of view rows.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from projections.liability import UNDETERMINED, VALUE_IN_QUESTION

from .exhibit import _cols, free, nb, page_css, recorded_said, what_if_banner
from .explanations import payer_undetermined, promise_clause, verdict_short
from .i18n import UNDER_A_MINUTE, plural, texts, to_local, word
from .restated import restated_cut_said, restated_said, restated_what

CLOCK_ORDER = ("response", "remote_resolution", "arrival", "resolution", "spare")
LIST_ROWS = 100  # rows a printed list without money shows; the XLSX holds them all
# Charge lines a printed statement lists one by one (~45 A4 pages). Beyond them it sums the lines by
# coverage and cause, subtotals that add up to the same totals, and lists one by one only the lines
# that move money between the parties: what the customer pays, and a claimed loss the supplier
# owes; the workbook lists every line. The bench's busiest customer-month holds 9,076 lines (418
# pages, ~40 s of Chromium's print) on 2,532 sites, so sums by site would be no summary; 250 of its
# lines are paid by the customer and 162 carry a loss the supplier owes.
PRINTED_CHARGE_LINES = 1000


def _(message: str) -> str:
    return message


# Words of the frame used inside f-strings (the extractor reads no f-string): marked here
M = {m: m for m in (
    _("Customer"),
    _("Month"),
    _("Clocks breached / applicable"),
    _("Losses claimed"),
    _("Losses the supplier owes"),
    _("Payer undetermined (not in either sum)"),
    _("Visits done / due / missed"),
    _("This month and the previous one"),
    _("Change"),
    _("Breach rates per clock and severity"),
    _("Breached clocks"),
    _("None."),
    _("Ticket"),
    _("Clock"),
    _("Deadline"),
    _("Clocks still running at month end"),
    _("Clocks still running at the evaluation time"),
    _("Verdict at the evaluation time"),
    _("Running now"),
    _("Missed visit periods (each in the month it ended)"),
    _("Reported"),
    _("Follow-up visits and inspections"),
    _("No period ended this month."),
    _("Obligation"),
    _("Kind"),
    _("Status"),
    _("Periods"),
    _("Asset"),
    _("Site"),
    _("From"),
    _("What each side owes for the tickets reported this month"),
    _("Total"),
    _("Restatements of earlier months"),
    _("None: no fact recorded since the previous statement changes an earlier month."),
)}


# What the supplier "bears" on a statement is the quoted value the customer does not pay, not money the
# supplier pays out: the label says so, and the legend in one sentence
SUPPLIER_BEARS = _("Borne by the supplier (at quoted price)")
SUPPLIER_BEARS_SAID = _("“Borne by the supplier (at quoted price)” is the quoted value of the parts and labour the "
                        "customer does not pay under the contract; it is not money the supplier pays out.")


# --- months ------------------------------------------------------------------------------------------


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of `YYYY-MM` in `tz`, as naive UTC instants (what the views hold)."""
    y, m = (int(x) for x in month.split("-"))
    start = datetime(y, m, 1, tzinfo=ZoneInfo(tz))
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=ZoneInfo(tz))
    utc = ZoneInfo("UTC")
    return start.astimezone(utc).replace(tzinfo=None), end.astimezone(utc).replace(tzinfo=None)


def previous_month(month: str) -> str:
    y, m = (int(x) for x in month.split("-"))
    return f"{y - (m == 1)}-{(m - 2) % 12 + 1:02d}"


def _rows(con: Any, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# --- the figures -------------------------------------------------------------------------------------


def figures(con: Any, customer: str, contract: str | None, month: str, tz: str, *, listed: int | None = None,
            lists: bool = True) -> dict[str, Any]:
    """One month's figures for the customer (and contract): rates, breaches, running at month
    end, visits, money, and their totals. `lists` False: the rates, visits and totals only (the
    previous month beside this one); `listed`: the breached clocks, the running clocks and the
    missed visit periods cut to their first `listed` rows (a printed statement shows LIST_ROWS of
    them), `counts` saying how many there are; the charge lines (money) never: a printed statement
    adds up to its totals. A visit period is the month's it ends in (when it falls due), so that the
    months of a year count it once.

    Why the cut and the totals in SQL: the views are not ordered by customer and month, so each
    list is a scan of its whole table either way, but turning the rows into Python objects cost
    more than the scans (9,076 tickets and 6,042 breaches: ~0.3 s of the busiest statement's
    figures for rows a page never shows)."""
    start, end = month_bounds(month, tz)
    scope = "customer = ?" + (" AND contract = ?" if contract else "")
    params = [customer] + ([contract] if contract else [])
    cut = f" LIMIT {int(listed)}" if listed is not None else ""
    rates = _rows(con, f"""
        WITH c AS (SELECT * FROM sla_clocks WHERE {scope} AND month = ?)
        SELECT c.clock, c.severity,
               -- rates by the final severity (§9.4), as sla_summary and the console; the promise shown
               -- is that severity's, from the terms (a clock whose deadline had passed at a change of
               -- severity keeps the earlier one's target)
               coalesce(any_value(p.unit), any_value(c.target_unit)) AS target_unit,
               coalesce(any_value(p.amount), any_value(c.target_amount)) AS target_amount, count(*) AS clocks,
               -- the promise's clause and terms version, to mark a what-if's promise as replacing the contract's
               any_value(p.clause) AS clause, any_value(c.contract) AS contract,
               max(c.contract_version) AS contract_version,
               count(*) FILTER (WHERE state <> 'not_applicable') AS applicable,
               -- of those, the clocks judged under the earlier severity's target (§9.4): the promise
               -- column says so, so that it is true of every clock counted beside it
               count(*) FILTER (WHERE state <> 'not_applicable' AND c.clock_severity IS DISTINCT FROM c.severity
                                AND (p.unit IS NULL OR (c.target_unit, c.target_amount) IS DISTINCT FROM (p.unit, p.amount)))
                   AS other_target,
               count(*) FILTER (WHERE state = 'met') AS met, count(*) FILTER (WHERE state = 'breached') AS breached,
               count(*) FILTER (WHERE state IN ('running', 'at_risk')) AS running,
               sum(breach_minutes) FILTER (WHERE state = 'breached') AS breach_minutes
        FROM c LEFT JOIN terms_clocks p ON p.contract = c.contract AND p.version = c.contract_version
                                       AND p.severity = c.severity AND p.clock = c.clock
        GROUP BY c.clock, c.severity""", [*params, month])
    for r in rates:
        r["breach_rate"] = r["breached"] / r["applicable"] if r["applicable"] else None
    order = {c: i for i, c in enumerate(CLOCK_ORDER)}
    rates.sort(key=lambda r: (order.get(r["clock"], 99), str(r["severity"])))
    rates = with_recorded_promise(con, rates)
    first, last = start_day(month), end_day(month)
    visits = _rows(con, f"""
        SELECT obligation, kind, status, count(*) AS periods FROM visit_periods
        WHERE {scope} AND "end" BETWEEN ? AND ? GROUP BY ALL ORDER BY obligation, kind, status""",
                   [*params, first, last])
    owed = _rows(con, f"""
        SELECT count(*) AS tickets, coalesce(sum(customer_pays_fen), 0) AS customer_pays_fen,
               coalesce(sum(supplier_pays_fen), 0) AS supplier_pays_fen,
               coalesce(sum(losses_claimed_fen), 0) AS losses_claimed_fen,
               coalesce(sum(losses_claimed_fen) FILTER (WHERE supplier_liable_for_losses), 0) AS losses_liable_fen,
               count(*) FILTER (WHERE {UNDETERMINED}) AS undetermined_tickets,
               coalesce(sum({VALUE_IN_QUESTION}) FILTER (WHERE {UNDETERMINED}), 0) AS undetermined_value_fen
        FROM liability WHERE {scope} AND reported_at >= ? AND reported_at < ?""", [*params, start, end])[0]
    totals = {
        **{k: int(v) for k, v in owed.items()},
        "breached": sum(r["breached"] for r in rates), "applicable": sum(r["applicable"] for r in rates),
        "visits_missed": sum(v["periods"] for v in visits if v["status"] == "missed"),
        "visits_done": sum(v["periods"] for v in visits if v["status"] == "done"),
        "visits_due": sum(v["periods"] for v in visits if v["status"] == "due"),
    }
    totals["breach_rate"] = totals["breached"] / totals["applicable"] if totals["applicable"] else None
    out: dict[str, Any] = {"month": month, "start": start, "end": end, "rates": rates, "visits": visits,
                           "totals": totals}
    if not lists:
        return out
    breaches = _rows(con, f"""
        SELECT ticket, clock, severity, clock_severity, site, start, deadline, stopped_at, state, breach_minutes,
               clause, target_unit, target_amount, evaluated_at, contract, contract_version
        FROM sla_clocks WHERE {scope} AND month = ? AND state = 'breached'
        ORDER BY start, ticket, clock{cut}""", [*params, month])
    breaches = with_recorded_promise(con, breaches)
    running = _rows(con, f"""
        SELECT ticket, clock, severity, site, start, deadline, stopped_at, state, breach_minutes, evaluated_at
        FROM sla_clocks WHERE {scope} AND start < ? AND state <> 'not_applicable'
          AND deadline IS NOT NULL AND (stopped_at IS NULL OR stopped_at >= ?)
        ORDER BY start, ticket, clock{cut}""", [*params, end, end])
    missed = _rows(con, f"""
        SELECT asset, site, obligation, kind, start, "end", status, clause FROM visit_periods
        WHERE {scope} AND "end" BETWEEN ? AND ? AND status = 'missed' ORDER BY asset, start{cut}""",
                   [*params, first, last])
    # every charge line, never cut: the printed statement must add up to its totals. With the loss
    # clause of the ticket's contract version, so that a line says whether (and why) the supplier owes its loss
    money = _rows(con, f"""
        SELECT l.*, k.losses_liable AS contract_losses_liable, k.losses_clause FROM (
            SELECT ticket, asset, site, contract, contract_version, reported_at, coverage, cause, payer_clause,
                   customer_pays_fen, supplier_pays_fen, losses_claimed_fen, supplier_liable_for_losses,
                   {VALUE_IN_QUESTION} AS value_in_question_fen
            FROM liability WHERE {scope} AND reported_at >= ? AND reported_at < ?) l
        LEFT JOIN (SELECT contract, version, any_value(losses_liable) AS losses_liable,
                          any_value(losses_clause) AS losses_clause FROM terms GROUP BY ALL) k
               ON k.contract = l.contract AND k.version = l.contract_version
        ORDER BY l.reported_at, l.ticket""", [*params, start, end])
    counts = {"breaches": len(breaches), "running": len(running), "missed": len(missed), "money": len(money)}
    if listed is not None:  # how many each list holds beyond the rows read
        counts = _rows(con, f"""
            SELECT (SELECT count(*) FROM sla_clocks WHERE {scope} AND month = ? AND state = 'breached') AS breaches,
                   (SELECT count(*) FROM sla_clocks WHERE {scope} AND start < ? AND state <> 'not_applicable'
                      AND deadline IS NOT NULL AND (stopped_at IS NULL OR stopped_at >= ?)) AS running,
                   (SELECT count(*) FROM visit_periods WHERE {scope} AND "end" BETWEEN ? AND ?
                      AND status = 'missed') AS missed""",
                       [*params, month, *params, end, end, *params, first, last])[0]
        counts["money"] = totals["tickets"]
    return {**out, "breaches": breaches, "running": running, "missed": missed, "money": money, "counts": counts}


def with_recorded_promise(con: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Views of a what-if (`replay --terms`): each row whose promise the terms file changed carries
    the promise the contract as recorded makes (`recorded_promise`, replay.explain), so that the
    statement marks the file's promise as replacing the contract's clause, as the dispute report
    does (replay.explanations.promise_clause). The rows as they are under the terms as recorded."""
    from .explain import recorded_promise

    recorded = {(c, v): json.loads(t) for c, v, t in con.execute(
        "SELECT id, originator_version, json(terms) FROM events WHERE type IN ('ContractRegistered', 'ContractAmended') "
        "AND id IN (SELECT contract FROM terms WHERE what_if)").fetchall()}
    if not recorded:
        return rows
    return [{**r, "recorded_promise": recorded_promise(r, recorded.get((r.get("contract"), r.get("contract_version"))))}
            for r in rows]


def clause_said(row: Mapping[str, Any], t: Any) -> str:
    """A row's clause as a statement prints it; under what-if terms that changed its promise, the
    contract's as recorded marked replaced (as the dispute report quotes it)."""
    return promise_clause(row, t) if row.get("recorded_promise") else free(row.get("clause"))


def start_day(month: str) -> date:
    y, m = (int(x) for x in month.split("-"))
    return date(y, m, 1)


def end_day(month: str) -> date:
    y, m = (int(x) for x in month.split("-"))
    return date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)


def build_statement(con: Any, customer: str, month: str, *, contract: str | None = None,
                    restatements: Sequence[Mapping[str, Any]] = (), listed: int | None = None) -> dict[str, Any]:
    """The statement as plain data, pinned to the cut the views hold (`listed`: see `figures`)."""
    s = statement_head(con, customer, month, contract=contract)
    return {**s, "current": figures(con, customer, contract, month, s["timezone"], listed=listed),
            "previous": figures(con, customer, contract, previous_month(month), s["timezone"], lists=False),
            "restatements": list(restatements)}


def statement_head(con: Any, customer: str, month: str, *, contract: str | None = None) -> dict[str, Any]:
    """The statement's parties, time zone and cut, without its figures (a caller can start the
    restatements' replay from it while the figures are read)."""
    cut = _rows(con, "SELECT max(position) AS position, max(evaluated_at) AS evaluated_at, max(events) AS events "
                     "FROM checkpoint", [])[0]
    terms = _rows(con, "SELECT contract, version, supplier, customer, name, timezone, terms->>'supplier_name' AS "
                       "supplier_name, terms->>'customer_name' AS customer_name FROM terms "
                       "WHERE customer = ? " + ("AND contract = ? " if contract else "") + "ORDER BY contract, version",
                  [customer] + ([contract] if contract else []))
    contracts: dict[str, dict[str, Any]] = {}
    for t in terms:  # the latest version's names
        contracts[t["contract"]] = t
    tz = next((t["timezone"] for t in contracts.values() if t["timezone"]), "Asia/Shanghai")
    from .explain import what_if_terms

    what_if = next(filter(None, (what_if_terms(con, c) for c in contracts)), None)
    start, end = month_bounds(month, tz)
    evaluated = cut["evaluated_at"]
    evaluated = evaluated.replace(tzinfo=None) if evaluated is not None else None
    return {
        "what_if": what_if,  # views under a what-if file's terms: every page says the figures are a hypothesis
        "customer": customer, "customer_name": next((t["customer_name"] for t in contracts.values()
                                                     if t["customer_name"]), ""),
        "contract": contract, "contracts": list(contracts.values()), "month": month, "timezone": tz,
        "cut": cut,
        # a month that begins after the views' evaluation time holds nothing yet (the CLI refuses it);
        # one it is inside of is an interim statement, as of that time: every figure may still change
        "after_cut": evaluated is not None and start > evaluated,
        "interim": evaluated is not None and start <= evaluated < end,
    }


# --- HTML ----------------------------------------------------------------------------------------------


def _h(x: Any) -> str:
    return html.escape(str(x if x is not None else ""), quote=True)


def _points(share: float | None) -> Decimal | None:
    """A rate in percentage points as the statement shows it (one decimal, as Babel rounds): the
    change beside two rates is the change of the figures printed, never "15.9% → 15.9%, −0.1 pp"."""
    return None if share is None else Decimal(str(share * 100)).quantize(Decimal("0.1"), ROUND_HALF_EVEN)


def _delta(now: float | Decimal | None, before: float | Decimal | None, fmt: Any) -> str:
    if now is None or before is None:
        return ""
    d = now - before
    return ("+" if d > 0 else "") + fmt(d)  # no change is written as its amount: ¥0.00


def render_html(s: Mapping[str, Any], lang: str, *, where_all: str = "cli") -> bytes:
    """The statement as HTML. `where_all` names where a reader finds the rows a list cut here:
    `cli` (`--format xlsx`) or `console` (its XLSX download)."""
    t = texts(lang)
    tz = s["timezone"]
    cur, prev = s["current"], s["previous"]
    who = free(s["customer_name"] or s["customer"])
    title = statement_title(s, t)
    P = ["<!DOCTYPE html>", f'<html lang="{t.html_lang}"><head><meta charset="utf-8"><title>{_h(title)}</title>',
         f"<style>{page_css(t, footer_title(s, t), what_if_banner(s.get('what_if'), t, short=True))}"
         f"{STATEMENT_CSS}</style></head><body>",
         f"<h1>{_h(title)}</h1>"]
    if s.get("what_if"):
        P.append(f'<p class="whatif" id="what-if">{_h(what_if_banner(s["what_if"], t))}</p>')
    if s.get("interim"):  # before any figure: a month under way is not a final statement
        P.append(f'<p class="interim" id="interim">{_h(interim_said(s, t))}</p>')
    cut = s["cut"]
    P.append('<p class="meta">' + _h(t(
        _("Pinned to the ledger's log up to position {position}, evaluated at {evaluated} ({zone}). A figure of an "
          "earlier month that facts recorded since changed is listed under restatements."),
        position=cut["position"] if cut["position"] is not None else "—", evaluated=t.time(cut["evaluated_at"], tz),
        zone=t.zone_name(tz))) + "</p>")
    if cut.get("log_position") is not None:  # the views were behind the log (set by the CLI)
        P.append('<p class="meta">' + _h(t(
            _("The views were at position {position}, the log at {log}: facts recorded since are not in this "
              "statement (run views rebuild or views follow, then make it again)."),
            position=cut["position"] if cut["position"] is not None else "—", log=cut["log_position"])) + "</p>")
    rows = [(t(M["Customer"]), f"{who} ({free(s['customer'])})" if s["customer_name"] else who)]
    for c in s["contracts"]:
        sup = free(c["supplier_name"] or c["supplier"])
        rows.append((t(_("Contract")), t(_("{contract} “{name}”, supplier {supplier}"), contract=free(c["contract"]),
                                         name=free(c["name"]), supplier=sup)))
    month_text = t(_("{start} 00:00 to {end} 24:00"), start=start_day(s["month"]).isoformat(),
                   end=end_day(s["month"]).isoformat())
    month_said = t(_("{month} ({span}, {zone})"), month=s["month"], span=month_text, zone=t.zone_name(tz))
    if s.get("interim"):  # the period printed is the month's; the figures reach only to the evaluation time
        month_said = t(_("{month}; figures to {evaluated} only (the month is not over)"), month=month_said,
                       evaluated=t.time(cut["evaluated_at"], tz))
    rows.append((t(M["Month"]), month_said))
    P.append('<table class="facts">' + _cols(["24mm", "auto"]) + "<tbody>" + "".join(
        f'<tr><th scope="row">{_h(k)}</th><td>{_h(v)}</td></tr>' for k, v in rows) + "</tbody></table>")

    # summary with the previous month
    ct, pt = cur["totals"], prev["totals"]

    def pct(v: float | None) -> str:
        return t.percent(v) if v is not None else "—"
    money = t.money
    summary = [
        (t(M["Clocks breached / applicable"]), f"{ct['breached']} / {ct['applicable']}",
         f"{pt['breached']} / {pt['applicable']}", ""),
        (t(_("Breach rate")), pct(ct["breach_rate"]), pct(pt["breach_rate"]),
         _delta(_points(ct["breach_rate"]), _points(pt["breach_rate"]), lambda d: t(_("{n} pp"), n=t.number(d, 1)))),
        (t(_("The customer pays")), money(ct["customer_pays_fen"]), money(pt["customer_pays_fen"]),
         _delta(ct["customer_pays_fen"], pt["customer_pays_fen"], money)),
        (t(SUPPLIER_BEARS), money(ct["supplier_pays_fen"]), money(pt["supplier_pays_fen"]),
         _delta(ct["supplier_pays_fen"], pt["supplier_pays_fen"], money)),
        (undetermined := t(M["Payer undetermined (not in either sum)"]), _undetermined_said(t, ct),
         _undetermined_said(t, pt), ""),
        (t(M["Losses claimed"]), money(ct["losses_claimed_fen"]), money(pt["losses_claimed_fen"]),
         _delta(ct["losses_claimed_fen"], pt["losses_claimed_fen"], money)),
        (t(M["Losses the supplier owes"]), money(ct["losses_liable_fen"]), money(pt["losses_liable_fen"]),
         _delta(ct["losses_liable_fen"], pt["losses_liable_fen"], money)),
        (t(M["Visits done / due / missed"]), f"{ct['visits_done']} / {ct['visits_due']} / {ct['visits_missed']}",
         f"{pt['visits_done']} / {pt['visits_due']} / {pt['visits_missed']}", ""),
    ]
    P.append(f"<h2>{_h(t(M['This month and the previous one']))}</h2>")
    P.append('<table class="summary">' + _cols(["auto", "40mm", "40mm", "28mm"]) + "<thead><tr>" + "".join(
        f"<th>{_h(x)}</th>" for x in ("", s["month"], prev["month"], t(M["Change"]))) + "</tr></thead><tbody>"
             + "".join(f'<tr><th scope="row">{_h(a)}</th><td class="{cls}">{_h(b)}</td><td class="{cls}">{_h(c)}</td>'
                       f'<td class="num">{_h(d)}</td></tr>'
                       for (a, b, c, d), cls in ((row, "num words" if row[0] == undetermined else "num")
                                                 for row in summary)) + "</tbody></table>")
    # the previous month as of this cut: money that arose since on its tickets is in it (not a restatement)
    P.append('<p class="meta">' + _h(t(_(
        "The previous month is counted at this statement's cut: money that arose since on the tickets reported "
        "then (a repair, a loss claimed) is in its figures, which may therefore differ from the previous "
        "statement's; facts entered late are listed under restatements."))) + "</p>")

    # rates per clock and severity
    P.append(f"<h2>{_h(t(M['Breach rates per clock and severity']))}</h2>")
    prev_rates = {(r["clock"], r["severity"]): r for r in prev["rates"]}
    # the counts' columns fit "Applicable" and "Breached" whole: a header split mid-word reads as two words
    P.append('<table class="rates">' + _cols(["22mm", "22mm", "21mm", "21mm", "18mm", "21mm", "20mm", "auto", "auto"])
             + "<thead><tr>" + "".join(f"<th>{_h(x)}</th>" for x in (
                 t(_("Clock")), t(_("Severity")), t(_("Promise")), t(_("Applicable")), t(_("Met")), t(_("Breached")),
                 t(M["Running now"]), t(_("Breach rate")), t(_("Previous month")))) + "</tr></thead><tbody>")
    for r in cur["rates"]:
        pr = prev_rates.get((r["clock"], r["severity"]))
        P.append(f'<tr><td>{_h(word(lang, "clock", r["clock"]))}</td><td>{_h(word(lang, "severity", r["severity"]))}</td>'
                 f'<td>{_h(_promise(t, r))}</td><td class="num">{r["applicable"]}</td>'
                 f'<td class="num">{r["met"]}</td><td class="num">{r["breached"]}</td><td class="num">{r["running"]}</td>'
                 f'<td class="num">{_h(pct(r["breach_rate"]))}</td>'
                 f'<td class="num">{_h(pct(pr["breach_rate"]) if pr else "—")}</td></tr>')
    P.append("</tbody></table>")
    P.append('<p class="meta">' + _h(t(
        _("“Running now”: this month's clocks still running at the evaluation time ({evaluated}).") if s.get("interim")
        else _("“Running now”: this month's clocks still running at the evaluation time ({evaluated}). The clocks that "
               "were running at the month's end are listed below, with their verdict as of the evaluation time."),
        evaluated=t.time(cut["evaluated_at"], tz))) + "</p>")

    # breaches
    P.append(f"<h2>{_h(t(M['Breached clocks']))}</h2>")
    if not cur["breaches"]:
        P.append(f"<p>{_h(t(M['None.']))}</p>")
    else:
        P.append('<table class="breaches">' + _cols(["30mm", "22mm", "33mm", "33mm", "36mm", "auto"]) + "<thead><tr>"
                 + "".join(f"<th>{_h(x)}</th>" for x in (t(M["Ticket"]), t(M["Clock"]), t(M["Deadline"]),
                                                      t(_("Stopped")), t(_("Verdict")), t(_("Clause"))))
                 + "</tr></thead><tbody>")
        for b in cur["breaches"][:LIST_ROWS]:
            deadline, stopped = breach_times(b, t, tz)
            P.append(f'<tr><td class="id">{_h(free(b["ticket"]))}</td><td>{_h(word(lang, "clock", b["clock"]))}</td>'
                     f'<td class="num">{_h(deadline)}</td><td class="num">{_h(stopped)}</td>'
                     f'<td>{_h(nb(breach_said(b, t)))}</td><td>{_h(clause_said(b, t))}</td></tr>')
        P.append("</tbody></table>")
        P.append(_more(cur["counts"]["breaches"], lang, where_all))

    # running at month end
    # a month under way has no end yet: its list is of the clocks running at the evaluation time
    running_head = M["Clocks still running at the evaluation time"] if s.get("interim") else \
        M["Clocks still running at month end"]
    P.append(f"<h2>{_h(t(running_head))}</h2>")
    if not cur["running"]:
        P.append(f"<p>{_h(t(M['None.']))}</p>")
    else:
        P.append('<table class="running">' + _cols(["31mm", "22mm", "28mm", "28mm", "auto"]) + "<thead><tr>" + "".join(
            f"<th>{_h(x)}</th>" for x in (t(M["Ticket"]), t(M["Clock"]), t(M["Reported"]), t(M["Deadline"]),
                                         t(M["Verdict at the evaluation time"]))) + "</tr></thead><tbody>")
        for x in cur["running"][:LIST_ROWS]:
            P.append(f'<tr><td class="id">{_h(free(x["ticket"]))}</td><td>{_h(word(lang, "clock", x["clock"]))}</td>'
                     f'<td class="num">{_h(t.time(x["start"], tz))}</td><td class="num">{_h(t.end(x["deadline"], tz))}</td>'
                     f'<td>{_h(verdict_short(x, lang))}</td></tr>')
        P.append("</tbody></table>")
        P.append(_more(cur["counts"]["running"], lang, where_all))

    # visits
    P.append(f"<h2>{_h(t(M['Follow-up visits and inspections']))}</h2>")
    if not cur["visits"]:
        P.append(f"<p>{_h(t(M['No period ended this month.']))}</p>")
    else:
        P.append('<table class="visits">' + _cols(["auto", "auto", "auto", "24mm"]) + "<thead><tr>" + "".join(
            f"<th>{_h(x)}</th>" for x in (t(M["Obligation"]), t(M["Kind"]), t(M["Status"]), t(M["Periods"])))
                 + "</tr></thead><tbody>")
        for v in cur["visits"]:
            P.append(f'<tr><td>{_h(word(lang, "obligation", v["obligation"]))}</td>'
                     f'<td>{_h(word(lang, "visit_kind", v["kind"]))}</td>'
                     f'<td>{_h(word(lang, "visit_status", v["status"]))}</td><td class="num">{v["periods"]}</td></tr>')
        P.append("</tbody></table>")
        P.append('<p class="meta">' + _h(t(_("A period is counted once, in the month it ends (when it falls due), "
                                            "with its status at the evaluation time."))) + "</p>")
        if cur["missed"]:
            P.append(f"<h3>{_h(t(M['Missed visit periods (each in the month it ended)']))}</h3>")
            P.append('<table class="missed">' + _cols(["31mm", "auto", "auto", "22mm", "31mm", "18mm"]) + "<thead><tr>"
                     + "".join(f"<th>{_h(x)}</th>" for x in (t(M["Asset"]), t(M["Site"]), t(M["Obligation"]),
                                                          t(M["From"]), t(_("To")), t(M["Status"])))
                     + "</tr></thead><tbody>")
            for m in cur["missed"][:LIST_ROWS]:
                P.append(f'<tr><td class="id">{_h(free(m["asset"]))}</td><td>{_h(free(m["site"]))}</td>'
                         f'<td>{_h(word(lang, "obligation", m["obligation"]))} · {_h(word(lang, "visit_kind", m["kind"]))}</td>'
                         f'<td class="when">{_h(m["start"])}</td><td class="when">{_h(m["end"])} 24:00</td>'
                         f'<td>{_h(word(lang, "visit_status", m["status"]))}</td></tr>')
            P.append("</tbody></table>")
            P.append(_more(cur["counts"]["missed"], lang, where_all))

    # money
    P.append(f"<h2>{_h(t(M['What each side owes for the tickets reported this month']))}</h2>")
    P.append(f'<p class="meta legend">{_h(t(SUPPLIER_BEARS_SAID))}</p>')
    if not cur["money"]:
        P.append(f"<p>{_h(t(M['None.']))}</p>")
    else:
        # every line, or subtotals of every line: the printed statement adds up to its totals (a list
        # cut here hid lines and losses)
        lines = cur["money"]
        summed = len(lines) > PRINTED_CHARGE_LINES
        if summed:
            P.append('<p class="meta">' + _h(t(_(
                "{n} charge lines this month: summed below by coverage and cause, whose subtotals add up to the "
                "totals; the lines the customer pays for or whose claimed loss the supplier owes follow one by one, "
                "and the XLSX statement sent with this one lists every line."), n=t.number(len(lines)))) + "</p>")
            P.append('<table class="money">' + _cols(["auto", "16mm", "21mm", "23mm", "21mm", "26mm"])
                     + "<thead><tr>" + "".join(f"<th>{_h(x)}</th>" for x in (
                         t(_("Coverage and cause")), t(_("Tickets")), t(_("The customer pays")),
                         t(SUPPLIER_BEARS), t(_("Losses claimed")), t(M["Losses the supplier owes"])))
                     + "</tr></thead><tbody>")
            for (why, undecided), g in _charge_groups(lines, lang).items():
                # a group no payer rule decides: its value in question, in neither side's sum (as a line's)
                pays = (f'<td class="num words undetermined" colspan="2">{_h(_undetermined_worth(t, g[5]))}</td>'
                        if undecided else "".join(f'<td class="num">{_h(money(v))}</td>' for v in g[1:3]))
                P.append(f'<tr><td>{_h(why)}</td><td class="num">{_h(t.number(g[0]))}</td>{pays}'
                         + "".join(f'<td class="num">{_h(money(v))}</td>' for v in g[3:5]) + "</tr>")
        else:
            P.append(_charge_table_head(t))
            P.extend(_charge_line(m, t, lang, tz) for m in lines)
        label = 2 if summed else 3  # the columns before the money: the groups' (with their count), or a line's
        head = (f'<th scope="row">{_h(t(M["Total"]))}</th><td class="num">{_h(t.number(len(lines)))}</td>' if summed
                else f'<th scope="row" colspan="3">{_h(t(M["Total"]))}</th>')
        P.append(f'<tr class="total">{head}'
                 f'<td class="num">{_h(money(ct["customer_pays_fen"]))}</td>'
                 f'<td class="num">{_h(money(ct["supplier_pays_fen"]))}</td>'
                 f'<td class="num">{_h(money(ct["losses_claimed_fen"]))}</td>'
                 f'<td class="num">{_h(money(ct["losses_liable_fen"]))}</td></tr>')
        if ct["undetermined_tickets"]:  # apart from both sums: neither side owes it until decided
            P.append(f'<tr class="total"><th scope="row" colspan="{label}">{_h(t(M["Payer undetermined (not in either sum)"]))}'
                     f'</th><td class="num words" colspan="4">{_h(_undetermined_said(t, ct))}</td></tr>')
        P.append("</tbody></table>")
        # summed, the lines that move money between the parties are listed one by one all the same
        itemised = [m for m in lines if m["customer_pays_fen"]
                    or (m["losses_claimed_fen"] and m["supplier_liable_for_losses"])] if summed else []
        if itemised:
            P.append("<h3>" + _h(t(_("Lines the customer pays for or whose claimed loss the supplier owes"))) + "</h3>")
            P.append(_charge_table_head(t))
            P.extend(_charge_line(m, t, lang, tz) for m in itemised)
            P.append("</tbody></table>")

    # restatements
    P.append(f"<h2>{_h(t(M['Restatements of earlier months']))}</h2>")
    if not s["restatements"]:
        P.append(f"<p>{_h(t(M['None: no fact recorded since the previous statement changes an earlier month.']))}</p>")
    else:
        P.append('<table class="restated">' + _cols(["31mm", "16mm", "22mm", "auto", "auto", "auto"]) + "<thead><tr>"
                 + "".join(f"<th>{_h(x)}</th>" for x in (
                     t(_("Ticket")), t(_("Month")), t(_("Clock or money")), t(_("Was")), t(_("Now")), t(_("Because of"))))
                 + "</tr></thead><tbody>")
        # every one, never cut: a restatement may change money owed (adapters.statements caps them at 500 tickets)
        for x in s["restatements"]:
            P.append(f'<tr class="restated"><td class="id">{_h(free(x["ticket"]))}</td><td>{_h(x["month"])}</td>'
                     f'<td>{_h(restated_what(x, lang))}</td><td>{_h(restated_said(x, "before", lang))}</td>'
                     f'<td>{_h(restated_said(x, "after", lang))}</td><td>{_h(_because(x, lang, tz))}</td></tr>')
        P.append("</tbody></table>")
    if s.get("restatements_cut"):
        P.append(f'<p class="meta">{_h(restated_cut_said(s["restatements_cut"], lang))}</p>')
    P.append("</body></html>")
    return ("\n".join(P) + "\n").encode()


WHERE_ALL = {  # where the reader of a cut list finds all its rows, by where the statement was made
    # the reader of a statement the CLI made is the customer, who has no command line: the workbook sent with it
    "cli": _("Showing {shown} of {n}; the XLSX statement that comes with this one lists them all."),
    "console": _("Showing {shown} of {n}; the XLSX statement (download it from the Statements page) lists them all."),
}


UNDETERMINED_TICKETS = plural("{n} ticket, parts and labour worth {value}", "{n} tickets, parts and labour worth {value}")


def statement_title(s: Mapping[str, Any], t: Any) -> str:
    """The statement's title (H1, the HTML and PDF title, the page margin, the workbook's): a
    what-if's says it is a hypothesis, as the dispute report's does."""
    customer = free(s["customer_name"] or s["customer"])
    if s.get("what_if"):
        return t(_("Monthly service statement (hypothetical, what-if) {month}: {customer}"), month=s["month"],
                 customer=customer)
    return t(_("Monthly service statement {month}: {customer}"), month=s["month"], customer=customer)


STATEMENT_CSS = (".interim{border:1.2pt solid #900;color:#900;font-weight:600;padding:1.5mm 2mm;margin:1mm 0 2mm}"
                 "td.day{font-variant-numeric:tabular-nums}h3{font-size:9.5pt;margin:3mm 0 1mm}")


def footer_title(s: Mapping[str, Any], t: Any) -> str:
    """The page margin's words: the title (customer, month) and the contract(s), so that a page
    that comes loose still says which contract it is about."""
    contracts = [free(c["contract"]) for c in s["contracts"]]
    said = (t(_("{title} · contract {contracts}"), title=statement_title(s, t), contracts=t.separated(contracts))
            if contracts else statement_title(s, t))
    # a loose page of a month under way says it is interim, as its first page does
    return t(_("{title} · interim"), title=said) if s.get("interim") else said


def interim_said(s: Mapping[str, Any], t: Any) -> str:
    """What an interim statement (a month the evaluation time is inside of) says before any figure."""
    return t(_("This month is not over: an interim statement, as of {evaluated} ({zone}); its figures can still "
               "change."), evaluated=t.time(s["cut"]["evaluated_at"], s["timezone"]), zone=t.zone_name(s["timezone"]))


def _charge_table_head(t: Any) -> str:
    return ('<table class="money">' + _cols(["29mm", "20mm", "auto", "21mm", "23mm", "21mm", "26mm"])
            + "<thead><tr>" + "".join(f"<th>{_h(x)}</th>" for x in (
                t(_("Ticket and asset")), t(_("Reported")), t(_("Coverage, cause and payer clause")),
                t(_("The customer pays")), t(SUPPLIER_BEARS), t(_("Losses claimed")),
                t(M["Losses the supplier owes"]))) + "</tr></thead><tbody>")


def _charge_line(m: Mapping[str, Any], t: Any, lang: str, tz: str) -> str:
    """One ticket's charge line: who pays what, under which clause, and its claimed loss."""
    owed = (f'<td class="num words undetermined" colspan="2">{_h(_undetermined_worth(t, m["value_in_question_fen"]))}</td>'
            if payer_undetermined(m) else f'<td class="num">{_h(t.money(m["customer_pays_fen"]))}</td>'
                                          f'<td class="num">{_h(t.money(m["supplier_pays_fen"]))}</td>')
    clause = short_clause(m["payer_clause"])
    return (f'<tr><td class="id">{_h(free(m["ticket"]))}<br><span class="meta">{_h(free(m["asset"]))}</span></td>'
            f'<td class="day">{"<br>".join(map(_h, t.time(m["reported_at"], tz).split(" ", 1)))}</td>'
            f'<td>{_h(_coverage_and_cause(m, lang, t))}{" · " + _h(clause) if clause else ""}</td>'
            f'{owed}<td class="num">{_h(t.money(m["losses_claimed_fen"] or 0))}</td>'
            f'<td class="num words">{_loss_owed_html(m, t)}</td></tr>')


def _coverage_and_cause(m: Mapping[str, Any], lang: str, t: Any) -> str:
    return t.separated([x for x in (word(lang, "coverage", m["coverage"]), word(lang, "cause", m["cause"])) if x])


def _charge_groups(lines: list[dict[str, Any]], lang: str) -> dict[tuple[str, bool], list[int]]:
    """The charge lines summed by coverage and cause, and apart those no payer rule decides (their
    amounts in neither side's sum, as the totals count them): tickets, customer pays, supplier
    bears, losses claimed, losses the supplier owes, value in question."""
    t = texts(lang)
    groups: dict[tuple[str, bool], list[int]] = {}
    for m in sorted(lines, key=lambda m: (str(m["coverage"] or ""), str(m["cause"] or ""), payer_undetermined(m))):
        g = groups.setdefault((_coverage_and_cause(m, lang, t), payer_undetermined(m)), [0, 0, 0, 0, 0, 0])
        losses = m["losses_claimed_fen"] or 0
        for i, v in enumerate((1, m["customer_pays_fen"] or 0, m["supplier_pays_fen"] or 0, losses,
                               losses if m["supplier_liable_for_losses"] else 0, m["value_in_question_fen"] or 0)):
            g[i] += v
    return groups


def short_clause(clause: str | None) -> str:
    """A payer clause as a table cell holds it: its section numbers (`§246`, `§1.1`) or the lines of
    the plan's text it cites (`原文第65行`, the seed contracts'), the whole text in the workbook; the
    text itself when it cites neither."""
    import re

    if not clause:
        return ""
    sections = re.findall(r"§\s*[\d.]*\d|原文第[\d、–-]+行", clause)
    return " ".join(dict.fromkeys(x.replace(" ", "") for x in sections)) if sections else free(clause)


def loss_owed_said(m: Mapping[str, Any], t: Any) -> str:
    """Whether the supplier owes a line's claimed loss, and by which clause (or why not)."""
    if not m.get("losses_claimed_fen"):
        return ""
    if m.get("supplier_liable_for_losses"):
        clause = short_clause(m.get("losses_clause"))
        return t(_("owed under {clause}"), clause=clause) if clause else t(_("owed"))
    if not m.get("contract_losses_liable"):
        return t(_("not owed: the contract has no clause on losses"))
    return t(_("not owed: no breach of a clock the loss clause covers"))


def _loss_owed_html(m: Mapping[str, Any], t: Any) -> str:
    said = loss_owed_said(m, t)
    if not said:
        return "—"
    owed = t.money(m["losses_claimed_fen"]) if m.get("supplier_liable_for_losses") else t.money(0)
    return f'{_h(owed)}<br><span class="meta">{_h(said)}</span>'


def breach_times(b: Mapping[str, Any], t: Any, tz: str) -> tuple[str, str]:
    """A breached clock's deadline and stop as its row prints them: to the minute, or to the second
    when the minutes alone would not explain the overrun beside them (10:34 and 10:34 "breached by
    1 min"; 10:00 and 10:04 "breached by 5 min")."""
    deadline, stopped = to_local(b["deadline"], tz), to_local(b["stopped_at"], tz)
    minutes = b.get("breach_minutes") or 0
    if deadline is not None and stopped is not None and minutes > 0:
        shown = (stopped.replace(second=0, microsecond=0) - deadline.replace(second=0, microsecond=0))
        said = int(Decimal(str(minutes)).quantize(Decimal(1), ROUND_HALF_UP)) if minutes >= 1 else 0
        if shown.total_seconds() / 60 != said or said == 0:
            return t.end(b["deadline"], tz, seconds=True), t.time(b["stopped_at"], tz, seconds=True)
    return t.end(b["deadline"], tz), t.time(b["stopped_at"], tz)


def breach_said(b: Mapping[str, Any], t: Any) -> str:
    """A breach as the statement says it, in the PDF and the workbook alike: whole minutes rounded
    half up, and an overrun of less than a minute as such ("breached by under 1 min", not "1 min"
    beside two times a few seconds apart)."""
    minutes = b.get("breach_minutes") or 0
    if b.get("state") == "breached" and 0 < minutes < 1:
        return t(_("breached by {duration}"), duration=t(UNDER_A_MINUTE))
    return verdict_short(b, t.lang)


def _undetermined_said(t: Any, totals: Mapping[str, Any]) -> str:
    """A month's undetermined tickets, or a dash when there are none (not "0 tickets worth ¥0.00")."""
    if not totals["undetermined_tickets"]:
        return "—"
    return undetermined_said(t, totals["undetermined_tickets"], totals["undetermined_value_fen"])


def undetermined_said(t: Any, tickets: int, value_fen: int) -> str:
    """How many tickets no payer rule decides, and the value of their parts and labour (statements,
    `report totals`)."""
    return t.plural(*UNDETERMINED_TICKETS, tickets, value=t.money(value_fen))


def undetermined_line(t: Any, tickets: int, value_fen: int) -> str:
    """The line that totals them apart from both sides' sums."""
    return t(_("{label}: {value}"), label=t(M["Payer undetermined (not in either sum)"]),
             value=undetermined_said(t, tickets, value_fen))


def _undetermined_worth(t: Any, value_fen: int | None) -> str:
    """A line's or a group's money when no payer rule decides it: the value in question."""
    return t(_("undetermined: parts and labour worth {value}"), value=t.money(value_fen or 0))


def _promise(t: Any, r: Mapping[str, Any]) -> str:
    """The promise of the row's (final) severity, and how many of its clocks ran under the earlier
    severity's target instead (a change after the deadline had passed keeps it, §9.4)."""
    promise = t.period(r["target_amount"], r["target_unit"])
    if r.get("recorded_promise"):  # a what-if's promise, marked as replacing the contract's
        promise = f"{promise} {promise_clause(r, t)}"
    n = r.get("other_target") or 0
    return t(_("{promise} ({n} under the earlier severity's target)"), promise=promise, n=n) if n else promise


def _more(n: int, lang: str, where_all: str) -> str:
    """The line under a list of `n` rows cut at LIST_ROWS: how many there are, and where they all are."""
    if n <= LIST_ROWS:
        return ""
    t = texts(lang)
    return '<p class="meta">' + _h(t(WHERE_ALL[where_all], shown=t.number(LIST_ROWS), n=t.number(n))) + "</p>"


def _because(x: Mapping[str, Any], lang: str, tz: str) -> str:
    t = texts(lang)
    return t.separated(t(_("“{event}” at {occurred}, recorded {recorded} (log position {position})"),
                         event=word(lang, "event", f["type"]), occurred=t.time(f["occurred_at"], tz),
                         recorded=recorded_said(f, t, tz), position=f["position"]) for f in x.get("facts", []))


# --- XLSX ----------------------------------------------------------------------------------------------


def render_xlsx(s: Mapping[str, Any], lang: str) -> bytes:
    """The statement as a workbook whose cells are numbers, dates and yuan (currency format), so
    that Excel sums them; totals are SUM formulas with their values. Deterministic: the
    workbook's dates are the evaluation time and the zip entries carry a fixed time."""
    import xlsxwriter

    t = texts(lang)
    tz = s["timezone"]
    cur = s["current"]
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "remove_timezone": True})
    evaluated = s["cut"]["evaluated_at"]
    created = to_local(evaluated, "UTC").replace(tzinfo=None) if evaluated else datetime(2000, 1, 1)
    title = statement_title(s, t)
    wb.set_properties({"title": title, "author": "ticketledger", "created": created})
    wb.set_calc_mode("auto")
    def fmt(**props: Any) -> Any:
        # every cell top-aligned: beside a wrapped text of three lines, a figure reads on its first
        return wb.add_format({"valign": "top", **props})

    bold = fmt(bold=True, text_wrap=True)  # a header wraps within its column rather than widen it
    wrap = fmt(text_wrap=True)  # long text wraps in a narrow column: read whole on screen and on paper
    yuan = fmt(num_format="¥#,##0.00")
    yuan_bold = fmt(num_format="¥#,##0.00", bold=True)
    # a change says its sign: +¥230.00, -¥230.00
    yuan_change = fmt(num_format="+¥#,##0.00;-¥#,##0.00;¥0.00")
    yuan_change_bold = fmt(num_format="+¥#,##0.00;-¥#,##0.00;¥0.00", bold=True)
    when = fmt(num_format="yyyy-mm-dd hh:mm")
    # a breach's deadline and stop to the second: its overrun in seconds beside them is then their difference
    when_s = fmt(num_format="yyyy-mm-dd hh:mm:ss")
    day = fmt(num_format="yyyy-mm-dd")
    share = fmt(num_format="0.0%")
    seconds = fmt(num_format="#,##0")
    plain = fmt()

    def local(v: Any) -> datetime | None:
        x = to_local(v, tz)
        return x.replace(tzinfo=None) if x else None

    banner = what_if_banner(s.get("what_if"), t, short=True)
    top = 1 if banner else 0  # a what-if's sheets open with its banner, on screen, above the headers
    said = wb.add_format({"bold": True, "font_color": "#990000"})
    zone = t.zone_name(tz)
    footer = _xlsx_footer(s, t)

    def sheet(name: str, headers: Sequence[str], widths: Sequence[float]) -> Any:
        ws = wb.add_worksheet(name)
        ws.set_paper(9)  # A4
        ws.set_landscape()
        # narrow side margins and columns (XLSX_PRINT_WIDTH): one page wide at a readable scale
        ws.set_margins(left=XLSX_SIDE_MARGIN, right=XLSX_SIDE_MARGIN)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, top)  # the headers (and a what-if's banner) on every printed page
        ws.set_footer(footer)
        if banner:  # on screen in the first row, and printed at the head of every page of every sheet
            ws.write_string(0, 0, what_if_banner(s["what_if"], t), said)
            ws.set_header("&C&\"-,Bold\"" + banner.replace("&", "&&"))
        for i, (h, w) in enumerate(zip(headers, widths, strict=True)):
            ws.write(top, i, h, bold)
            ws.set_column(i, i, w)
        ws.freeze_panes(top + 1, 0)
        return _Below(ws, top) if top else ws  # a wrapper per write costs ~0.2 s at 100k cells

    ws = sheet(t(_("Summary")), [t(_("Item")), t(_("Value"))], [30, 70])
    cut = s["cut"]
    items: list[tuple[str, Any, Any]] = [
        *([(t(_("Hypothetical (what-if)")), what_if_banner(s["what_if"], t), None)] if s.get("what_if") else []),
        (t(_("Customer")), free(s["customer_name"] or s["customer"]), None),
        *((t(_("Contract")), t(_("{contract} “{name}”, supplier {supplier}"), contract=free(c["contract"]),
                               name=free(c["name"]), supplier=free(c["supplier_name"] or c["supplier"])), None)
          for c in s["contracts"]),
        (t(_("Month")), s["month"], None),
        *([(t(_("Interim statement")), interim_said(s, t), None)] if s.get("interim") else []),
        (t(_("Log position")), cut["position"], None),
        (t(_("Evaluated at ({zone})"), zone=t.zone_name(tz)), local(cut["evaluated_at"]), when),
        (t(_("Clocks applicable")), cur["totals"]["applicable"], None),
        (t(_("Clocks breached")), cur["totals"]["breached"], None),
        (t(_("Breach rate")), cur["totals"]["breach_rate"], share),
        (t(_("The customer pays")), cur["totals"]["customer_pays_fen"] / 100, yuan),
        (t(SUPPLIER_BEARS), cur["totals"]["supplier_pays_fen"] / 100, yuan),
        (t(_("Payer undetermined: tickets")), cur["totals"]["undetermined_tickets"], None),
        (t(_("Payer undetermined: value in question")), cur["totals"]["undetermined_value_fen"] / 100, yuan),
        (t(_("Losses claimed")), cur["totals"]["losses_claimed_fen"] / 100, yuan),
        (t(M["Losses the supplier owes"]), cur["totals"]["losses_liable_fen"] / 100, yuan),
    ]
    for i, (k, v, form) in enumerate(items, 1):
        ws.write(i, 0, k, wrap)
        if v is None:
            ws.write_blank(i, 1, None)
        elif isinstance(v, datetime):
            ws.write_datetime(i, 1, v, form)
        else:
            ws.write(i, 1, v, form or wrap)

    ws = sheet(t(_("Breach rates")), [t(_("Clock")), t(_("Severity")), t(_("Promise")), t(_("Applicable")),
                                      t(_("Met")), t(_("Breached")), t(M["Running now"]), t(_("Breach rate"))],
               [14, 12, 30, 10, 10, 10, 10, 10])
    for i, r in enumerate(cur["rates"], 1):
        ws.write_row(i, 0, [word(lang, "clock", r["clock"]), word(lang, "severity", r["severity"]),
                            _promise(t, r)], wrap)
        ws.write_row(i, 3, [r["applicable"], r["met"], r["breached"], r["running"]], plain)
        if r["breach_rate"] is not None:
            ws.write_number(i, 7, r["breach_rate"], share)

    # a deadline as the printed statement writes it (a day's end is that day's 24:00), then the same
    # instant as an Excel date-time for analysts, where a day's end can only be the next day's 00:00
    deadline_headers = [t(_("Deadline ({zone})"), zone=zone),
                        t(_("Deadline (date-time value: a day's 24:00 is the next day's 00:00)"))]
    ws = sheet(t(_("Breached clocks")), [t(_("Ticket")), t(_("Clock")), *deadline_headers,
                                         t(_("Stopped ({zone})"), zone=zone), t(_("Breach (as printed)")),
                                         t(_("Breach (seconds, as measured)")), t(_("Clause"))],
               [17, 10, 17, 19, 19, 16, 10, 36])
    for i, b in enumerate(cur["breaches"], 1):
        ws.write_string(i, 0, free(b["ticket"]))
        ws.write_string(i, 1, word(lang, "clock", b["clock"]), wrap)
        ws.write_string(i, 2, t.end(b["deadline"], tz), plain)
        _write_time(ws, i, 3, local(b["deadline"]), when_s)
        _write_time(ws, i, 4, local(b["stopped_at"]), when_s)
        # the printed words, and the overrun measured to the second (a 20-s breach is 20, not 0)
        ws.write_string(i, 5, breach_said(b, t), wrap)
        ws.write_number(i, 6, round((b["breach_minutes"] or 0) * 60), seconds)
        ws.write_string(i, 7, clause_said(b, t), wrap)

    # an interim month's clocks are running at the evaluation time, as the printed statement heads them
    running = _("Running at the evaluation time") if s.get("interim") else _("Running at month end")
    ws = sheet(t(running), [t(_("Ticket")), t(_("Clock")), t(_("Reported ({zone})"), zone=zone),
                            *deadline_headers, t(M["Verdict at the evaluation time"])],
               [17, 10, 17, 17, 19, 30])
    for i, x in enumerate(cur["running"], 1):
        ws.write_string(i, 0, free(x["ticket"]))
        ws.write_string(i, 1, word(lang, "clock", x["clock"]), wrap)
        _write_time(ws, i, 2, local(x["start"]), when)
        ws.write_string(i, 3, t.end(x["deadline"], tz), plain)
        _write_time(ws, i, 4, local(x["deadline"]), when)
        ws.write_string(i, 5, verdict_short(x, lang), wrap)

    ws = sheet(t(_("Visits")), [t(_("Obligation")), t(_("Kind")), t(_("Status")), t(_("Periods"))], [16, 16, 12, 10])
    for i, v in enumerate(cur["visits"], 1):
        ws.write_row(i, 0, [word(lang, "obligation", v["obligation"]), word(lang, "visit_kind", v["kind"]),
                            word(lang, "visit_status", v["status"]), v["periods"]], wrap)

    # every missed period (the printed statement lists the first LIST_ROWS and points here)
    ws = sheet(t(_("Missed visit periods")), [t(M["Asset"]), t(M["Site"]), t(M["Obligation"]), t(_("Kind")),
                                              t(M["From"]), t(_("To (the whole day)")), t(M["Status"])],
               [20, 20, 16, 16, 14, 16, 12])
    for i, m in enumerate(cur["missed"], 1):
        ws.write_row(i, 0, [free(m["asset"]), free(m["site"]), word(lang, "obligation", m["obligation"]),
                            word(lang, "visit_kind", m["kind"])], wrap)
        ws.write_datetime(i, 4, datetime.combine(m["start"], datetime.min.time()), day)
        ws.write_datetime(i, 5, datetime.combine(m["end"], datetime.min.time()), day)
        ws.write_string(i, 6, word(lang, "visit_status", m["status"]), wrap)

    # the money columns keep their places (D to G); what explains a line follows them
    ws = sheet(t(_("Money")), [t(_("Ticket")), t(_("Reported ({zone})"), zone=zone), t(_("Coverage")),
                               t(_("The customer pays")), t(SUPPLIER_BEARS), t(_("Losses claimed")),
                               t(_("Payer undetermined: value in question")), t(M["Losses the supplier owes"]),
                               t(_("Whether the supplier owes the loss")), t(_("Cause")), t(_("Payer clause")),
                               t(M["Asset"]), t(M["Site"])],
               [17, 17, 9, 12, 12, 12, 12, 12, 18, 9, 26, 16, 17])
    ws.write_comment(0, 4, t(SUPPLIER_BEARS_SAID))
    n = len(cur["money"])
    undetermined = t(_("undetermined"))
    for i, m in enumerate(cur["money"], 1):
        ws.write_string(i, 0, free(m["ticket"]), plain)
        _write_time(ws, i, 1, local(m["reported_at"]), when)
        ws.write_string(i, 2, word(lang, "coverage", m["coverage"]), wrap)
        for col, key in ((3, "customer_pays_fen"), (4, "supplier_pays_fen"), (5, "losses_claimed_fen")):
            if m[key] is None and payer_undetermined(m) and col < 5:  # text: no SUM counts it on either side
                ws.write_string(i, col, undetermined, wrap)
            else:
                ws.write_number(i, col, (m[key] or 0) / 100, yuan)
        if payer_undetermined(m):
            ws.write_number(i, 6, (m["value_in_question_fen"] or 0) / 100, yuan)
        owed = (m["losses_claimed_fen"] or 0) if m["supplier_liable_for_losses"] else 0
        ws.write_number(i, 7, owed / 100, yuan)
        ws.write_string(i, 8, loss_owed_said(m, t), wrap)
        ws.write_string(i, 9, word(lang, "cause", m["cause"]) if m["cause"] else "", wrap)
        ws.write_string(i, 10, free(m["payer_clause"]), wrap)
        ws.write_string(i, 11, free(m["asset"]), plain)
        ws.write_string(i, 12, free(m["site"]), wrap)
    ws.write_string(n + 1, 0, t(_("Total")), bold)
    for col, key in ((3, "customer_pays_fen"), (4, "supplier_pays_fen"), (5, "losses_claimed_fen"),
                     (6, "undetermined_value_fen"), (7, "losses_liable_fen")):
        _write_sum(ws, n + 1, col, top + 1, n, cur["totals"][key] / 100, yuan_bold)

    # why each changed, as the printed statement says it: the facts, when the desk recorded them
    ws = sheet(t(_("Restatements")), [t(_("Ticket")), t(_("Month")), t(_("Clock")), t(_("Was")), t(_("Now")),
                                      t(_("Because of"))], [17, 8, 10, 28, 28, 44])
    for i, x in enumerate(s["restatements"], 1):
        ws.write_row(i, 0, [free(x["ticket"]), x["month"]], plain)
        ws.write_row(i, 2, [restated_what(x, lang), restated_said(x, "before", lang), restated_said(x, "after", lang),
                            _because(x, lang, tz)], wrap)
    if s.get("restatements_cut"):
        ws.write_string(len(s["restatements"]) + 1, 0, restated_cut_said(s["restatements_cut"], lang))
    if any(x.get("money") for x in s["restatements"]):  # the money's words here, its numbers on the next sheet
        ws.write_comment(0, 3, t(_("The restated money in numbers, to sum: the sheet “{sheet}”."),
                                 sheet=t(_("Restated money"))))

    # the restated money as numbers, was, now and the change for each side, so that Excel sums them
    # (the sheet beside Restatements: twelve more columns there would print it at half size)
    sides = [t(_("The customer pays")), t(SUPPLIER_BEARS), t(_("Losses claimed")), t(M["Losses the supplier owes"])]
    ws = sheet(t(_("Restated money")), [t(_("Ticket")), t(_("Month")), *(
        t(head, side=side) for side in sides for head in (_("{side}: was"), _("{side}: now"), _("{side}: change")))],
               [17, 8, *[11] * 12])
    restated = [x for x in s["restatements"] if x.get("money")]
    sums: list[list[float]] = [[0.0, 0.0, 0.0] for _side in sides]
    for i, x in enumerate(restated, 1):
        ws.write_row(i, 0, [free(x["ticket"]), x["month"]], plain)
        for k, (was, now) in enumerate(zip(_restated_yuan(x["before"]), _restated_yuan(x["after"]), strict=True)):
            col = 2 + 3 * k
            if x["before"] is None:  # nothing on the previous statement's record: all of it is new
                was = 0.0
            for j, v in enumerate((was, now, None if was is None or now is None else round(now - was, 2))):
                if v is None:  # the payer undetermined: no figure a SUM could count
                    ws.write_blank(i, col + j, None, plain)
                else:
                    ws.write_number(i, col + j, v, yuan_change if j == 2 else yuan)
                    sums[k][j] += v
    n = len(restated)
    ws.write_string(n + 1, 0, t(_("Total")), bold)
    for k in range(len(sides)):
        for j in range(3):
            _write_sum(ws, n + 1, 2 + 3 * k + j, top + 1, n, round(sums[k][j], 2),
                       yuan_change_bold if j == 2 else yuan_bold)
    wb.close()
    return buf.getvalue()


# the workbook's printed pages: A4 landscape, narrow side margins (inches; the default 0.7), each
# sheet one page wide; its columns are sized so that Excel's fit scale stays readable (>= 70 %)
XLSX_SIDE_MARGIN = 0.3
# the footer's longest names (customer, contract, supplier) when the whole would pass Excel's
# 255 characters (xlsxwriter drops a longer footer, and the page then says nothing of whose it is)
XLSX_FOOTER_MAX = 255


def _xlsx_footer(s: Mapping[str, Any], t: Any) -> str:
    """Every printed page's footer: whose statement (title, contract, supplier, period) at the
    left, an interim month's "interim, as of …" and the page number at the right; the customer's
    and suppliers' names shortened (…) as far as it takes to keep within Excel's 255 characters
    (contract ids are kept whole: a cut id names no contract)."""
    period = t(_("{start} 00:00 to {end} 24:00"), start=start_day(s["month"]).isoformat(),
               end=end_day(s["month"]).isoformat())
    pages = t(_("page {page} of {pages}"), page="&P", pages="&N")
    if s.get("interim"):  # a page that comes loose still says its figures can change
        pages = t(_("Interim statement, as of {evaluated}"),
                  evaluated=t.time(s["cut"]["evaluated_at"], s["timezone"])).replace("&", "&&") + " · " + pages

    def cut(name: str, most: int | None) -> str:
        return name if most is None or len(name) <= most else name[:most - 1] + "…"

    suppliers = list(dict.fromkeys(free(c["supplier_name"] or c["supplier"]) for c in s["contracts"]))
    context = ""
    for most in (None, 60, 40, 24, 16, 8, 4):
        customer = cut(free(s["customer_name"] or s["customer"]), most)
        title = statement_title({**s, "customer_name": customer}, t)
        context = t(_("{title} · contract {contracts} · supplier {suppliers} · {period}"), title=title,
                    contracts=t.separated([free(c["contract"]) for c in s["contracts"]]) or "—",
                    suppliers=t.separated([cut(x, most) for x in suppliers]) or "—",
                    period=period)
        footer = "&L" + context.replace("&", "&&") + "&R" + pages
        if len(footer) <= XLSX_FOOTER_MAX:
            return footer
    # many contracts: the words cut short before they are escaped, so no "&&" is split into a code
    room = XLSX_FOOTER_MAX - len("&L…&R" + pages)
    while len(context.replace("&", "&&")) > room:
        context = context[:-1]
    return "&L" + context.replace("&", "&&") + "…&R" + pages


def _restated_yuan(m: Mapping[str, Any] | None) -> list[float | None]:
    """A restated money row's four sides in yuan (the customer pays, the supplier bears, losses
    claimed, losses the supplier owes, as the Money sheet counts them); None for a side the
    payer rule leaves undetermined, all None for a ticket with nothing recorded."""
    if m is None:
        return [None] * 4
    claimed = m.get("losses_claimed_fen") or 0
    fen = [m.get("customer_pays_fen"), m.get("supplier_pays_fen"), claimed,
           claimed if m.get("supplier_liable_for_losses") else 0]
    return [None if v is None else v / 100 for v in fen]


def _write_sum(ws: Any, row: int, col: int, first: int, n: int, value: float, form: Any) -> None:
    """A column's total below its `n` rows from sheet row `first` (0-based): a SUM formula with
    its value, or 0 under no row (SUM of an empty range would reach back to the total itself)."""
    from xlsxwriter.utility import xl_col_to_name

    if n == 0:
        ws.write_number(row, col, 0, form)
        return
    letter = xl_col_to_name(col)
    ws.write_formula(row, col, f"=SUM({letter}{first + 1}:{letter}{first + n})", form, value)


class _Below:
    """A worksheet written `top` rows further down (below a what-if's banner row): its `write…`
    methods take the rows as the sheet's table counts them, header 0."""

    def __init__(self, ws: Any, top: int) -> None:
        self.ws, self.top = ws, top

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.ws, name)
        if not name.startswith("write"):
            return method
        return lambda row, *args, **kw: method(row + self.top, *args, **kw)


def _write_time(ws: Any, row: int, col: int, value: datetime | None, fmt: Any) -> None:
    if value is None:
        ws.write_blank(row, col, None)
    else:
        ws.write_datetime(row, col, value, fmt)

