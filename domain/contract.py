"""Contract terms and calendar data as aggregates: versioned in the log (§2, §8, §9.11)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, NamedTuple

from .base import LedgerAggregate, command_name
from .errors import N_, Refused
from .events import CalendarYearRecorded, ContractAmended, ContractRegistered, Fact
from .terms import Terms, TermsError, terms_from_command, terms_from_mapping


class ContractVersion(NamedTuple):
    """One version of a contract's terms, as recorded."""

    # the contract's event version that recorded it (1 the registration, then the amendments in
    # recording order): the number the views (terms.version, contract_version) and reports cite
    number: int
    in_force_from: datetime | None  # None: from the start
    terms: Terms
    reason: str  # why it was amended, as recorded ("" for the registration or none given)


class Contract(LedgerAggregate):
    """A service agreement. `versions` holds its versions in the order they come into force (an
    amendment may be recorded after a later one: its number stays the recorded one)."""

    kind: ClassVar[str] = "contract"

    def when(self, fact: Fact) -> None:
        number = len(self.facts)  # the fact is already in `facts`: its event version
        if isinstance(fact, ContractRegistered):
            self.customer, self.supplier = fact.customer_id, fact.supplier
            self.versions: list[ContractVersion] = [ContractVersion(number, None, terms_from_mapping(fact.terms), "")]
        elif isinstance(fact, ContractAmended):
            self.versions.append(ContractVersion(number, fact.effective_from, terms_from_mapping(fact.terms),
                                                 fact.reason))
            self.versions.sort(key=lambda v: (v.in_force_from is not None, v.in_force_from or datetime.min))

    def version_at(self, instant: datetime) -> ContractVersion:
        """The version in force at `instant` (§9.11)."""
        current = self.versions[0]
        for v in self.versions[1:]:
            if v.in_force_from is not None and v.in_force_from <= instant:
                current = v
        return current

    def terms_at(self, instant: datetime) -> Terms:
        return self.version_at(instant).terms

    @property
    def latest(self) -> Terms:
        return self.versions[-1].terms

    @classmethod
    def register(cls, fact: ContractRegistered) -> Contract:
        cls._check_terms(fact, fact.terms)
        return cls.start(cls.normalise(fact, customer=fact.customer_id))

    def amend(self, fact: ContractAmended) -> None:
        if not isinstance(fact, ContractAmended):
            raise Refused(command_name(fact), N_("contract {contract} is already registered"),
                          N_("amend it (ContractAmended)"), contract=fact.id)
        self._check_terms(fact, fact.terms)
        if any(v.in_force_from == fact.effective_from for v in self.versions[1:]):
            raise Refused(command_name(fact),
                          N_("contract {contract} already has other terms in force from {effective_from}"),
                          N_("two versions cannot start at the same time (§9.11); amend from another effective_from"),
                          contract=fact.id, effective_from=fact.effective_from.isoformat())
        self.record(self.normalise(fact, customer=self.customer))

    @staticmethod
    def _check_terms(fact: Fact, terms: dict) -> None:
        try:
            terms_from_command(terms)
        except TermsError as e:
            raise Refused(command_name(fact), N_("{error}"), N_("fix the contract terms (see contracts/*.toml)"),
                          error=str(e)) from None


CALENDAR_CUSTOMER = "_public"  # calendar data is not one customer's; its subjects say so


class CalendarYear(LedgerAggregate):
    """One year of official PRC working-day data; re-recording makes a new version."""

    kind: ClassVar[str] = "calendar"

    def when(self, fact: Fact) -> None:
        assert isinstance(fact, CalendarYearRecorded)
        self.current = fact

    @staticmethod
    def calendar_id(region: str, year: int) -> str:
        return f"{region}-{year}"

    @classmethod
    def record_year(cls, fact: CalendarYearRecorded, existing: CalendarYear | None) -> CalendarYear | None:
        if fact.id != cls.calendar_id(fact.region, fact.year):
            raise Refused(command_name(fact), N_("id must be {id}"), id=cls.calendar_id(fact.region, fact.year))
        fact = cls.normalise(fact, customer=CALENDAR_CUSTOMER)
        if existing is None:
            return cls.start(fact)
        same = (existing.current.days_off, existing.current.days_on) == (fact.days_off, fact.days_on)
        if same:
            return None  # nothing new to record
        existing.record(fact)
        return existing
