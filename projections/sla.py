"""SLA clocks (§4, §8, §9.1-9.5, §9.11), set-wise over `events`, `terms*` and the calendar tables.

Inputs: temp tables `_aff(ticket)` (tickets to recompute) and `_p(ev)` (the evaluation time).
Each clock is evaluated under every *candidate* (severity i of the ticket's severity timeline,
k accepted consents); window functions then pick the candidate the rules select:
 - consents form a prefix: consent k moves the deadline iff it was given before the deadline
   with the k-1 earlier consents (§9.5);
 - severity changes form a prefix: change i applies iff it came before the deadline under
   severity i-1 and before the clock stopped (§9.4).
Pauses (§9.3): merged waits sorted by start; wait i counts iff its open-time start is before
open(start) + target + extension + the pauses counted before it (a prefix), so
deadline = inv_open(open(start) + target + extension + counted pauses).
"""

from __future__ import annotations

US = 60_000_000  # microseconds per minute

# The segments an ASOF join of `span(cal_key, lo, hi)` can pick (by `at`, seg_start or the open
# time before the segment, both increasing along a calendar; `cmp` the join's comparison): per
# calendar, from the last segment at or before `lo` to the last at or before `hi`. An ASOF join
# sorts all it joins: the whole table was ~40 ms of each live batch's CPU per join (376k segments
# on a 48-contract ledger), whatever the few hundred instants looked up; this is ~5 ms.
SEGMENTS_WITHIN = """
        WITH head AS (
            SELECT s.cal_key, max(s.{at}) AS first_at FROM calendar_segments s JOIN span USING (cal_key)
            WHERE s.{at} {cmp} span.lo GROUP BY s.cal_key)
        SELECT s.* FROM calendar_segments s JOIN span USING (cal_key) LEFT JOIN head h USING (cal_key)
        WHERE s.{at} {cmp} span.hi AND s.{at} >= coalesce(h.first_at, s.{at})"""

