"""Return visits (§4, §8, §9.8, §9.9): schedule periods per asset, first-time fix.

Period k of a schedule runs from the day after anchor + k·P to the end of anchor + (k+1)·P,
each boundary computed from the anchor (DuckDB's `date + INTERVAL n MONTH` clamps to the
month's last day exactly like art. 202), never chained. A visit on the anchor day counts for
period 0. An on-site visit satisfies a phone obligation; a visit with scope=site covers every
asset of that site under the same contract. One-off windows run from the anchor day to
anchor + `within`.

`recompute(con, everything=False)` (a live batch) rewrites only the periods of the assets in
`_scope_visits(asset)`, reading the visits of `_scope_visit_sources(asset)` (those assets and
the assets sharing a site and contract with them, whose site-scoped visits cover them), and the
first-time-fix rows of `_scope_ftf(ticket)`; `projections.recompute` fills them.
"""

from __future__ import annotations

import duckdb


def statements(everything: bool = True) -> list[str]:
    """The SQL, over every asset and ticket or only over the scope tables."""
    def only(expr: str, table: str, key: str, lead: str = " AND ") -> str:
        return "" if everything else f"{lead}{expr} IN (SELECT {key} FROM {table})"

    f = {
        "V_where": only("asset", "_scope_visits", "asset", " WHERE "),
        "V_sch": only("asset", "_scope_visits", "asset", " WHERE "),
        "S_eid": only("e.id", "_scope_visit_sources", "asset"),
        "F_where": only("ticket", "_scope_ftf", "ticket", " WHERE "),
        "F_t": only("t.ticket", "_scope_ftf", "ticket", " WHERE "),
    }
    return [s.format(**f) for s in STATEMENTS]


