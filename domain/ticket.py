"""The Ticket aggregate: one fault report and everything done about it (SPEC §3).

Invariants live in `TicketState.check`, the one place that decides whether a fact may
follow the ones before it. A correction is accepted only if the corrected history still
passes the same checks (a "non-monotonic correction" is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from .base import LedgerAggregate, apply_corrections, command_name
from .contract import Contract
from .errors import Refused
from .events import (
    TICKET_FACT_TYPES,
    CustomerSignedOff,
    EvidenceAttached,
    Fact,
    FactCorrected,
    FaultCauseDetermined,
    LossClaimed,
    SeverityChanged,
    SpareUnitLent,
    SpareUnitReturned,
    TechnicianArrived,
    TechnicianDispatched,
    TicketCancelled,
    TicketClosed,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    WaitEnded,
    WaitStarted,
)

# Facts that may still be recorded on a closed or cancelled ticket (claims and evidence come late).
AFTER_END = (EvidenceAttached, LossClaimed, FaultCauseDetermined, CustomerSignedOff, FactCorrected)


@dataclass
class TicketState:
    severities: tuple[str, ...] = ()
    opened: TicketOpened | None = None
    status: str = "new"  # open, resolved, closed, cancelled
    severity: str = ""
    dispatched_at: datetime | None = None
    arrived: bool = False
    open_waits: set[str] = field(default_factory=set)
    spares_out: set[str] = field(default_factory=set)
    ended_at: datetime | None = None  # when it was closed or cancelled

    def check(self, fact: Fact) -> None:
        """Refuse a fact that would break the model; otherwise return quietly."""
        name = command_name(fact)
        if isinstance(fact, TicketOpened):
            if self.opened is not None:
                raise Refused(name, f"ticket {fact.id} is already open", "use a new ticket id")
            check_severity(name, fact.severity, self.severities)
            return
        if self.opened is None:
            raise Refused(name, f"ticket {fact.id} was never opened", "record TicketOpened first")
        if fact.occurred_at < self.opened.occurred_at and not isinstance(fact, FactCorrected):
            raise Refused(
                name,
                f"occurred_at {fact.occurred_at.isoformat()} is before the report time "
                f"{self.opened.occurred_at.isoformat()}",
                "nothing can happen to a ticket before its fault was reported",
            )
        # A late entry that happened before the end is still a fact of the ticket (§8).
        after_end = self.ended_at is not None and fact.occurred_at >= self.ended_at
        if self.status == "cancelled" and after_end and not isinstance(fact, AFTER_END):
            raise Refused(name, f"ticket {fact.id} is cancelled", "a cancelled ticket takes no further work")
        if self.status == "cancelled" and isinstance(fact, TicketResolved):
            raise Refused(name, f"ticket {fact.id} is cancelled", "a cancelled ticket cannot be resolved")
        if self.status == "closed" and after_end and not isinstance(fact, (*AFTER_END, TicketReopened)):
            raise Refused(name, f"ticket {fact.id} is closed", "reopen it first (TicketReopened)")
        if isinstance(fact, SeverityChanged):
            check_severity(name, fact.severity, self.severities)
        elif isinstance(fact, TechnicianArrived):
            if self.dispatched_at is None:
                raise Refused(name, "arrival before dispatch", "record TechnicianDispatched first")
            if fact.occurred_at < self.dispatched_at:
                raise Refused(
                    name,
                    f"arrival at {fact.occurred_at.isoformat()} is before the dispatch at "
                    f"{self.dispatched_at.isoformat()}",
                    "an arrival follows its dispatch",
                )
        elif isinstance(fact, WaitStarted):
            if fact.reason in self.open_waits:
                raise Refused(name, f"a '{fact.reason}' wait is already open", "end it first (WaitEnded)")
        elif isinstance(fact, WaitEnded):
            if fact.reason not in self.open_waits:
                raise Refused(
                    name,
                    f"no '{fact.reason}' wait is open",
                    f"open waits: {sorted(self.open_waits) or 'none'}",
                )
        elif isinstance(fact, SpareUnitReturned):
            if fact.spare_serial not in self.spares_out:
                raise Refused(name, f"spare {fact.spare_serial} was not lent on this ticket", "record SpareUnitLent first")
        elif isinstance(fact, TicketResolved):
            if self.status != "open":
                raise Refused(name, f"ticket {fact.id} is {self.status}", "only an open ticket can be resolved")
        elif isinstance(fact, TicketReopened):
            if self.status not in ("resolved", "closed"):
                raise Refused(name, f"ticket {fact.id} is {self.status}", "only a resolved or closed ticket can be reopened")
        elif isinstance(fact, TicketClosed):
            if self.status != "resolved":
                raise Refused(name, f"ticket {fact.id} is {self.status}", "resolve it before closing it")
        elif isinstance(fact, TicketCancelled) and self.status != "open":
            raise Refused(name, f"ticket {fact.id} is {self.status}", "only an open ticket can be cancelled")

    def apply(self, fact: Fact) -> None:
        if isinstance(fact, TicketOpened):
            self.opened, self.status, self.severity = fact, "open", fact.severity
        elif isinstance(fact, SeverityChanged):
            self.severity = fact.severity
        elif isinstance(fact, TechnicianDispatched):
            self.dispatched_at = self.dispatched_at or fact.occurred_at
        elif isinstance(fact, TechnicianArrived):
            self.arrived = True
        elif isinstance(fact, WaitStarted):
            self.open_waits.add(fact.reason)
        elif isinstance(fact, WaitEnded):
            self.open_waits.discard(fact.reason)
        elif isinstance(fact, SpareUnitLent):
            self.spares_out.add(fact.spare_serial)
        elif isinstance(fact, SpareUnitReturned):
            self.spares_out.discard(fact.spare_serial)
        elif isinstance(fact, TicketResolved):
            self.status = "resolved"
        elif isinstance(fact, TicketReopened):
            self.status, self.ended_at = "open", None
        elif isinstance(fact, TicketClosed):
            self.status, self.ended_at = "closed", fact.occurred_at
        elif isinstance(fact, TicketCancelled):
            self.status, self.ended_at = "cancelled", fact.occurred_at


def check_severity(name: str, severity: str, severities: tuple[str, ...]) -> None:
    if severities and severity not in severities:
        raise Refused(name, f"unknown severity {severity!r}", f"the contract's severities are {list(severities)}")


def check_after_registration(name: str, opened: TicketOpened, asset: object) -> None:
    """A fault is reported on a registered asset: not before its registration (a ticket of
    0001-01-01 on an asset registered in 2024 got a liability row and no clocks)."""
    facts = asset.facts  # type: ignore[attr-defined]
    first = asset.effective_version(1) if any(type(f) is FactCorrected for f in facts) else facts[0]  # type: ignore[attr-defined]
    registered = first.occurred_at
    if opened.occurred_at < registered:
        raise Refused(name, f"occurred_at {opened.occurred_at.isoformat()} is before asset {opened.asset_id} was "
                            f"registered ({registered.isoformat()})",
                      "a fault is reported on a registered asset: check the report time and its zone, or "
                      "correct the asset's registration time first")


def severities_at(contract: Contract, opened: TicketOpened) -> tuple[str, ...]:
    """A ticket's severities: those of its contract's terms in force at its report time (§9.11)."""
    return tuple(contract.terms_at(opened.occurred_at).severities)


# Facts that belong on a ticket (all but the opening one), and corrections.
TICKET_FOLLOW_UPS = (*(t for t in TICKET_FACT_TYPES if t is not TicketOpened), FactCorrected)


class Ticket(LedgerAggregate):
    kind: ClassVar[str] = "ticket"

    def when(self, fact: Fact) -> None:
        if not hasattr(self, "state"):
            self.state = TicketState()
        if isinstance(fact, FactCorrected):
            self.state = replay_state(self.effective_facts(), self.state.severities)
        else:
            self.state.apply(fact)

    @property
    def customer(self) -> str:
        assert self.state.opened is not None
        return self.state.opened.customer

    @classmethod
    def open(cls, fact: TicketOpened, *, asset: object, severities: list[str], now: datetime,
             future_tolerance_minutes: int) -> Ticket:
        """Open a ticket on a registered, working asset (the application hands us the asset)."""
        from .asset import Asset  # the asset is the other aggregate this decision reads

        assert isinstance(asset, Asset | None)
        name = command_name(fact)
        if asset is None:
            raise Refused(name, f"unknown asset {fact.asset_id}", "register the asset first (AssetRegistered)")
        if asset.decommissioned:
            raise Refused(name, f"asset {fact.asset_id} is decommissioned", "open the ticket on the unit that replaced it")
        fact = cls.normalise(fact, customer=asset.customer, contract_id=asset.contract_id, site=asset.site)
        cls.check_not_future(fact, now, future_tolerance_minutes)
        check_after_registration(name, fact, asset)
        state = TicketState(severities=tuple(severities))
        state.check(fact)
        ticket = cls.start(fact)
        ticket.state.severities = tuple(severities)
        return ticket

    def decide(self, fact: Fact, *, now: datetime, future_tolerance_minutes: int,
               contract: Contract | None = None, asset: object = None) -> None:
        """Record `fact` on this ticket, or refuse it.

        The application hands us the ticket's contract for a severity change and, for a
        correction, the asset and contract of the report as corrected (`opening_after`).
        """
        if not isinstance(fact, TICKET_FOLLOW_UPS):
            raise Refused(command_name(fact), f"{type(fact).__name__} is not a ticket fact", "send it to its own aggregate")
        fact = self.normalise(fact, customer=self.customer)
        self.check_not_future(fact, now, future_tolerance_minutes)
        if isinstance(fact, FactCorrected):
            severities = self._check_corrected(fact, contract, asset)
            history = self.effective_facts(extra=fact)
            try:
                replay_state(history, severities, check=True)
            except Refused as e:
                raise Refused(
                    command_name(fact),
                    f"the corrected history breaks the model ({e.wrong})",
                    "correct the facts in an order that keeps the timeline valid",
                ) from None
        else:
            if isinstance(fact, SeverityChanged) and contract is not None and self.state.opened is not None:
                self.state.severities = severities_at(contract, self.state.opened)
            self.state.check(fact)
        self.record(fact)

    def opening_after(self, correction: FactCorrected) -> TicketOpened:
        """The report as it would read with `correction` applied."""
        _, after = self.corrected(correction)
        return self._opening(after)

    def _opening(self, corrected: Fact) -> TicketOpened:
        opened = corrected if isinstance(corrected, TicketOpened) else self.state.opened
        assert opened is not None
        return opened

    def _check_corrected(self, fact: FactCorrected, contract: Contract | None, asset: object) -> tuple[str, ...]:
        """The corrected fact passes the checks of its own command; returns the severities of
        the corrected report's contract, which the corrected history is checked against."""
        from .asset import Asset, check_contract

        name = command_name(fact)
        before, after = self.corrected(fact)
        if isinstance(before, TicketOpened) and isinstance(after, TicketOpened):
            if after.asset_id != before.asset_id:
                if not isinstance(asset, Asset):
                    raise Refused(name, f"unknown asset {after.asset_id}", "register the asset first (AssetRegistered)")
                if asset.customer != self.customer:
                    raise Refused(name, f"asset {after.asset_id} belongs to customer {asset.customer}, not {self.customer}",
                                  "a ticket stays with its customer: open a new ticket for that asset")
            if after.contract_id != before.contract_id:
                check_contract(name, after.contract_id, contract, self.customer)
        if isinstance(after, TicketOpened) and isinstance(asset, Asset):
            check_after_registration(name, after, asset)
        severities = severities_at(contract, self._opening(after)) if contract else self.state.severities
        if isinstance(after, TicketOpened | SeverityChanged):
            check_severity(name, after.severity, severities)
        return severities

    def effective_facts(self, extra: FactCorrected | None = None) -> list[Fact]:
        """The facts with every correction applied, in recording order."""
        facts = [*self.facts, extra] if extra else list(self.facts)
        return apply_corrections(self, facts)


def replay_state(facts: list[Fact], severities: tuple[str, ...], check: bool = False) -> TicketState:
    state = TicketState(severities=severities)
    for f in sorted(facts, key=lambda f: f.occurred_at) if check else facts:
        if check:
            state.check(f)
        state.apply(f)
    return state
