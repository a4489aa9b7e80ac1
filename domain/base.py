"""The one bridge between our msgspec facts and the eventsourcing library's aggregates.

Each aggregate has two library event classes, `Opened` (version 1) and `Recorded`
(every later version); both carry one `fact`. The fields live once, in the fact's
Struct (domain.events). The event's library timestamp is the fact's `occurred_at`: the
domain reads no clock; the ledger's recording time is stamped by the store (§9.13).
"""

from __future__ import annotations

import functools
import uuid
from contextvars import ContextVar
from datetime import datetime
from typing import Any, ClassVar

import msgspec
from eventsourcing.domain import Aggregate

from .bounds import breaches
from .errors import N_, Refused
from .events import Fact, FactCorrected, encode, in_utc

# The most bytes one fact's stored JSON may take: what the stream accepts in one message, less
# room for its headers. The application sets it around the commands it decides (adapters.ledger
# reads TICKETLEDGER_MAX_EVENT_BYTES); the domain reads no configuration of its own.
MAX_STORED_BYTES: ContextVar[int] = ContextVar("max_stored_bytes", default=1_048_576 - 4_096)

NAMESPACE = uuid.UUID("5d3b6c1e-2f0a-4c8e-9d7b-1a2b3c4d5e6f")


@functools.lru_cache(maxsize=65536)
def aggregate_uuid(kind: str, human_id: str) -> uuid.UUID:
    """Stable originator id for an aggregate named by a human id (T-1, ASSET-9, ...)."""
    return uuid.uuid5(NAMESPACE, f"{kind}/{human_id}")


def command_name(fact: Fact) -> str:
    return f"{type(fact).__name__} {fact.id} (command {fact.command_id})"


def check_recordable(fact: Fact) -> None:
    """Refuse a fact the log could not read back or should not hold: a schema version other than
    its type's current one, a value its type's constraints reject (msgspec checks `Meta`
    constraints only when decoding, so the fact is decoded from its own stored form), a value
    beyond its bounds (domain.bounds), or stored JSON larger than the stream accepts."""
    cls, name = type(fact), command_name(fact)
    if fact.v != cls.version:
        versions = ", ".join(f"v{n}" for n in range(1, cls.version + 1))
        raise Refused(name, N_("schema version v{v} is not the current version of {fact}"),
                      N_('{fact} has {versions}; record the current one, "v": {current} (or leave "v" out)'),
                      v=fact.v, fact=cls.__name__, versions=versions, current=cls.version)
    stored = encode(fact)
    try:
        _decoder(cls).decode(stored)
    except msgspec.ValidationError as e:
        expected, at, path = str(e).rpartition(" - at `$.")
        if not at:
            raise Refused(name, N_("invalid fact: {error}"), error=str(e)) from None
        field = path.rstrip("`")
        value = f" {getattr(fact, field)!r}" if hasattr(fact, field) else ""
        raise Refused(name, N_("invalid {field}{value}"), N_("{field} must be {expected}"),
                            field=field, value=value,
                      expected=expected.removeprefix("Expected ")) from None
    refuse_beyond_bounds(name, fact)
    most = MAX_STORED_BYTES.get()
    if len(stored) > most:
        raise Refused(name, N_("the fact takes {size} bytes as stored; the stream accepts at most {most} "
                               "(TICKETLEDGER_MAX_EVENT_BYTES less room for the message's headers)"),
                      N_("make it smaller: its largest field is {field} ({field_size} bytes)"), size=f"{len(stored):,}",
                      most=f"{most:,}", **_largest_field(fact))


def refuse_beyond_bounds(name: str, fact: Fact, corrected: str = "") -> None:
    """Refuse a fact with a value beyond its bounds, naming the first (and how many more);
    `corrected`: the type of the fact a correction would make."""
    found = breaches(fact)
    if found:
        first = found[0]
        wrong = N_("the corrected {fact}'s {path} {wrong}") if corrected else N_("{path} {wrong}")
        right = N_("{path} must be {right} ({more} more value(s) beyond their bounds)") if len(found) > 1 \
            else N_("{path} must be {right}")
        raise Refused(name, wrong, right, fact=corrected, path=first.path, wrong=first.wrong, right=first.right,
                      more=len(found) - 1)


def _largest_field(fact: Fact) -> dict[str, str]:
    """The fact's largest field and its size as stored, the fields of a refusal's template."""
    sizes = {k: len(encode(v)) for k, v in msgspec.structs.asdict(fact).items()}
    field = max(sizes, key=sizes.__getitem__)
    return {"field": field, "field_size": f"{sizes[field]:,}"}


@functools.cache
def _decoder(cls: type[Fact]) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(cls)


