"""The console's queue keeps what does not depend on the clock for as long as a copy of the views is
read, and orders by time left at each page: the same rows, in the same order, as one query at that
instant, with running clocks counting down and paused ones standing still (§9.3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from adapters.web import queries
from adapters.web.scope import Scope
from projections import open_views

T0 = datetime(2026, 12, 1, 9, 0)
CUSTOMER = Scope("cust", "customer", None, frozenset({"buyer-1"}))


def _views(path: Path):
    con = open_views(str(path))
    rows = []
    for i in range(8):  # running: deadlines an hour apart
        rows.append((f"T-run{i}", "resolution", "buyer-1", "K-1", "running", T0 + timedelta(hours=i), None, T0))
    for i in range(5):  # paused at T0 with 30 min .. 4.5 h left, standing still
        rows.append((f"T-wait{i}", "resolution", "buyer-1", "K-1", "running", T0 + timedelta(minutes=30 + 60 * i),
                     T0 - timedelta(hours=1), T0))
    rows.append(("T-nodeadline", "response", "buyer-1", "K-1", "running", None, None, T0))
    rows.append(("T-other", "resolution", "buyer-2", "K-1", "running", T0, None, T0))  # another customer's
    con.executemany("INSERT INTO sla_clocks (ticket, clock, customer, contract, state, deadline, paused_since, "
                    "evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return con


def _at_that_instant(con, now: datetime, limit: int) -> list[tuple[str, int | None]]:
    """The queue as one query at `now` would give it."""
    return [(r[0], r[1]) for r in con.execute(
        "SELECT ticket, date_diff('second', CASE WHEN paused_since IS NULL THEN CAST(? AS TIMESTAMP) "
        "ELSE evaluated_at END, deadline) AS s FROM sla_clocks WHERE state IN ('running', 'at_risk') "
        "AND customer = 'buyer-1' ORDER BY s, ticket, clock LIMIT ?", [now, limit]).fetchall()]


def test_the_queue_remembered_for_a_copy_of_the_views_orders_by_time_left_at_each_page(tmp_path: Path) -> None:
    con = _views(tmp_path / "views.duckdb")
    memo: dict = {}
    computed = []

    def remember(key, compute):
        if key not in memo:
            computed.append(key)
            memo[key] = compute(con)
        return memo[key]

    for minutes in (0, 45, 130, 300, 600):  # running clocks overtake the paused ones as time passes
        now = T0 + timedelta(minutes=minutes, seconds=17, microseconds=500_000)
        for limit in (3, 6, 500):
            rows, total = queries.queue(con, CUSTOMER, {}, now, limit=limit, remember=remember)
            assert total == 14
            got = [(r["ticket"], r["seconds_left"]) for r in rows]
            assert got == _at_that_instant(con, now, limit), (minutes, limit)
            assert "T-other" not in {t for t, _ in got}
    assert len(computed) == 3, "the clock-free part ran its SQL more than once per copy and limit"
    rows, _ = queries.queue(con, CUSTOMER, {}, T0 + timedelta(minutes=600), limit=500, remember=remember)
    assert rows[-1]["ticket"] == "T-nodeadline" and rows[-1]["seconds_left"] is None
    con.close()
