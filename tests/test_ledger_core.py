"""The ledger core on each store: invariants refuse and record nothing, commands are
idempotent, contracts round-trip, the data folder reopens, the store stamps recording time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from adapters.ledger import Ledger
from adapters.store import iter_log
from domain import events as ev
from domain import hashchain
from domain.errors import Refused
from domain.terms import load_contract_file, terms_from_mapping

from .domainkit import CONTRACTS, Desk, local

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def setup_site(ledger: Ledger, desk: Desk) -> None:
    outcomes = ledger.execute_many([desk.contract("000"), desk.asset("A1"), desk.asset("A2")], now=NOW)
    assert [o.status for o in outcomes] == ["recorded"] * 3


def refused(ledger: Ledger, fact: ev.Fact, *words: str) -> str:
    before = ledger.position
    (outcome,) = ledger.execute_many([fact], now=NOW)
    assert outcome.status == "refused", outcome
    for w in words:
        assert w in outcome.error, outcome.error
    assert type(fact).__name__ in outcome.error and fact.command_id in outcome.error  # names the command
    assert ledger.position == before  # records nothing
    return outcome.error


def test_arrival_before_dispatch_is_refused(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    ledger.execute_many([desk.open("T1", "A1", "2025-10-01T09:00")], now=NOW)
    err = refused(ledger, desk.fact(ev.TechnicianArrived, "T1", "2025-10-01T10:00", technician="li"),
                  "arrival before dispatch", "TechnicianDispatched first")
    assert "T1" in err
    ledger.execute_many([desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T11:00", technician="li")], now=NOW)
    refused(ledger, desk.fact(ev.TechnicianArrived, "T1", "2025-10-01T10:30", technician="li"), "is before the dispatch")


def test_resolution_of_a_cancelled_ticket_is_refused(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    ledger.execute_many([desk.open("T1", "A1", "2025-10-01T09:00"),
                         desk.fact(ev.TicketCancelled, "T1", "2025-10-01T09:30", reason="duplicate")], now=NOW)
    refused(ledger, desk.fact(ev.TicketResolved, "T1", "2025-10-01T12:00"), "cancelled")


def test_ticket_on_unknown_or_decommissioned_asset_is_refused(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    refused(ledger, desk.open("T1", "NOPE", "2025-10-01T09:00"), "unknown asset NOPE", "register the asset first")
    ledger.execute_many([desk.fact(ev.AssetDecommissioned, "A2", "2025-09-01T00:00")], now=NOW)
    refused(ledger, desk.open("T2", "A2", "2025-10-01T09:00"), "decommissioned")


def test_times_in_the_future_beyond_tolerance_are_refused(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    future = (NOW + timedelta(hours=2)).isoformat()
    refused(ledger, desk.open("T1", "A1", future), "in the future")
    within = (NOW + timedelta(minutes=5)).isoformat()
    assert ledger.execute_many([desk.open("T1", "A1", within)], now=NOW)[0].status == "recorded"


def test_unknown_severity_is_refused_naming_the_contract_severities(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    refused(ledger, desk.open("T1", "A1", "2025-10-01T09:00", severity="catastrophic"),
            "unknown severity 'catastrophic'", "urgent")


def test_non_monotonic_correction_is_refused(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    ledger.execute_many([
        desk.open("T1", "A1", "2025-10-01T09:00"),
        desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T10:00", technician="li"),
        desk.fact(ev.TechnicianArrived, "T1", "2025-10-01T12:00", technician="li"),
    ], now=NOW)
    # Moving the arrival before the dispatch would break the timeline.
    refused(ledger, desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=3,
                              changes={"occurred_at": "2025-10-01T09:30:00+08:00"}, reason="typo"),
            "breaks the model", "arrival")
    # A correction that keeps the order is recorded; the ticket reads the corrected value.
    ok = desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=3,
                   changes={"occurred_at": "2025-10-01T11:00:00+08:00"}, reason="technician logged it late")
    assert ledger.execute_many([ok], now=NOW)[0].status == "recorded"
    ticket = ledger.aggregate("ticket", "T1")
    arrival = [f for f in ticket.effective_facts() if isinstance(f, ev.TechnicianArrived)][0]
    assert arrival.occurred_at == local("2025-10-01T11:00")
    # The original stays in the log.
    assert ticket.facts[2].occurred_at == local("2025-10-01T12:00")


def test_same_command_id_same_content_is_already_recorded_other_content_refused(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    opened = desk.open("T1", "A1", "2025-10-01T09:00")
    assert ledger.execute_many([opened], now=NOW)[0].status == "recorded"
    before = ledger.position
    assert ledger.execute_many([opened], now=NOW)[0].status == "already_recorded"
    # The same instant written in another zone is the same content.
    same = msgspec.structs.replace(opened, occurred_at=opened.occurred_at.astimezone(UTC))
    assert ledger.execute_many([same], now=NOW)[0].status == "already_recorded"
    other = msgspec.structs.replace(opened, severity="urgent")
    outcome = ledger.execute_many([other], now=NOW)[0]
    assert outcome.status == "refused" and "already used for different content" in outcome.error
    assert ledger.position == before


@pytest.mark.parametrize("seed", ["000", "001", "002", "004"])
def test_seed_contracts_round_trip_through_the_ledger(ledger: Ledger, seed: str) -> None:
    desk = Desk()
    data = load_contract_file(str(CONTRACTS / f"seed-{seed}.toml"))
    ledger.execute_many([desk.contract(seed)], now=NOW)
    contract = ledger.contract(data["id"])
    assert contract is not None and contract.customer == data["customer"]
    assert contract.latest == terms_from_mapping(data["terms"])


def test_amended_terms_are_in_force_from_their_time(ledger: Ledger) -> None:
    desk = Desk()
    ledger.execute_many([desk.contract("004")], now=NOW)
    terms = load_contract_file(str(CONTRACTS / "seed-004.toml"))["terms"]
    terms["clocks"]["normal"]["resolution"]["target"] = {"hours": 48}
    ledger.execute_many([desk.fact(ev.ContractAmended, "K-004", "2025-06-01T00:00",
                                   effective_from=local("2025-07-01T00:00"), terms=terms)], now=NOW)
    contract = ledger.contract("K-004")
    assert contract.terms_at(local("2025-06-30T23:59")).clock("normal", "resolution").target.hours == 36
    assert contract.terms_at(local("2025-07-01T00:00")).clock("normal", "resolution").target.hours == 48


def test_bad_terms_are_refused_with_where_and_what(ledger: Ledger) -> None:
    desk = Desk()
    bad = desk.contract("004")
    terms = dict(bad.terms)
    terms["clocks"] = {"normal": {"arrival": {"target": {"working_days": 3}, "paused_by": ["customer"]}}}
    bad = msgspec.structs.replace(bad, terms=terms)
    (outcome,) = ledger.execute_many([bad], now=NOW)
    assert outcome.status == "refused"
    assert "clocks.normal.arrival" in outcome.error and "cannot pause" in outcome.error


def test_recording_time_is_stamped_by_the_store_and_never_decreases(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    before = datetime.now(UTC)
    ledger.execute_many([desk.open("T1", "A1", "2025-10-01T09:00")], now=NOW)
    ledger.execute_many([desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05")], now=NOW)
    rows = list(iter_log(ledger))
    times = [r.recorded_at for r in rows]
    assert times == sorted(times)
    last = datetime.fromisoformat(times[-1].replace("Z", "+00:00"))
    assert last >= before - timedelta(seconds=1)  # recording time, not the field time
    assert msgspec.json.decode(rows[-1].state)["occurred_at"] == "2025-10-01T01:05:00Z"
    # the chain binds it
    prev = hashchain.GENESIS
    for r in rows:
        prev = hashchain.link(prev, r.position, r.recorded_at, r.originator_id, r.originator_version, r.topic,
                              hashchain.state_digest(r.state))
        assert prev == r.link


def test_reopening_the_data_folder_continues_the_log(store_config) -> None:
    desk = Desk()
    first = Ledger.open(store_config)
    setup_site(first, desk)
    first.execute_many([desk.open("T1", "A1", "2025-10-01T09:00")], now=NOW)
    first.close()
    again = Ledger.open(store_config)
    assert again.aggregate("ticket", "T1").state.status == "open"
    again.execute_many([desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05")], now=NOW)
    rows = list(iter_log(again))
    assert [r.position for r in rows] == list(range(1, len(rows) + 1))
    assert msgspec.json.decode(rows[-1].state)["type"] == "TicketAcknowledged"
    again.close()


def test_python_api_raises_refused(ledger: Ledger) -> None:
    desk = Desk()
    setup_site(ledger, desk)
    with pytest.raises(Refused, match="unknown ticket"):
        ledger.execute(desk.fact(ev.TicketAcknowledged, "T9", "2025-10-01T09:05"), now=NOW)


def test_two_writers_interleaved_keep_one_unbroken_chain(store_config) -> None:
    """Each writer remembers the chain head it committed; the other's commits in between (and a
    save that failed) must make it read the head again, or the chain would fork."""
    desk = Desk()
    a, b = Ledger.open(store_config), Ledger.open(store_config)
    try:
        setup_site(a, desk)
        a.execute_many([desk.open("T1", "A1", "2025-10-01T09:00")], now=NOW)
        b.execute_many([desk.open("T2", "A2", "2025-10-01T09:10")], now=NOW)  # b writes after a
        a.execute_many([desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05")], now=NOW)
        # b decides on a stale copy of T2 while a records on T2: b's save fails in the store
        stale = b.aggregate("ticket", "T2")
        stale.decide(desk.fact(ev.TicketAcknowledged, "T2", "2025-10-01T09:14"), now=NOW, future_tolerance_minutes=60)
        a.execute_many([desk.fact(ev.TicketAcknowledged, "T2", "2025-10-01T09:15")], now=NOW)
        with pytest.raises(Exception):  # noqa: B017 - the recorder's integrity error, per backend
            b.save(stale)
        b.execute_many([desk.fact(ev.TechnicianDispatched, "T2", "2025-10-01T09:30", technician="w2")], now=NOW)
        a.execute_many([desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:20", technician="w1")], now=NOW)
        b.execute_many([desk.fact(ev.TechnicianArrived, "T2", "2025-10-01T10:30", technician="w2")], now=NOW)
        rows = list(iter_log(a))
        assert len(rows) == 10
        prev = hashchain.GENESIS
        for r in rows:
            prev = hashchain.link(prev, r.position, r.recorded_at, r.originator_id, r.originator_version, r.topic,
                                  hashchain.state_digest(r.state))
            assert prev == r.link, f"chain broken at position {r.position}"
    finally:
        a.close()
        b.close()


def test_calendar_years_the_package_has_not_published_are_refused_and_nothing_recorded(
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import chinese_calendar

    from adapters.cli import main
    from adapters.ledger import open_ledger

    last = max(chinese_calendar.holidays).year
    data = str(tmp_path / "data")

    def positions() -> list[int]:
        ledger = open_ledger(data)
        try:
            return [r.position for r in iter_log(ledger)]
        finally:
            ledger.close()

    assert main(["--data-dir", data, "init"]) == 0
    capsys.readouterr()
    log = positions()
    assert main(["calendar", "record", "--years", f"{last - 1}-{last + 1}", "--data-dir", data]) == 2
    err = capsys.readouterr().err
    assert f"no official schedule for {last + 1}" in err and "Nothing recorded" in err
    assert f"--years {last - 1}-{last}" in err  # what would be right
    assert positions() == log
    assert main(["calendar", "record", "--years", f"{last - 1}-{last}", "--data-dir", data]) == 0


def test_calendar_record_says_the_years_it_recorded_in_json(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from adapters.cli import main

    from .domainkit import ledger_with_one_ticket

    # --json was ignored: a sentence where a program reads which years were recorded
    data = str(ledger_with_one_ticket(tmp_path / "data"))
    assert main(["--data-dir", data, "--json", "calendar", "record", "--years", "2024-2025"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"calendar_years_recorded": [2024, 2025]}]
    assert main(["--data-dir", data, "calendar", "record", "--json", "--years", "2025"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"calendar_years_recorded": []}]  # already recorded