STATEMENTS = [
    # the events of the tickets to recompute, read from the log once per pass, from the first
    # position one of them can hold (`?`, EV_FROM)
    """CREATE OR REPLACE TEMP TABLE _ev AS
    SELECT id, type, occurred_at, position, customer, asset_id, contract_id, site, severity, fault_category,
           asset_down, fixed, cause, amount_fen, technician, clock, add_minutes, reason FROM events
    WHERE position >= ? AND aggregate = 'ticket' AND id IN (SELECT ticket FROM _aff)""",
    # tickets to recompute, with the terms version in force at the report time (§9.11)
    """CREATE OR REPLACE TEMP TABLE _tv AS
    SELECT t.*, v.version, coalesce(v.timezone, 'Asia/Shanghai') AS tz, coalesce(v.at_risk_share, 0.8) AS share
    FROM (
        SELECT e.id AS ticket, e.asset_id AS asset, e.contract_id AS contract, e.customer, e.site,
               e.occurred_at AS report_at, e.severity AS severity0, e.fault_category,
               coalesce(e.asset_down, false) AS asset_down
        FROM _ev e WHERE type = 'TicketOpened') t
    ASOF LEFT JOIN terms v ON v.contract = t.contract AND t.report_at >= v.valid_from""",
    # what happened on each ticket (corrected values: the columns of `events` are effective)
    """CREATE OR REPLACE TEMP TABLE _te AS
    SELECT id AS ticket,
        min(occurred_at) FILTER (WHERE type = 'TicketAcknowledged') AS ack_at,
        min(occurred_at) FILTER (WHERE type = 'RemoteFixAttempted'
                                  AND fixed) AS remote_ok_at,
        min(occurred_at) FILTER (WHERE type = 'TechnicianDispatched') AS dispatch_at,
        min(occurred_at) FILTER (WHERE type = 'TechnicianArrived') AS arrive_at,
        count(*) FILTER (WHERE type = 'TechnicianArrived') AS arrivals,
        min(occurred_at) FILTER (WHERE type = 'SpareUnitLent') AS spare_at,
        min(occurred_at) FILTER (WHERE type = 'SolutionPlanProposed') AS plan_at,
        min(occurred_at) FILTER (WHERE type = 'TicketResolved') AS first_resolved_at,
        max(occurred_at) FILTER (WHERE type = 'TicketResolved') AS last_resolved_at,
        arg_max(type, (occurred_at, position)) FILTER (WHERE type IN ('TicketResolved', 'TicketReopened')) AS last_rr,
        count(*) FILTER (WHERE type = 'TicketReopened') AS reopens,
        max(occurred_at) FILTER (WHERE type = 'TicketCancelled') AS cancel_at,
        arg_max(cause, (occurred_at, position))
            FILTER (WHERE type = 'FaultCauseDetermined') AS cause,
        arg_max(severity, (occurred_at, position))
            FILTER (WHERE type = 'SeverityChanged') AS severity_now,
        coalesce(arg_min(tech, (occurred_at, position)) FILTER (WHERE type = 'TechnicianArrived'),
                 arg_min(tech, (occurred_at, position)) FILTER (WHERE type = 'TechnicianDispatched'),
                 arg_min(tech, (occurred_at, position)) FILTER (WHERE type = 'RepairAttempted'))
            AS technician,
        coalesce(sum(CASE WHEN type = 'LossClaimed' THEN CAST(amount_fen AS BIGINT) END), 0) AS losses_fen
    FROM (SELECT *, technician AS tech FROM _ev) GROUP BY id""",
    # the severity timeline: candidate 0 from the report, candidate i from the i-th change
    """CREATE OR REPLACE TEMP TABLE _sev AS
    SELECT ticket, 0 AS idx, severity0 AS severity, report_at AS changed_at, CAST(NULL AS BIGINT) AS position FROM _tv
    UNION ALL
    SELECT id, row_number() OVER (PARTITION BY id ORDER BY occurred_at, position), severity, occurred_at,
           position
    FROM _ev WHERE type = 'SeverityChanged'""",
    # one candidate per ticket, clock and severity; its start, stop and term
    """CREATE OR REPLACE TEMP TABLE _cand AS
    WITH names AS (
        SELECT DISTINCT s.ticket, tc.clock FROM _sev s JOIN _tv t USING (ticket)
        JOIN terms_clocks tc ON tc.contract = t.contract AND tc.version = t.version AND tc.severity = s.severity),
    c AS (
        SELECT n.ticket, n.clock, s.idx, s.severity, s.changed_at, s.position AS sev_position, t.report_at AS start_at, t.tz, t.share,
               tc.unit, tc.amount, tc.target_minutes, tc.calendar, coalesce(tc.cal_key, '7x24') AS cal_key,
               tc.paused_by, tc.clause, tc.max_extension_minutes, tc.stopped_by_plan, tc.trigger_minutes,
               tc.unit IS NOT NULL AND tc.unit NOT IN ('minutes', 'hours') AS day_counted,
               cal.close_time, coalesce(tv.rest_day_rule, true) AS rest_day_rule,
               CASE n.clock
                   WHEN 'response' THEN least(te.ack_at, te.arrive_at, te.first_resolved_at)
                   -- the remote phase ends at a successful remote fix, or when the visit is
                   -- decided (dispatch) or the ticket resolved: SPEC §9.1 is silent on a visit
                   -- decided after the target; a breach growing after the ticket was fixed
                   -- on site would measure nothing the supplier promised
                   WHEN 'remote_resolution' THEN least(te.remote_ok_at, te.dispatch_at, te.first_resolved_at)
                   WHEN 'arrival' THEN te.arrive_at
                   WHEN 'spare' THEN least(te.spare_at, CASE WHEN te.last_rr = 'TicketResolved' THEN te.last_resolved_at END)
                   WHEN 'resolution' THEN least(CASE WHEN te.last_rr = 'TicketResolved' THEN te.last_resolved_at END,
                                                CASE WHEN tc.stopped_by_plan THEN te.plan_at END)
               END AS stop, te.cancel_at
        FROM names n JOIN _sev s USING (ticket) JOIN _tv t USING (ticket) JOIN _te te USING (ticket)
        LEFT JOIN terms tv ON tv.contract = t.contract AND tv.version = t.version
        LEFT JOIN terms_clocks tc ON tc.contract = t.contract AND tc.version = t.version
             AND tc.severity = s.severity AND tc.clock = n.clock
        LEFT JOIN terms_calendars cal ON cal.cal_key = tc.cal_key)
    SELECT c.*, CASE WHEN coalesce(stop, cancel_at) <= p.ev THEN coalesce(stop, cancel_at) END AS stop_eff,
           stop IS NULL AND cancel_at IS NOT NULL AND cancel_at <= p.ev AS cancelled,
           least(coalesce(stop, cancel_at), p.ev) AS end_at
    FROM c, _p p""",
    # consents (§9.5): candidate k = the first k consents, capped at the contract's maximum
    """CREATE OR REPLACE TEMP TABLE _ext AS
    SELECT id AS ticket, clock, occurred_at AS consent_at, position,
           CAST(add_minutes AS BIGINT) AS add_min,
           row_number() OVER x AS k, CAST(sum(CAST(add_minutes AS BIGINT)) OVER x AS BIGINT) AS cum_add
    FROM _ev WHERE type = 'DeadlineExtended'
    WINDOW x AS (PARTITION BY id, clock ORDER BY occurred_at, position)""",
    """CREATE OR REPLACE TEMP TABLE _cx AS
    SELECT c.*, 0 AS k, CAST(NULL AS TIMESTAMP) AS consent_at, CAST(0 AS BIGINT) AS ext_min
    FROM _cand c WHERE c.unit IS NOT NULL
    UNION ALL
    SELECT c.*, e.k, e.consent_at, least(e.cum_add, c.max_extension_minutes)
    FROM _cand c JOIN _ext e ON e.ticket = c.ticket AND e.clock = c.clock
    WHERE c.unit IS NOT NULL AND c.max_extension_minutes IS NOT NULL""",
    # the waits by reason, and the spans in which a resolution was later undone by a reopen (§9.1)
    """CREATE OR REPLACE TEMP TABLE _waits AS
    WITH w AS (
        SELECT id AS ticket, type, reason, occurred_at, position,
               lead(type) OVER x AS ntype, lead(occurred_at) OVER x AS nat
        FROM _ev WHERE type IN ('WaitStarted', 'WaitEnded')
        WINDOW x AS (PARTITION BY id, reason ORDER BY position)),
    r AS (
        SELECT id AS ticket, type, occurred_at, position, lag(type) OVER y AS ptype, lag(occurred_at) OVER y AS pat
        FROM _ev WHERE type IN ('TicketResolved', 'TicketReopened')
        WINDOW y AS (PARTITION BY id ORDER BY occurred_at, position))
    SELECT ticket, reason, position, occurred_at AS ws, CASE WHEN ntype = 'WaitEnded' THEN nat END AS we
    FROM w WHERE type = 'WaitStarted'
    UNION ALL
    SELECT ticket, '_reopened', position, pat, occurred_at FROM r WHERE type = 'TicketReopened' AND ptype = 'TicketResolved'""",
    # each wait of each hour/minute candidate, clipped to [start, stop or evaluation time]; `pauses`:
    # its reason is one the clause lists (or an undone resolution) and it lies within the clock;
    # pausing waits that overlap form one group (`grp`), `prev_b` the end of the group so far
    """CREATE OR REPLACE TEMP TABLE _wc AS
    WITH c AS (
        SELECT k.ticket, k.clock, k.idx, k.cal_key, w.reason, w.position, w.ws AS raw_ws, w.we AS raw_we,
               greatest(w.ws, k.start_at) AS a, least(coalesce(w.we, p.ev), k.end_at) AS b,
               w.reason = '_reopened' OR list_contains(k.paused_by, w.reason) AS listed
        FROM _cand k JOIN _waits w ON w.ticket = k.ticket, _p p
        WHERE NOT k.day_counted AND k.unit IS NOT NULL),
    g AS (
        SELECT *, listed AND b > a AS pauses,
               max(b) OVER (PARTITION BY ticket, clock, idx, listed AND b > a ORDER BY a, b
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_b
        FROM c)
    SELECT *, sum(CASE WHEN a <= prev_b THEN 0 ELSE 1 END) OVER (
                  PARTITION BY ticket, clock, idx, pauses ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS grp
    FROM g""",
    # open time (µs on the calendar) of every instant we need: ASOF join on the segments
    f"""CREATE OR REPLACE TEMP TABLE _pts AS
    WITH inst AS (
        SELECT DISTINCT cal_key, t FROM (
            SELECT cal_key, start_at AS t FROM _cand WHERE NOT day_counted
            UNION ALL SELECT cal_key, end_at FROM _cand WHERE NOT day_counted
            UNION ALL SELECT cal_key, a FROM _wc WHERE b > a UNION ALL SELECT cal_key, b FROM _wc WHERE b > a)
        WHERE t IS NOT NULL),
    span AS (SELECT cal_key, min(t) AS lo, max(t) AS hi FROM inst GROUP BY cal_key),
    segs AS ({SEGMENTS_WITHIN.format(at="seg_start", cmp="<=")})
    SELECT p.cal_key, p.t,
           CASE WHEN p.cal_key = '7x24' THEN epoch_us(p.t)
                ELSE coalesce(s.cum_before_us + least(greatest(date_diff('microsecond', s.seg_start, p.t), 0), s.seg_us), 0)
           END AS o
    FROM inst p ASOF LEFT JOIN segs s ON s.cal_key = p.cal_key AND p.t >= s.seg_start""",
    # each merged pause in open time, and the pauses before it
    """CREATE OR REPLACE TEMP TABLE _wo AS
    WITH wm AS (
        SELECT ticket, clock, idx, cal_key, grp, min(a) AS ws, max(b) AS we FROM _wc WHERE pauses
        GROUP BY ticket, clock, idx, cal_key, grp)
    SELECT w.ticket, w.clock, w.idx, w.grp, w.ws, w.we, ps.o AS o_ws, pe.o - ps.o AS p,
           coalesce(sum(pe.o - ps.o) OVER (PARTITION BY w.ticket, w.clock, w.idx ORDER BY w.ws
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS p_before
    FROM wm w JOIN _pts ps ON ps.cal_key = w.cal_key AND ps.t = w.ws
    JOIN _pts pe ON pe.cal_key = w.cal_key AND pe.t = w.we""",
    # §9.3, once: a merged pause counts for candidate (idx, k) iff it starts, in open time, before
    # the deadline the target, the extension and the pauses counted before it make (a prefix)
    f"""CREATE OR REPLACE TEMP TABLE _wk AS
    SELECT x.ticket, x.clock, x.idx, x.k, w.grp, w.ws, w.we, w.p,
           w.o_ws < ps.o + (x.target_minutes + x.ext_min) * {US} + w.p_before AS counted
    FROM _cx x JOIN _pts ps ON ps.cal_key = x.cal_key AND ps.t = x.start_at
    JOIN _wo w ON w.ticket = x.ticket AND w.clock = x.clock AND w.idx = x.idx
    WHERE NOT x.day_counted""",
    # deadlines of hour/minute candidates
    f"""CREATE OR REPLACE TEMP TABLE _dl AS
    WITH base AS (
        SELECT x.*, ps.o AS o_start, pe.o AS o_end, (x.target_minutes + x.ext_min) * {US} AS tgt_us
        FROM _cx x LEFT JOIN _pts ps ON ps.cal_key = x.cal_key AND ps.t = x.start_at
        LEFT JOIN _pts pe ON pe.cal_key = x.cal_key AND pe.t = x.end_at
        WHERE NOT x.day_counted),
    paus AS (
        SELECT b.ticket, b.clock, b.idx, b.k, coalesce(sum(w.p) FILTER (WHERE w.counted), 0) AS pause_us,
               -- a counted wait still open at the evaluation time, the clock running: paused now
               max(w.ws) FILTER (WHERE w.counted AND w.we = b.end_at AND b.end_at = p.ev) AS paused_since
        FROM base b LEFT JOIN _wk w ON w.ticket = b.ticket AND w.clock = b.clock AND w.idx = b.idx AND w.k = b.k, _p p
        GROUP BY b.ticket, b.clock, b.idx, b.k),
    dl AS (
        SELECT b.*, CAST(pa.pause_us AS BIGINT) AS pause_us, pa.paused_since, CAST(b.o_start + b.tgt_us + pa.pause_us AS BIGINT) AS o_dl,
               -- the at-risk instant (§9.2), found on the calendar as the deadline is: the share of the target counted
               CAST(b.o_start + b.share * b.tgt_us + pa.pause_us AS BIGINT) AS o_risk,
               CAST(greatest(b.o_end - b.o_start - pa.pause_us, 0) AS BIGINT) AS counted_us
        FROM base b JOIN paus pa USING (ticket, clock, idx, k)),
    span AS (SELECT cal_key, min(o_risk) AS lo, max(o_dl) AS hi FROM dl GROUP BY cal_key),
    segs AS ({SEGMENTS_WITHIN.format(at="cum_before_us", cmp="<")})
    SELECT dl.ticket, dl.clock, dl.idx, dl.k, dl.consent_at, dl.ext_min, dl.pause_us, dl.counted_us, dl.tgt_us,
           CASE WHEN dl.cal_key = '7x24' THEN make_timestamp(dl.o_dl)
                ELSE s.seg_start + to_microseconds(dl.o_dl - s.cum_before_us) END AS deadline,
           CAST(NULL AS BOOLEAN) AS provisional_days, dl.paused_since,
           CASE WHEN dl.cal_key = '7x24' THEN make_timestamp(dl.o_risk)
                ELSE r.seg_start + to_microseconds(dl.o_risk - r.cum_before_us) END AS risk_at
    FROM dl ASOF LEFT JOIN segs s ON s.cal_key = dl.cal_key AND dl.o_dl > s.cum_before_us
    ASOF LEFT JOIN segs r ON r.cal_key = dl.cal_key AND dl.o_risk > r.cum_before_us""",
    # deadlines of day-counted candidates (arts. 201-203): end of the last day, 24:00 or close of business.
    # Its at-risk instant (§9.2: the share of the target used) is counted in the target's own days:
    # share × N days is reached in counted day j = ceil(share × N), at the fraction share × N - (j - 1)
    # of that day's counted span, from 00:00 to its end (24:00, or the close of business that ends
    # the last day); the start day is not counted, and neither are the rest days between, so a
    # whole number of days is reached at the end of day j, not on the next counted day. Months and
    # years, of no fixed length, keep the share of the period.
    """INSERT INTO _dl
    WITH b AS (
        SELECT x.*, CAST(loc(x.start_at, x.tz) AS DATE) AS sd,
               CASE WHEN x.cal_key = '7x24' THEN 'CN' ELSE x.cal_key END AS dkey,
               x.share * x.amount * CASE x.unit WHEN 'weeks' THEN 7 ELSE 1 END AS used_days,
               CAST(ceil(x.share * x.amount * CASE x.unit WHEN 'weeks' THEN 7 ELSE 1 END) AS INTEGER) AS risk_j
        FROM _cx x WHERE x.day_counted),
    raw AS (
        SELECT b.*,
               CASE WHEN b.unit = 'working_days' THEN dn.d
                    WHEN b.unit = 'days' THEN b.sd + CAST(b.amount AS INTEGER)
                    WHEN b.unit = 'weeks' THEN b.sd + CAST(7 * b.amount AS INTEGER)
                    WHEN b.unit = 'months' THEN CAST(b.sd + to_months(CAST(b.amount AS INTEGER)) AS DATE)
                    WHEN b.unit = 'years' THEN CAST(b.sd + to_months(CAST(12 * b.amount AS INTEGER)) AS DATE)
               END AS raw_last, d0.cum_unknown AS unk0,
               CASE WHEN b.unit = 'working_days' THEN dk.d
                    WHEN b.unit IN ('days', 'weeks') THEN b.sd + b.risk_j
               END AS risk_day
        FROM b JOIN calendar_days d0 ON d0.cal_key = b.dkey AND d0.d = b.sd
        LEFT JOIN calendar_days dn ON b.unit = 'working_days' AND dn.cal_key = b.dkey
             AND dn.cum_work = d0.cum_work + b.amount AND dn.is_working
        LEFT JOIN calendar_days dk ON b.unit = 'working_days' AND dk.cal_key = b.dkey
             AND dk.cum_work = d0.cum_work + b.risk_j AND dk.is_working),
    lst AS (
        SELECT r.*, CASE WHEN r.unit = 'working_days' OR NOT r.rest_day_rule THEN r.raw_last ELSE dr.next_working END AS last_day,
               dr.cum_unknown AS unk_raw, dr.known AS known_raw
        FROM raw r LEFT JOIN calendar_days dr ON dr.cal_key = r.dkey AND dr.d = r.raw_last),
    fin AS (
        SELECT l.*, utc_of(l.last_day + coalesce(l.close_time, INTERVAL 24 HOUR), l.tz) + to_minutes(l.ext_min) AS deadline
        FROM lst l)
    SELECT f.ticket, f.clock, f.idx, f.k, f.consent_at, f.ext_min, 0, NULL, NULL, f.deadline,
           CASE WHEN f.unit = 'working_days' THEN dl.cum_unknown - f.unk0 > 0
                WHEN f.rest_day_rule THEN dl.cum_unknown - f.unk_raw + CAST(NOT f.known_raw AS INTEGER) > 0
                ELSE false END,
           CAST(NULL AS TIMESTAMP),
           -- a consent's minutes move the at-risk instant by the share of them (as an hour clock's)
           coalesce(least(utc_of(CAST(f.risk_day AS TIMESTAMP) + to_microseconds(CAST(
                                     (f.used_days - (f.risk_j - 1)) * coalesce(epoch(f.close_time), 86400) * 1e6 AS BIGINT)),
                                 f.tz)
                          + to_microseconds(CAST(f.share * f.ext_min * 60e6 AS BIGINT)), f.deadline),
                    f.start_at + to_microseconds(CAST(f.share * date_diff('microsecond', f.start_at, f.deadline) AS BIGINT)))
    -- the raw last day's row was read once, in `fin` (each join here scans the whole calendar);
    -- the last days' rows are found by a semi-join, whose build side is the few candidates: this
    -- LEFT JOIN alone built its hash table on the whole calendar (~15 ms a live batch)
    FROM fin f LEFT JOIN (SELECT cal_key, d, cum_unknown FROM calendar_days
                          WHERE (cal_key, d) IN (SELECT dkey, last_day FROM fin)) dl
         ON dl.cal_key = f.dkey AND dl.d = f.last_day""",
    # the accepted consents: a prefix, each given before the deadline it moves
    """CREATE OR REPLACE TEMP TABLE _dx AS
    SELECT * EXCLUDE (prev_dl, ok) FROM (
        SELECT *, bool_and(k = 0 OR consent_at < prev_dl) OVER (
                  PARTITION BY ticket, clock, idx ORDER BY k ROWS UNBOUNDED PRECEDING) AS ok
        FROM (SELECT *, lag(deadline) OVER (PARTITION BY ticket, clock, idx ORDER BY k) AS prev_dl FROM _dl))
    WHERE ok QUALIFY row_number() OVER (PARTITION BY ticket, clock, idx ORDER BY k DESC) = 1""",
    # §9.4, once: severity change i applies iff it came before the deadline under severity i-1 and
    # before the clock stopped, and every earlier change applied (a prefix)
    """CREATE OR REPLACE TEMP TABLE _sxc AS
    SELECT *, bool_and(idx = 0 OR (before_deadline AND before_stop)) OVER (
              PARTITION BY ticket, clock ORDER BY idx ROWS UNBOUNDED PRECEDING) AS ok
    FROM (SELECT c.ticket, c.clock, c.idx, c.severity, c.changed_at, c.sev_position, c.unit, c.amount,
                 c.target_minutes,
                 coalesce(c.changed_at < prev_dl, true) AS before_deadline,
                 c.stop_eff IS NULL OR c.changed_at < c.stop_eff AS before_stop
          FROM (SELECT c.*, lag(d.deadline) OVER (PARTITION BY c.ticket, c.clock ORDER BY c.idx) AS prev_dl
                FROM _cand c LEFT JOIN _dx d USING (ticket, clock, idx)) c)""",
    # the clock under the accepted severity and consents, its state and, when not applicable, why
    """CREATE OR REPLACE TEMP TABLE _st AS
    WITH sx AS (SELECT ticket, clock, idx FROM _sxc WHERE ok
                QUALIFY row_number() OVER (PARTITION BY ticket, clock ORDER BY idx DESC) = 1),
    r AS (
        SELECT c.*, d.deadline, d.risk_at, d.pause_us, d.paused_since, d.counted_us, d.tgt_us, d.ext_min, d.k, d.provisional_days,
               t.asset, t.contract, t.version, t.customer, t.site, t.tz, t.report_at,
               coalesce(te.severity_now, t.severity0) AS final_severity, te.remote_ok_at, te.dispatch_at,
               te.spare_at, te.last_rr, te.last_resolved_at, te.technician, p.ev,
               coalesce(x.n_consents, 0) AS n_consents, x.asked_min
        FROM sx s JOIN _cand c USING (ticket, clock, idx) LEFT JOIN _dx d USING (ticket, clock, idx)
        JOIN _tv t ON t.ticket = c.ticket JOIN _te te ON te.ticket = c.ticket
        LEFT JOIN (SELECT ticket, clock, count(*) AS n_consents, max(cum_add) AS asked_min FROM _ext GROUP BY ALL) x
             ON x.ticket = c.ticket AND x.clock = c.clock, _p p),
    na AS (
        SELECT r.*,
            CASE
                WHEN r.unit IS NULL THEN 'no_target'
                WHEN r.clock IN ('arrival', 'spare') AND r.remote_ok_at IS NOT NULL AND r.stop IS NULL
                     AND NOT coalesce(r.clock = 'spare' AND r.spare_at IS NOT NULL, false) THEN 'fixed_remotely'
                WHEN r.clock = 'arrival' AND r.remote_ok_at IS NOT NULL AND r.remote_ok_at <= r.ev
                     AND (r.stop IS NULL OR r.stop > r.ev) THEN 'fixed_remotely'
                WHEN r.clock = 'spare' AND r.spare_at IS NULL AND r.last_rr = 'TicketResolved'
                     AND r.last_resolved_at <= r.ev
                     AND r.last_resolved_at < r.start_at + to_minutes(r.trigger_minutes) THEN 'resolved_before_trigger'
                WHEN r.clock = 'remote_resolution' AND r.dispatch_at IS NOT NULL AND r.dispatch_at <= r.deadline
                     AND r.dispatch_at <= r.ev AND (r.remote_ok_at IS NULL OR r.remote_ok_at > r.dispatch_at)
                     THEN 'visit_decided_in_time'
                WHEN r.cancelled AND r.cancel_at <= r.deadline THEN 'cancelled_before_deadline'
            END AS na_reason
        FROM r)
    SELECT na.*,
        CASE
            WHEN na.na_reason IS NOT NULL THEN 'not_applicable'
            WHEN na.stop_eff IS NOT NULL THEN CASE WHEN na.stop_eff <= na.deadline THEN 'met' ELSE 'breached' END
            WHEN na.ev > na.deadline THEN 'breached'
            WHEN (na.counted_us IS NOT NULL AND na.counted_us >= na.share * na.tgt_us)
                 OR (na.counted_us IS NULL AND na.ev >= na.risk_at) THEN 'at_risk'
            ELSE 'running' END AS state
    FROM na""",
    "DELETE FROM sla_clocks WHERE ticket IN (SELECT ticket FROM _aff)",
    f"""INSERT INTO sla_clocks
    WITH st AS (SELECT * FROM _st),
    prov AS (
        SELECT st.ticket, st.clock,
               CASE WHEN st.day_counted THEN coalesce(st.provisional_days, false)
                    WHEN st.cal_key = '7x24' OR st.deadline IS NULL THEN false
                    ELSE coalesce(d1.cum_unknown - d0.cum_unknown + CAST(NOT d0.known AS INTEGER) > 0, true) END AS provisional
        FROM st LEFT JOIN calendar_days d0 ON d0.cal_key = st.cal_key AND d0.d = CAST(loc(st.start_at, st.tz) AS DATE)
        LEFT JOIN calendar_days d1 ON d1.cal_key = st.cal_key
             AND d1.d = CAST(loc(greatest(st.deadline, coalesce(st.end_at, st.deadline)), st.tz) AS DATE))
    SELECT st.ticket, st.asset, st.contract, st.version, st.clause, st.customer, st.site, st.final_severity,
           st.severity, st.clock, st.calendar, st.start_at, st.unit, st.amount, st.target_minutes,
           CASE WHEN st.unit IS NOT NULL THEN st.pause_us / {US} END,
           CASE WHEN st.unit IS NOT NULL THEN st.ext_min END,
           CASE WHEN st.n_consents = 0 OR st.unit IS NULL THEN NULL
                WHEN st.max_extension_minutes IS NULL THEN 'consent recorded, but this clause allows no extension'
                WHEN st.k < st.n_consents THEN 'consent given after the deadline moves nothing (' ||
                     (st.n_consents - st.k) || ' of ' || st.n_consents || ')'
                WHEN st.asked_min > st.max_extension_minutes THEN 'capped at ' || st.max_extension_minutes || ' min'
                ELSE 'consented before the deadline' END,
           CASE WHEN st.state <> 'not_applicable' OR st.unit IS NOT NULL THEN st.deadline END,
           st.stop_eff, st.state,
           CASE WHEN st.state = 'breached' THEN date_diff('microsecond', st.deadline, coalesce(st.stop_eff, st.ev)) / {US} END,
           CASE WHEN st.counted_us IS NOT NULL AND st.state <> 'not_applicable' THEN st.counted_us / {US} END,
           pv.provisional,
           CASE WHEN st.cal_key <> '7x24' OR st.day_counted THEN cv.versions END,
           st.technician, strftime(loc(st.report_at, st.tz), '%Y-%m'),
           (st.state = 'not_applicable' OR st.stop_eff IS NOT NULL) AND NOT coalesce(pv.provisional, false),
           st.ev, CASE WHEN st.state IN ('running', 'at_risk') THEN st.paused_since END, st.risk_at
    FROM st JOIN prov pv USING (ticket, clock)
    -- the calendar years a clock spans, per distinct span (a few dozen), not per clock
    LEFT JOIN (SELECT p.y0, p.y1, string_agg(y.calendar_id || ' v' || y.version, ', ' ORDER BY y.year) AS versions
               FROM (SELECT DISTINCT year(start_at) AS y0, year(coalesce(deadline, start_at)) AS y1 FROM st) p
               JOIN calendar_years y ON y.year BETWEEN p.y0 AND p.y1 GROUP BY p.y0, p.y1) cv
         ON cv.y0 = year(st.start_at) AND cv.y1 = year(coalesce(st.deadline, st.start_at))""",
]

