"""The Ledger: the application service every command goes through (CLI, import, desks, API).

It loads the aggregates a decision needs, lets them decide (domain), and records what they
decided in one transaction per batch. The same command id with the same content is
"already recorded" (nothing written); with other content it is refused (§3).
"""

from __future__ import annotations

import itertools
import random
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from domain import events as ev
from domain.asset import Asset
from domain.base import MAX_STORED_BYTES, LedgerAggregate, aggregate_uuid, command_name
from domain.contract import CalendarYear, Contract
from domain.errors import N_, Refusal, Refused
from domain.terms import Terms
from domain.ticket import Ticket

from .message_size import HEADER_ROOM, max_event_bytes
from .store import (
    EventStoreApp,
    StoreConfig,
    check_store,
    earlier_fingerprints,
    fingerprint,
    last_position,
    read_for_batch,
)

DEFAULT_FUTURE_TOLERANCE_MIN = 10


@dataclass(frozen=True)
class Outcome:
    """What happened to one command: recorded, already_recorded or refused (with why)."""

    command_id: str
    status: str
    error: str = ""  # why it was refused, in English
    line: int | None = None
    refusal: Refusal | None = None  # why it was refused, to be written in the reader's language


@dataclass
class Batch:
    """Aggregates touched by a batch of commands, kept in memory until one save."""

    loaded: dict[Any, LedgerAggregate | None] = field(default_factory=dict)
    touched: dict[Any, LedgerAggregate] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)  # command id -> fingerprint in this batch
    tolerance: dict[int, int] = field(default_factory=dict)  # id(terms) -> future tolerance, minutes
    # ticket id -> its contract's future tolerance, minutes: a desk import sends several facts
    # per ticket in a batch, and asset -> contract -> terms_at is the same lookup for each.
    # Emptied whenever a fact that could change an asset, a contract or a ticket's report time
    # is decided (anything but a ticket follow-up or a new ticket).
    ticket_minutes: dict[str, int] = field(default_factory=dict)
    # (kind, human id) -> aggregate found: a tuple of strings hashes in C, the UUID keys of
    # `loaded` in Python, and a desk import asks for the same ticket several times per batch
    named: dict[tuple[str, str], LedgerAggregate] = field(default_factory=dict)


