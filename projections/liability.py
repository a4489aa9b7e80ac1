"""Warranty, repeat failures, replacement obligations and liability (§4, §9.6, §9.7, §9.9-9.11, §9.14).

Set-wise per asset and per ticket. `recompute(con, everything=True)` rewrites every row (a
rebuild, or new terms). A live batch passes `everything=False` and these scope tables, filled by
`projections.recompute`:
 - `_scope_assets(asset)`: assets whose own warranty is computed (those rewritten, and the assets
   they replace: a replacement keeps the replaced asset's warranty, §9.6);
 - `_scope_warranty(asset)`: assets whose warranty, repeat failures and replacement obligations
   are rewritten (each asset's rows are a function of its events and its tickets);
 - `_scope_tickets(ticket)`: tickets whose liability is rewritten; it holds every ticket of the
   `_scope_assets` (downtime, coverage and repeat failures read all tickets of an asset).
"""

from __future__ import annotations

from .schema import late_entries_sql

# Who pays is undetermined where no payer rule matched: the liability row holds no amount (NULL),
# never ¥0.00 on either side; the parts and labour in question are counted apart (totals, statements).
UNDETERMINED = "customer_pays_fen IS NULL"
VALUE_IN_QUESTION = "coalesce(parts_value_fen, 0) + coalesce(labour_value_fen, 0)"
# A ticket without parts or labour has nothing to pay, so no payer question: where no payer rule
# matched, its payers read `none` and its amounts ¥0.00 / ¥0.00 (settled), and UNDETERMINED
# leaves it out of every count of undetermined tickets (totals, statements, explain, the console).
NOTHING_TO_PAY = "(m.parts_value + m.labour_value = 0)"

# The ticket's own late entries, as the `late_entries` view counts them (schema.late_entries_sql,
# one rule), read for the scoped tickets only: the live-equals-rebuild tests hold it to the view.
LATE_SCOPED = ("SELECT id AS ticket, count(*) AS n FROM ("
               + late_entries_sql(" AND aggregate = 'ticket' AND id IN (SELECT ticket FROM _scope_tickets)", "_tev")
               + ") GROUP BY id")

# A live batch reads the events of its tickets (`_scope_tickets`: thousands at 10M, spread over
# the whole log) once, with the columns the statements below read, and they read `_tev` where a
# rebuild reads `events` (one set of SQL). Each read of the log by ticket is a join whose probe
# side fetches every column it reads of every ticket event (DuckDB has no late materialization):
# _lt, the repairs of `liability` and `repeat_failures` and the late entries each cost 0.2-0.7 s
# at 10M events, one read costs about the dearest of them.
TICKET_EVENTS = """CREATE OR REPLACE TEMP TABLE _tev AS
    SELECT position, type, aggregate, id, customer, occurred_at, recorded_at, source_recorded_at, lateness_seconds,
           asset_id, contract_id, site, fault_category, asset_down, fixed, cause, amount_fen, parts, labour_fen
    FROM events WHERE aggregate = 'ticket' AND id IN (SELECT ticket FROM _scope_tickets)"""


def statements(everything: bool = True) -> list[str]:
    """The SQL, over every asset and ticket or only over the scope tables."""
    def only(expr: str, table: str, key: str, lead: str = " AND ") -> str:
        return "" if everything else f"{lead}{expr} IN (SELECT {key} FROM {table})"

    a, w, t = ("_scope_assets", "asset"), ("_scope_warranty", "asset"), ("_scope_tickets", "ticket")
    f = {
        "A_id": only("id", *a), "T_id": only("id", *t), "T_eid": only("e.id", *t),
        "T_ticket": only("ticket", *t), "T_kticket": only("k.ticket", *t), "T_where": only("ticket", *t, lead=" WHERE "),
        "W_where": only("asset", *w, lead=" WHERE "), "W_e": only("e.asset", *w, lead=" WHERE "),
        "W_f": only("asset", *w, lead=" WHERE "), "W_r": only("r.asset", *w),
        "late": ("SELECT id AS ticket, count(*) AS n FROM late_entries WHERE aggregate = 'ticket' GROUP BY id"
                 if everything else LATE_SCOPED),
        "E": "events" if everything else "_tev",
        "nothing": NOTHING_TO_PAY,
    }
    out = [s.format(**f) for s in STATEMENTS]
    if not everything:  # the first apply of a database is whole and created it: no DDL per batch
        out = [TICKET_EVENTS, *(s.replace("CREATE OR REPLACE MACRO fen_at", "CREATE MACRO IF NOT EXISTS fen_at")
                                for s in out)]
    return out