# Why each clock reads as it does (issue 17): one row per input the statements above weighed, read
# from the rows they computed with (_wc/_wk: the waits and the §9.3 rule, _ext/_dx: consents and
# the accepted prefix, _sxc: §9.4, _st: the chosen candidate and why it is not applicable), never
# from a second reading of the rules. The stop is the fact at the stop instant among those that
# stop the clock (which fact it was, not a rule).
STOPS = """(VALUES
    ('response', 'TicketAcknowledged', 'acknowledged', 1), ('response', 'TechnicianArrived', 'arrived', 2),
    ('response', 'TicketResolved', 'resolved', 3),
    ('remote_resolution', 'RemoteFixAttempted', 'remote_fix', 1),
    ('remote_resolution', 'TechnicianDispatched', 'visit_decided', 2),
    ('remote_resolution', 'TicketResolved', 'resolved', 3),
    ('arrival', 'TechnicianArrived', 'arrived', 1),
    ('spare', 'SpareUnitLent', 'spare_lent', 1), ('spare', 'TicketResolved', 'resolved', 2),
    ('resolution', 'TicketResolved', 'resolved', 1), ('resolution', 'SolutionPlanProposed', 'solution_plan', 2),
    ('response', 'TicketCancelled', 'cancelled', 9), ('remote_resolution', 'TicketCancelled', 'cancelled', 9),
    ('arrival', 'TicketCancelled', 'cancelled', 9), ('spare', 'TicketCancelled', 'cancelled', 9),
    ('resolution', 'TicketCancelled', 'cancelled', 9)) AS st(clock, type, reason, priority)"""
