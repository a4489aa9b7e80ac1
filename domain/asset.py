"""The Asset aggregate: one delivered unit, identified by its serial (SPEC §3)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from .base import LedgerAggregate, command_name
from .errors import N_, Refused
from .events import (
    ASSET_FACT_TYPES,
    AssetAccepted,
    AssetContractChanged,
    AssetDecommissioned,
    AssetMoved,
    AssetRegistered,
    AssetReplaced,
    Fact,
    FactCorrected,
)

ASSET_FOLLOW_UPS = (*(t for t in ASSET_FACT_TYPES if t is not AssetRegistered), FactCorrected)


class Asset(LedgerAggregate):
    kind: ClassVar[str] = "asset"

    def when(self, fact: Fact) -> None:
        if isinstance(fact, AssetRegistered):
            self.registered = fact
            self.customer, self.site, self.contract_id = fact.customer_id, fact.site, fact.contract_id
            self.decommissioned = False
            self.accepted_at: datetime | None = None
            self.replaced_by: str | None = None
        elif isinstance(fact, AssetMoved):
            self.site = fact.site
        elif isinstance(fact, AssetContractChanged):
            self.contract_id = fact.contract_id
        elif isinstance(fact, AssetAccepted):
            self.accepted_at = self.accepted_at or fact.occurred_at
        elif isinstance(fact, AssetReplaced):
            self.replaced_by = fact.by_asset
        elif isinstance(fact, AssetDecommissioned):
            self.decommissioned = True

    @classmethod
    def register(cls, fact: AssetRegistered, *, contract: object, replaced: Asset | None,
                 now: datetime, future_tolerance_minutes: int) -> Asset:
        name = command_name(fact)
        check_contract(name, fact.contract_id, contract, fact.customer_id)
        if fact.replaces is not None and replaced is None:
            raise Refused(name, N_("replaces unknown asset {asset}"), N_("name a registered asset"),
                                asset=fact.replaces)
        fact = cls.normalise(fact, customer=fact.customer_id)
        cls.check_not_future(fact, now, future_tolerance_minutes)
        return cls.start(fact)

    def decide(self, fact: Fact, *, now: datetime, future_tolerance_minutes: int,
               contract: object = None, replacement: Asset | None = None) -> None:
        name = command_name(fact)
        if isinstance(fact, AssetRegistered):
            raise Refused(name, N_("asset {asset} is already registered"),
                          N_("use a new asset id, or AssetMoved / AssetContractChanged"), asset=fact.id)
        if not isinstance(fact, ASSET_FOLLOW_UPS):
            raise Refused(name, N_("{fact} is not an asset fact"), N_("send it to its own aggregate"),
                          fact=type(fact).__name__)
        if self.decommissioned and not isinstance(fact, FactCorrected):
            raise Refused(name, N_("asset {asset} is decommissioned"), N_("record facts on the unit that replaced it"),
                          asset=fact.id)
        if isinstance(fact, AssetContractChanged) and contract is None:
            raise Refused(name, N_("unknown contract {contract}"), N_("register the contract first"),
                          contract=fact.contract_id)
        if isinstance(fact, AssetReplaced):
            if replacement is None:
                raise Refused(name, N_("unknown replacement asset {replacement}"),
                              N_("register it first with replaces = {asset}"),
                              replacement=fact.by_asset, asset=fact.id)
            if replacement.registered.replaces != fact.id:
                raise Refused(name, N_("asset {replacement} does not name {asset} in `replaces`"),
                              N_("register the replacement with replaces set to the unit it replaces"),
                              replacement=fact.by_asset, asset=fact.id)
        if isinstance(fact, FactCorrected):
            _, after = self.corrected(fact)  # the corrected fact passes the checks of its own command
            if isinstance(after, AssetRegistered):
                check_contract(name, after.contract_id, contract, after.customer_id)
            elif isinstance(after, AssetContractChanged):
                check_contract(name, after.contract_id, contract)
        fact = self.normalise(fact, customer=self.customer)
        self.check_not_future(fact, now, future_tolerance_minutes)
        self.record(fact)


def check_contract(name: str, contract_id: str, contract: object, customer: str | None = None) -> None:
    """A registered contract (of `customer`, when given); the application hands us the contract or None."""
    from .contract import Contract

    if not isinstance(contract, Contract):
        raise Refused(name, N_("unknown contract {contract}"),
                      N_("register the contract first (`ticketledger contract add`)"),
                      contract=contract_id)
    if customer is not None and contract.customer != customer:
        raise Refused(name, N_("contract {contract} binds customer {bound}, not {customer}"),
                      N_("name a contract of customer {customer}"), contract=contract_id, bound=contract.customer,
                      customer=customer)