STATEMENTS = [
    # assets with their current site and contract, acceptance and delivery
    """CREATE OR REPLACE TEMP TABLE _a AS
    WITH reg AS (
        SELECT id AS asset, serial, asset_type, customer_id AS customer, site AS site0, contract_id AS contract0,
               coalesce(placeholder, false) AS placeholder, replaces
        FROM events WHERE type = 'AssetRegistered'{A_id}),
    f AS (
        SELECT id AS asset,
               arg_max(site, (occurred_at, position))
                   FILTER (WHERE type = 'AssetMoved') AS site,
               arg_max(contract_id, (occurred_at, position))
                   FILTER (WHERE type = 'AssetContractChanged') AS contract,
               min(occurred_at) FILTER (WHERE type = 'AssetAccepted') AS accepted_at,
               min(occurred_at) FILTER (WHERE type = 'AssetDelivered') AS delivered_at,
               arg_max(by_asset, (occurred_at, position))
                   FILTER (WHERE type = 'AssetReplaced') AS replaced_by
        FROM events WHERE aggregate = 'asset'{A_id} GROUP BY id)
    SELECT reg.*, coalesce(f.site, reg.site0) AS site, coalesce(f.contract, reg.contract0) AS contract,
           f.accepted_at, f.delivered_at, f.replaced_by
    FROM reg LEFT JOIN f USING (asset)""",
    # every ticket: report, final resolution, cause, down flag
    """CREATE OR REPLACE TEMP TABLE _lt AS
    SELECT o.id AS ticket, o.asset_id AS asset, o.contract_id AS contract, o.customer,
           o.site, o.occurred_at AS report_at, o.fault_category,
           coalesce(o.asset_down, false) AS asset_down,
           x.last_rr, x.last_resolved_at, x.cancel_at, x.reopens, coalesce(x.cause, 'unknown') AS cause,
           x.losses_fen, x.arrivals, x.remote_ok_at, x.dispatch_at
    FROM (
        SELECT id, customer, occurred_at, asset_id, contract_id, site, fault_category, asset_down
        FROM {E} WHERE type = 'TicketOpened'{T_id}) o LEFT JOIN (
        SELECT id,
               arg_max(type, (occurred_at, position)) FILTER (WHERE type IN ('TicketResolved', 'TicketReopened')) AS last_rr,
               max(occurred_at) FILTER (WHERE type = 'TicketResolved') AS last_resolved_at,
               max(occurred_at) FILTER (WHERE type = 'TicketCancelled') AS cancel_at,
               count(*) FILTER (WHERE type = 'TicketReopened') AS reopens,
               count(*) FILTER (WHERE type = 'TechnicianArrived') AS arrivals,
               min(occurred_at) FILTER (WHERE type = 'RemoteFixAttempted'
                   AND fixed) AS remote_ok_at,
               min(occurred_at) FILTER (WHERE type = 'TechnicianDispatched') AS dispatch_at,
               arg_max(cause, (occurred_at, position))
                   FILTER (WHERE type = 'FaultCauseDetermined') AS cause,
               coalesce(sum(CASE WHEN type = 'LossClaimed' THEN CAST(amount_fen AS BIGINT) END), 0) AS losses_fen
        FROM {E} WHERE aggregate = 'ticket'{T_id} GROUP BY id) x ON x.id = o.id""",
    # warranty per asset (§8, §9.6, §9.7): 201-202 end, downtime union clipped to it, then art. 203
    """CREATE OR REPLACE TEMP TABLE _w0 AS
    WITH a AS (
        SELECT a.*, v.version, coalesce(v.timezone, 'Asia/Shanghai') AS tz, coalesce(v.rest_day_rule, true) AS rest,
               coalesce(v.warranty_extended_by_downtime, false) AS by_downtime,
               coalesce(v.warranty_restart_on_replacement, false) AS restart,
               v.paid_unit, v.paid_amount,
               coalesce(w1.unit, w0.unit) AS w_unit, coalesce(w1.amount, w0.amount) AS w_amount
        FROM _a a ASOF LEFT JOIN terms v ON v.contract = a.contract
             AND coalesce(a.accepted_at, a.delivered_at, TIMESTAMP '2100-01-01') >= v.valid_from
        LEFT JOIN terms_warranty w0 ON w0.contract = a.contract AND w0.version = v.version AND w0.asset_type = '*'
        LEFT JOIN terms_warranty w1 ON w1.contract = a.contract AND w1.version = v.version AND w1.asset_type = a.asset_type)
    SELECT a.*, CAST(loc(a.accepted_at, a.tz) AS DATE) AS ad,
           CASE a.w_unit WHEN 'months' THEN CAST(CAST(loc(a.accepted_at, a.tz) AS DATE) + to_months(CAST(a.w_amount AS INTEGER)) AS DATE)
                         WHEN 'years' THEN CAST(CAST(loc(a.accepted_at, a.tz) AS DATE) + to_months(CAST(12 * a.w_amount AS INTEGER)) AS DATE)
                         WHEN 'weeks' THEN CAST(loc(a.accepted_at, a.tz) AS DATE) + CAST(7 * a.w_amount AS INTEGER)
                         ELSE CAST(loc(a.accepted_at, a.tz) AS DATE) + CAST(a.w_amount AS INTEGER) END AS raw_last
    FROM a""",
    "DELETE FROM warranty{W_where}",
    # downtime (the union of the down intervals clipped to the 201-202 end), then art. 203, then
    # the replaced unit's warranty: CTEs of the one INSERT (a temp table each cost a statement per batch)
    """INSERT INTO warranty
    WITH
    iv AS (
        SELECT w.asset, greatest(t.report_at, w.accepted_at) AS a,
               least(coalesce(CASE WHEN t.last_rr = 'TicketResolved' THEN t.last_resolved_at END, t.cancel_at, p.ev), p.ev,
                     utc_of(w.raw_last + INTERVAL 1 DAY, w.tz)) AS b
        FROM _w0 w JOIN _lt t ON t.asset = w.asset AND t.asset_down, _p p
        WHERE w.accepted_at IS NOT NULL),
    g AS (SELECT *, CASE WHEN a <= max(b) OVER (PARTITION BY asset ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                    THEN 0 ELSE 1 END AS newg FROM iv WHERE b > a),
    g2 AS (SELECT *, sum(newg) OVER (PARTITION BY asset ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS grp FROM g),
    u AS (SELECT asset, min(a) AS a, max(b) AS b FROM g2 GROUP BY asset, grp),
    down AS (SELECT asset, CAST(sum(date_diff('microsecond', a, b)) AS BIGINT) AS down_us FROM u GROUP BY asset),
    e AS (
        SELECT w.*, coalesce(d.down_us, 0) AS down_us,
               utc_of(w.raw_last + INTERVAL 1 DAY, w.tz) + to_microseconds(CASE WHEN w.by_downtime THEN coalesce(d.down_us, 0) ELSE 0 END) AS raw_end
        FROM _w0 w LEFT JOIN down d USING (asset)),
    l AS (SELECT e.*, CAST(loc(e.raw_end - INTERVAL 1 MICROSECOND, e.tz) AS DATE) AS last_day FROM e),
    w1 AS (
        SELECT l.*, CASE WHEN l.raw_last IS NULL THEN NULL
                         WHEN l.rest AND NOT c.is_working THEN utc_of(c.next_working + INTERVAL 1 DAY, l.tz)
                         ELSE l.raw_end END AS w_end,
               CASE WHEN l.rest AND NOT c.is_working THEN c.next_working ELSE l.last_day END AS final_last,
               -- only the rest-day rule (art. 203) asks the calendar; with it off (art. 204) no
               -- unrecorded year decides the end, so the end is final (like paid_end below)
               l.rest AND (coalesce(NOT c0.known, false) OR coalesce(NOT c.known, false)
                   OR coalesce(cn.cum_unknown - c.cum_unknown > 0, false)) AS prov
        FROM l LEFT JOIN calendar_days c ON c.cal_key = 'CN' AND c.d = l.last_day
        LEFT JOIN calendar_days c0 ON c0.cal_key = 'CN' AND c0.d = l.raw_last
        LEFT JOIN calendar_days cn ON cn.cal_key = 'CN' AND cn.d = c.next_working),
    own AS (
        SELECT w.*, CASE WHEN w.paid_unit IS NOT NULL THEN CAST(w.final_last + to_months(CAST(
                   CASE w.paid_unit WHEN 'years' THEN 12 * w.paid_amount ELSE w.paid_amount END AS INTEGER)) AS DATE) END AS paid_raw
        FROM w1 w),
    eff AS (
        SELECT o.asset, o.serial, o.asset_type, o.contract, o.version, o.customer, o.site, o.placeholder, o.replaces,
               coalesce(o.accepted_at, CASE WHEN NOT o.restart THEN r.accepted_at END) AS accepted_at, o.delivered_at,
               CASE WHEN o.replaces IS NOT NULL AND NOT o.restart THEN r.raw_last ELSE o.raw_last END AS raw_last,
               CASE WHEN o.replaces IS NOT NULL AND NOT o.restart THEN r.down_us ELSE o.down_us END AS down_us,
               CASE WHEN o.replaces IS NOT NULL AND NOT o.restart THEN r.w_end ELSE o.w_end END AS w_end,
               CASE WHEN o.replaces IS NOT NULL AND NOT o.restart THEN r.paid_raw ELSE o.paid_raw END AS paid_raw,
               CASE WHEN o.replaces IS NOT NULL AND NOT o.restart THEN r.prov ELSE o.prov END AS prov,
               CASE WHEN o.replaces IS NOT NULL AND NOT o.restart THEN r.raw_end ELSE o.raw_end END AS raw_end, o.tz, o.rest
        FROM own o LEFT JOIN own r ON r.asset = o.replaces)
    SELECT e.asset, e.serial, e.asset_type, e.contract, e.version, e.customer, e.site, e.placeholder, e.replaces,
           e.accepted_at, e.delivered_at, utc_of(e.raw_last + INTERVAL 1 DAY, e.tz), e.down_us / 60000000.0, e.w_end,
           CASE WHEN e.paid_raw IS NOT NULL THEN utc_of(CASE WHEN e.rest THEN c.next_working ELSE e.paid_raw END + INTERVAL 1 DAY, e.tz) END,
           coalesce(e.prov, false) OR coalesce(e.paid_raw IS NOT NULL AND e.rest AND NOT c.known, false),
           (SELECT ev FROM _p),
           -- the earliest the provisional end could fall: art. 203 only moves an end later, so
           -- the end before its move (a fault reported before it is certainly covered)
           CASE WHEN coalesce(e.prov, false) THEN e.raw_end
                WHEN coalesce(e.paid_raw IS NOT NULL AND e.rest AND NOT c.known, false)
                THEN utc_of(e.paid_raw + INTERVAL 1 DAY, e.tz) END
    FROM eff e LEFT JOIN calendar_days c ON c.cal_key = 'CN' AND c.d = e.paid_raw{W_e}""",
    # coverage at the report time under the terms in force then (§9.6, §9.11, §9.14)
    """CREATE OR REPLACE TEMP TABLE _cov AS
    SELECT t.*, v.version, v.supplier, coalesce(v.losses_liable, false) AS losses_liable,
           coalesce(v.losses_clocks, []) AS losses_clocks,
           coalesce(v.supplier_pays_before_acceptance, false) AS spba,
           w.warranty_end, w.paid_end, w.asset_type, w.serial,
           -- provisional only where the verdict could change with a missing calendar year (§8):
           -- a fault reported before the earliest end it could have (w.provisional_from) is
           -- covered whatever that year brings; before acceptance or on a placeholder, no end decides
           w.asset IS NOT NULL AND NOT w.placeholder AND w.accepted_at IS NOT NULL
               AND t.report_at >= w.accepted_at AND coalesce(t.report_at >= w.provisional_from, false) AS provisional,
           CASE WHEN w.asset IS NULL OR w.placeholder THEN 'unknown'
                WHEN w.accepted_at IS NULL OR t.report_at < w.accepted_at THEN 'pre_acceptance'
                WHEN t.report_at < w.warranty_end THEN 'warranty'
                WHEN w.paid_end IS NOT NULL AND t.report_at < w.paid_end THEN 'paid'
                ELSE 'out' END AS coverage
    FROM _lt t LEFT JOIN warranty w ON w.asset = t.asset
    ASOF LEFT JOIN terms v ON v.contract = t.contract AND t.report_at >= v.valid_from""",
    # repeat failures (§9.9): per asset and fault category, causes not excluded, assets in scope
    "DELETE FROM repeat_failures{W_where}",
    """INSERT INTO repeat_failures
    WITH scope AS (
        SELECT c.*, v.repeat_window_unit AS wu, v.repeat_window_amount AS wa, v.repeat_threshold AS threshold,
               v.repeat_asset_types AS types, v.repeat_in_warranty_only AS in_w, v.repeat_excluded_causes AS excl,
               coalesce(v.timezone, 'Asia/Shanghai') AS tz
        FROM _cov c JOIN terms v ON v.contract = c.contract AND v.version = c.version
        WHERE v.repeat_threshold IS NOT NULL
          AND (len(v.repeat_asset_types) = 0 OR list_contains(v.repeat_asset_types, c.asset_type))
          AND (NOT v.repeat_in_warranty_only OR c.coverage = 'warranty')
          AND NOT list_contains(v.repeat_excluded_causes, c.cause)),
    f AS (
        SELECT s.asset, s.serial, s.fault_category, s.ticket, 'repair_not_fixed' AS kind, e.occurred_at AS failed_at, s.cause
        FROM scope s JOIN {E} e ON e.id = s.ticket AND e.type = 'RepairAttempted' AND NOT e.fixed
        UNION ALL
        SELECT s.asset, s.serial, s.fault_category, s.ticket, 'resolution_reopened', e.occurred_at, s.cause
        FROM scope s JOIN {E} e ON e.id = s.ticket AND e.type = 'TicketReopened'
        UNION ALL
        SELECT s2.asset, s2.serial, s2.fault_category, s2.ticket, 'new_report_within_window', s2.report_at, s2.cause
        FROM scope s2 JOIN _lt s1 ON s1.asset = s2.asset AND s1.fault_category = s2.fault_category
             AND s1.ticket <> s2.ticket AND s1.last_rr = 'TicketResolved' AND s1.last_resolved_at <= s2.report_at
             AND s2.report_at < utc_of(CAST(loc(s1.last_resolved_at, s2.tz) AS DATE) + INTERVAL 1 DAY
                 + CASE s2.wu WHEN 'months' THEN to_months(CAST(s2.wa AS INTEGER)) WHEN 'weeks' THEN to_days(CAST(7 * s2.wa AS INTEGER))
                              ELSE to_days(CAST(s2.wa AS INTEGER)) END, s2.tz)
        QUALIFY row_number() OVER (PARTITION BY s2.ticket ORDER BY s1.last_resolved_at DESC) = 1)
    SELECT asset, serial, fault_category, ticket, kind, failed_at,
           row_number() OVER (PARTITION BY asset, fault_category ORDER BY failed_at, ticket, kind), cause, (SELECT ev FROM _p)
    FROM f{W_f}""",
    "DELETE FROM replacement_obligations{W_where}",
    """INSERT INTO replacement_obligations
    SELECT r.asset, any_value(r.serial), any_value(a.contract), any_value(a.customer), r.fault_category, count(*),
           any_value(v.repeat_threshold), min(r.failed_at) FILTER (WHERE r.n = v.repeat_threshold),
           any_value(v.repeat_clause), any_value(a.replaced_by), (SELECT ev FROM _p)
    FROM repeat_failures r JOIN _cov c ON c.ticket = r.ticket JOIN terms v ON v.contract = c.contract AND v.version = c.version
    JOIN _a a ON a.asset = r.asset{W_r}
    GROUP BY r.asset, r.fault_category HAVING count(*) >= any_value(v.repeat_threshold)""",
    # money per part line in integer fen, half-up; the lower of two applicable promises (§9.10)
    """CREATE OR REPLACE TEMP TABLE _rule AS
    SELECT c.ticket, p.rule_no, p.parts, p.consumables, p.labour, p.clause
    FROM _cov c JOIN terms_payer p ON p.contract = c.contract AND p.version = c.version
         AND (p.coverage = c.coverage OR p.coverage = 'any')
         AND (list_contains(p.causes, c.cause) OR list_contains(p.causes, '*'))
    QUALIFY row_number() OVER (PARTITION BY c.ticket ORDER BY p.rule_no) = 1""",
    """CREATE OR REPLACE MACRO fen_at(rate, qty, quoted, cost) AS CASE rate
        WHEN 'free' THEN 0 WHEN 'cost' THEN qty * cost WHEN 'half' THEN (qty * quoted + 1) // 2
        ELSE qty * quoted END""",
    "DELETE FROM liability{T_where}",
    # the money CTEs feed this INSERT only (as a temp table they cost a statement per batch)
    """INSERT INTO liability
    WITH
    rep AS (
        SELECT e.id AS ticket, e.parts, e.labour_fen FROM {E} e WHERE e.type = 'RepairAttempted'{T_eid}),
    lines AS (
        SELECT r.ticket, unnest(from_json(r.parts,
            '[{{"part":"VARCHAR","quantity":"BIGINT","quoted_price_fen":"BIGINT","cost_price_fen":"BIGINT","consumable":"BOOLEAN"}}]'),
            recursive := true) FROM rep r),
    rated AS (
        SELECT l.ticket, l.quantity * l.quoted_price_fen AS value,
               CASE WHEN coalesce(l.consumable, false) AND u.consumables IS NOT NULL
                    THEN least(fen_at(u.parts, l.quantity, l.quoted_price_fen, l.cost_price_fen),
                               fen_at(u.consumables, l.quantity, l.quoted_price_fen, l.cost_price_fen))
                    ELSE fen_at(u.parts, l.quantity, l.quoted_price_fen, l.cost_price_fen) END AS pay,
               -- the consumables rate priced this line: it is a consumable and that rate is the lower (§9.10)
               coalesce(l.consumable, false) AND u.consumables IS NOT NULL
                   AND fen_at(u.consumables, l.quantity, l.quoted_price_fen, l.cost_price_fen)
                       < fen_at(u.parts, l.quantity, l.quoted_price_fen, l.cost_price_fen) AS by_consumables
        FROM lines l LEFT JOIN _rule u USING (ticket)),
    lab AS (
        SELECT r.ticket, sum(CAST(r.labour_fen AS BIGINT)) AS value,
               sum(fen_at(u.labour, 1, CAST(r.labour_fen AS BIGINT), 0)) AS pay
        FROM rep r LEFT JOIN _rule u USING (ticket) GROUP BY r.ticket),
    money AS (
        SELECT c.ticket, coalesce(p.value, 0) AS parts_value, coalesce(p.pay, 0) AS parts_pay,
               coalesce(p.by_consumables, false) AS by_consumables,
               coalesce(lab.value, 0) AS labour_value, coalesce(lab.pay, 0) AS labour_pay
        FROM _cov c LEFT JOIN (SELECT ticket, sum(value) AS value, sum(pay) AS pay,
                                      bool_or(by_consumables) AS by_consumables FROM rated GROUP BY ticket) p USING (ticket)
        LEFT JOIN lab USING (ticket)),
    -- the breaches the losses clause answers for: the clocks it names (every clock when it names none)
    lc AS (
        SELECT k.* FROM sla_clocks k JOIN _cov c USING (ticket)
        WHERE (len(c.losses_clocks) = 0 OR list_contains(c.losses_clocks, k.clock)){T_kticket}),
    br AS (
        SELECT ticket, string_agg(clock || ' breached by ' || round(breach_minutes, 1) || ' min ('
                                  || coalesce(nullif(clause, ''), 'no clause') || ')', '; ' ORDER BY clock) AS cited,
               -- the verdict on losses waits for a calendar year when no final breach settles it
               -- and a clock that could still turn breached is provisional (§8)
               bool_or(NOT coalesce(provisional, false)) AS settled
        FROM lc WHERE state = 'breached' GROUP BY ticket),
    lp AS (SELECT DISTINCT ticket FROM lc WHERE provisional),
    late AS ({late})
    SELECT c.ticket, c.asset, c.contract, c.version, c.supplier, c.customer, c.site, c.report_at, c.coverage,
           c.warranty_end, c.paid_end, c.cause, u.clause,
           CASE WHEN u.parts IS NULL AND {nothing} THEN 'none' WHEN u.parts IS NULL THEN 'undetermined'
                WHEN u.parts = 'free' THEN 'supplier' ELSE 'customer' END,
           u.parts,
           CASE WHEN u.labour IS NULL AND {nothing} THEN 'none' WHEN u.labour IS NULL THEN 'undetermined'
                WHEN u.labour IN ('free', 'cost') THEN 'supplier' ELSE 'customer' END,
           u.labour, m.parts_value, m.labour_value,
           CASE WHEN u.rule_no IS NOT NULL THEN CAST(m.parts_pay + m.labour_pay AS BIGINT) WHEN {nothing} THEN 0 END,
           CASE WHEN u.rule_no IS NOT NULL THEN CAST(m.parts_value + m.labour_value - m.parts_pay - m.labour_pay AS BIGINT)
                WHEN {nothing} THEN 0 END,
           EXISTS (SELECT 1 FROM replacement_obligations r WHERE r.asset = c.asset AND r.fault_category = c.fault_category),
           c.losses_fen, c.losses_liable AND c.losses_fen > 0 AND br.cited IS NOT NULL, br.cited,
           coalesce(late.n, 0),
           coalesce(c.provisional, false) OR (c.losses_liable AND c.losses_fen > 0 AND lp.ticket IS NOT NULL
                                              AND NOT coalesce(br.settled, false)),
           (SELECT ev FROM _p),
           CASE WHEN m.by_consumables THEN u.consumables END
    FROM _cov c LEFT JOIN _rule u USING (ticket) LEFT JOIN money m USING (ticket)
    LEFT JOIN br USING (ticket) LEFT JOIN lp USING (ticket) LEFT JOIN late USING (ticket)""",
    "DELETE FROM liability_totals",
    f"""INSERT INTO liability_totals
    SELECT contract, supplier, count(*), coalesce(sum(customer_pays_fen), 0), coalesce(sum(supplier_pays_fen), 0),
           sum(losses_claimed_fen), coalesce(sum(losses_claimed_fen) FILTER (WHERE supplier_liable_for_losses), 0),
           (SELECT ev FROM _p), count(*) FILTER (WHERE {UNDETERMINED}),
           coalesce(sum({VALUE_IN_QUESTION}) FILTER (WHERE {UNDETERMINED}), 0)
    FROM liability GROUP BY contract, supplier ORDER BY contract""",
]


def recompute(con, everything: bool = True) -> None:
    for s in statements(everything):
        con.execute(s)
