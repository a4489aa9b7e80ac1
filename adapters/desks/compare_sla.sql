-- compare-sla: our resolution verdict beside the ServiceNow platform's own made_sla (issue 8).
-- The one home of this comparison: `ticketledger report compare-sla --file LOG` runs it
-- (adapters/desks/compare_sla.py), and it runs as it stands in the DuckDB shell:
--   (echo "SET VARIABLE incident_csv = '/path/incident_event_log.csv.gz';"; cat adapters/desks/compare_sla.sql) \
--     | duckdb -readonly <data-dir>/views.duckdb
--
-- Reads the incident log CSV directly (made_sla is the platform's verdict, not a fact: it is
-- never recorded as an event) and the views' sla_clocks table (ticket, clock, state, ...).
-- The incident's made_sla and priority are those of its final row in file order (its
-- closing row: made_sla only turns true -> false, on the Closed row; CHARACTERISATION.md).
-- Ticket ids equal the CSV's `number` (INC0000045). Optional: SET VARIABLE priority = '3'
-- (or 'moderate', or '3 - Moderate') to keep one priority.
-- Statements end with ';' at the end of a line (the command splits them there).

SET threads TO 1;  -- keep file order for row_number(): "final row" = last row of the incident

CREATE OR REPLACE TEMP TABLE sn_final AS
WITH rows AS (
    SELECT row_number() OVER () AS line, number, priority, made_sla
    FROM read_csv(getvariable('incident_csv'), all_varchar = true, header = true)
)
SELECT number AS ticket,
       arg_max(priority, line) AS priority,
       arg_max(made_sla, line) = 'true' AS made_sla
FROM rows GROUP BY number;

CREATE OR REPLACE TEMP TABLE sn_compare AS
SELECT f.ticket, f.priority, f.made_sla,
       coalesce(c.state, 'no clock') AS our_state
FROM sn_final f
LEFT JOIN (SELECT ticket, any_value(state) AS state FROM sla_clocks
           WHERE clock = 'resolution' GROUP BY ticket) c USING (ticket)
WHERE getvariable('priority') IS NULL
   OR lower(f.priority) = lower(getvariable('priority'))
   OR split_part(f.priority, ' - ', 1) = getvariable('priority')
   OR lower(split_part(f.priority, ' - ', 2)) = lower(getvariable('priority'));

-- 1. the confusion matrix per (final) priority
SELECT priority, made_sla, our_state, count(*) AS incidents
FROM sn_compare
GROUP BY ALL
ORDER BY priority, made_sla DESC, our_state;

-- 2. agreement per priority: met == made_sla, over the incidents our clock decided (met/breached)
SELECT priority,
       count(*) AS incidents,
       count(*) FILTER (WHERE our_state IN ('met', 'breached')) AS decided,
       count(*) FILTER (WHERE our_state = 'met' AND made_sla) AS both_met,
       count(*) FILTER (WHERE our_state = 'breached' AND NOT made_sla) AS both_breached,
       count(*) FILTER (WHERE our_state = 'met' AND NOT made_sla) AS we_met_platform_not,
       count(*) FILTER (WHERE our_state = 'breached' AND made_sla) AS we_breached_platform_met,
       count(*) FILTER (WHERE our_state NOT IN ('met', 'breached')) AS undecided,
       round(100 * count(*) FILTER (WHERE (our_state = 'met') = made_sla AND our_state IN ('met', 'breached'))
             / nullif(count(*) FILTER (WHERE our_state IN ('met', 'breached')), 0)::DOUBLE, 1) AS agreement_pct
FROM sn_compare
GROUP BY ROLLUP (priority)
ORDER BY priority NULLS LAST;
