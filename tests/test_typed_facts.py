"""Issue 15: the views' `events` holds typed facts, parsed once at the load, with one definition
(the fact types of domain.events), and no JSON of the log."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from domain import events as ev
from domain.events import FACT_TYPES
from projections import apply_batch, facts, open_views

ENVELOPE_COLUMNS = ["position", "recorded_at", "occurred_at", "source_recorded_at", "type", "aggregate", "id",
                    "customer", "originator_version", "v", "corrected", "lateness_seconds"]


def test_events_holds_the_envelope_and_the_declared_typed_columns_and_no_json_of_the_log() -> None:
    con = open_views(None)
    cols = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'events' ORDER BY ordinal_position").fetchall())
    assert "state" not in cols and "recorded_state" not in cols
    assert list(cols) == ENVELOPE_COLUMNS + [c.name for c in facts.columns_of(FACT_TYPES)]
    # a sample of the map: names, times, lists of dates, nested values, capped integers
    assert (cols["technician"], cols["effective_from"], cols["days_off"], cols["parts"], cols["terms"]) == (
        "VARCHAR", "TIMESTAMP", "DATE[]", "JSON", "JSON")
    assert (cols["fixed"], cols["year"], cols["amount_fen"]) == ("BOOLEAN", "BIGINT", "HUGEINT")
    # free text for people is read from the store (explain, ticket show), never from the views
    assert not {"notes", "description", "summary", "command_id"} & set(cols)


def test_a_field_added_to_a_fact_type_is_a_column_and_free_text_is_not() -> None:
    class WaitStarted(ev.Fact, frozen=True, kw_only=True):  # a copy of the type, one field more
        reason: ev.WaitReason
        notes: ev.Text = ""
        expected_back: ev.Instant | None = None

    before = {c.name: c for c in facts.columns_of(FACT_TYPES)}
    after = {c.name: c for c in facts.columns_of({**FACT_TYPES, "WaitStarted": WaitStarted})}
    assert set(after) - set(before) == {"expected_back"}
    assert (after["expected_back"].sql_type, after["expected_back"].types) == ("TIMESTAMP", ("WaitStarted",))
    # `reason` is free text in SeverityChanged, TicketReopened, ...: its column is filled for the typed waits only
    assert before["reason"].types == ("WaitStarted", "WaitEnded")


def test_one_field_name_of_two_types_cannot_be_two_columns() -> None:
    class Odd(ev.Fact, frozen=True, kw_only=True):
        fixed: int

    with pytest.raises(TypeError, match="'fixed' is BOOLEAN"):
        facts.columns_of({**FACT_TYPES, "Odd": Odd})


def test_the_load_fills_each_column_from_the_stored_json_of_its_own_type() -> None:
    at = datetime(2025, 10, 1, 9, tzinfo=UTC)
    rows = [
        ev.WaitStarted(command_id="c1", id="T1", occurred_at=at, actor="a", reason="parts", notes="call back"),
        ev.SeverityChanged(command_id="c2", id="T1", occurred_at=at, actor="a", severity="P1", reason="worse"),
        ev.CalendarYearRecorded(command_id="c3", id="CN-2025", occurred_at=at, actor="a", year=2025,
                                days_off=[date(2025, 10, 1)], days_on=[], source="s"),
    ]
    kinds = {"WaitStarted": "ticket", "SeverityChanged": "ticket", "CalendarYearRecorded": "calendar"}
    con = open_views(None)
    apply_batch(con, pa.table({
        "position": pa.array([1, 2, 3], pa.int64()), "originator_id": ["o1", "o1", "o2"],
        "originator_version": pa.array([1, 2, 1], pa.int64()),
        "topic": [ev.topic_of(f, kinds[type(f).__name__]) for f in rows],
        "state": [ev.encode(f).decode() for f in rows], "recorded_at": ["2025-10-01T09:00:00Z"] * 3}), at)
    got = con.execute("SELECT type, reason, severity, year, days_off, days_on FROM events ORDER BY position").fetchall()
    assert got == [("WaitStarted", "parts", None, None, None, None),
                   ("SeverityChanged", None, "P1", None, None, None),  # its reason is free text: not a column
                   ("CalendarYearRecorded", None, None, 2025, [date(2025, 10, 1)], [])]
