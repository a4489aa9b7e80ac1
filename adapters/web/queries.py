"""Every query a page of the console runs. Each takes the request's `Scope` and limits its rows
with `scope.where(...)`: this module, not a template, decides what a user sees.

Values of the user's filters are bound parameters, and each must be one the scope can see
(`filter_options`), so a tampered or hostile filter is refused before any query uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from projections.liability import UNDETERMINED, VALUE_IN_QUESTION

from .scope import OutOfScope, Scope

QUEUE_FILTERS = ("customer", "site", "technician", "assignee", "severity", "clock")
# Each ticket's current assignee: its latest reassignment by the desk (TicketReassigned) as it
# happened in the field. Read beside the clocks, never alone: a ticket reaches a page only
# through `sla_clocks` (or `liability`) and the scope's predicate on them.
ASSIGNEES = """(SELECT id AS ticket, arg_max(assignee, (occurred_at, position)) AS assignee FROM events
               WHERE aggregate = 'ticket' AND type = 'TicketReassigned' AND assignee IS NOT NULL GROUP BY id)"""
# the clocks with their ticket's current assignee, for the queue and its filters
CLOCKS = f"(SELECT s.*, a.assignee FROM sla_clocks s LEFT JOIN {ASSIGNEES} a ON a.ticket = s.ticket)"
# the calendar each clock counts on (the terms version it uses)
_CALENDAR_OF_CLOCK = """LEFT JOIN terms_clocks tc ON tc.contract = s.contract AND tc.version = s.contract_version
                        AND tc.severity = s.clock_severity AND tc.clock = s.clock
                   LEFT JOIN terms_calendars tk ON tk.contract = s.contract AND tk.version = s.contract_version
                        AND tk.calendar = s.calendar"""
_CALENDAR_COLUMNS = """tc.cal_key, coalesce(tc.cal_kind, 'continuous') AS cal_kind, tk.hours AS cal_hours"""
# the queue's rows: the clocks with their assignee and calendar
QUEUE_CLOCKS = f"""(SELECT s.*, a.assignee, {_CALENDAR_COLUMNS}
                   FROM sla_clocks s LEFT JOIN {ASSIGNEES} a ON a.ticket = s.ticket {_CALENDAR_OF_CLOCK})"""
# the clocks still counting: running, at risk, and breached but not stopped (overdue, still owed)
STILL_RUNNING = "(state IN ('running', 'at_risk') OR (state = 'breached' AND stopped_at IS NULL))"
# A filter with more values than this is a text field, not a drop-down: the 10M ledger has ~20,000
# sites per supplier, whose <option>s made the queue page 1.7 MB and ~0.2 s of rendering each time
MANY_OPTIONS = 200


def _rows(con: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# --- filters -----------------------------------------------------------------------------------


def filter_options(con: Any, scope: Scope) -> dict[str, list[str]]:
    """The values each queue filter may take for this scope (what the drop-downs offer)."""
    where, params = scope.where()
    # one scan for the five columns (at 10M events one query per column took twice as long)
    values = ", ".join(f"list(DISTINCT {c} ORDER BY {c}) FILTER (WHERE {c} IS NOT NULL)" for c in QUEUE_FILTERS)
    row = con.execute(f"SELECT {values} FROM {CLOCKS} WHERE {where}", params).fetchone()
    return {column: list(v or []) for column, v in zip(QUEUE_FILTERS, row, strict=True)}


def checked_filters(given: Mapping[str, str], options: Mapping[str, list[str]],
                    names: tuple[str, ...] = QUEUE_FILTERS) -> dict[str, str]:
    """The filters asked for, each a value the scope can see; OutOfScope for any other."""
    chosen = {k: given[k] for k in names if given.get(k)}
    for k, v in chosen.items():
        if v not in options.get(k, ()):
            raise OutOfScope(f"filter {k} is not one you can see")
    return chosen


def _and_filters(filters: Mapping[str, str], alias: str = "") -> tuple[str, list[Any]]:
    a = f"{alias}." if alias else ""
    parts = [f"{a}{k} = ?" for k in filters]  # names from QUEUE_FILTERS only, values bound
    return (" AND ".join(parts) or "true"), list(filters.values())


# --- the queue ---------------------------------------------------------------------------------

QUEUE_COLUMNS = ("ticket, asset, clock, customer, site, technician, assignee, severity, contract, state, deadline, "
                 "paused_since, evaluated_at, start, target_unit, target_amount, extension_minutes, "
                 "paused_minutes, clause, cal_key, cal_kind, cal_hours, counted_minutes, target_minutes, at_risk_at")


def queue(con: Any, scope: Scope, filters: Mapping[str, str], now: datetime, limit: int = 500,
          remember: Any = None) -> tuple[list[dict[str, Any]], int]:
    """Clocks still running (at risk and overdue ones too), soonest deadline first, so the most
    overdue lead: time left is the views' deadline less
    now, or less the evaluation time while a pausing wait is open (the countdown stands still).
    `remember(key, compute)` keeps what does not depend on now for as long as this copy of the
    views is read (adapters.web.views), so a busy queue runs its SQL once per copy, not per page;
    `compute` takes the cursor to read with."""
    key = ("queue", scope, tuple(sorted(filters.items())), int(limit))
    filters = dict(filters)  # kept by the recipe: the next copy of the views is warmed with it
    candidates, total = (remember or (lambda _k, compute: compute(con)))(
        key, lambda cur: _queue_candidates(cur, scope, filters, limit))
    naive_now = now.replace(tzinfo=None)
    rows = [{**r, "seconds_left": _seconds_between(naive_now if r["paused_since"] is None else r["evaluated_at"],
                                                   r["deadline"])} for r in candidates]
    rows.sort(key=lambda r: (r["seconds_left"] is None, r["seconds_left"] or 0, r["ticket"], r["clock"]))
    return rows[:limit], total


def _queue_candidates(con: Any, scope: Scope, filters: Mapping[str, str], limit: int
                      ) -> tuple[list[dict[str, Any]], int]:
    """The clocks that can be among the first `limit` at any time: running ones by deadline, and
    paused ones (whose time left stands still) by deadline less evaluation time."""
    where, params = scope.where()
    fwhere, fparams = _and_filters(filters)
    base = f"FROM {QUEUE_CLOCKS} WHERE {STILL_RUNNING} AND {where} AND {fwhere}"
    total = con.execute(f"SELECT count(*) {base}", params + fparams).fetchone()[0]
    rows = _rows(con, f"""(SELECT {QUEUE_COLUMNS} {base} AND paused_since IS NULL
                           ORDER BY deadline, ticket, clock LIMIT {int(limit)})
                          UNION ALL
                          (SELECT {QUEUE_COLUMNS} {base} AND paused_since IS NOT NULL
                           ORDER BY date_diff('second', evaluated_at, deadline), ticket, clock LIMIT {int(limit)})""",
                 params + fparams + params + fparams)
    return rows, total


def _seconds_between(start: datetime, end: datetime | None) -> int | None:
    """Whole seconds from start to end, as DuckDB's date_diff('second', …) counts them."""
    if end is None or start is None:
        return None
    return int((end.replace(microsecond=0) - start.replace(microsecond=0)).total_seconds())


