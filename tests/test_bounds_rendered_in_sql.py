"""The bounds have one definition (domain.bounds, declared on the fact types) and two renderings:
Python, which refuses a command, and the views' SQL, which flags a stored fact (projections.bounds).
For any fact, the SQL flags exactly the numbers and times the Python check finds beyond their
bounds (the SQL renders no bound on texts: they change no figure)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.bounds import MAX_FEN, MAX_QUANTITY, breaches
from domain.events import topic_of
from projections import bounds, open_views
from projections.apply import _ingest_sql

NEAR = [0, 1, MAX_QUANTITY, MAX_QUANTITY + 1, MAX_FEN, MAX_FEN + 1, 52_596_000, 52_596_001, 2**53 + 2, 2**63 - 1, 10**30]
amounts = st.one_of(st.sampled_from(NEAR), st.integers(min_value=1, max_value=10**13))
# factors whose products fall on both sides of the money bound, each factor within its own
quantities = st.sampled_from([1, 1_000, 999_999, MAX_QUANTITY, MAX_QUANTITY + 1])
prices = st.sampled_from([1, 999_999, 1_000_000, 1_000_001, 2_000_000, MAX_FEN, MAX_FEN + 1])
times = st.one_of(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda t: t.replace(tzinfo=UTC, microsecond=0)), st.sampled_from([datetime(2000, 1, 1, tzinfo=UTC),
                                                                      datetime(2061, 1, 1, tzinfo=UTC)]))


def base(cls: type[ev.Fact], t: datetime, **kw: object) -> ev.Fact:
    return cls(command_id="c", id="T1", occurred_at=t, actor="a", **kw)


facts = st.one_of(
    st.builds(lambda t, lines, labour: base(ev.RepairAttempted, t, fixed=True, labour_fen=labour, parts=[
        ev.PartLine(part="p", quantity=q, quoted_price_fen=p, cost_price_fen=c) for q, p, c in lines]),
        times, st.lists(st.tuples(st.one_of(quantities, amounts), st.one_of(prices, amounts), st.one_of(prices, amounts)),
                        max_size=3), amounts),
    st.builds(lambda t, a: base(ev.LossClaimed, t, amount_fen=a), times, amounts),
    st.builds(lambda t, a: base(ev.DeadlineExtended, t, clock="resolution", add_minutes=a, consented_by="b"),
              times, amounts),
    st.builds(lambda t, s: base(ev.TicketOpened, t, asset_id="A1", severity="n", fault_category="f",
                                source_recorded_at=s), times, st.one_of(st.none(), times)),
    st.builds(lambda t, e: ev.ContractAmended(command_id="c", id="K1", occurred_at=t, actor="a", terms={},
                                              effective_from=e), times, times),
)


def key(field: str) -> str:
    """One name for a field in both renderings: list indexes as [*], a product as `a x b`."""
    return re.sub(r"\[\d+\]", "[*]", field).replace("[*]: ", "[*].")


@settings(max_examples=100, deadline=None)
@given(st.lists(facts, min_size=1, max_size=4))
def test_the_views_flag_exactly_the_numbers_and_times_the_command_check_refuses(batch: list[ev.Fact]) -> None:
    _assert_flags(batch, live=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(facts, min_size=1, max_size=4))
def test_a_live_batch_parsed_and_checked_for_its_own_types_only_flags_the_same(batch: list[ev.Fact]) -> None:
    """A live batch parses the columns and runs the checks of the fact types it holds only."""
    _assert_flags(batch, live=True)


def _assert_flags(batch: list[ev.Fact], live: bool) -> None:
    types = frozenset(type(f).__name__ for f in batch) if live else None
    con = _views()
    con.execute("DELETE FROM events")
    con.execute("DELETE FROM beyond_bounds")
    # the facts as the load writes them: their typed columns parsed from the stored JSON (apply._ingest_sql)
    con.register("_batch", pa.table({
        "position": pa.array(range(1, len(batch) + 1), pa.int64()), "originator_id": ["o"] * len(batch),
        "originator_version": pa.array(range(1, len(batch) + 1), pa.int64()),
        "topic": [topic_of(f, f.aggregate) for f in batch], "state": [ev.encode(f).decode() for f in batch],
        "recorded_at": ["2026-01-01T00:00:00Z"] * len(batch)}))
    con.execute(_ingest_sql("_batch", types=types))
    con.unregister("_batch")
    if live:
        bounds.flag(con, since=1, types=types)
    else:
        bounds.flag(con)
    flagged = {(p, key(field)) for p, field in con.execute("SELECT position, field FROM beyond_bounds").fetchall()}
    found = {(i, key(b.path)) for i, f in enumerate(batch, start=1) for b in breaches(f)
             if b.keyword in ("maximum", "minimum", "maxItems", "x-maxProduct", "formatMinimum")}
    assert flagged == found


@functools.cache
def _views() -> Any:
    """One in-memory views database for every example (creating its schema is most of an example's cost)."""
    return open_views(None)


def test_a_time_just_inside_and_just_outside_the_counted_days() -> None:
    inside = base(ev.LossClaimed, datetime(2060, 12, 31, 23, 59, tzinfo=UTC), amount_fen=1)
    outside = base(ev.LossClaimed, datetime(2000, 1, 1, tzinfo=UTC) - timedelta(seconds=1), amount_fen=1)
    assert not breaches(inside) and [b.path for b in breaches(outside)] == ["occurred_at"]
