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
from .errors import N_, Refused
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
                raise Refused(name, N_("ticket {ticket} is already open"), N_("use a new ticket id"),
                                    ticket=fact.id)
            check_severity(name, fact.severity, self.severities)
            return
        if self.opened is None:
            raise Refused(name, N_("ticket {ticket} was never opened"), N_("record TicketOpened first"),
                                ticket=fact.id)
        if fact.occurred_at < self.opened.occurred_at and not isinstance(fact, FactCorrected):
            raise Refused(
                name,
                N_("occurred_at {time} is before the report time {reported}"),
                N_("nothing can happen to a ticket before its fault was reported"),
                time=fact.occurred_at.isoformat(), reported=self.opened.occurred_at.isoformat(),
            )
        # A late entry that happened before the end is still a fact of the ticket (§8).
        after_end = self.ended_at is not None and fact.occurred_at >= self.ended_at
        if self.status == "cancelled" and after_end and not isinstance(fact, AFTER_END):
            raise Refused(name, N_("ticket {ticket} is cancelled"), N_("a cancelled ticket takes no further work"),
                          ticket=fact.id)
        if self.status == "cancelled" and isinstance(fact, TicketResolved):
            raise Refused(name, N_("ticket {ticket} is cancelled"), N_("a cancelled ticket cannot be resolved"),
                                ticket=fact.id)
        if self.status == "closed" and after_end and not isinstance(fact, (*AFTER_END, TicketReopened)):
            raise Refused(name, N_("ticket {ticket} is closed"), N_("reopen it first (TicketReopened)"),
                                ticket=fact.id)
        if isinstance(fact, SeverityChanged):
            check_severity(name, fact.severity, self.severities)
        elif isinstance(fact, TechnicianArrived):
            if self.dispatched_at is None:
                raise Refused(name, N_("arrival before dispatch"), N_("record TechnicianDispatched first"))
            if fact.occurred_at < self.dispatched_at:
                raise Refused(
                    name,
                    N_("arrival at {time} is before the dispatch at {dispatched}"),
                    N_("an arrival follows its dispatch"),
                    time=fact.occurred_at.isoformat(), dispatched=self.dispatched_at.isoformat(),
                )
        elif isinstance(fact, WaitStarted):
            if fact.reason in self.open_waits:
                raise Refused(name, N_("a '{reason}' wait is already open"), N_("end it first (WaitEnded)"),
                              reason=fact.reason)
        elif isinstance(fact, WaitEnded):
            if fact.reason not in self.open_waits:
                raise Refused(
                    name,
                    N_("no '{reason}' wait is open"),
                    N_("open waits: {waits}") if self.open_waits else N_("open waits: none"),
                    reason=fact.reason, waits=sorted(self.open_waits),
                )
        elif isinstance(fact, SpareUnitReturned):
            if fact.spare_serial not in self.spares_out:
                raise Refused(name, N_("spare {spare} was not lent on this ticket"), N_("record SpareUnitLent first"),
                              spare=fact.spare_serial)
        elif isinstance(fact, TicketResolved):
            if self.status != "open":
                raise Refused(name, N_("ticket {ticket} is {status}"), N_("only an open ticket can be resolved"),
                              ticket=fact.id, status=self.status)
        elif isinstance(fact, TicketReopened):
            if self.status not in ("resolved", "closed"):
                raise Refused(name, N_("ticket {ticket} is {status}"),
                              N_("only a resolved or closed ticket can be reopened"),
                              ticket=fact.id, status=self.status)
        elif isinstance(fact, TicketClosed):
            if self.status != "resolved":
                raise Refused(name, N_("ticket {ticket} is {status}"), N_("resolve it before closing it"),
                              ticket=fact.id, status=self.status)
        elif isinstance(fact, TicketCancelled) and self.status != "open":
            raise Refused(name, N_("ticket {ticket} is {status}"), N_("only an open ticket can be cancelled"),
                          ticket=fact.id, status=self.status)

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
        raise Refused(name, N_("unknown severity {severity}"), N_("the contract's severities are {severities}"),
                  severity=repr(severity), severities=", ".join(severities))  # the codes to write, as a list reads


def check_after_registration(name: str, opened: TicketOpened, asset: object) -> None:
    """A fault is reported on a registered asset: not before its registration (a ticket of
    0001-01-01 on an asset registered in 2024 got a liability row and no clocks)."""
    facts = asset.facts  # type: ignore[attr-defined]
    first = asset.effective_version(1) if any(type(f) is FactCorrected for f in facts) else facts[0]  # type: ignore[attr-defined]
    registered = first.occurred_at
    if opened.occurred_at < registered:
        raise Refused(name, N_("occurred_at {time} is before asset {asset} was registered ({registered})"),
                      N_("a fault is reported on a registered asset: check the report time and its zone, or "
                         "correct the asset's registration time first"),
                      time=opened.occurred_at.isoformat(), asset=opened.asset_id, registered=registered.isoformat())


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
            raise Refused(name, N_("unknown asset {asset}"), N_("register the asset first (AssetRegistered)"),
                          asset=fact.asset_id)
        if asset.decommissioned:
            raise Refused(name, N_("asset {asset} is decommissioned"),
                          N_("open the ticket on the unit that replaced it"),
                          asset=fact.asset_id)
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
            raise Refused(command_name(fact), N_("{fact} is not a ticket fact"), N_("send it to its own aggregate"),
                          fact=type(fact).__name__)
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
                    N_("the corrected history breaks the model ({wrong})"),
                    N_("correct the facts in an order that keeps the timeline valid"),
                    wrong=e.wrong,
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
                    raise Refused(name, N_("unknown asset {asset}"), N_("register the asset first (AssetRegistered)"),
                                  asset=after.asset_id)
                if asset.customer != self.customer:
                    raise Refused(name, N_("asset {asset} belongs to customer {owner}, not {customer}"),
                                  N_("a ticket stays with its customer: open a new ticket for that asset"),
                                  asset=after.asset_id, owner=asset.customer, customer=self.customer)
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