class LedgerAggregate(Aggregate):
    kind: ClassVar[str]

    class Opened(Aggregate.Created):
        fact: Any

        def apply(self, aggregate: LedgerAggregate) -> None:
            # The library's metaclass gives annotated aggregates a generated __init__,
            # so the first fact initialises state here rather than in __init__.
            aggregate.facts = [self.fact]
            aggregate.when(self.fact)

    class Recorded(Aggregate.Event):
        fact: Any

        def apply(self, aggregate: LedgerAggregate) -> None:
            aggregate.facts.append(self.fact)
            aggregate.when(self.fact)

    @classmethod
    def start(cls, fact: Fact) -> LedgerAggregate:
        check_recordable(fact)
        return cls._create(cls.Opened, id=aggregate_uuid(cls.kind, fact.id), fact=fact, timestamp=fact.occurred_at)

    def record(self, fact: Fact) -> None:
        check_recordable(fact)
        self.trigger_event(self.Recorded, fact=fact, timestamp=fact.occurred_at)

    def when(self, fact: Fact) -> None:
        """Update state from a fact already decided (replay path: no checks)."""
        raise NotImplementedError

    # --- shared rules -------------------------------------------------------------

    @staticmethod
    def normalise(fact: Fact, **filled: Any) -> Fact:
        """Every instant in UTC (those a correction's changes name included) and the ledger-filled fields."""
        fact = in_utc(fact)
        return msgspec.structs.replace(fact, **filled) if filled else fact

    @staticmethod
    def check_not_future(fact: Fact, now: datetime, tolerance_minutes: int) -> None:
        """Neither the field time nor a source desk's recording time may lead the ledger's clock
        by more than the tolerance (a source time in 9999 made a 4.19-billion-minute late entry)."""
        for name in ("occurred_at", "source_recorded_at"):
            t = getattr(fact, name)
            lead = (t - now).total_seconds() / 60 if t is not None else 0
            if lead > tolerance_minutes:
                # a lead of days is said in days: "4,647,132 min" reads as a number, not as 9 years
                wrong = N_("{field} {time} is {lead} min in the future") if lead < 2 * 1440 \
                    else N_("{field} {time} is {lead} days in the future")
                raise Refused(
                    command_name(fact),
                    wrong,
                    N_("record facts when they have happened, with the times they happened "
                       "(tolerance {tolerance} min)"),
                    field=name, time=t.isoformat(),
                    lead=f"{lead:,.0f}" if lead < 2 * 1440 else f"{lead / 1440:,.0f}", tolerance=tolerance_minutes,
                )

    def corrected_fact(self, correction: FactCorrected, target: Fact | None) -> Fact:
        """`target` (the effective fact at `corrects_version`) with the correction applied."""
        n = correction.corrects_version
        if target is None:
            raise Refused(
                command_name(correction),
                N_("version {n} of {kind} {id} is not a fact that can be corrected"),
                N_("name a version in 1..{last} that is not itself a correction "
                   "(see `ticketledger {kind} show {id}`)"),
                n=n, kind=self.kind, id=correction.id, last=len(self.facts),
            )
        forbidden = {"type", "id", "command_id", "customer", "v"} & set(correction.changes)
        if forbidden:
            raise Refused(command_name(correction), N_("cannot change {fields}"), N_("record a new fact instead"),
                          fields=sorted(forbidden))
        raw = msgspec.to_builtins(target)
        unknown = set(correction.changes) - set(raw)
        if unknown:
            raise Refused(
                command_name(correction),
                N_("{fact} has no field(s) {unknown}"), N_("fields are {fields}"),
                fact=type(target).__name__, unknown=sorted(unknown), fields=sorted(set(raw) - {"type"}),
            )
        raw.update(correction.changes)
        try:
            fixed = msgspec.convert(raw, type(target), strict=False)
        except (msgspec.ValidationError, ValueError) as e:
            raise Refused(command_name(correction), N_("corrected value is invalid: {error}"),
                                                    error=str(e)) from None
        return self.normalise(fixed)

    def effective_version(self, version: int) -> Fact | None:
        """The fact recorded as `version` as it reads now, corrections applied; None when
        there is no such version or it is itself a correction."""
        if not 1 <= version <= len(self.facts) or isinstance(self.facts[version - 1], FactCorrected):
            return None
        target = self.facts[version - 1]
        return next((f for f in apply_corrections(self, self.facts) if f.command_id == target.command_id), target)

    def corrected(self, correction: FactCorrected) -> tuple[Fact, Fact]:
        """The corrected fact as it reads now and as it would read corrected; a correction
        that changes nothing is refused."""
        before = self.effective_version(correction.corrects_version)
        after = self.corrected_fact(correction, before)
        if after == before:
            wrong = N_("the correction changes nothing (changes is empty)") if not correction.changes else \
                N_("the correction changes nothing (version {n} already reads {changes})")
            raise Refused(command_name(correction), wrong,
                          N_('name each wrong field with its right value, e.g. "changes": '
                             '{{"occurred_at": "2025-10-01T09:30:00+08:00"}}'),
                          n=correction.corrects_version, changes=encode(correction.changes).decode())
        assert before is not None  # corrected_fact refuses a missing one
        refuse_beyond_bounds(command_name(correction), after, type(after).__name__)
        return before, after


def apply_corrections(agg: LedgerAggregate, facts: list[Fact]) -> list[Fact]:
    """The facts with every correction applied, in recording order (corrections left out)."""
    effective: list[Fact | None] = []
    for f in facts:
        if isinstance(f, FactCorrected):
            effective.append(None)
            target = effective[f.corrects_version - 1] if f.corrects_version <= len(effective) else None
            effective[f.corrects_version - 1] = agg.corrected_fact(f, target)
        else:
            effective.append(f)
    return [f for f in effective if f is not None]
