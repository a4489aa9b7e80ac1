"""Facts in the domain's words, for tests: `desk.open("T1", at="2025-10-01T09:00")` etc."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from domain import events as ev
from domain.terms import load_contract_file

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"


def local(text: str) -> datetime:
    """'2025-10-01T09:00' in Asia/Shanghai."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=SHANGHAI)


class Desk:
    """Makes facts with fresh command ids, as a service desk would send them."""

    def __init__(self, actor: str = "desk:test") -> None:
        self.actor = actor
        self._n = itertools.count(1)

    def _cid(self) -> str:
        return f"cmd-{next(self._n)}"

    def contract(self, seed: str = "000", at: str = "2024-01-01T00:00") -> ev.ContractRegistered:
        d = load_contract_file(str(CONTRACTS / f"seed-{seed}.toml"))
        return ev.ContractRegistered(command_id=self._cid(), id=d["id"], occurred_at=local(at), actor=self.actor,
                                     supplier=d["supplier"], customer_id=d["customer"], terms=d["terms"])

    def asset(self, asset_id: str, contract: str = "K-000", customer: str = "buyer-000", asset_type: str = "camera",
              site: str = "site-1", at: str = "2024-01-01T00:00", **kw) -> ev.AssetRegistered:
        return ev.AssetRegistered(command_id=self._cid(), id=asset_id, occurred_at=local(at), actor=self.actor,
                                  serial=f"SN-{asset_id}", asset_type=asset_type, customer_id=customer, site=site,
                                  contract_id=contract, **kw)

    def fact(self, cls: type[ev.Fact], agg_id: str, at: str, **kw) -> ev.Fact:
        return cls(command_id=self._cid(), id=agg_id, occurred_at=local(at), actor=self.actor, **kw)

    def open(self, ticket: str, asset: str, at: str, severity: str = "normal", fault: str = "no-power",
             **kw) -> ev.TicketOpened:
        return self.fact(ev.TicketOpened, ticket, at, asset_id=asset, severity=severity, fault_category=fault, **kw)


def k001_asset(desk: Desk) -> list[ev.Fact]:
    """Seed 001's contract (K-001, buyer-001) and its asset A-1, accepted on 2 March 2024."""
    return [desk.contract("001"),
            desk.asset("A-1", contract="K-001", customer="buyer-001", at="2024-03-01T10:00"),
            desk.fact(ev.AssetAccepted, "A-1", "2024-03-02T10:00")]


def april_resolution_entered_late(desk: Desk) -> list[ev.Fact]:
    """T-2 on K-001's A-1 (arrival in 3 working days): reported Monday 7 April 2025, arrival due
    Thursday 10 April 24:00, the engineer arrived on the 14th; its resolution, on the 14th, the desk
    recorded on 2 May: the April statement's figure is restated."""
    return [desk.open("T-2", "A-1", "2025-04-07T10:00", severity="general"),
            desk.fact(ev.TicketAcknowledged, "T-2", "2025-04-07T10:20"),
            desk.fact(ev.TechnicianDispatched, "T-2", "2025-04-07T11:00", technician="li"),
            desk.fact(ev.TechnicianArrived, "T-2", "2025-04-14T09:00", technician="li"),
            msgspec.structs.replace(desk.fact(ev.TicketResolved, "T-2", "2025-04-14T12:00", summary="修复"),
                                    source_recorded_at=local("2025-05-02T09:30"))]


def ledger_with_one_ticket(folder: Path, now: datetime = datetime(2026, 11, 1, tzinfo=UTC)) -> Path:
    """A data folder whose ledger holds seed 000's contract, asset A1 and ticket T1 (2025-10-01 09:00)."""
    from adapters.ledger import Ledger
    from adapters.store import StoreConfig

    desk = Desk()
    app = Ledger.open(StoreConfig(folder))
    try:
        app.execute_many([desk.contract("000"), desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00")], now=now)
    finally:
        app.close()
    return folder


def changed_terms(terms: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of contract terms with some values replaced, each named by its path with `__`
    between keys and list indexes: changed_terms(t, schedules__0__every={"months": 0})."""
    out = copy.deepcopy(terms)
    for path, value in changes.items():
        *head, last = path.split("__")
        node = out
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[last] = value
    return out


def contract_toml(data: dict[str, Any]) -> str:
    """A contract file (id, supplier, customer, [terms]) as TOML, values written inline."""
    def inline(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f'"{k}" = {inline(x)}' for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(inline(x) for x in v) + "]"
        return msgspec.json.encode(v).decode()

    lines = [f"{k} = {inline(v)}" for k, v in data.items() if k != "terms"]
    return "\n".join([*lines, "[terms]", *(f"{k} = {inline(v)}" for k, v in data["terms"].items())]) + "\n"