class Ledger(EventStoreApp):
    """Record facts about tickets, assets, contracts and calendar data."""

    CACHE_SIZE = 20_000  # aggregates kept in memory between batches
    SAVE_ATTEMPTS = 20  # read-decide-save rounds of one batch racing other writers

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: OrderedDict[Any, LedgerAggregate] = OrderedDict()
        # a fact's stored JSON must fit one stream message with its headers (adapters.relay)
        self.max_stored_bytes = max_event_bytes() - HEADER_ROOM

    @classmethod
    def open(cls, config: StoreConfig) -> Ledger:
        """The ledger of `config`, its tables created when missing.

        On PostgreSQL only then: creating them (even "IF NOT EXISTS", and eventsourcing's
        CREATE OR REPLACE FUNCTION) takes the tables' owner, so a ledger whose tables exist is
        opened without, and a host granted only reading or writing on them can open it
        (README, *PostgreSQL roles*)."""
        if not config.postgres_dsn:
            return cls(env=config.env())  # SQLite serialises CREATE TABLE IF NOT EXISTS itself
        import psycopg

        with psycopg.connect(config.postgres_dsn, autocommit=True) as lock:
            if _tables_exist(lock, config.postgres_schema):
                return cls(env=config.env(create_tables=False))
            # Two processes creating the tables at once collide in the catalogue ("duplicate
            # key … pg_type", "tuple concurrently updated") although each says IF NOT EXISTS:
            # openings of one schema take turns under an advisory lock.
            lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"ticketledger open {config.postgres_schema}",))
            return cls(env=config.env())  # the lock ends with its connection

    # --- the Python API ------------------------------------------------------------

    def execute(self, fact: ev.Fact, *, now: datetime | None = None) -> Outcome:
        """Record one command; raise Refused if it would break the model."""
        (outcome,) = self.execute_many([fact], now=now)
        if outcome.status == "refused":
            assert outcome.refusal is not None  # every refused outcome says why
            r = outcome.refusal
            raise Refused(r.command, r.wrong, r.right, **r.params)
        return outcome

    def execute_many(self, facts: Sequence[ev.Fact], *, now: datetime | None = None,
                     lines: Sequence[int] | None = None) -> list[Outcome]:
        """Decide every command, then record all accepted ones in one transaction.

        A refused command records nothing and does not stop the others. When another writer
        (a second import, another process) recorded on the same aggregates or command ids
        between this batch's read and its save, the store refuses the save as a conflict; the
        batch is then read and decided again against what that writer recorded: its identical
        commands become "already recorded", the others are decided anew.
        """
        size = MAX_STORED_BYTES.set(self.max_stored_bytes)  # what the domain lets one fact take
        try:
            return self._decide_and_record(facts, now, lines)
        finally:
            MAX_STORED_BYTES.reset(size)

    def _decide_and_record(self, facts: Sequence[ev.Fact], now: datetime | None,
                           lines: Sequence[int] | None) -> list[Outcome]:
        now = now or datetime.now(UTC)
        for attempt in itertools.count(1):
            try:
                return self._execute_once(facts, now, lines)
            except RecordConflictError:
                # Each conflict means another writer made progress, so this ends; the bound is a
                # guard against a conflict that is not a race (it would repeat for ever).
                if attempt >= self.SAVE_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.01 * attempt))  # apart from a writer retrying too
        raise AssertionError("unreachable")

    def _execute_once(self, facts: Sequence[ev.Fact], now: datetime,
                      lines: Sequence[int] | None) -> list[Outcome]:
        """One read-decide-save of a batch. Aggregates it took from memory are not put back
        unless the save succeeds, so a retry after a conflict reads them again from the store."""
        batch = Batch()
        stored = self._prefetch(batch, facts)
        outcomes: list[Outcome] = []
        commands: list[tuple[str, str]] = []
        seen, decide = batch.seen, self._decide
        for i, fact in enumerate(facts):
            line = lines[i] if lines else None
            fp = fingerprint(fact)
            earlier = seen.get(fact.command_id) or stored.get(fact.command_id)
            if earlier is not None:
                if earlier == fp or earlier in earlier_fingerprints(fact):
                    outcomes.append(Outcome(fact.command_id, "already_recorded", line=line))
                else:
                    why = Refused(command_name(fact), N_("command id {command_id} was already used for different "
                                                        "content"), N_("use a new command id for a new command"),
                                  command_id=fact.command_id).refusal
                    outcomes.append(Outcome(fact.command_id, "refused", why.text, line, why))
                continue
            try:
                decide(fact, batch, now)
            except Refused as e:
                outcomes.append(Outcome(fact.command_id, "refused", str(e), line, e.refusal))
                continue
            seen[fact.command_id] = fp
            commands.append((fact.command_id, fp))
            outcomes.append(Outcome(fact.command_id, "recorded", line=line))
        if batch.touched:
            self.save(*batch.touched.values(), commands=commands)
        self._remember(batch)  # only after the save: a failed save leaves nothing cached
        return outcomes

    # --- routing a fact to its aggregate ---------------------------------------------

    def _prefetch(self, batch: Batch, facts: Sequence[ev.Fact]) -> dict[str, str]:
        """Load every aggregate the batch names, and those they lead to (a ticket's asset, an
        asset's contract), with the known command ids, in one read when the memory knows the
        way; returns command id -> fingerprint of those already recorded.

        Aggregates from earlier batches are kept in memory and only fast-forwarded by the
        events other writers recorded since, so a long asset history is decoded once.
        """
        keys: set[Any] = set()
        for f in facts:
            for kind, human_id in _named_aggregates(f):
                keys.add(aggregate_uuid(kind, human_id))
        for _ in range(2):  # ticket -> asset -> contract
            keys |= self._leads(keys, self._cache)
        known = self._load_into(batch, keys, [f.command_id for f in facts])
        # what the memory did not know: tickets' assets, then assets' contracts
        for _ in range(2):
            self._load_into(batch, self._leads(set(batch.loaded), batch.loaded) - set(batch.loaded))
        return known

    @staticmethod
    def _leads(keys: set[Any], held: Mapping[Any, LedgerAggregate | None]) -> set[Any]:
        """The aggregates a decision about these will read: a ticket's asset, an asset's contract."""
        out = set()
        for key in keys:
            agg = held.get(key)
            if isinstance(agg, Ticket) and agg.state.opened is not None:
                out.add(aggregate_uuid("asset", agg.state.opened.asset_id))
            elif isinstance(agg, Asset):
                out.add(aggregate_uuid("contract", agg.contract_id))
        return out

    def _load_into(self, batch: Batch, keys: set[Any], command_ids: Sequence[str] = ()) -> dict[str, str]:
        if not keys and not command_ids:
            return {}
        held = {key: self._cache.pop(key) for key in keys if key in self._cache}
        stored, known = read_for_batch(self, list(keys), {k: a.version for k, a in held.items()}, command_ids)
        for key in keys:
            agg = held.get(key)
            for e in stored.get(key.hex, []):
                agg = self.mapper.to_domain_event(e).mutate(agg)
            batch.loaded[key] = agg
        return known

    def _remember(self, batch: Batch) -> None:
        for key, agg in batch.loaded.items():
            if agg is not None:
                self._cache[key] = agg
        while len(self._cache) > self.CACHE_SIZE:
            self._cache.popitem(last=False)

    def _get(self, batch: Batch, cls: type[LedgerAggregate], human_id: str) -> Any:
        name = (cls.kind, human_id)
        agg = batch.named.get(name)
        if agg is not None:
            return agg
        key = aggregate_uuid(cls.kind, human_id)
        if key not in batch.loaded:
            self._load_into(batch, {key})  # from memory when it is there, fast-forwarded
        agg = batch.loaded[key]
        if agg is not None:
            batch.named[name] = agg
        return agg

    def _keep(self, batch: Batch, agg: LedgerAggregate) -> None:
        before = batch.loaded.get(agg.id)
        if before is not None and before is not agg:
            batch.named.clear()  # an aggregate replaced by a new object: a name may point at the old
        batch.loaded[agg.id] = agg
        batch.touched[agg.id] = agg

    def _decide(self, fact: ev.Fact, batch: Batch, now: datetime) -> None:
        if type(fact) in FOLLOW_UP_FACTS:  # the common case first: a fact about an open ticket
            self._decide_follow_up(fact, batch, now)
            return
        if type(fact) is not ev.TicketOpened:
            batch.ticket_minutes.clear()
        if isinstance(fact, ev.ContractRegistered | ev.ContractAmended):
            contract = self._get(batch, Contract, fact.id)
            if contract is None:
                if isinstance(fact, ev.ContractAmended):
                    raise Refused(command_name(fact), N_("unknown contract {contract}"), N_("register it first"),
                                  contract=fact.id)
                self._keep(batch, Contract.register(fact))
            else:
                if isinstance(fact, ev.ContractRegistered):
                    raise Refused(command_name(fact), N_("contract {contract} is already registered"),
                                  N_("amend it with ContractAmended (`ticketledger contract amend`)"),
                                  contract=fact.id)
                contract.amend(fact)
                self._keep(batch, contract)
            return
        if isinstance(fact, ev.CalendarYearRecorded):
            existing = self._get(batch, CalendarYear, fact.id)
            year = CalendarYear.record_year(fact, existing)
            if year is None:
                raise Refused(command_name(fact), N_("this calendar year is already recorded with the same days"),
                              N_("nothing to do"))
            self._keep(batch, year)
            return
        if isinstance(fact, ev.AssetRegistered):
            if self._get(batch, Asset, fact.id) is not None:
                raise Refused(command_name(fact), N_("asset {asset} is already registered"), N_("use a new asset id"),
                              asset=fact.id)
            contract = self._get(batch, Contract, fact.contract_id)
            replaced = self._get(batch, Asset, fact.replaces) if fact.replaces else None
            tol = self._tolerance(batch, contract, fact.occurred_at)
            self._keep(batch, Asset.register(fact, contract=contract, replaced=replaced, now=now,
                                             future_tolerance_minutes=tol))
            return
        if type(fact) in ASSET_FACTS:
            asset = self._asset(batch, fact)
            contract = self._get(batch, Contract, asset.contract_id)
            kwargs: dict[str, Any] = {}
            if isinstance(fact, ev.AssetContractChanged):
                kwargs["contract"] = self._get(batch, Contract, fact.contract_id)
            if isinstance(fact, ev.AssetReplaced):
                kwargs["replacement"] = self._get(batch, Asset, fact.by_asset)
            asset.decide(fact, now=now, future_tolerance_minutes=self._tolerance(batch, contract, fact.occurred_at),
                         **kwargs)
            self._keep(batch, asset)
            return
        if isinstance(fact, ev.TicketOpened):
            if self._get(batch, Ticket, fact.id) is not None:
                raise Refused(command_name(fact), N_("ticket {ticket} is already open"), N_("use a new ticket id"),
                              ticket=fact.id)
            asset = self._get(batch, Asset, fact.asset_id)
            terms = self._terms(batch, asset, fact.occurred_at) if asset else None
            minutes = self._minutes(batch, terms)
            ticket = Ticket.open(
                fact, asset=asset, severities=terms.severities if terms else [], now=now,
                future_tolerance_minutes=minutes,
            )
            self._keep(batch, ticket)
            batch.ticket_minutes[fact.id] = minutes  # the same asset and report time as its follow-ups
            return
        if isinstance(fact, ev.FactCorrected):
            self._decide_correction(fact, batch, now)
            return
        self._decide_follow_up(fact, batch, now)

    def _decide_follow_up(self, fact: ev.Fact, batch: Batch, now: datetime) -> None:
        ticket = self._get(batch, Ticket, fact.id)
        if ticket is None:
            raise Refused(command_name(fact), N_("unknown ticket {ticket}"), N_("open it first (TicketOpened)"),
                                              ticket=fact.id)
        minutes = batch.ticket_minutes.get(fact.id)
        if minutes is None:
            opened = ticket.state.opened
            terms = self._terms(batch, self._get(batch, Asset, opened.asset_id), opened.occurred_at)
            minutes = batch.ticket_minutes[fact.id] = self._minutes(batch, terms)
        contract = None
        if type(fact) is ev.SeverityChanged:  # checked against the severities of the ticket's contract
            contract = self._get(batch, Contract, ticket.state.opened.contract_id)
        ticket.decide(fact, now=now, future_tolerance_minutes=minutes, contract=contract)
        batch.touched[ticket.id] = ticket  # already in batch.loaded: _get put it there

    def _decide_correction(self, fact: ev.FactCorrected, batch: Batch, now: datetime) -> None:
        """A correction is decided with what its corrected fact names: the corrected version
        must pass the checks of its own command (known asset and contract, the contract's severities)."""
        tolerance = DEFAULT_FUTURE_TOLERANCE_MIN
        ticket = self._get(batch, Ticket, fact.id)
        if ticket is not None:
            opened = ticket.opening_after(fact)
            ticket.decide(fact, now=now, future_tolerance_minutes=tolerance, asset=self._get(batch, Asset, opened.asset_id),
                          contract=self._get(batch, Contract, opened.contract_id))
            self._keep(batch, ticket)
            return
        asset = self._get(batch, Asset, fact.id)
        if asset is None:
            raise Refused(command_name(fact), N_("no ticket or asset {id}"), N_("name the aggregate to correct"),
                                              id=fact.id)
        _, after = asset.corrected(fact)
        contract_id = getattr(after, "contract_id", None)
        asset.decide(fact, now=now, future_tolerance_minutes=tolerance,
                     contract=self._get(batch, Contract, contract_id) if contract_id else None)
        self._keep(batch, asset)

    def _asset(self, batch: Batch, fact: ev.Fact) -> Asset:
        asset = self._get(batch, Asset, fact.id)
        if asset is None:
            raise Refused(command_name(fact), N_("unknown asset {asset}"), N_("register it first (AssetRegistered)"),
                          asset=fact.id)
        return asset

    def _terms(self, batch: Batch, asset: Asset | None, at: datetime) -> Terms | None:
        if asset is None:
            return None
        contract = self._get(batch, Contract, asset.contract_id)
        return contract.terms_at(ev.utc(at)) if contract else None

    def _tolerance(self, batch: Batch, contract: Contract | None, at: datetime) -> int:
        return self._minutes(batch, contract.terms_at(ev.utc(at)) if contract else None)

    @staticmethod
    def _minutes(batch: Batch, terms: Terms | None) -> int:
        if terms is None:
            return DEFAULT_FUTURE_TOLERANCE_MIN
        key = id(terms)  # the terms live as long as their contract in this batch
        if key not in batch.tolerance:
            batch.tolerance[key] = terms.future_tolerance.total_minutes
        return batch.tolerance[key]

    # --- reading ----------------------------------------------------------------------

    def aggregate(self, kind: str, human_id: str) -> LedgerAggregate | None:
        from .store import AGGREGATE_CLASSES

        try:
            return self.repository.get(aggregate_uuid(AGGREGATE_CLASSES[kind].kind, human_id))
        except AggregateNotFoundError:
            return None

    def contract(self, contract_id: str) -> Contract | None:
        return self.aggregate("contract", contract_id)  # type: ignore[return-value]

    @property
    def position(self) -> int:
        return last_position(self)


