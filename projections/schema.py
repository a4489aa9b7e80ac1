"""The DuckDB schema of the views (documented column by column in projections/README.md).

All instants are naive TIMESTAMPs in UTC (the session runs with TimeZone=UTC); local days
are computed in each contract's time zone with the ICU `timezone()` function.
"""

from __future__ import annotations

from . import comments, facts

MACROS = [
    # a naive UTC instant -> the naive local time in `tz`
    "CREATE OR REPLACE MACRO loc(ts, tz) AS timezone(tz, CAST(ts AS TIMESTAMPTZ))",
    # a naive local time in `tz` -> the naive UTC instant
    "CREATE OR REPLACE MACRO utc_of(lts, tz) AS CAST(timezone(tz, lts) AS TIMESTAMP)",
    "CREATE OR REPLACE MACRO iso_ts(s) AS CAST(CAST(s AS TIMESTAMPTZ) AS TIMESTAMP)",
]

# `events` holds typed facts, not the log's JSON (issue 15): the envelope's columns, then one
# column per field the fact types declare (projections.facts, generated). `corrected_facts` holds
# the columns as recorded of a fact `events` holds otherwise (corrected, or a number left out as
# beyond its bound): the base every later correction is applied to (§3; keep_as_recorded).
# Bytes count at 10M events (issue 15: the file <= 1 GB): the lateness is whole seconds (a bit-packed
# integer; the DOUBLE of minutes it replaces took 8 bytes a row, `late_entries` still shows minutes)
# and the stored event's originator_id, topic, actor and channel are left to the store, where explain,
# ticket show and verify read them: no view reads them (~120 MB at 10M; a UUID column would have
# grown the ~9 bytes a row DuckDB's FSST gave the hex text to 16, uncompressed). A stored event is
# the store's row `position`; its aggregate is (aggregate, id), whose originator_id is
# domain.base.aggregate_uuid(aggregate, id), and corrections find the fact they correct by
# (aggregate, id, originator_version).
TABLES = [
    f"""CREATE TABLE IF NOT EXISTS events (
        position BIGINT, recorded_at TIMESTAMP, occurred_at TIMESTAMP,
        source_recorded_at TIMESTAMP, type VARCHAR, aggregate VARCHAR, id VARCHAR, customer VARCHAR,
        originator_version BIGINT, v INTEGER, corrected BOOLEAN, lateness_seconds BIGINT,
        {facts.ddl()})""",
    f"""CREATE TABLE IF NOT EXISTS corrected_facts (position BIGINT, occurred_at TIMESTAMP, {facts.ddl()})""",
    # facts an older log holds beyond today's bounds (projections.bounds, terms_flat)
    """CREATE TABLE IF NOT EXISTS beyond_bounds (
        position BIGINT, type VARCHAR, aggregate VARCHAR, id VARCHAR, field VARCHAR, value VARCHAR,
        bound VARCHAR, effect VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS checkpoint (
        consumer VARCHAR PRIMARY KEY, position BIGINT, evaluated_at TIMESTAMP, events BIGINT)""",
    """CREATE TABLE IF NOT EXISTS terms (
        contract VARCHAR, version BIGINT, position BIGINT, valid_from TIMESTAMP, effective_from TIMESTAMP,
        supplier VARCHAR, customer VARCHAR, name VARCHAR, timezone VARCHAR, at_risk_share DOUBLE,
        rest_day_rule BOOLEAN, late_tolerance_minutes BIGINT, losses_liable BOOLEAN, losses_clause VARCHAR,
        supplier_pays_before_acceptance BOOLEAN, warranty_extended_by_downtime BOOLEAN,
        warranty_restart_on_replacement BOOLEAN, warranty_clause VARCHAR,
        paid_unit VARCHAR, paid_amount BIGINT,
        repeat_window_unit VARCHAR, repeat_window_amount BIGINT, repeat_threshold BIGINT,
        repeat_asset_types VARCHAR[], repeat_in_warranty_only BOOLEAN, repeat_excluded_causes VARCHAR[],
        repeat_clause VARCHAR, what_if BOOLEAN, terms JSON, losses_clocks VARCHAR[],
        what_if_file VARCHAR, what_if_sha256 VARCHAR)""",
    "ALTER TABLE terms ADD COLUMN IF NOT EXISTS losses_clocks VARCHAR[]",
    # the what-if terms file a replay used (its name and SHA-256): reports from the file say so
    "ALTER TABLE terms ADD COLUMN IF NOT EXISTS what_if_file VARCHAR",
    "ALTER TABLE terms ADD COLUMN IF NOT EXISTS what_if_sha256 VARCHAR",
    """CREATE TABLE IF NOT EXISTS terms_clocks (
        contract VARCHAR, version BIGINT, severity VARCHAR, clock VARCHAR, unit VARCHAR, amount BIGINT,
        target_minutes BIGINT, calendar VARCHAR, cal_key VARCHAR, cal_kind VARCHAR, paused_by VARCHAR[],
        clause VARCHAR, max_extension_minutes BIGINT, stopped_by_plan BOOLEAN, trigger_minutes BIGINT)""",
    """CREATE TABLE IF NOT EXISTS terms_calendars (
        contract VARCHAR, version BIGINT, calendar VARCHAR, cal_key VARCHAR, kind VARCHAR, timezone VARCHAR,
        hours VARCHAR[][], close_time INTERVAL, extra_days_off DATE[], extra_days_on DATE[])""",
    """CREATE TABLE IF NOT EXISTS terms_warranty (
        contract VARCHAR, version BIGINT, asset_type VARCHAR, unit VARCHAR, amount BIGINT)""",
    """CREATE TABLE IF NOT EXISTS terms_payer (
        contract VARCHAR, version BIGINT, rule_no INTEGER, coverage VARCHAR, causes VARCHAR[],
        parts VARCHAR, consumables VARCHAR, labour VARCHAR, clause VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS terms_schedules (
        contract VARCHAR, version BIGINT, schedule_no INTEGER, obligation VARCHAR, one_off BOOLEAN,
        kind VARCHAR, anchor VARCHAR, every_unit VARCHAR, every_amount BIGINT, start_months BIGINT,
        until_unit VARCHAR, until_amount BIGINT, clause VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS calendar_years (
        calendar_id VARCHAR, region VARCHAR, year INTEGER, version BIGINT, position BIGINT,
        days_off DATE[], days_on DATE[], source VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS calendar_days (
        cal_key VARCHAR, d DATE, is_working BOOLEAN, known BOOLEAN, cum_work BIGINT, cum_unknown BIGINT,
        next_working DATE)""",
    """CREATE TABLE IF NOT EXISTS calendar_segments (
        cal_key VARCHAR, seg_start TIMESTAMP, seg_end TIMESTAMP, seg_us BIGINT, cum_before_us BIGINT)""",
    """CREATE TABLE IF NOT EXISTS sla_clocks (
        ticket VARCHAR, asset VARCHAR, contract VARCHAR, contract_version BIGINT, clause VARCHAR,
        customer VARCHAR, site VARCHAR, severity VARCHAR, clock_severity VARCHAR, clock VARCHAR,
        calendar VARCHAR, start TIMESTAMP, target_unit VARCHAR, target_amount BIGINT, target_minutes BIGINT,
        paused_minutes DOUBLE, extension_minutes DOUBLE, extension_note VARCHAR, deadline TIMESTAMP,
        stopped_at TIMESTAMP, state VARCHAR, breach_minutes DOUBLE, counted_minutes DOUBLE,
        provisional BOOLEAN, calendar_version VARCHAR, technician VARCHAR, month VARCHAR,
        final BOOLEAN, evaluated_at TIMESTAMP, paused_since TIMESTAMP, at_risk_at TIMESTAMP)""",
    # the instant a clock reaches its at-risk share (§9.2), which the console's countdown turns at
    "ALTER TABLE sla_clocks ADD COLUMN IF NOT EXISTS at_risk_at TIMESTAMP",
    """CREATE TABLE IF NOT EXISTS clock_inputs (
        ticket VARCHAR, clock VARCHAR, position BIGINT, kind VARCHAR, detail VARCHAR, "at" TIMESTAMP,
        "until" TIMESTAMP, input_minutes DOUBLE, minutes DOUBLE, applied BOOLEAN, reason VARCHAR, clause VARCHAR,
        awaits_year INTEGER, target_unit VARCHAR, target_amount BIGINT, evaluated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS sla_summary (
        dimension VARCHAR, key VARCHAR, clock VARCHAR, clocks BIGINT, met BIGINT, breached BIGINT,
        at_risk BIGINT, running BIGINT, not_applicable BIGINT, breach_rate DOUBLE,
        breach_minutes DOUBLE, evaluated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS warranty (
        asset VARCHAR, serial VARCHAR, asset_type VARCHAR, contract VARCHAR, contract_version BIGINT,
        customer VARCHAR, site VARCHAR, placeholder BOOLEAN, replaces VARCHAR, accepted_at TIMESTAMP,
        delivered_at TIMESTAMP, base_end TIMESTAMP, downtime_minutes DOUBLE, warranty_end TIMESTAMP,
        paid_end TIMESTAMP, provisional BOOLEAN, evaluated_at TIMESTAMP, provisional_from TIMESTAMP)""",
    # a views file written before provisional_from existed gets it as its last column, too
    "ALTER TABLE warranty ADD COLUMN IF NOT EXISTS provisional_from TIMESTAMP",
    """CREATE TABLE IF NOT EXISTS visit_periods (
        asset VARCHAR, contract VARCHAR, customer VARCHAR, site VARCHAR, obligation VARCHAR, kind VARCHAR,
        schedule_no INTEGER, one_off BOOLEAN, clause VARCHAR, anchor VARCHAR, anchor_date DATE,
        period BIGINT, start DATE, "end" DATE, status VARCHAR, visit_at TIMESTAMP, evaluated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS first_time_fix (
        ticket VARCHAR, asset VARCHAR, contract VARCHAR, customer VARCHAR, site VARCHAR,
        fault_category VARCHAR, resolved_at TIMESTAMP, arrivals BIGINT, remote_fixed BOOLEAN,
        reopens BIGINT, repeat_visit BOOLEAN, first_time_fix BOOLEAN, evaluated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS repeat_failures (
        asset VARCHAR, serial VARCHAR, fault_category VARCHAR, ticket VARCHAR, kind VARCHAR, failed_at TIMESTAMP,
        n BIGINT, cause VARCHAR, evaluated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS replacement_obligations (
        asset VARCHAR, serial VARCHAR, contract VARCHAR, customer VARCHAR, fault_category VARCHAR,
        failures BIGINT, threshold BIGINT, due_since TIMESTAMP, clause VARCHAR, replaced_by VARCHAR,
        evaluated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS liability (
        ticket VARCHAR, asset VARCHAR, contract VARCHAR, contract_version BIGINT, supplier VARCHAR,
        customer VARCHAR, site VARCHAR, reported_at TIMESTAMP, coverage VARCHAR, warranty_end TIMESTAMP,
        paid_end TIMESTAMP, cause VARCHAR, payer_clause VARCHAR, parts_payer VARCHAR, parts_rate VARCHAR,
        labour_payer VARCHAR, labour_rate VARCHAR, parts_value_fen BIGINT, labour_value_fen BIGINT,
        customer_pays_fen BIGINT, supplier_pays_fen BIGINT, replacement_due BOOLEAN,
        losses_claimed_fen BIGINT, supplier_liable_for_losses BOOLEAN, breaches_cited VARCHAR,
        late_entries BIGINT, provisional BOOLEAN, evaluated_at TIMESTAMP, consumables_rate VARCHAR)""",
    "ALTER TABLE liability ADD COLUMN IF NOT EXISTS consumables_rate VARCHAR",
    """CREATE TABLE IF NOT EXISTS liability_totals (
        contract VARCHAR, supplier VARCHAR, tickets BIGINT, customer_pays_fen BIGINT,
        supplier_pays_fen BIGINT, losses_claimed_fen BIGINT, losses_supplier_liable_fen BIGINT,
        evaluated_at TIMESTAMP, undetermined_tickets BIGINT, undetermined_value_fen BIGINT)""",
    # tickets whose payer no rule decides, and the value of their parts and labour (liability.UNDETERMINED)
    "ALTER TABLE liability_totals ADD COLUMN IF NOT EXISTS undetermined_tickets BIGINT",
    "ALTER TABLE liability_totals ADD COLUMN IF NOT EXISTS undetermined_value_fen BIGINT",
]

