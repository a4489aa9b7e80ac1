"""Calendar tables built in SQL from the calendar data recorded in the log (§8).

`calendar_days(cal_key, d, ...)`: one row per day 2000-01-01 .. 2060-12-31 per calendar key:
'CN' (the official calendar, used for warranty ends and day-counted periods on 7x24 clocks)
and one key per contract version and named calendar (with the contract's own extra days).
A day whose year is not recorded counts weekends only and has known = false.

`calendar_segments(cal_key, seg_start, seg_end, seg_us, cum_before_us)`: the opening hours of
business-hours (and working-day) calendars in UTC, with the open time before each segment,
so open-time(t) and its inverse are ASOF joins. 7x24 is the identity and has no rows.
"""

from __future__ import annotations

from domain.bounds import COUNTED_DAYS

# the days counted: one definition with the bound on every fact's times (domain.bounds)
FIRST_DAY, LAST_DAY = (d.isoformat() for d in COUNTED_DAYS)

BUILD = [
    "DELETE FROM calendar_years",
    """INSERT INTO calendar_years
    SELECT id, coalesce(region, 'CN'), CAST(year AS INTEGER), originator_version, position, days_off, days_on, source
    FROM events WHERE type = 'CalendarYearRecorded'
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY originator_version DESC, position DESC) = 1""",
    "DELETE FROM calendar_days",
    f"""INSERT INTO calendar_days
    WITH keys AS (
        SELECT 'CN' AS cal_key, CAST([] AS DATE[]) AS xoff, CAST([] AS DATE[]) AS xon
        UNION ALL
        SELECT cal_key, any_value(extra_days_off), any_value(extra_days_on) FROM terms_calendars
        WHERE cal_key <> '7x24' GROUP BY cal_key),
    days AS (SELECT CAST(unnest(generate_series(DATE '{FIRST_DAY}', DATE '{LAST_DAY}', INTERVAL 1 DAY)) AS DATE) AS d),
    yrs AS (SELECT DISTINCT year FROM calendar_years WHERE region = 'CN'),
    offd AS (SELECT DISTINCT unnest(days_off) AS d FROM calendar_years WHERE region = 'CN'),
    ond AS (SELECT DISTINCT unnest(days_on) AS d FROM calendar_years WHERE region = 'CN'),
    base AS (
        SELECT days.d, yrs.year IS NOT NULL AS known,
               CASE WHEN yrs.year IS NOT NULL AND ond.d IS NOT NULL THEN true
                    WHEN yrs.year IS NOT NULL AND offd.d IS NOT NULL THEN false
                    ELSE isodow(days.d) <= 5 END AS w
        FROM days LEFT JOIN yrs ON yrs.year = year(days.d)
        LEFT JOIN offd ON offd.d = days.d LEFT JOIN ond ON ond.d = days.d),
    flagged AS (
        SELECT k.cal_key, b.d,
               CASE WHEN list_contains(k.xon, b.d) THEN true WHEN list_contains(k.xoff, b.d) THEN false
                    ELSE b.w END AS is_working,
               b.known
        FROM keys k CROSS JOIN base b)
    SELECT cal_key, d, is_working, known,
           sum(CAST(is_working AS BIGINT)) OVER w AS cum_work,
           sum(CAST(NOT known AS BIGINT)) OVER w AS cum_unknown,
           first_value(CASE WHEN is_working THEN d END IGNORE NULLS) OVER (
               PARTITION BY cal_key ORDER BY d ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_working
    FROM flagged
    WINDOW w AS (PARTITION BY cal_key ORDER BY d ROWS UNBOUNDED PRECEDING)
    -- stored by day: a clock's lookups of its days (hash joins, the calendar the probe side) then
    -- read only the stretch of days their dynamic min/max filters name, through the zone maps.
    -- In the window's order, every live batch read all ~560k rows of a 48-contract ledger three
    -- to five times (~60 ms of its CPU on the 100k bench ledger)
    ORDER BY d, cal_key""",
    "DELETE FROM calendar_segments",
    """INSERT INTO calendar_segments
    WITH segs AS (
        SELECT DISTINCT c.cal_key, utc_of(d.d + CAST(h[1] || ':00' AS INTERVAL), c.timezone) AS seg_start,
               utc_of(d.d + CAST(h[2] || ':00' AS INTERVAL), c.timezone) AS seg_end
        FROM (SELECT DISTINCT cal_key, timezone, hours FROM terms_calendars WHERE cal_key <> '7x24') c,
             unnest(c.hours) AS u(h), calendar_days d
        WHERE d.cal_key = c.cal_key AND d.is_working)
    SELECT cal_key, seg_start, seg_end, date_diff('microsecond', seg_start, seg_end) AS seg_us,
           coalesce(sum(date_diff('microsecond', seg_start, seg_end)) OVER (
               PARTITION BY cal_key ORDER BY seg_start ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
    FROM segs WHERE seg_end > seg_start""",
]


def build(con) -> None:
    for s in BUILD:
        con.execute(s)
