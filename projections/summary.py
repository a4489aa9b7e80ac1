"""SLA summary tables by month, customer, site, severity, technician and contract (§4).

Recomputed from `sla_clocks` after the clocks of the affected tickets were rewritten.
"""

from __future__ import annotations

STATEMENTS = [
    "UPDATE sla_clocks SET evaluated_at = (SELECT ev FROM _p)",
    "DELETE FROM sla_summary",
    """INSERT INTO sla_summary
    WITH d AS (
        SELECT 'month' AS dimension, month AS key, * FROM sla_clocks
        UNION ALL SELECT 'customer', customer, * FROM sla_clocks
        UNION ALL SELECT 'site', site, * FROM sla_clocks
        UNION ALL SELECT 'severity', severity, * FROM sla_clocks
        UNION ALL SELECT 'technician', coalesce(technician, '(none)'), * FROM sla_clocks
        UNION ALL SELECT 'contract', contract, * FROM sla_clocks)
    SELECT dimension, key, clock, count(*),
           count(*) FILTER (WHERE state = 'met'), count(*) FILTER (WHERE state = 'breached'),
           count(*) FILTER (WHERE state = 'at_risk'), count(*) FILTER (WHERE state = 'running'),
           count(*) FILTER (WHERE state = 'not_applicable'),
           count(*) FILTER (WHERE state = 'breached') / nullif(count(*) FILTER (WHERE state <> 'not_applicable'), 0),
           coalesce(sum(breach_minutes), 0), (SELECT ev FROM _p)
    FROM d GROUP BY ALL ORDER BY ALL""",
]


def recompute(con) -> None:
    for s in STATEMENTS:
        con.execute(s)