LEDGER_TABLES = ("ledger_events", "ledger_chain", "ledger_commands")  # what opening creates


def _tables_exist(connection: Any, schema: str) -> bool:
    """Whether every table opening a ledger creates is in `schema` already."""
    names = [f'"{schema}".{t}' for t in LEDGER_TABLES]
    row = connection.execute("SELECT bool_and(to_regclass(n) IS NOT NULL) FROM unnest(%s::text[]) AS n",
                             (names,)).fetchone()
    return bool(row and row[0])


ASSET_FACTS = frozenset(ev.ASSET_FACT_TYPES)
TICKET_FACTS = frozenset(ev.TICKET_FACT_TYPES)
FOLLOW_UP_FACTS = TICKET_FACTS - {ev.TicketOpened}


def _named_aggregates(f: ev.Fact) -> list[tuple[str, str]]:
    """The aggregates a fact's decision reads, by kind and human id."""
    t = type(f)
    if t is ev.TicketOpened:
        return [("ticket", f.id), ("asset", f.asset_id)]
    if t in TICKET_FACTS:
        return [("ticket", f.id)]
    if t is ev.AssetRegistered:
        out = [("asset", f.id), ("contract", f.contract_id)]
        return out + ([("asset", f.replaces)] if f.replaces else [])
    if t in ASSET_FACTS:
        return [("asset", f.id)]
    if t is ev.FactCorrected:
        return [("ticket", f.id), ("asset", f.id)]
    if t in (ev.ContractRegistered, ev.ContractAmended):
        return [("contract", f.id)]
    return [("calendar", f.id)]


def open_ledger(data_dir: str | Path) -> Ledger:
    """The ledger of the data folder, as the environment names it; StoreMismatch when the
    folder belongs to another store (adapters.store.check_store)."""
    config = StoreConfig.from_env(data_dir)
    check_store(config)
    return Ledger.open(config)