@dataclass(frozen=True)
class CalendarNow:
    """A business-hours or working-days calendar's open segments (UTC, naive) from an
    evaluation time to the first one starting after now: whether it counts now, when it
    resumes, how much it counted between two instants."""

    segments: list[tuple[datetime, datetime]]

    def counting(self, now: datetime) -> bool:
        return any(a <= now < b for a, b in self.segments)

    def resumes(self, now: datetime) -> datetime | None:
        """The start of the next open segment after now (None: none within SEGMENTS_AHEAD)."""
        return next((a for a, _b in self.segments if a > now), None)

    def open_minutes(self, start: datetime, end: datetime) -> float:
        """Minutes the calendar counted from start to end."""
        return sum(max(0.0, (min(b, end) - max(a, start)).total_seconds()) for a, b in self.segments) / 60


def at_risk_at(r: Mapping[str, Any]) -> datetime | None:
    """When a running clock turns at risk, so the queue's script can turn it without waiting for the
    follower's next evaluation: the views' `sla_clocks.at_risk_at` (projections/sla.py, §9.2). None:
    not running, or paused (a pause moves it, as it moves the deadline)."""
    if r["state"] != "running" or r["paused_since"] is not None:
        return None
    return r.get("at_risk_at")


SEGMENTS_AHEAD = timedelta(days=40)  # longer than any run of days off (Spring Festival: 8-9 days)