NOT_APPLICABLE_FACT = """(VALUES ('fixed_remotely', 'RemoteFixAttempted'), ('resolved_before_trigger', 'TicketResolved'),
    ('visit_decided_in_time', 'TechnicianDispatched'), ('cancelled_before_deadline', 'TicketCancelled'))
    AS naf(reason, type)"""
_NA_AT = """CASE s.na_reason WHEN 'fixed_remotely' THEN s.remote_ok_at
         WHEN 'resolved_before_trigger' THEN s.last_resolved_at WHEN 'visit_decided_in_time' THEN s.dispatch_at
         WHEN 'cancelled_before_deadline' THEN s.cancel_at END"""

CLOCK_INPUTS = [
    "DELETE FROM clock_inputs WHERE ticket IN (SELECT ticket FROM _aff)",
    f"""INSERT INTO clock_inputs BY NAME
    WITH s AS (SELECT * FROM _st),
    facts AS (SELECT id AS ticket, type, occurred_at, min(position) AS position FROM _ev
              WHERE type IN ('TicketAcknowledged', 'TechnicianArrived', 'TicketResolved', 'RemoteFixAttempted',
                             'TechnicianDispatched', 'SpareUnitLent', 'SolutionPlanProposed', 'TicketCancelled')
              GROUP BY ALL),
    wk AS (SELECT w.* FROM _wk w JOIN s ON w.ticket = s.ticket AND w.clock = s.clock AND w.idx = s.idx AND w.k = s.k),
    rows AS (
    -- waits and undone resolutions of hour/minute clocks: their own span and what they added
    SELECT c.ticket, c.clock, c.position, CASE WHEN c.reason = '_reopened' THEN 'reopen' ELSE 'wait' END AS kind,
           CASE WHEN c.reason <> '_reopened' THEN c.reason END AS detail, c.raw_ws AS "at", c.raw_we AS "until",
           CASE WHEN c.b > c.a THEN (pb.o - pa.o) / {US} ELSE 0 END AS input_minutes,
           CASE WHEN wk.counted THEN greatest(pb.o - pp.o, 0) / {US} ELSE 0 END AS minutes,
           coalesce(wk.counted, false) AS applied,
           CASE WHEN NOT c.listed THEN 'not_listed' WHEN NOT c.pauses THEN 'outside_clock'
                WHEN wk.counted AND c.reason = '_reopened' THEN 'undone_resolution'
                WHEN wk.counted THEN 'paused' ELSE 'after_deadline' END AS reason,
           s.clause
    FROM _wc c JOIN s ON c.ticket = s.ticket AND c.clock = s.clock AND c.idx = s.idx
    LEFT JOIN wk ON c.pauses AND wk.ticket = c.ticket AND wk.clock = c.clock AND wk.grp = c.grp
    LEFT JOIN _pts pa ON pa.cal_key = c.cal_key AND pa.t = c.a
    LEFT JOIN _pts pb ON pb.cal_key = c.cal_key AND pb.t = c.b
    LEFT JOIN _pts pp ON pp.cal_key = c.cal_key AND pp.t = greatest(c.a, c.prev_b)
    UNION ALL BY NAME
    -- waits and day-counted targets: the deadline statements pause no target counted in days
    SELECT s.ticket, s.clock, w.position, 'wait' AS kind, w.reason AS detail, w.ws AS "at", w.we AS "until",
           0 AS minutes, false AS applied,
           CASE WHEN list_contains(s.paused_by, w.reason) THEN 'day_counted' ELSE 'not_listed' END AS reason, s.clause
    FROM s JOIN _waits w ON w.ticket = s.ticket AND w.reason <> '_reopened' WHERE s.day_counted
    UNION ALL BY NAME
    -- consents: the accepted prefix (_dx's k) and the clause's maximum
    SELECT ticket, clock, position, 'consent' AS kind, consent_at AS "at",
           CASE WHEN reason = 'capped' THEN cum_add ELSE add_min END AS input_minutes,
           CASE reason WHEN 'applied' THEN add_min WHEN 'capped' THEN max_extension_minutes ELSE 0 END AS minutes,
           reason IN ('applied', 'capped') AS applied, reason, clause
    FROM (SELECT e.*, s.clause, s.max_extension_minutes,
                 CASE WHEN s.max_extension_minutes IS NULL THEN 'not_allowed' WHEN e.k > s.k THEN 'after_deadline'
                      WHEN e.cum_add > s.max_extension_minutes THEN 'capped' ELSE 'applied' END AS reason
          FROM _ext e JOIN s ON e.ticket = s.ticket AND e.clock = s.clock WHERE s.unit IS NOT NULL)
    UNION ALL BY NAME
    -- severity changes: the accepted prefix (_sxc) and the target each one set
    SELECT x.ticket, x.clock, x.sev_position AS position, 'severity' AS kind, x.severity AS detail,
           x.changed_at AS "at", x.target_minutes AS input_minutes,
           CASE WHEN x.idx <= s.idx THEN x.target_minutes ELSE s.target_minutes END AS minutes,
           x.idx <= s.idx AS applied,
           CASE WHEN x.idx <= s.idx THEN CASE WHEN x.unit IS NOT DISTINCT FROM pr.unit
                                              AND x.amount IS NOT DISTINCT FROM pr.amount
                                         THEN 'same_target' ELSE 'applied' END
                WHEN NOT x.before_stop THEN 'after_stop' ELSE 'after_deadline' END AS reason,
           s.clause, x.unit AS target_unit, x.amount AS target_amount
    FROM _sxc x JOIN s ON x.ticket = s.ticket AND x.clock = s.clock
    LEFT JOIN _sxc pr ON pr.ticket = x.ticket AND pr.clock = x.clock AND pr.idx = x.idx - 1
    WHERE x.idx >= 1
    UNION ALL BY NAME
    -- not applicable, and why (the state's own reason, _st.na_reason)
    SELECT s.ticket, s.clock, f.position, 'not_applicable' AS kind,
           CASE WHEN s.na_reason = 'no_target' THEN s.severity ELSE naf.type END AS detail,
           {_NA_AT} AS "at",
           CASE WHEN s.na_reason = 'resolved_before_trigger' THEN s.trigger_minutes END AS input_minutes,
           true AS applied, s.na_reason AS reason, s.clause
    FROM s LEFT JOIN {NOT_APPLICABLE_FACT} ON naf.reason = s.na_reason
    LEFT JOIN facts f ON f.ticket = s.ticket AND f.type = naf.type AND f.occurred_at = {_NA_AT}
    WHERE s.na_reason IS NOT NULL
    UNION ALL BY NAME
    -- what stopped the clock: the stopping fact at the stop instant
    SELECT s.ticket, s.clock, arg_min(f.position, (st.priority, f.position)) AS position, 'stop' AS kind,
           arg_min(f.type, (st.priority, f.position)) AS detail, any_value(s.stop_eff) AS "at", true AS applied,
           arg_min(st.reason, (st.priority, f.position)) AS reason, any_value(s.clause) AS clause
    FROM s JOIN {STOPS} ON st.clock = s.clock
    JOIN facts f ON f.ticket = s.ticket AND f.type = st.type AND f.occurred_at = s.stop_eff
    WHERE s.state IN ('met', 'breached') AND s.stop_eff IS NOT NULL
    GROUP BY s.ticket, s.clock)
    -- stamped as written: a later UPDATE of the ticket's rows cost a scan of clock_inputs per batch
    SELECT *, (SELECT ev FROM _p) AS evaluated_at FROM rows""",
    # provisional clocks: the first calendar year they span that the log holds no data for (§8)
    """INSERT INTO clock_inputs BY NAME
    SELECT c.ticket, c.clock, 'calendar' AS kind, true AS applied, 'year_missing' AS reason, c.clause,
           (SELECT ev FROM _p) AS evaluated_at,
           list_min(list_filter(range(year(loc(c.start, s.tz)),
                                      year(loc(greatest(c.deadline, coalesce(s.end_at, c.deadline)), s.tz)) + 1),
                                lambda y: NOT list_contains(k.years, y))) AS awaits_year
    FROM sla_clocks c JOIN _st s ON s.ticket = c.ticket AND s.clock = c.clock,
         (SELECT coalesce(list(year), []) AS years FROM calendar_years) k
    WHERE c.provisional AND c.ticket IN (SELECT ticket FROM _aff)""",
]

