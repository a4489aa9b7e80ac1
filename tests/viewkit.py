"""Helpers for the views tests: record facts through the real Ledger, rebuild real DuckDB files."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from adapters.ledger import Ledger, open_ledger
from adapters.store_arrow import store_batches
from domain import events as ev

CST = timezone(timedelta(hours=8))
FAR_FUTURE = datetime(2040, 1, 1, tzinfo=UTC)
_ids = itertools.count(1)


def t(s: str) -> datetime:
    """Local Asia/Shanghai time 'YYYY-MM-DDTHH:MM' -> aware datetime."""
    return datetime.fromisoformat(s).replace(tzinfo=CST)


def utc_naive(s: str) -> datetime:
    """Local time -> the naive UTC value DuckDB returns."""
    return t(s).astimezone(UTC).replace(tzinfo=None)


class Kit:
    """A ledger in tmp_path with helpers to record facts in the domain's words."""

    def __init__(self, tmp_path: Path, years: tuple[int, ...] = (2024, 2025, 2026)) -> None:
        self.dir = tmp_path
        self.ledger: Ledger = open_ledger(tmp_path)
        if years:
            from adapters.cli.core import record_calendar

            record_calendar(self.ledger, list(years))

    def do(self, *facts: ev.Fact) -> None:
        outcomes = self.ledger.execute_many(list(facts), now=FAR_FUTURE)
        bad = [o for o in outcomes if o.status == "refused"]
        assert not bad, bad

    def f(self, cls: type, id: str, at: str, **kw: Any) -> ev.Fact:
        return cls(command_id=f"c{next(_ids)}", id=id, occurred_at=t(at), actor="test", **kw)

    def contract(self, cid: str, terms: dict, customer: str = "buyer", supplier: str = "supplier") -> None:
        self.do(ev.ContractRegistered(command_id=f"c{next(_ids)}", id=cid, occurred_at=t("2020-01-01T00:00"),
                                      actor="test", supplier=supplier, customer_id=customer, terms=terms))

    def contract_file(self, path: str) -> str:
        from domain.terms import load_contract_file

        data = load_contract_file(path)
        self.contract(data["id"], data["terms"], data["customer"], data["supplier"])
        return data["id"]

    def asset(self, aid: str, contract: str, customer: str = "buyer", asset_type: str = "device", site: str = "S1",
              accepted: str | None = None, delivered: str | None = None, at: str = "2020-01-02T00:00",
              **kw: Any) -> None:
        facts = [self.f(ev.AssetRegistered, aid, at, serial=f"SN-{aid}", asset_type=asset_type, customer_id=customer,
                        site=site, contract_id=contract, **kw)]
        if delivered:
            facts.append(self.f(ev.AssetDelivered, aid, delivered))
        if accepted:
            facts.append(self.f(ev.AssetAccepted, aid, accepted))
        self.do(*facts)

    def ticket(self, tid: str, asset: str, at: str, severity: str = "normal", category: str = "fault",
               down: bool = False) -> None:
        self.do(self.f(ev.TicketOpened, tid, at, asset_id=asset, severity=severity, fault_category=category,
                       asset_down=down))

    def views(self, evaluate_at: str | datetime | None = None, name: str = "views.duckdb", **kw: Any):
        from projections import open_views, rebuild_from_store

        at = t(evaluate_at) if isinstance(evaluate_at, str) else evaluate_at
        path = self.dir / name
        rebuild_from_store(lambda: store_batches(self.ledger), path, at, **kw)
        return open_views(path)


def rows(con, sql: str, *params: Any) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def clock(con, ticket: str, name: str) -> dict[str, Any]:
    (r,) = rows(con, "SELECT * FROM sla_clocks WHERE ticket = ? AND clock = ?", ticket, name)
    return r