def calendars_now(con: Any, rows: list[dict[str, Any]], now: datetime) -> dict[str, CalendarNow]:
    """The calendars of these queue rows other than 7x24, as they stand between the rows'
    evaluation time and now (one query for all: a page of 500 rows names a few calendars)."""
    keys = sorted({r["cal_key"] for r in rows if r.get("cal_key") and r["cal_key"] != "7x24"})
    if not keys:
        return {}
    now = now.replace(tzinfo=None)
    since = min((r["evaluated_at"] for r in rows if r.get("evaluated_at") is not None), default=now)
    found: dict[str, list[tuple[datetime, datetime]]] = {k: [] for k in keys}
    for key, a, b in con.execute(
            f"""SELECT cal_key, seg_start, seg_end FROM calendar_segments
                WHERE cal_key IN ({', '.join('?' * len(keys))}) AND seg_end > ? AND seg_start <= ?
                ORDER BY cal_key, seg_start""", [*keys, min(since, now), now + SEGMENTS_AHEAD]).fetchall():
        found[key].append((a, b))
    return {k: CalendarNow(v) for k, v in found.items()}


# --- one ticket, one asset ----------------------------------------------------------------------


@dataclass(frozen=True)
class TicketHead:
    ticket: str
    asset: str | None
    contract: str | None
    customer: str | None
    site: str | None
    assignee: str | None = None  # the desk's latest reassignment (ASSIGNEES)


def ticket_head(con: Any, scope: Scope, ticket: str) -> TicketHead:
    """The ticket's contract and customer, when the scope admits it; OutOfScope otherwise (also
    when no such ticket exists: a customer cannot learn which other tickets exist)."""
    where, params = scope.where()
    for table in ("liability", "sla_clocks"):
        row = con.execute(f"SELECT ticket, asset, contract, customer, site FROM {table} "
                          f"WHERE ticket = ? AND {where} LIMIT 1", [ticket] + params).fetchone()
        if row:  # admitted: its assignee may be read
            assignee = con.execute(f"SELECT assignee FROM {ASSIGNEES} WHERE ticket = ?", [ticket]).fetchone()
            return TicketHead(*row, assignee=assignee[0] if assignee else None)
    raise OutOfScope("no such ticket in your view")


def ticket_clocks(con: Any, scope: Scope, ticket: str) -> list[dict[str, Any]]:
    where, params = scope.where()
    return _rows(con, f"SELECT * FROM sla_clocks WHERE ticket = ? AND {where} ORDER BY clock", [ticket] + params)


def ticket_calendars(con: Any, scope: Scope, ticket: str) -> dict[str, dict[str, Any]]:
    """The calendar each of the ticket's clocks counts on, by clock (the ticket page says it)."""
    where, params = scope.where("s")
    rows = _rows(con, f"""SELECT s.clock, {_CALENDAR_COLUMNS} FROM sla_clocks s {_CALENDAR_OF_CLOCK}
                          WHERE s.ticket = ? AND {where}""", [ticket] + params)
    return {r["clock"]: r for r in rows}