def late_entries_sql(only: str = "", events: str = "events") -> str:
    """§9.12: an event is late when (source recording time, else ledger recording time) - occurred_at
    exceeds the contract's tolerance (default 24 h) in force when it occurred. The `late_entries`
    view is this over every event; `only` (an SQL condition on `events`, e.g. one ticket's id)
    narrows the events first, so a report of one ticket does not evaluate the whole log.
    `events`: the table read, `events` or a part of it holding every event of the aggregates
    `only` keeps (a live batch's tickets, liability._tev)
    `events` holds the lateness in whole seconds; compared as 60 x the tolerance in minutes, and
    shown as seconds / 60.0, it reads exactly as the minutes it replaced."""
    return f"""
    WITH e AS (  -- below every contract's tolerance (and the default) an event is never late; calendar
                 -- years are public data that no party enters and no contract's tolerance governs
        SELECT * FROM {events}
        WHERE lateness_seconds > 60 * (SELECT least(1440, min(late_tolerance_minutes)) FROM terms)
          AND aggregate <> 'calendar'{only}),
    agg AS (
        SELECT id, max(contract_id) AS contract FROM {events}
        WHERE type IN ('TicketOpened', 'AssetRegistered') AND id IN (SELECT id FROM e) GROUP BY id)
    SELECT e.position, e.type, e.aggregate, e.id, e.customer, e.occurred_at, e.recorded_at,
           e.source_recorded_at, e.lateness_seconds / 60.0 AS lateness_minutes,
           coalesce(t.late_tolerance_minutes, 1440) AS tolerance_minutes,
           (SELECT max(evaluated_at) FROM checkpoint) AS evaluated_at
    FROM e LEFT JOIN agg ON agg.id = e.id
    ASOF LEFT JOIN terms t ON t.contract = agg.contract AND e.occurred_at >= t.valid_from
    WHERE e.lateness_seconds > 60 * coalesce(t.late_tolerance_minutes, 1440)"""


VIEWS = ["CREATE OR REPLACE VIEW late_entries AS" + late_entries_sql()]

VIEW_TABLES = (
    "sla_clocks", "clock_inputs", "sla_summary", "warranty", "visit_periods", "first_time_fix", "repeat_failures",
    "replacement_obligations", "liability", "liability_totals",
)


def keep_as_recorded(at: str) -> str:
    """The INSERT that keeps, in `corrected_facts`, the facts of `events` at positions `at` (an
    `IN (...)` filter) as they read now, unless kept already. Run before a correction sets their
    columns and before a number beyond its bound is left out: a correction arriving live in a later
    batch then starts from what was recorded, as a rebuild's does."""
    cols = ", ".join("e." + c.name for c in facts.columns())
    return (f"INSERT INTO corrected_facts SELECT e.position, e.occurred_at, {cols} FROM events e "
            f"WHERE e.position {at} AND e.position NOT IN (SELECT position FROM corrected_facts)")


def create(con, *, described: bool = True) -> None:
    for s in MACROS + TABLES + VIEWS:
        con.execute(s)
    if described:  # what projections/README.md says of each table and column, where DBeaver and duckdb show it
        comments.comment(con)
