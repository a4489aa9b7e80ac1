"""§9.12 Late entries: lateness is (the source system's own recording time when the event was
imported from one, else the ledger's recording time) minus occurred_at; flagged when over the
contract's tolerance (default 24 h) — as the dispute report shows it."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig
from domain import events as ev

from .domainkit import Desk, local

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def explain(data: Path, ticket: str) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--data-dir", str(data), "explain", ticket, "--at", "2026-01-01T00:00+00:00",
                     "--format", "json"]) == 0
    return json.loads(out.getvalue())


def test_late_entries_are_measured_from_the_source_recording_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    desk = Desk("desk:servicenow")
    app = Ledger.open(StoreConfig(data))
    # All recorded in the ledger today, long after they occurred in 2025 (an import of an old
    # export); the desk's own recording times decide which were entered late.
    facts = [
        desk.contract("000"), desk.asset("A1"),
        desk.open("T1", "A1", "2025-10-01T09:00", source_recorded_at=local("2025-10-01T09:02")),  # 2 min
        desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05",
                  source_recorded_at=local("2025-10-02T09:04")),  # 23 h 59 min: within 24 h
        desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T10:00", technician="li",
                  source_recorded_at=local("2025-10-02T10:01")),  # 24 h 01 min: late
        desk.fact(ev.TechnicianArrived, "T1", "2025-10-01T20:00", technician="li",
                  source_recorded_at=local("2025-10-04T20:00")),  # 72 h: late
        desk.fact(ev.TicketResolved, "T1", "2025-10-01T22:00"),  # no source time: ledger's, a year later
    ]
    assert {o.status for o in app.execute_many(facts, now=NOW)} == {"recorded"}
    app.close()
    report = explain(data, "T1")
    late = {e["type"]: e["late"] for e in report["timeline"]}
    assert late["TicketOpened"] is None and late["TicketAcknowledged"] is None
    assert late["TechnicianDispatched"]["measured_from"] == "source_recorded_at"
    assert round(late["TechnicianDispatched"]["lateness_minutes"]) == 24 * 60 + 1
    assert late["TechnicianDispatched"]["tolerance_minutes"] == 24 * 60
    assert round(late["TechnicianArrived"]["lateness_minutes"]) == 72 * 60
    assert late["TicketResolved"]["measured_from"] == "recorded_at"
    assert late["TicketResolved"]["lateness_minutes"] > 300 * 24 * 60
    assert [e["type"] for e in report["late_entries"]] == ["TechnicianDispatched", "TechnicianArrived",
                                                            "TicketResolved"]


def test_the_contracts_own_tolerance_applies(tmp_path: Path) -> None:
    from domain.terms import load_contract_file

    from .domainkit import CONTRACTS

    data = tmp_path / "data"
    desk = Desk()
    d = load_contract_file(str(CONTRACTS / "seed-000.toml"))
    terms = {**d["terms"], "late_entry_tolerance": {"hours": 72}}
    contract = ev.ContractRegistered(command_id="k", id="K-000", occurred_at=local("2024-01-01T00:00"),
                                     actor="t", supplier=d["supplier"], customer_id=d["customer"], terms=terms)
    app = Ledger.open(StoreConfig(data))
    facts = [contract, desk.asset("A1"),
             desk.open("T1", "A1", "2025-10-01T09:00", source_recorded_at=local("2025-10-03T09:00")),  # 48 h
             desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05",
                       source_recorded_at=local("2025-10-05T09:05"))]  # 96 h
    assert {o.status for o in app.execute_many(facts, now=NOW)} == {"recorded"}
    app.close()
    report = explain(data, "T1")
    assert [e["type"] for e in report["late_entries"]] == ["TicketAcknowledged"]
    assert report["late_entries"][0]["late"]["tolerance_minutes"] == 72 * 60


def test_a_corrected_occurrence_time_moves_the_lateness_and_calendars_are_never_late(tmp_path: Path) -> None:
    import duckdb

    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "init"]) == 0  # records the calendar years, long after they occurred
    desk = Desk("desk:servicenow")
    app = Ledger.open(StoreConfig(data))
    facts = [
        desk.contract("000"), desk.asset("A1"),
        desk.open("T1", "A1", "2025-10-01T09:00", source_recorded_at=local("2025-10-01T09:02")),
        desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T10:00", technician="li",
                  source_recorded_at=local("2025-10-01T10:01")),
        desk.fact(ev.TechnicianArrived, "T1", "2025-10-02T20:00", technician="li",
                  source_recorded_at=local("2025-10-03T10:00")),  # 14 h: within 24 h as recorded
        # the arrival was really a day earlier: entered 38 h after it occurred, so late
        desk.fact(ev.FactCorrected, "T1", "2025-10-04T09:00", corrects_version=3,
                  changes={"occurred_at": "2025-10-01T12:00:00Z"}, reason="arrival was on the 1st"),
    ]
    assert {o.status for o in app.execute_many(facts, now=NOW)} == {"recorded"}
    app.close()
    report = explain(data, "T1")
    late = {e["type"]: e["late"] for e in report["timeline"]}
    assert late["TechnicianArrived"] is not None and round(late["TechnicianArrived"]["lateness_minutes"]) == 38 * 60
    assert main(["--data-dir", str(data), "views", "rebuild", "--at", "2026-01-01T00:00+00:00"]) == 0
    con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM late_entries WHERE aggregate = 'calendar'").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM events WHERE aggregate = 'calendar'").fetchone()[0] > 0
    finally:
        con.close()