STATEMENTS = [
    "DELETE FROM visit_periods{V_where}",
    """INSERT INTO visit_periods
    WITH a AS (
        SELECT w.asset, w.contract, w.customer, w.site, w.accepted_at, w.delivered_at FROM warranty w),
    sch AS (
        SELECT a.*, v.version, coalesce(v.timezone, 'Asia/Shanghai') AS tz, s.*  EXCLUDE (contract, version),
               CASE s.anchor WHEN 'delivery' THEN a.delivered_at ELSE a.accepted_at END AS anchor_at,
               CASE WHEN s.every_unit = 'years' THEN 12 * s.every_amount ELSE s.every_amount END AS p,
               CASE WHEN s.until_unit = 'years' THEN 12 * s.until_amount ELSE s.until_amount END AS until_m,
               CAST(loc(CASE s.anchor WHEN 'delivery' THEN a.delivered_at ELSE a.accepted_at END,
                        coalesce(v.timezone, 'Asia/Shanghai')) AS DATE) AS ad
        -- the assets in scope before the ASOF join, which sorts what it joins (the filter after
        -- it was not pushed below it: every asset of the ledger was joined in each live batch)
        FROM (SELECT * FROM a{V_sch}) a
        ASOF JOIN terms v ON v.contract = a.contract AND coalesce(a.delivered_at, a.accepted_at, TIMESTAMP '2100-01-01') >= v.valid_from
        JOIN terms_schedules s ON s.contract = a.contract AND s.version = v.version),
    per AS (
        SELECT sch.*, k.k
        FROM sch, unnest(CASE WHEN sch.one_off THEN [0]
                              WHEN sch.every_unit IN ('months', 'years') THEN
                                   generate_series(sch.start_months // sch.p, coalesce(sch.until_m, 12) // sch.p - 1)
                              ELSE generate_series(0, coalesce(sch.until_m, 12) * 30 // (sch.every_amount * CASE sch.every_unit WHEN 'weeks' THEN 7 ELSE 1 END) - 1)
                         END) AS k(k)
        WHERE sch.anchor_at IS NOT NULL),
    bounds AS (
        SELECT per.*,
               CASE WHEN one_off THEN ad
                    WHEN every_unit IN ('months', 'years') THEN CAST(ad + to_months(CAST(k * p AS INTEGER)) AS DATE) + 1
                    ELSE ad + CAST(k * every_amount * CASE every_unit WHEN 'weeks' THEN 7 ELSE 1 END AS INTEGER) + 1 END AS ps,
               CASE WHEN one_off THEN ad + CAST(every_amount * CASE every_unit WHEN 'weeks' THEN 7 ELSE 1 END AS INTEGER)
                    WHEN every_unit IN ('months', 'years') THEN CAST(ad + to_months(CAST((k + 1) * p AS INTEGER)) AS DATE)
                    ELSE ad + CAST((k + 1) * every_amount * CASE every_unit WHEN 'weeks' THEN 7 ELSE 1 END AS INTEGER) END AS pe
        FROM per),
    vis AS (
        SELECT e.id AS asset, e.type, coalesce(e.kind, 'onsite') AS kind,
               coalesce(e.scope, 'asset') AS scope, e.occurred_at
        FROM events e WHERE e.type IN ('FollowUpDone', 'InspectionDone'){S_eid}),
    covered0 AS (  -- a site-scoped visit covers every asset of that site under the contract
        SELECT v.asset, v.type, v.kind, v.occurred_at FROM vis v
        UNION
        SELECT b.asset, v.type, v.kind, v.occurred_at FROM vis v JOIN a x ON x.asset = v.asset
        JOIN a b ON b.site = x.site AND b.contract = x.contract AND b.asset <> x.asset WHERE v.scope = 'site'),
    covered AS (  -- the visit's local day, once per visit rather than once per (visit, period) pair
        SELECT c.*, CAST(loc(c.occurred_at, z.tz) AS DATE) AS vd
        FROM covered0 c JOIN (SELECT DISTINCT asset, tz FROM sch) z USING (asset)),
    matched AS (
        SELECT b.asset, b.schedule_no, b.k, min(c.occurred_at) AS visit_at
        FROM bounds b JOIN covered c ON c.asset = b.asset
             AND c.type = CASE b.obligation WHEN 'follow_up' THEN 'FollowUpDone' ELSE 'InspectionDone' END
             AND (b.kind = 'phone' OR c.kind = 'onsite')
             AND (c.vd BETWEEN b.ps AND b.pe OR (b.k = 0 AND c.vd = b.ad))
        GROUP BY b.asset, b.schedule_no, b.k)
    SELECT b.asset, b.contract, b.customer, b.site, b.obligation, b.kind, b.schedule_no, b.one_off, b.clause, b.anchor,
           b.ad, b.k, b.ps, b.pe,
           CASE WHEN m.visit_at IS NOT NULL THEN 'done'
                WHEN z.evd > b.pe THEN 'missed'
                WHEN z.evd >= b.ps THEN 'due'
                ELSE 'upcoming' END,
           m.visit_at, p.ev
    FROM bounds b LEFT JOIN matched m USING (asset, schedule_no, k), _p p
    -- the evaluation day once per time zone (a time-zone conversion costs more than the rest of a row)
    JOIN (SELECT tz, CAST(loc(p.ev, tz) AS DATE) AS evd FROM (SELECT DISTINCT tz FROM sch), _p p) z ON z.tz = b.tz""",
    "DELETE FROM first_time_fix{F_where}",
    """INSERT INTO first_time_fix
    SELECT t.ticket, t.asset, t.contract, t.customer, t.site, t.fault_category,
           CASE WHEN t.last_rr = 'TicketResolved' THEN t.last_resolved_at END, coalesce(t.arrivals, 0),
           t.remote_ok_at IS NOT NULL, coalesce(t.reopens, 0), coalesce(t.arrivals, 0) > 1,
           t.last_rr = 'TicketResolved' AND coalesce(t.reopens, 0) = 0
               AND (t.remote_ok_at IS NOT NULL OR coalesce(t.arrivals, 0) <= 1),
           (SELECT ev FROM _p)
    FROM _lt t{F_t}""",
]


def recompute(con: duckdb.DuckDBPyConnection, everything: bool = True, *, periods: bool = True, ftf: bool = True) -> None:
    """`periods` / `ftf` False: that pair (DELETE, INSERT) has nothing in scope and is skipped."""
    sql = statements(everything)
    for s in (sql[:2] if periods else []) + (sql[2:] if ftf else []):
        con.execute(s)
