"""The synthetic ledger generator: accepted by the Ledger with zero refusals, deterministic by
seed, and holding every realistic ingredient the demo and the benchmarks rely on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import msgspec
import pytest

from adapters.ledger import open_ledger
from adapters.synthetic import Synth, national_day
from domain import events as ev


@pytest.fixture(scope="module")
def facts() -> list[ev.Fact]:
    return list(Synth(seed=11, tickets=400).facts())


def test_the_ledger_accepts_every_fact(tmp_path, facts):
    ledger = open_ledger(tmp_path)
    outcomes = []
    for i in range(0, len(facts), 1000):
        outcomes += ledger.execute_many(facts[i : i + 1000])
    refused = [o.error for o in outcomes if o.status != "recorded"]
    assert refused == []
    assert ledger.position == len(facts)
    # and again: nothing is recorded twice
    again = ledger.execute_many(facts[:500])
    assert {o.status for o in again} == {"already_recorded"}


def test_deterministic_by_seed(facts):
    same = list(Synth(seed=11, tickets=400).facts())
    assert [ev.encode(f) for f in same] == [ev.encode(f) for f in facts]
    other = list(Synth(seed=12, tickets=400).facts())
    assert [ev.encode(f) for f in other] != [ev.encode(f) for f in facts]
    assert len({f.command_id for f in facts}) == len(facts)


def test_times_are_valid(facts):
    now = datetime.now(UTC)
    by_ticket: dict[str, list[ev.Fact]] = {}
    for f in facts:
        assert f.occurred_at < now
        if isinstance(f, ev.TicketFact.__args__ + (ev.FactCorrected,)) and f.id.startswith("T-"):  # type: ignore[attr-defined]
            by_ticket.setdefault(f.id, []).append(f)
    for tid, fs in by_ticket.items():
        opened = fs[0]
        assert isinstance(opened, ev.TicketOpened), tid
        assert all(f.occurred_at >= opened.occurred_at for f in fs), tid
        dispatch = next((f.occurred_at for f in fs if isinstance(f, ev.TechnicianDispatched)), None)
        for f in fs:
            if isinstance(f, ev.TechnicianArrived):
                assert dispatch is not None and f.occurred_at >= dispatch, tid
        end = next((f.occurred_at for f in fs if isinstance(f, ev.TicketClosed | ev.TicketCancelled)), None)
        if end is not None:
            late_ok = (ev.LossClaimed, ev.FactCorrected, ev.TicketClosed, ev.TicketCancelled)
            assert all(f.occurred_at <= end for f in fs if not isinstance(f, late_ok)), tid


def test_every_realistic_ingredient_is_there(facts):
    kinds = Counter(type(f).__name__ for f in facts)
    opened = [f for f in facts if isinstance(f, ev.TicketOpened)]
    assert len(opened) == 400
    assert sum(national_day(f.occurred_at) for f in opened) >= 5
    severities = Counter((f.contract_id, f.severity) for f in opened)
    assert len({c for c, _ in severities}) == 4 and len(severities) >= 8
    late = [f for f in facts if f.source_recorded_at and (f.source_recorded_at - f.occurred_at).total_seconds() > 24 * 3600]
    assert len(late) >= 10
    corrections = [f for f in facts if isinstance(f, ev.FactCorrected)]
    assert corrections and all(f.reason and "occurred_at" in f.changes for f in corrections)
    waits = [f for f in facts if isinstance(f, ev.WaitStarted) and f.reason == "customer"]
    assert waits and kinds["WaitEnded"] >= len(waits)
    ext = [f for f in facts if isinstance(f, ev.DeadlineExtended)]
    assert ext and all(f.id in {o.id for o in opened if o.contract_id == "K-004"} for f in ext)
    assert all(f.add_minutes <= 48 * 60 for f in ext)
    # repeated failures: two unfixed repairs on the same serial and fault category
    ticket_key = {o.id: (o.asset_id, o.fault_category) for o in opened}
    unfixed = Counter(ticket_key[f.id] for f in facts if isinstance(f, ev.RepairAttempted) and not f.fixed)
    assert any(n >= 2 for n in unfixed.values())
    assert kinds["FollowUpDone"] > 0 and kinds["InspectionDone"] > 0
    assert kinds["SpareUnitLent"] > 0 and kinds["SpareUnitReturned"] == kinds["SpareUnitLent"]
    causes = {f.cause for f in facts if isinstance(f, ev.FaultCauseDetermined)}
    assert {"quality", "human", "lightning"} <= causes
    lines = [p for f in facts if isinstance(f, ev.RepairAttempted) for p in f.parts]
    assert any(p.consumable for p in lines) and any(not p.consumable for p in lines)
    for k in ("LossClaimed", "TicketCancelled", "TicketReopened", "AssetReplaced", "SolutionPlanProposed",
              "SeverityChanged", "RemoteFixAttempted", "EvidenceAttached", "CustomerSignedOff"):
        assert kinds[k] > 0, k
    assets = [f for f in facts if isinstance(f, ev.AssetRegistered)]
    assert any(f.asset_type == "recorder" and f.contract_id == "K-000" for f in assets)


def test_bench_generator_writes_a_valid_chain(tmp_path):
    from adapters.store import iter_log
    from bench.generate import generate
    from domain import hashchain

    stats = generate(tmp_path, 20_000, seed=3)
    assert stats["events"] >= 20_000
    ledger = open_ledger(tmp_path)
    prev, n, versions = hashchain.GENESIS, 0, {}
    for row in iter_log(ledger):
        n += 1
        assert row.position == n
        assert hashchain.state_digest(row.state) == row.state_sha256
        link = hashchain.link(prev, row.position, row.recorded_at, row.originator_id, row.originator_version,
                              row.topic, row.state_sha256)
        assert link == row.link
        prev = link
        assert versions.get(row.originator_id, 0) + 1 == row.originator_version
        versions[row.originator_id] = row.originator_version
        if n % 997 == 0:
            fact = msgspec.json.decode(row.state)
            assert fact["type"] == row.topic.split(".")[1]
    assert n == stats["events"]
    # the Ledger can continue on the generated store
    ticket = ledger.aggregate("ticket", stats["first_ticket"])
    assert ticket is not None and ticket.state.opened is not None