# Off only to measure what the rows cost (bench/clock_inputs_bench.py); the views always write them.
WRITE_CLOCK_INPUTS = True


# The first position at which a ticket of `_aff` can have an event: a ticket's events follow its
# opening in the log (0 when one has no opening). `_ev` reads from there as a table filter: events
# are stored in position order, so the row groups before it are skipped; `id IN (SELECT ...)` alone
# is a join that fetches every column it reads of every ticket event in the log (~0.6-1 s at 10M,
# where a live batch's tickets, those touched and those whose clock is not final, are recent).
# `opened`: `events`, or a part of it holding every opening of the `_aff` tickets (a live batch
# reads them with `_down_open`'s, projections.recompute `_oc`: one scan of the log instead of two).
EV_FROM = """SELECT CASE WHEN count(DISTINCT id) = (SELECT count(*) FROM _aff) THEN coalesce(min(position), 0) ELSE 0 END
    FROM {opened} WHERE type = 'TicketOpened' AND id IN (SELECT ticket FROM _aff)"""


def _run(con, inputs: bool, opened: str = "events") -> None:  # noqa: ANN001 - a DuckDB connection
    ev_from = con.execute(EV_FROM.format(opened=opened)).fetchall()[0][0]
    ev, *rest = statements(inputs)
    con.execute(ev, [ev_from])
    for s in rest:
        con.execute(s)