def asset_page(con: Any, scope: Scope, asset: str) -> dict[str, Any]:
    """Warranty, coverage of its tickets, visits, repeat failures and replacement obligations."""
    where, params = scope.where()
    # whether the contract extends the warranty for downtime is in its terms, not in the row
    warranty = _rows(con, f"""SELECT *, coalesce((SELECT t.warranty_extended_by_downtime FROM terms t
                                                  WHERE t.contract = warranty.contract
                                                    AND t.version = warranty.contract_version), false)
                                            AS extends_for_downtime
                              FROM warranty WHERE asset = ? AND {where}""", [asset] + params)
    if not warranty:
        raise OutOfScope("no such asset in your view")
    w = {**warranty[0], **warranty_moves(warranty[0])}
    return {
        "warranty": w,
        "tickets": _rows(con, f"""SELECT ticket, reported_at, coverage, cause, customer_pays_fen, supplier_pays_fen,
                                         replacement_due, provisional, {VALUE_IN_QUESTION} AS value_in_question_fen
                                  FROM liability WHERE asset = ? AND {where} ORDER BY reported_at""",
                         [asset] + params),
        "visits": _rows(con, f"""SELECT obligation, kind, clause, period, start, "end", status, visit_at, one_off
                                 FROM visit_periods WHERE asset = ? AND {where}
                                 ORDER BY start, schedule_no""", [asset] + params),
        # repeat_failures carries no contract: it is scoped through the asset's warranty row above
        "repeats": _rows(con, """SELECT fault_category, ticket, kind, failed_at, n, cause FROM repeat_failures
                                WHERE asset = ? ORDER BY failed_at""", [asset]),
        "replacements": _rows(con, f"""SELECT fault_category, failures, threshold, due_since, clause, replaced_by
                                      FROM replacement_obligations WHERE asset = ? AND {where}
                                      ORDER BY due_since""", [asset] + params),
    }


def warranty_moves(w: Mapping[str, Any]) -> dict[str, Any]:
    """What moved the warranty's end past its base end (arts. 201-202), as the views computed it:
    the downtime added (only where the contract extends for it), then the rest-day rule (art. 203)
    when the end so reached fell on a rest day. `rest_day_end` is that end before the move."""
    added = (w["downtime_minutes"] or 0) if w.get("extends_for_downtime") else 0
    base, end = w.get("base_end"), w.get("warranty_end")
    if base is None or end is None:
        return {"downtime_added_minutes": added, "rest_day_end": None}
    before = base + timedelta(minutes=added)
    # downtime is kept in fractional minutes: anything under a minute is not a move of days
    moved = end - before > timedelta(minutes=1)
    return {"downtime_added_minutes": added, "rest_day_end": before if moved else None}


# --- the dashboard ---------------------------------------------------------------------------------

DASHBOARD_FILTERS = ("customer", "site")


