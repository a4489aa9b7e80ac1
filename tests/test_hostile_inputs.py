"""Every hostile input of issue 14 (items 1-6 and 21), one row each, on a real SQLite ledger and a
real nats-server.

For each row:
  - recorded through the real CLI (a JSON Lines import, or `contract add` of a contract file), it
    is refused naming the line or the file, what is wrong and what would be right, and nothing is
    recorded (or, for the inputs that are legal, it is recorded as the row says);
  - written into the log the old way (as a ledger recorded before the bounds holds it), it breaks
    nothing: afterwards `views rebuild`, `relay`, `explain` and `verify` succeed, the relay before
    verify, and verify lists it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.nats_server import NatsServer
from adapters.store import StoreConfig, iter_log
from domain import events as ev
from domain.terms import load_contract_file

from .domainkit import CONTRACTS, changed_terms, contract_toml
from .natskit import nats_single  # noqa: F401 - a fixture
from .oldlog import record_the_old_way

CST = timezone(timedelta(hours=8))
SEED = load_contract_file(str(CONTRACTS / "seed-004.toml"))
BIG = 4611686018427387904


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def fact(cls: type[ev.Fact], id_: str, when: str | datetime, **kw: Any) -> ev.Fact:
    return cls(command_id=f"h-{id_}-{cls.__name__}-{abs(hash(repr(kw))) % 10**8}", id=id_,
               occurred_at=at(when) if isinstance(when, str) else when, actor=kw.pop("actor", "desk"),
               customer="buyer-004", **kw)


def ticket(id_: str, when: str | datetime = "2025-10-01T09:00", **kw: Any) -> ev.Fact:
    return fact(ev.TicketOpened, id_, when, asset_id="A1", severity="normal", fault_category="power",
                contract_id="K-004", site="S1", **kw)


def repair(*lines: tuple[int, int], labour: int = 0) -> ev.Fact:
    return fact(ev.RepairAttempted, "T1", "2025-10-01T11:00", fixed=True, labour_fen=labour,
                parts=[ev.PartLine(part="board", quantity=q, quoted_price_fen=p, cost_price_fen=p) for q, p in lines])


def terms(**changes: Any) -> dict[str, Any]:
    return changed_terms(SEED["terms"], **changes)


@dataclass(frozen=True)
class Hostile:
    name: str
    item: int
    what: ev.Fact | dict[str, Any]  # a fact (imported as one JSON line) or contract terms (`contract add`)
    wrong: str  # what the refusal says is wrong ("" when the input is legal and recorded)
    right: str  # what it says would be right
    check: Callable[[Ledger], None] | None = None  # for a legal input: what was recorded


def stored_in_utc(ledger: Ledger) -> None:
    last = json.loads(list(iter_log(ledger))[-1].state)
    assert last["changes"] == {"occurred_at": "2025-10-01T00:50:00Z"}, last


HOSTILE = [
    Hostile("quantity x price beyond INT64", 1, repair((BIG, BIG)),
            "parts[0].quantity is 4,611,686,018,427,387,904", "parts[0].quantity must be at most 1,000,000"),
    Hostile("quantity 10^30", 1, repair((10**30, 1)), "parts[0].quantity is 1,000,000,000,000,000,000,000,000,000,000",
            "at most 1,000,000"),
    Hostile("a line's value beyond the money bound", 1, repair((1_000_000, 2_000_000)),
            "parts[0].quantity x quoted_price_fen is 2,000,000,000,000", "at most 1,000,000,000,000"),
    Hostile("labour beyond the money bound", 1, repair(labour=2**63 - 1), "labour_fen is 9,223,372,036,854,775,807",
            "labour_fen must be at most 1,000,000,000,000"),
    Hostile("a loss beyond the money bound", 1, fact(ev.LossClaimed, "T1", "2025-10-02T09:00", amount_fen=2**63 - 1),
            "amount_fen is 9,223,372,036,854,775,807", "at most 1,000,000,000,000"),
    Hostile("money at its bounds", 1, repair((1_000_000, 1_000_000), labour=10**12), "", ""),
    Hostile("a 10 MB description", 2, ticket("T-10MB", description="x" * (10 * 1024 * 1024)),
            "description is 10,485,760 characters long", "description must be at most 10,000 characters"),
    Hostile("a contract larger than one stream message", 2,
            terms(payer=[{"coverage": "any", "clause": "条款" * 4000}] * 50),
            "the fact takes", "the stream accepts at most 1,044,480 (TICKETLEDGER_MAX_EVENT_BYTES"),
    Hostile("hours = 10^18", 3, terms(clocks__normal__resolution__target={"hours": 10**18}),
            "clocks.normal.resolution.target.hours is 1,000,000,000,000,000,000", "at most 876,600"),
    Hostile("minutes = 2^64-1", 3, terms(clocks__normal__resolution__target={"minutes": 2**64 - 1}),
            "clocks.normal.resolution.target.minutes is 18,446,744,073,709,551,615", "at most 52,596,000"),
    Hostile("warranty years = 10^9", 3, terms(warranty__default={"years": 10**9}),
            "warranty.default.years is 1,000,000,000", "at most 100"),
    Hostile("every = {months = 0}", 3, terms(schedules__0__every={"months": 0}),
            "schedules[0].every is {months = 0}", "at least 1 months"),
    Hostile("max_extension = {hours = 10^12}", 3, terms(clocks__normal__resolution__max_extension={"hours": 10**12}),
            "clocks.normal.resolution.max_extension.hours is 1,000,000,000,000", "at most 876,600"),
    Hostile('opening hours ["25:00", "09:00"]', 3,
            terms(calendars={"office": {"kind": "business_hours", "hours": [["25:00", "09:00"]]}},
                  clocks__normal__response={"target": {"hours": 1}, "calendar": "office"}),
            "calendars.office.hours[0][0] is '25:00'", 'a time of day from "00:00" to "23:59"'),
    Hostile("reversed opening hours", 3,
            terms(calendars={"office": {"kind": "business_hours", "hours": [["17:00", "09:00"]]}},
                  clocks__normal__response={"target": {"hours": 1}, "calendar": "office"}),
            "calendars.office.hours[0] ['17:00', '09:00'] is reversed", "from an earlier to a later time of day"),
    Hostile("zero-length opening hours", 3,
            terms(calendars={"office": {"kind": "business_hours", "hours": [["09:00", "09:00"]]}}),
            "calendars.office.hours[0] ['09:00', '09:00'] is empty", "from an earlier to a later time of day"),
    Hostile("NUL in the actor", 5, fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05", actor="desk\x00"),
            "actor holds the control character '\\x00'", "actor must be one line with no control characters"),
    Hostile("a bidi override in the channel", 5, fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05",
                                                      channel="phone\u202eenohp"),
            "channel holds the control character '\\u202e'", "no bidi override or isolate"),
    Hostile("an ANSI escape in a technician", 5, fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:30",
                                                      technician="\x1b[2Jli"),
            "technician holds the control character '\\x1b'", "one line with no control characters"),
    Hostile("CR/LF in a site", 5, fact(ev.AssetMoved, "A1", "2025-09-01T09:00", site="S2\r\nT9  forged"),
            "site holds the control character '\\r'", "one line"),
    Hostile("markup and lines in a description", 5,
            ticket("T-MARKUP", description="<img src=x onerror=alert(1)>\n[x](javascript:alert(1))"), "", ""),
    Hostile("a ticket at 0001-01-01 on an asset registered in 2024", 6,
            ticket("T-0001", datetime(1, 1, 1, tzinfo=UTC)), "occurred_at 0001-01-01T00:00:00+00:00 is before asset "
            "A1 was registered", "a fault is reported on a registered asset"),
    Hostile("an asset registered in 1899", 6,
            fact(ev.AssetRegistered, "A1899", datetime(1899, 6, 1, tzinfo=UTC), serial="S", asset_type="x",
                 customer_id="buyer-004", site="S1", contract_id="K-004"),
            "occurred_at 1899-06-01T00:00:00+00:00 is outside the range the views count",
            "a time from 2000-01-01 to 2060-12-31"),
    Hostile("a source recording time in 9999", 6,
            fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05", source_recorded_at=datetime(9999, 1, 1, tzinfo=UTC)),
            "source_recorded_at 9999-01-01T00:00:00+00:00 is", "days in the future"),
    Hostile("a corrected time written in +08:00", 21,
            fact(ev.FactCorrected, "T1", "2025-10-02T09:00", corrects_version=1, reason="typo",
                 changes={"occurred_at": "2025-10-01T08:50:00+08:00"}), "", "", stored_in_utc),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "data"
    assert cli(folder, "init")[0] == 0
    assert cli(folder, "contract", "add", str(CONTRACTS / "seed-004.toml"))[0] == 0
    base = tmp_path_factory.mktemp("hostile-in") / "base.jsonl"
    base.write_bytes(b"\n".join(ev.encode(f) for f in (
        fact(ev.AssetRegistered, "A1", "2024-01-01T00:00", serial="SN-1", asset_type="recorder",
             customer_id="buyer-004", site="S1", contract_id="K-004"),
        fact(ev.AssetAccepted, "A1", "2024-02-01T00:00"), ticket("T1"))) + b"\n")
    code, _, _ = cli_all(folder, "import", str(base))
    assert code == 0
    return folder


def cli(data: Path, *args: str) -> tuple[int, str]:
    code, out, _ = cli_all(data, *args)
    return code, out


def cli_all(data: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--data-dir", str(data), *args])
    return code, out.getvalue(), err.getvalue()


def position(data: Path) -> int:
    app = Ledger.open(StoreConfig(data))
    try:
        return app.position
    finally:
        app.close()


@pytest.mark.parametrize("hostile", HOSTILE, ids=[f"item{h.item}: {h.name}" for h in HOSTILE])
def test_a_hostile_input_is_refused_clearly_and_records_nothing(data: Path, tmp_path: Path, hostile: Hostile) -> None:
    before = position(data)
    if isinstance(hostile.what, dict):
        path = tmp_path / "hostile.toml"
        path.write_text(contract_toml({"id": f"K-H{HOSTILE.index(hostile)}", "supplier": "s", "customer": "buyer-004",
                                       "terms": hostile.what}), encoding="utf-8")
        code, _, err = cli_all(data, "--lang", "en", "contract", "add", str(path))  # the expected words are English
        said = err
        if "the fact takes" in hostile.wrong:  # in the contract's language (Chinese), every word of it
            zh = cli_all(data, "contract", "add", str(path))[2]
            assert "最大的字段是 terms（" in zh and "字节）" in zh and "bytes" not in zh, zh
    else:
        path = tmp_path / "hostile.jsonl"
        path.write_bytes(ev.encode(hostile.what) + b"\n")
        code, out, err = cli_all(data, "--json", "import", str(path))
        summary = json.loads(out)
        summary = summary[0] if isinstance(summary, list) else summary  # emit() prints rows
        said = "\n".join(f"{r['where']}: {r['reason']}" for r in summary["refusals"])
        if hostile.wrong:
            assert said.startswith(f"line 1: {type(hostile.what).__name__} {hostile.what.id} "
                                   f"(command {hostile.what.command_id}): "), said
    if not hostile.wrong:  # legal: recorded
        assert code == 0 and position(data) == before + 1, (out, err)
        if hostile.check:
            app = Ledger.open(StoreConfig(data))
            try:
                hostile.check(app)
            finally:
                app.close()
        return
    assert code != 0 and hostile.wrong in said and hostile.right in said, said
    assert position(data) == before  # nothing recorded


def planted(h: Hostile, n: int) -> list[tuple[str, ev.Fact]]:
    """The hostile input as a ledger recorded before the bounds holds it."""
    if isinstance(h.what, dict):
        return [("contract", ev.ContractRegistered(command_id=f"old-k{n}", id=f"K-OLD{n}", occurred_at=at("2020-01-01T00:00"),
                                                   actor="old", customer="buyer-004", supplier="s",
                                                   customer_id="buyer-004", terms=h.what))]
    f = msgspec.structs.replace(h.what, command_id=f"old-{n}")
    kind = "asset" if isinstance(f, ev.AssetRegistered | ev.AssetMoved) else "ticket"
    if isinstance(f, ev.TicketOpened | ev.AssetRegistered):
        f = msgspec.structs.replace(f, id=f"{f.id}-old")
    return [(kind, f)]


def test_after_every_hostile_input_the_ledger_rebuilds_relays_explains_and_verifies(
        data: Path, nats_single: NatsServer) -> None:  # noqa: F811
    app = Ledger.open(StoreConfig(data))
    try:
        record_the_old_way(app, [p for n, h in enumerate(HOSTILE) for p in planted(h, n)])
    finally:
        app.close()
    code, out = cli(data, "views", "rebuild", "--at", "2026-11-01T00:00+08:00")
    assert code == 0, out
    code, out = cli(data, "--json", "relay", "--nats-url", nats_single.url)
    assert code == 0 and json.loads(out)["withheld"], out  # the 10 MB description and the large contract
    for ticket_id in ("T1", "T-10MB-old", "T-0001-old", "T-MARKUP"):
        for fmt in ("json", "md", "html"):
            assert cli(data, "explain", ticket_id, "--format", fmt)[0] == 0, (ticket_id, fmt)
    code, out = cli(data, "--json", "verify", "--nats-url", nats_single.url)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["stream_checked"], out
    kinds = {n["kind"] for n in report["notices"]}
    assert kinds == {"beyond", "withheld"}
    beyond = " ".join(n["detail"] for n in report["notices"])
    for h in HOSTILE:
        if h.wrong and "the fact takes" not in h.wrong and "before asset" not in h.wrong:  # those: withheld, and a domain rule
            assert h.wrong.split(" is ")[0].split(" holds ")[0] in beyond, h.name

