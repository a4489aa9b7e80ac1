"""A fact beyond its bounds is refused when it comes in (issue 14, items 1, 2, 5, 6 and 21): the
refusal names the command, the field, what is wrong and what would be right, and nothing is
recorded. Each case here was recorded before and broke the ledger later: a rebuild that
overflowed, a relay that stalled, a forged table row, clocks breached by millions of minutes.
The bounds are stated in the JSON Schema of the fact types; reading the log never enforces them
(tests/test_old_ledgers_stay_readable.py).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from adapters.cli.stream import schemas
from adapters.importer import import_items, read_jsonl
from adapters.ledger import Ledger
from adapters.store import StoreConfig, earlier_fingerprint, iter_log
from domain import events as ev

from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CST = timezone(timedelta(hours=8))


def refused(ledger: Ledger, fact: ev.Fact, *said: str) -> str:
    """Refused, naming the command and saying each of `said`; nothing recorded."""
    before = ledger.position
    (outcome,) = ledger.execute_many([fact], now=NOW)
    assert outcome.status == "refused", outcome
    assert outcome.error.startswith(f"{type(fact).__name__} {fact.id} (command {fact.command_id}): "), outcome.error
    for text in said:
        assert text in outcome.error, outcome.error
    assert ledger.position == before
    return outcome.error


def recorded(ledger: Ledger, *facts: ev.Fact) -> None:
    assert [o.status for o in ledger.execute_many(list(facts), now=NOW)] == ["recorded"] * len(facts)


@pytest.fixture
def desk(ledger: Ledger) -> Desk:
    """Contract K-000 (buyer-000), asset A1 registered 2024-01-01, ticket T1 opened 2025-10-01 09:00."""
    desk = Desk()
    recorded(ledger, desk.contract("000"), desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00"))
    return desk


def repair(desk: Desk, *lines: ev.PartLine, labour: int = 0) -> ev.Fact:
    return desk.fact(ev.RepairAttempted, "T1", "2025-10-01T11:00", fixed=True, parts=list(lines), labour_fen=labour)


def line(quantity: int, price: int, cost: int | None = None) -> ev.PartLine:
    return ev.PartLine(part="board", quantity=quantity, quoted_price_fen=price, cost_price_fen=price if cost is None else cost)


# --- 1. money and quantities ---------------------------------------------------------------------


def test_a_part_line_whose_product_would_overflow_the_views_is_refused(ledger: Ledger, desk: Desk) -> None:
    big = 4611686018427387904  # 2**62: quantity x price overflowed every rebuild ("INT64")
    refused(ledger, repair(desk, line(big, big)), "parts[0].quantity is 4,611,686,018,427,387,904",
            "parts[0].quantity must be at most 1,000,000", "more value(s) beyond their bounds")
    refused(ledger, repair(desk, line(10**30, 1)), "parts[0].quantity is 1,000,000,000,000,000,000,000,000,000,000")
    # each factor within its bound, the line's value not: the product is bounded too
    refused(ledger, repair(desk, line(1_000_000, 2_000_000)), "parts[0].quantity x quoted_price_fen is 2,000,000,000,000",
            "must be at most 1,000,000,000,000")
    refused(ledger, repair(desk, line(10, 1, cost=10**12)), "parts[0].quantity x cost_price_fen")
    refused(ledger, repair(desk, *[line(1, 1)] * 1001), "parts holds 1,001 items", "parts must be at most 1,000")
    recorded(ledger, repair(desk, line(1_000_000, 1_000_000), labour=10**12))  # at the bounds: recorded


def test_labour_a_loss_and_an_extension_beyond_their_bounds_are_refused(ledger: Ledger, desk: Desk) -> None:
    refused(ledger, repair(desk, labour=2**63 - 1), "labour_fen is 9,223,372,036,854,775,807",
            "labour_fen must be at most 1,000,000,000,000")
    refused(ledger, desk.fact(ev.LossClaimed, "T1", "2025-10-02T09:00", amount_fen=10**13), "amount_fen is 10,000,000,000,000")
    refused(ledger, desk.fact(ev.DeadlineExtended, "T1", "2025-10-01T10:00", clock="resolution", add_minutes=10**12,
                              consented_by="buyer"), "add_minutes is 1,000,000,000,000", "at most 52,596,000")


def test_a_correction_is_held_to_the_bounds_of_the_fact_it_corrects(ledger: Ledger, desk: Desk) -> None:
    recorded(ledger, repair(desk, line(2, 100)))
    fix = desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=2, reason="typo",
                    changes={"parts": [{"part": "board", "quantity": 10**30, "quoted_price_fen": 1, "cost_price_fen": 1}]})
    refused(ledger, fix, "the corrected RepairAttempted's parts[0].quantity is", "must be at most 1,000,000")


def test_the_json_schema_states_the_bounds(tmp_path: Path) -> None:
    docs = schemas()
    repair_ = docs["RepairAttempted.v1.json"]["$defs"]
    assert repair_["PartLine"]["properties"]["quantity"]["maximum"] == 1_000_000
    assert repair_["PartLine"]["properties"]["quoted_price_fen"]["maximum"] == 10**12
    assert repair_["RepairAttempted"]["properties"]["parts"]["maxItems"] == 1_000
    assert repair_["RepairAttempted"]["properties"]["parts"]["items"]["x-maxProduct"][0] == {
        "of": ["quantity", "quoted_price_fen"], "maximum": 10**12}
    opened = docs["TicketOpened.v2.json"]["$defs"]["TicketOpened"]["properties"]
    assert opened["description"]["maxLength"] == 10_000 and opened["actor"]["maxLength"] == 200
    assert opened["occurred_at"]["formatMinimum"] == "2000-01-01T00:00:00Z"
    assert opened["occurred_at"]["formatExclusiveMaximum"] == "2061-01-01T00:00:00Z"
    period = docs["Terms.json"]["$defs"]["Period"]["properties"]
    assert period["years"]["maximum"] == 100 and period["minutes"]["maximum"] == 52_596_000


# --- 2. sizes --------------------------------------------------------------------------------------


def test_free_text_and_names_are_capped(ledger: Ledger, desk: Desk) -> None:
    ten_mb = "故障" * (5 * 1024 * 1024)
    refused(ledger, desk.open("T2", "A1", "2025-10-01T10:00", description=ten_mb),
            "description is 10,485,760 characters long", "description must be at most 10,000 characters")
    refused(ledger, desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:30", technician="x" * 201),
            "technician is 201 characters long", "at most 200 characters")
    recorded(ledger, desk.open("T2", "A1", "2025-10-01T10:00", description="故障" * 5000))


def test_a_fact_larger_than_the_stream_accepts_is_refused_when_it_comes_in(
        store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETLEDGER_MAX_EVENT_BYTES", "60000")  # a server configured with a small max_payload
    ledger = Ledger.open(store_config)
    try:
        desk = Desk()
        recorded(ledger, desk.contract("000"), desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00"))
        lines = [ev.PartLine(part="电路板" * 60, quantity=1, quoted_price_fen=1, cost_price_fen=1)] * 200
        refused(ledger, repair(desk, *lines), "the fact takes", "bytes as stored; the stream accepts at most 55,904",
                "TICKETLEDGER_MAX_EVENT_BYTES", "its largest field is parts (")
        recorded(ledger, repair(desk, *lines[:20]))
    finally:
        ledger.close()


def test_a_max_event_bytes_setting_that_cannot_be_used_is_refused_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from adapters.cli import main

    monkeypatch.setenv("TICKETLEDGER_MAX_EVENT_BYTES", "1MB")
    assert main(["--data-dir", str(tmp_path / "d"), "init"]) == 2
    assert "TICKETLEDGER_MAX_EVENT_BYTES='1MB': write a number of bytes" in capsys.readouterr().err


# --- 5. control characters ------------------------------------------------------------------------


@pytest.mark.parametrize("text, char", [
    ("li\x00", "'\\x00'"), ("li\u202eevil", "'\\u202e'"), ("\x1b[2Jli", "'\\x1b'"), ("li\r\nT9  forged row", "'\\r'"),
    ("li\u2066", "'\\u2066'"), ("li\x85", "'\\x85'"),
])
def test_control_and_bidi_characters_in_a_name_are_refused(ledger: Ledger, desk: Desk, text: str, char: str) -> None:
    must = "must be one line with no control characters (C0, DEL, C1) and no bidi override or isolate"
    refused(ledger, msgspec.structs.replace(desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05"), actor=text),
            f"actor holds the control character {char}", must)
    refused(ledger, msgspec.structs.replace(desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05"), channel=text),
            f"channel holds the control character {char}")
    refused(ledger, desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:30", technician=text), "technician holds")
    refused(ledger, desk.asset("A2", site=text), "site holds")


def test_free_text_may_hold_lines_and_tabs_but_no_other_control_character(ledger: Ledger, desk: Desk) -> None:
    recorded(ledger, desk.open("T2", "A1", "2025-10-01T10:00", description="no picture\r\n\tsince 08:00\nat gate 3"))
    refused(ledger, desk.open("T3", "A1", "2025-10-01T10:00", description="no picture\x1b[2J"),
            "description holds the control character '\\x1b'",
            "no control characters other than tab, line feed and carriage return")


def test_an_import_line_beyond_a_bound_is_refused_naming_the_line(ledger: Ledger, desk: Desk, tmp_path: Path) -> None:
    good = ev.encode(desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05")).decode()
    bad = json.loads(ev.encode(desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:30", technician="li")))
    bad["actor"] = "desk\u202e"
    (tmp_path / "in.jsonl").write_text(f"{good}\n{json.dumps(bad)}\n", encoding="utf-8")
    before = ledger.position
    summary = import_items(ledger, read_jsonl(tmp_path / "in.jsonl"))
    assert summary.recorded == 1 and [w for w, _ in summary.refused] == ["line 2"]
    assert "actor holds the control character '\\u202e'" in summary.refused[0][1]
    assert ledger.position == before + 1


# --- 6. implausible times -------------------------------------------------------------------------


def test_a_time_outside_the_days_the_views_count_is_refused_naming_the_range(ledger: Ledger, desk: Desk) -> None:
    range_ = "occurred_at must be a time from 2000-01-01 to 2060-12-31"
    in_1900 = msgspec.structs.replace(desk.asset("A1900"), occurred_at=datetime(1900, 1, 2, 1, tzinfo=UTC))
    refused(ledger, in_1900, "occurred_at 1900-01-02T01:00:00+00:00 is outside the range the views count", range_)
    refused(ledger, msgspec.structs.replace(desk.asset("A0001"), occurred_at=datetime(1, 1, 1, tzinfo=UTC)),
            "0001-01-01", range_)
    # a time past the last day counted is in the future until 2061, and refused as such first
    refused(ledger, msgspec.structs.replace(desk.asset("A2061"), occurred_at=datetime(2061, 1, 1, tzinfo=UTC)),
            "occurred_at 2061-01-01T00:00:00+00:00 is", "days in the future")
    recorded(ledger, desk.asset("A9", at="2000-01-01T08:00"))  # 2000-01-01 00:00 UTC: the first instant counted


def test_a_ticket_reported_before_its_asset_was_registered_is_refused(ledger: Ledger, desk: Desk) -> None:
    refused(ledger, desk.open("T2", "A1", "2023-12-31T23:00"), "occurred_at 2023-12-31T15:00:00+00:00 is before asset A1 "
            "was registered (2023-12-31T16:00:00+00:00)", "a fault is reported on a registered asset")
    fix = desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=1, reason="typo",
                    changes={"occurred_at": "2023-06-01T09:00:00+08:00"})
    refused(ledger, fix, "is before asset A1 was registered")


def test_a_source_recording_time_in_the_future_is_refused(ledger: Ledger, desk: Desk) -> None:
    future = desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05", source_recorded_at=datetime(2060, 1, 1, tzinfo=UTC))
    refused(ledger, future, "source_recorded_at 2060-01-01T00:00:00+00:00 is", "days in the future",
            "tolerance 10 min")
    recorded(ledger, msgspec.structs.replace(future, source_recorded_at=NOW + timedelta(minutes=5)))


# --- 21. corrected times in UTC, and fingerprints that normalise every time -----------------------


def test_a_corrected_time_is_stored_in_utc_like_every_other(ledger: Ledger, desk: Desk) -> None:
    recorded(ledger, desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:30", technician="li"),
             desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=2, reason="GPS",
                       changes={"occurred_at": "2025-10-01T09:20:00+08:00"}))
    stored = [json.loads(r.state) for r in iter_log(ledger)]
    assert stored[-1]["changes"] == {"occurred_at": "2025-10-01T01:20:00Z"}
    amended = desk.fact(ev.ContractAmended, "K-000", "2025-06-01T00:00", terms=desk.contract("000").terms,
                        effective_from=datetime(2026, 1, 1, tzinfo=CST))
    recorded(ledger, amended)
    assert json.loads(list(iter_log(ledger))[-1].state)["effective_from"] == "2025-12-31T16:00:00Z"


def test_a_retried_command_written_in_another_zone_is_already_recorded(ledger: Ledger, desk: Desk) -> None:
    fix = desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=1, reason="typo",
                    changes={"occurred_at": "2025-10-01T08:30:00+08:00"})
    recorded(ledger, fix)
    same = msgspec.structs.replace(fix, occurred_at=fix.occurred_at.astimezone(UTC),
                                   changes={"occurred_at": "2025-10-01T00:30:00Z"})
    amended = desk.fact(ev.ContractAmended, "K-000", "2025-06-01T00:00", terms=desk.contract("000").terms,
                        effective_from=datetime(2026, 1, 1, tzinfo=CST))
    recorded(ledger, amended)
    again = msgspec.structs.replace(amended, effective_from=datetime(2025, 12, 31, 16, tzinfo=UTC))
    before = ledger.position
    assert [o.status for o in ledger.execute_many([same, again], now=NOW)] == ["already_recorded"] * 2
    assert ledger.position == before


def test_a_command_recorded_before_every_time_was_normalised_is_still_known(tmp_path: Path) -> None:
    """Its fingerprint was taken with effective_from as written: a retry of it is still known."""
    desk = Desk()
    ledger = Ledger.open(StoreConfig(tmp_path / "d"))
    amended = desk.fact(ev.ContractAmended, "K-000", "2025-06-01T00:00", terms=desk.contract("000").terms,
                        effective_from=datetime(2026, 1, 1, tzinfo=CST))
    recorded(ledger, desk.contract("000"), amended)
    ledger.close()
    db = sqlite3.connect(tmp_path / "d" / "events.sqlite")
    with db:  # the fingerprint as the ledger stored it then
        db.execute("UPDATE ledger_commands SET content_sha256 = ? WHERE command_id = ?",
                   (earlier_fingerprint(amended), amended.command_id))
    db.close()
    assert earlier_fingerprint(amended) != hashlib.sha256(ev.encode(ev.in_utc(amended))).hexdigest()
    ledger = Ledger.open(StoreConfig(tmp_path / "d"))
    try:
        assert [o.status for o in ledger.execute_many([amended], now=NOW)] == ["already_recorded"]
    finally:
        ledger.close()


def test_a_correction_recorded_as_v1_and_retried_as_v2_is_still_known(tmp_path: Path) -> None:
    """FactCorrected v2 (times of `changes` in UTC) differs from v1 by `v`: a correction whose
    fingerprint was taken as v1, before v2 existed, retried today (as v2, in another zone) is
    "already recorded", not "command id already used for different content"."""
    desk = Desk()
    ledger = Ledger.open(StoreConfig(tmp_path / "d"))
    fix = desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=1, reason="typo",
                    changes={"occurred_at": "2025-10-01T08:30:00+08:00"})
    recorded(ledger, desk.contract("000"), desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00"), fix)
    ledger.close()
    as_v1 = hashlib.sha256(ev.encode(ev.in_utc(msgspec.structs.replace(fix, v=1)))).hexdigest()
    db = sqlite3.connect(tmp_path / "d" / "events.sqlite")
    with db:  # the fingerprint as the ledger stored it for a v1 correction
        db.execute("UPDATE ledger_commands SET content_sha256 = ? WHERE command_id = ?", (as_v1, fix.command_id))
    db.close()
    retry = msgspec.structs.replace(fix, changes={"occurred_at": "2025-10-01T00:30:00Z"})
    ledger = Ledger.open(StoreConfig(tmp_path / "d"))
    try:
        before = ledger.position
        assert [o.status for o in ledger.execute_many([retry], now=NOW)] == ["already_recorded"]
        assert ledger.position == before
    finally:
        ledger.close()