def statements(inputs: bool = True) -> list[str]:
    return STATEMENTS + CLOCK_INPUTS if WRITE_CLOCK_INPUTS and inputs else STATEMENTS


# Tickets per pass. Clocks of different tickets never meet, so a rebuild evaluates them in parts:
# the intermediate tables (a row per clock candidate, pause and calendar point) then stay a few
# hundred MB whatever the ledger's size, where one pass over 10M events outgrew the memory limit.
TICKETS_PER_PASS = 100_000


def recompute(con, inputs: bool = True, opened: str = "events") -> None:  # noqa: ANN001 - a DuckDB connection
    """The clocks of the tickets in `_aff` (left as it was found); with `inputs` False, not what
    each clock was computed from (`clock_inputs`: a throwaway replay read for its clocks alone).
    `opened`: where the openings of the `_aff` tickets are read (EV_FROM)."""
    n = con.execute("SELECT count(*) FROM _aff").fetchall()[0][0]
    if n <= TICKETS_PER_PASS:
        _run(con, inputs, opened)
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _aff_all AS "
                f"SELECT ticket, (row_number() OVER () - 1) // {TICKETS_PER_PASS} AS part FROM _aff")
    try:
        for part in range((n + TICKETS_PER_PASS - 1) // TICKETS_PER_PASS):
            con.execute("CREATE OR REPLACE TEMP TABLE _aff AS SELECT ticket FROM _aff_all WHERE part = ?", [part])
            _run(con, inputs, opened)
    finally:
        con.execute("CREATE OR REPLACE TEMP TABLE _aff AS SELECT ticket FROM _aff_all")
        con.execute("DROP TABLE _aff_all")