def dashboard(con: Any, scope: Scope, filters: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Breach rates (breached / applicable clocks, as `sla_summary` counts them) per month, clock
    and final severity, per customer and per site; visits by status; money owed by each side."""
    where, params = scope.where()
    fwhere, fparams = _and_filters(filters)
    p = params + fparams
    rate = """count(*) FILTER (WHERE state <> 'not_applicable') AS applicable,
              count(*) FILTER (WHERE state = 'breached') AS breached,
              count(*) FILTER (WHERE state = 'breached') / nullif(count(*) FILTER (WHERE state <> 'not_applicable'), 0)
                  AS breach_rate"""
    clocks = f"FROM sla_clocks WHERE {where} AND {fwhere}"
    return {
        "by_month": _rows(con, f"SELECT month, clock, severity, {rate} {clocks} GROUP BY ALL ORDER BY ALL", p),
        "by_customer": _rows(con, f"SELECT customer, clock, {rate} {clocks} GROUP BY ALL ORDER BY ALL", p),
        "by_site": _rows(con, f"SELECT site, clock, {rate} {clocks} GROUP BY ALL ORDER BY ALL", p),
        "visits": _rows(con, f"""SELECT strftime("end", '%Y-%m') AS month, status, count(*) AS periods
                                FROM visit_periods WHERE {where} AND {fwhere} AND status IN ('done', 'due', 'missed')
                                GROUP BY ALL ORDER BY ALL""", p),
        "money": _rows(con, f"""SELECT contract, customer, count(*) AS tickets,
                                   CAST(sum(customer_pays_fen) AS BIGINT) AS customer_pays_fen,
                                   CAST(sum(supplier_pays_fen) AS BIGINT) AS supplier_pays_fen,
                                   CAST(sum(losses_claimed_fen) AS BIGINT) AS losses_claimed_fen,
                                   CAST(sum(losses_claimed_fen) FILTER (WHERE supplier_liable_for_losses) AS BIGINT)
                                       AS losses_supplier_liable_fen,
                                   count(*) FILTER (WHERE {UNDETERMINED}) AS undetermined_tickets,
                                   CAST(sum({VALUE_IN_QUESTION}) FILTER (WHERE {UNDETERMINED}) AS BIGINT)
                                       AS undetermined_value_fen
                                FROM liability WHERE {where} AND {fwhere} GROUP BY ALL ORDER BY ALL""", p),
    }


def dashboard_options(con: Any, scope: Scope) -> dict[str, list[str]]:
    where, params = scope.where()
    return {c: [r[0] for r in con.execute(f"SELECT DISTINCT {c} FROM sla_clocks WHERE {where} AND {c} IS NOT NULL "
                                           "ORDER BY 1", params).fetchall()]
            for c in DASHBOARD_FILTERS}


# --- statements ----------------------------------------------------------------------------------


def statement_choices(con: Any, scope: Scope) -> list[dict[str, Any]]:
    """(customer, contract, month) with clocks in that month, newest first."""
    where, params = scope.where()
    return _rows(con, f"""SELECT customer, contract, month, count(DISTINCT ticket) AS tickets FROM sla_clocks
                         WHERE {where} GROUP BY ALL ORDER BY month DESC, customer, contract""", params)


def contract_zone(con: Any, contract: str | None) -> str:
    """The contract's time zone (its latest version), for local times."""
    if contract:
        row = con.execute("SELECT timezone FROM terms WHERE contract = ? ORDER BY version DESC LIMIT 1",
                          [contract]).fetchone()
        if row and row[0]:
            return row[0]
    return "Asia/Shanghai"


def contract_zones(con: Any, scope: Scope) -> dict[str, str]:
    """The time zone of each contract the scope can see (the live queue's new rows use them)."""
    where, params = scope.where()
    rows = con.execute(f"""SELECT contract, arg_max(timezone, version) FROM terms
                           WHERE contract IN (SELECT DISTINCT contract FROM sla_clocks WHERE {where})
                           GROUP BY contract""", params).fetchall()
    return {c: tz or "Asia/Shanghai" for c, tz in rows}


def statement_admitted(con: Any, scope: Scope, customer: str, contract: str | None) -> bool:
    """The scope may read this customer's statement (under the contract, if named): the customer
    has terms there and every contract the statement would cover is in the scope — without a
    contract a statement spans all of the customer's contracts, so a supplier or arbitrator who
    sees only some of them must name one."""
    where, params = scope.where()
    extra, more = ("AND contract = ?", [contract]) if contract else ("", [])
    seen, total = con.execute(f"""SELECT count(*) FILTER (WHERE {where}), count(*) FROM (
                                      SELECT DISTINCT contract, customer FROM terms WHERE customer = ? {extra})""",
                              [*params, customer, *more]).fetchone()
    return total > 0 and seen == total


def statement_month_stated(con: Any, scope: Scope, customer: str, contract: str | None, month: str,
                           evaluated_at: datetime | None) -> bool:
    """The month has a statement (adapters.statements.month_stated), over what the scope sees."""
    from adapters.statements import month_stated

    where, params = scope.where()
    return month_stated(con, customer, contract, month, evaluated_at, where, params)
