"""Recompute the views for what a batch touched (§4): the clocks of the affected tickets, then
the summary, warranty, liability and visits.

Inputs: temp table `_touched(ticket)` filled by the ingest of the batch; `everything` when the
terms or calendars changed (or on the first apply), which recomputes every ticket.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from domain.terms import Terms

from . import calendars, liability, sla, summary, terms_flat, visits


def recompute(con: duckdb.DuckDBPyConnection, ev: datetime, *, everything: bool,
               terms_override: Terms | dict | None, rebuild_terms: bool) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _p AS SELECT CAST(? AS TIMESTAMP) AS ev", [ev])
    if rebuild_terms:
        terms_flat.flatten(con, terms_override)
        calendars.build(con)
    if everything:
        con.execute("CREATE OR REPLACE TEMP TABLE _aff AS SELECT DISTINCT id AS ticket FROM events WHERE type = 'TicketOpened'")
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _aff AS SELECT DISTINCT ticket FROM ("
            " SELECT ticket FROM _touched UNION ALL SELECT ticket FROM sla_clocks WHERE NOT final)"
            " WHERE ticket IS NOT NULL"
        )
    sla.recompute(con)
    summary.recompute(con)
    liability.recompute(con)  # warranty and coverage first: visits read them
    visits.recompute(con)
