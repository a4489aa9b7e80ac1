"""Commands that the log could not read back, or that would quietly empty a ticket's clocks,
are refused up front: the refusal names the command, what is wrong and what would be right,
and nothing is recorded. Every case here used to be recorded and then broke reading the log
(views rebuild, ticket show, contract show) or made the ticket's SLA clocks disappear.

Most cases reopen the ledger first, as a second `ticketledger` command would: a ticket read
back from the store must still know its contract's severities.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from adapters.importer import import_items, read_jsonl
from adapters.ledger import Ledger
from adapters.store import StoreConfig, decode_stored, iter_log
from domain import events as ev

from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SEVERITIES = "urgent, severe, technical_help, normal"  # contracts/seed-000.toml


def refused(ledger: Ledger, fact: ev.Fact, wrong: str, right: str) -> str:
    """The command is refused naming itself, what is wrong and what would be right; nothing is recorded."""
    before = ledger.position
    (outcome,) = ledger.execute_many([fact], now=NOW)
    assert outcome.status == "refused", outcome
    assert outcome.error.startswith(f"{type(fact).__name__} {fact.id} (command {fact.command_id}): "), outcome.error
    assert wrong in outcome.error and right in outcome.error, outcome.error
    assert ledger.position == before
    return outcome.error


def recorded(ledger: Ledger, *facts: ev.Fact) -> None:
    assert [o.status for o in ledger.execute_many(list(facts), now=NOW)] == ["recorded"] * len(facts)


def the_log_reads_back(ledger: Ledger) -> None:
    for row in iter_log(ledger):
        decode_stored(row.topic, row.state)


@pytest.fixture
def desk(ledger: Ledger) -> Desk:
    """A site under contract K-000 (buyer-000) with camera A1, and K-001 of another customer
    with camera B1; ticket T1 opened on A1 as "normal", then acknowledged."""
    desk = Desk()
    recorded(ledger, desk.contract("000"), desk.contract("001"), desk.asset("A1"),
             desk.asset("B1", contract="K-001", customer="buyer-001"),
             desk.open("T1", "A1", "2025-10-01T09:00"), desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05"))
    return desk


@pytest.fixture
def later(store_config: StoreConfig, desk: Desk) -> Ledger:
    """The same data folder opened again, as the next command would."""
    return Ledger.open(store_config)


# --- 1. schema versions ------------------------------------------------------------------------


@pytest.mark.parametrize("v", [0, -1, 1, 9])
def test_a_command_in_a_schema_version_other_than_the_current_one_is_refused(later: Ledger, desk: Desk,
                                                                            v: int) -> None:
    # v0 and v-1 never existed, v9 does not yet; v1 is only read from old logs (upgraded on read),
    # a command's fields are those of the current version v2.
    opened = msgspec.structs.replace(desk.open("T2", "A1", "2025-10-01T10:00"), v=v)
    refused(later, opened, f"schema version v{v} is not the current version of TicketOpened",
            'TicketOpened has v1, v2; record the current one, "v": 2')
    the_log_reads_back(later)


def test_an_import_line_in_a_made_up_schema_version_is_refused_naming_the_line(later: Ledger, desk: Desk,
                                                                                tmp_path: Path) -> None:
    good = ev.encode(desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:30", technician="li")).decode()
    made_up = good.replace('"v":1', '"v":9').replace('"command_id":"', '"command_id":"x')
    (tmp_path / "in.jsonl").write_text(f"{good}\n{made_up}\n", encoding="utf-8")
    before = later.position
    summary = import_items(later, read_jsonl(tmp_path / "in.jsonl"))
    assert summary.recorded == 1 and len(summary.refused) == 1
    where, reason = summary.refused[0]
    assert where == "line 2"
    assert "TechnicianDispatched T1" in reason and "schema version v9" in reason and '"v": 1' in reason
    assert later.position == before + 1
    the_log_reads_back(later)


# --- 2. a fact's own constraints (msgspec checks them only when decoding) --------------------


def test_an_empty_actor_is_refused_on_every_kind_of_fact(later: Ledger, desk: Desk) -> None:
    right = "actor must be `str` of length >= 1"
    refused(later, msgspec.structs.replace(desk.fact(ev.TicketResolved, "T1", "2025-10-01T12:00"), actor=""),
            "invalid actor ''", right)
    refused(later, msgspec.structs.replace(desk.contract("002"), actor=""), "invalid actor ''", right)
    amended = ev.ContractAmended(command_id="amend-1", id="K-000", occurred_at=NOW, actor="",
                                 effective_from=NOW, terms=desk.contract("000").terms)
    refused(later, amended, "invalid actor ''", right)
    # what was recorded still reads: the ticket and the contract show
    the_log_reads_back(later)
    assert later.aggregate("ticket", "T1") is not None and later.contract("K-000") is not None


def test_a_part_line_of_no_parts_is_refused_naming_the_field(later: Ledger, desk: Desk) -> None:
    line = ev.PartLine(part="board", quantity=0, quoted_price_fen=10000, cost_price_fen=6000)
    refused(later, desk.fact(ev.RepairAttempted, "T1", "2025-10-01T11:00", fixed=True, parts=[line]),
            "invalid parts[0].quantity", "parts[0].quantity must be `int` >= 1")
    the_log_reads_back(later)


# --- 3. a severity change names one of the contract's severities -----------------------------


def test_a_severity_change_to_a_severity_the_contract_does_not_define_is_refused(later: Ledger, desk: Desk) -> None:
    refused(later, desk.fact(ev.SeverityChanged, "T1", "2025-10-01T09:10", severity="catastrophic"),
            "unknown severity 'catastrophic'", f"the contract's severities are {SEVERITIES}")
    recorded(later, desk.fact(ev.SeverityChanged, "T1", "2025-10-01T09:10", severity="urgent"))


# --- 4. a corrected fact passes the checks of its own command ---------------------------------


def correction(desk: Desk, version: int, **changes: object) -> ev.Fact:
    return desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=version, changes=changes,
                     reason="the desk typed it wrong")


def test_a_correction_that_changes_nothing_is_refused(later: Ledger, desk: Desk) -> None:
    right = 'name each wrong field with its right value, e.g. "changes": {"occurred_at"'
    refused(later, correction(desk, 1), "the correction changes nothing (changes is empty)", right)
    refused(later, correction(desk, 1, severity="normal"),
            'the correction changes nothing (version 1 already reads {"severity":"normal"})', right)


def test_a_correction_to_a_severity_the_contract_does_not_define_is_refused(later: Ledger, desk: Desk) -> None:
    refused(later, correction(desk, 1, severity="catastrophic"),
            "unknown severity 'catastrophic'", f"the contract's severities are {SEVERITIES}")
    recorded(later, desk.fact(ev.SeverityChanged, "T1", "2025-10-01T09:10", severity="severe"))
    refused(later, correction(desk, 3, severity="catastrophic"), "unknown severity 'catastrophic'", SEVERITIES)
    # a correction to a severity of the contract is recorded, and the ticket reads it
    recorded(later, correction(desk, 1, severity="urgent"))
    assert later.aggregate("ticket", "T1").state.opened.severity == "urgent"


def test_a_correction_of_the_report_to_an_unknown_asset_or_contract_is_refused(later: Ledger, desk: Desk) -> None:
    refused(later, correction(desk, 1, asset_id="NOPE"), "unknown asset NOPE", "register the asset first")
    refused(later, correction(desk, 1, contract_id="NOPE"), "unknown contract NOPE", "register the contract first")
    # another customer's asset or contract cannot take the ticket (its customer is not correctable)
    refused(later, correction(desk, 1, asset_id="B1"), "asset B1 belongs to customer buyer-001, not buyer-000",
            "open a new ticket for that asset")
    refused(later, correction(desk, 1, contract_id="K-001"), "contract K-001 binds customer buyer-001, not buyer-000",
            "name a contract of customer buyer-000")


def test_a_correction_of_an_asset_to_an_unknown_contract_is_refused(later: Ledger, desk: Desk) -> None:
    fix = desk.fact(ev.FactCorrected, "A1", "2025-10-02T08:00", corrects_version=1, changes={"contract_id": "NOPE"},
                    reason="wrong contract")
    refused(later, fix, "unknown contract NOPE", "register the contract first")
    recorded(later, desk.fact(ev.FactCorrected, "A1", "2025-10-02T08:00", corrects_version=1,
                              changes={"site": "site-2"}, reason="wrong site"))
