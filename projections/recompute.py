"""Recompute the views for what a batch touched (§4): the clocks of the affected tickets, then
the summary, warranty, liability and visits.

Inputs: temp tables `_touched(ticket)` and `_touched_assets(asset)` filled by the ingest of the
batch; `everything` when the terms or calendars changed (or on the first apply), which
recomputes every row.

Otherwise only the rows a batch can change are rewritten, and every other row already holds what a
full evaluation at the new time would give (the live-equals-rebuild tests check this after
every batch):
 - clocks of the touched tickets, and every clock not yet final (the evaluation time moved);
 - warranty, repeat failures and replacement obligations of the assets of those tickets (before
   and after a correction), of the touched assets, of the assets replacing them (a replacement
   keeps the replaced asset's warranty), and of assets with a down ticket still open at the
   earlier or the new evaluation time (their downtime runs to the evaluation time);
 - liability of the tickets above and of every ticket of those assets (coverage, repeat
   failures and replacement read the asset), and of the tickets whose clocks were rewritten
   (breaches are cited with their size);
 - visit periods of the touched assets, their replacements, the other assets of the (old and
   new) site of a touched asset with site-scoped visits (those visits cover them), and of assets
   with a period not done whose start or end lies between the two evaluation days (due and
   missed follow the day);
 - the summaries by difference (`summary`), liability totals whole (a small GROUP BY).
Then every row not rewritten is stamped with the new `evaluated_at` (one cheap column UPDATE),
so the database keeps one evaluation time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

import duckdb

from domain.terms import Terms

from . import calendars, liability, sla, summary, terms_flat, visits
from .schema import VIEW_TABLES
from .terms_flat import WhatIf

# The evaluation times this database held (any consumer) and the new one: what moves between
# them (a subquery in the two statements that read it, not a table of its own)
EVWIN = """(SELECT least(p.ev, (SELECT min(evaluated_at) FROM checkpoint)) AS lo,
                 greatest(p.ev, (SELECT max(evaluated_at) FROM checkpoint)) AS hi FROM _p p)"""

# Each set is a temp table of one column; they are read by sla.py (_aff), liability.py and visits.py.
SCOPE_BEFORE = [
    # the touched tickets (also the first-time-fix rows to rewrite); the touched assets are read
    # from `_touched_assets` as they are (a table of their own cost a statement per batch)
    "CREATE OR REPLACE TEMP TABLE _scope_ftf AS SELECT DISTINCT ticket FROM _touched WHERE ticket IS NOT NULL",
    # assets with a down ticket neither resolved nor cancelled by the earlier of the two times
    # (the same closing facts as liability's _lt). A ticket's final resolution is read from
    # first_time_fix (resolved_at: the last resolution unless a reopen followed), which holds it
    # for every ticket: only for this batch's tickets is it the one before the batch, and their
    # assets are in _ta (touched_assets) whatever it says. So the log is read only for the few tickets not
    # resolved by then (their opening, and a cancellation), not for every ticket's closings
    # (a join over the log: ~1 s at 10M events).
    # one read of the log by ticket for `_down_open`'s openings and cancellations and for the
    # openings of `_aff` (sla.EV_FROM reads `_oc`): each such read is a scan of `id` over the log
    # (~100 ms at 10M)
    f"""CREATE OR REPLACE TEMP TABLE _oc AS
    WITH w AS {EVWIN}
    SELECT id, type, position, asset_id, asset_down, occurred_at FROM events
    WHERE type IN ('TicketOpened', 'TicketCancelled') AND id IN (
        SELECT f.ticket FROM first_time_fix f, w WHERE f.resolved_at IS NULL OR f.resolved_at > w.lo
        UNION SELECT ticket FROM _aff)""",
    f"""CREATE OR REPLACE TEMP TABLE _down_open AS
    WITH w AS {EVWIN},
    unresolved AS (
        SELECT f.ticket, f.resolved_at FROM first_time_fix f, w WHERE f.resolved_at IS NULL OR f.resolved_at > w.lo),
    down AS (
        SELECT id, asset_id FROM _oc
        WHERE type = 'TicketOpened' AND asset_down AND id IN (SELECT ticket FROM unresolved)),
    cancelled AS (
        SELECT id, max(occurred_at) AS at FROM _oc
        WHERE type = 'TicketCancelled' AND id IN (SELECT id FROM down) GROUP BY id)
    SELECT DISTINCT d.asset_id AS asset
    FROM down d JOIN unresolved u ON u.ticket = d.id LEFT JOIN cancelled c ON c.id = d.id, w
    WHERE coalesce(u.resolved_at, c.at, TIMESTAMP 'infinity') > w.lo""",
    # touched assets with a site-scoped visit: their visits, site and contract reach the other
    # assets of their site; and those sites before the batch
    """CREATE OR REPLACE TEMP TABLE _site_sources AS
    SELECT DISTINCT id AS asset FROM events
    WHERE type IN ('FollowUpDone', 'InspectionDone') AND id IN (SELECT asset FROM _touched_assets) AND scope = 'site'""",
    """CREATE OR REPLACE TEMP TABLE _sites_before AS
    SELECT site, contract FROM warranty WHERE asset IN (SELECT asset FROM _site_sources)""",
]

def touched_assets(opened: str) -> str:
    """`_ta`: the assets a batch touched, directly or through a ticket (its asset before the batch,
    from `liability`, and after it, from the ticket's opening in `opened`). `opened` is `events`,
    or `_ev` once sla.recompute read it: `_ev` holds every event of the `_aff` tickets from their
    first opening on (sla.EV_FROM), so every opening of `_scope_ftf` (a part of `_aff`), and
    reading it there spares a scan of the log by ticket (~150 ms a batch at 10M)."""
    return f"""CREATE OR REPLACE TEMP TABLE _ta AS
    SELECT asset FROM (
        SELECT asset FROM _touched_assets WHERE asset IS NOT NULL
        UNION SELECT asset FROM liability WHERE ticket IN (SELECT ticket FROM _scope_ftf)
        UNION SELECT e.asset_id
        FROM {opened} e JOIN _scope_ftf t ON t.ticket = e.id WHERE e.type = 'TicketOpened'
        UNION SELECT asset FROM _down_open) WHERE asset IS NOT NULL"""


SCOPE_LIABILITY = [
    """CREATE OR REPLACE TEMP TABLE _scope_warranty AS
    SELECT asset FROM _ta UNION SELECT asset FROM warranty WHERE replaces IN (SELECT asset FROM _ta)""",
    """CREATE OR REPLACE TEMP TABLE _scope_assets AS
    SELECT asset FROM (
        SELECT asset FROM _scope_warranty
        UNION SELECT replaces FROM warranty WHERE asset IN (SELECT asset FROM _scope_warranty)
        UNION SELECT replaces FROM events WHERE type = 'AssetRegistered' AND id IN (SELECT asset FROM _touched_assets))
    WHERE asset IS NOT NULL""",
    """CREATE OR REPLACE TEMP TABLE _scope_tickets AS
    SELECT ticket FROM _scope_ftf UNION SELECT ticket FROM _aff
    UNION SELECT ticket FROM liability WHERE asset IN (SELECT asset FROM _scope_assets)""",
]

SCOPE_VISITS = [
    f"""CREATE OR REPLACE TEMP TABLE _scope_visits AS
    WITH sites AS (
        SELECT site, contract FROM _sites_before
        UNION SELECT site, contract FROM warranty WHERE asset IN (SELECT asset FROM _site_sources))
    SELECT asset FROM _touched_assets WHERE asset IS NOT NULL
    UNION SELECT asset FROM warranty WHERE replaces IN (SELECT asset FROM _touched_assets)
    UNION SELECT w.asset FROM warranty w JOIN sites s ON s.site = w.site AND s.contract = w.contract
    UNION SELECT v.asset FROM visit_periods v, {EVWIN} x
    WHERE v.status <> 'done'
      AND (v.start BETWEEN CAST(x.lo AS DATE) - 1 AND CAST(x.hi AS DATE) + 1
           OR v."end" BETWEEN CAST(x.lo AS DATE) - 2 AND CAST(x.hi AS DATE) + 1)
      -- a status follows the evaluation day in the contract's time zone: while that day is the
      -- same at both times in every zone of the terms, no period changes status
      AND EXISTS (SELECT 1 FROM (SELECT DISTINCT coalesce(timezone, 'Asia/Shanghai') AS tz FROM terms
                                 UNION SELECT 'Asia/Shanghai') z
                  WHERE CAST(loc(x.lo, z.tz) AS DATE) <> CAST(loc(x.hi, z.tz) AS DATE))""",
    """CREATE OR REPLACE TEMP TABLE _scope_visit_sources AS
    SELECT asset FROM _scope_visits
    UNION SELECT b.asset FROM warranty x JOIN warranty b ON b.site = x.site AND b.contract = x.contract
    WHERE x.asset IN (SELECT asset FROM _scope_visits)""",
]


# how far a recompute of everything goes (see recompute): every view, or a throwaway replay's part
Upto = Literal["all", "liability", "clocks"]

# the aggregates whose facts a recompute "clocks" reads: the tickets' own facts (their asset,
# contract and site are the opening's), the terms and the calendar years. An asset's facts feed
# warranty, liability and visits only, so a clocks-only replay need not load them (a statement's
# restated tickets: ~1,800 asset facts of 2,840 on the busiest customer-month)
CLOCKS_READ = ("ticket", "contract", "calendar")

# the steps of a whole recompute, told one by one to a rebuild's `step` (progress on a terminal)
WHOLE_STEPS = 6  # terms, calendars, sla, summary, liability, visits


def recompute(con: duckdb.DuckDBPyConnection, ev: datetime, *, everything: bool,
              terms_override: Terms | dict | WhatIf | None, rebuild_terms: bool,
              step: Callable[[int], None] | None = None, upto: Upto = "all") -> None:
    """`upto` (with `everything`), for a replay thrown away once read: "clocks" computes the terms,
    the calendar and the SLA clocks only, without their inputs (a correction's effect, a
    statement's restatements read no more), "liability" also warranty and liability with their repeat failures and replacements
    (what a ticket's dispute report reads), and neither the summaries nor the visit periods, which
    feed no view before them."""
    step = step or (lambda n: None)
    con.execute("CREATE OR REPLACE TEMP TABLE _p AS SELECT CAST(? AS TIMESTAMP) AS ev", [ev])
    if rebuild_terms:
        terms_flat.flatten(con, terms_override)
        step(1)
        calendars.build(con)
        step(1)
    if everything:
        con.execute("CREATE OR REPLACE TEMP TABLE _aff AS SELECT DISTINCT id AS ticket FROM events WHERE type = 'TicketOpened'")
        if upto == "all":
            summary.before(con, everything=True)
        sla.recompute(con, inputs=upto != "clocks")
        step(1)
        if upto == "clocks":
            return
        if upto == "all":
            summary.recompute(con, everything=True)
        step(1)
        liability.recompute(con, everything=True)  # warranty and coverage first: visits read them
        step(1)
        if upto == "liability":
            return
        visits.recompute(con, everything=True)
        step(1)
        return
    # the clocks to recompute: the batch's tickets, every clock not yet final, and the tickets of
    # a wait still open (or ending after the evaluation time): a final clock that the wait does
    # not pause (e.g. an arrival not applicable once fixed remotely) lists it with its minutes so
    # far, which move with the evaluation time as a rebuild counts them (a few hundred at 10M)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _aff AS SELECT DISTINCT ticket FROM ("
        " SELECT ticket FROM _touched UNION ALL SELECT ticket FROM sla_clocks WHERE NOT final"
        " UNION ALL SELECT ticket FROM clock_inputs WHERE kind = 'wait' AND (\"until\" IS NULL OR \"until\" > evaluated_at))"
        " WHERE ticket IS NOT NULL"
    )
    _run(con, SCOPE_BEFORE)
    aff = _rows(con, "_aff")
    if aff:  # a step with nothing in scope is skipped: each costs its planning
        summary.before(con, everything=False)
        sla.recompute(con, opened="_oc")
        summary.recompute(con, everything=False, ev=ev)
    # `_ev` holds the last pass's tickets only when the clocks were computed in passes
    con.execute(touched_assets("_ev" if 0 < aff <= sla.TICKETS_PER_PASS else "events"))
    _run(con, SCOPE_LIABILITY)
    rewritten = set()  # tables written whole by this batch: no row left to re-stamp
    if _rows(con, "_scope_tickets") or _rows(con, "_scope_assets"):
        liability.recompute(con, everything=False)
        rewritten.add("liability_totals")
    _run(con, SCOPE_VISITS)
    visits.recompute(con, everything=False, periods=bool(_rows(con, "_scope_visits")),
                     ftf=bool(_rows(con, "_scope_ftf")))
    for table in VIEW_TABLES:
        if table not in rewritten:
            con.execute(f"UPDATE {table} SET evaluated_at = (SELECT ev FROM _p) "
                        "WHERE evaluated_at IS DISTINCT FROM (SELECT ev FROM _p)")


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _run(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    for s in statements:
        con.execute(s)
