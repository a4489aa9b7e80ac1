"""The ledger's facts: every event type, defined once, as msgspec tagged-union Structs.

A command is a request to record one of these facts: the JSON Lines import, the CLI
and the Python API all decode into `Fact`, and an aggregate decides whether to record
it. What the ledger adds (the customer, copied from the asset or contract so that the
NATS subject needs no lookup) is filled in by the aggregate, never by the caller.

Stored form: `encode(fact)` is plain JSON (UTC ISO times, integer fen) that DuckDB
parses itself. `v` is the schema version of the type; older versions are upgraded by
`domain.upcasting` before decoding.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from .bounds import INSTANT, MAX_FEN, MAX_PART_LINES, MAX_PERIOD, MAX_QUANTITY, NAME, TEXT, bound

# Closed vocabularies (SPEC §3). Severities are per contract (terms), not listed here.
WaitReason = Literal["customer", "site_not_accessible", "user", "vendor", "parts", "other"]
FaultCause = Literal[
    "quality",
    "human",
    "environment",
    "installation_workmanship",
    "natural_disaster",
    "force_majeure",
    "lightning",
    "third_party",
    "third_party_deliberate",
    "unknown",
]
ClockName = Literal["response", "remote_resolution", "arrival", "resolution", "spare"]
CLOCKS: tuple[str, ...] = ("response", "remote_resolution", "arrival", "resolution", "spare")
VisitKind = Literal["phone", "onsite"]

# Ids that appear in NATS subjects (SPEC §6): ASCII, at most 64 characters.
SUBJECT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
SubjectId = msgspec.Meta(pattern=SUBJECT_ID_PATTERN, description="ASCII [A-Za-z0-9_-], 1-64 chars")

AggId = Annotated[str, SubjectId]

# Bounds (domain.bounds): published in the JSON Schema and checked when a command comes in, never
# when a stored fact is read, so a fact recorded before a bound existed stays readable.
Instant = Annotated[datetime, INSTANT]  # with its zone, in the days the views count; stored in UTC
Name = Annotated[str, NAME]  # one line, at most 200 characters, no control or bidi characters
Text = Annotated[str, TEXT]  # free text: lines and tabs allowed, at most 10,000 characters
Fen = Annotated[int, msgspec.Meta(ge=0, description="money in integer fen (分)"), bound(maximum=MAX_FEN)]


class Fact(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    """Envelope shared by every fact: who, when, through which channel, under which command."""

    aggregate: ClassVar[str]
    version: ClassVar[int] = 1

    command_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
    id: AggId
    occurred_at: Instant
    actor: Annotated[str, msgspec.Meta(min_length=1), NAME]
    channel: Name = "api"
    customer: str = ""  # filled by the aggregate from the asset or contract
    source_recorded_at: Instant | None = None  # the source desk's own recording time (§9.12)
    v: int = 1  # schema version: a command carries its type's current one, older ones are only read

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone (e.g. 2025-10-01T09:00:00+08:00)")


# --- Contract and calendar ------------------------------------------------------------------


class ContractRegistered(Fact, frozen=True, kw_only=True):
    """A service agreement: supplier, customer and its terms (domain.terms.Terms as JSON)."""

    aggregate: ClassVar[str] = "contract"
    supplier: Name
    customer_id: AggId
    name: Name = ""
    terms: dict[str, Any]  # domain.terms.Terms: its bounds are in docs/schemas/Terms.json


class ContractAmended(Fact, frozen=True, kw_only=True):
    """New terms in force from `effective_from` (§9.11)."""

    aggregate: ClassVar[str] = "contract"
    effective_from: Instant
    terms: dict[str, Any]  # domain.terms.Terms: its bounds are in docs/schemas/Terms.json
    reason: Text = ""


class CalendarYearRecorded(Fact, frozen=True, kw_only=True):
    """One year of the official PRC calendar, as recorded in the ledger (§8)."""

    aggregate: ClassVar[str] = "calendar"
    region: Name = "CN"
    year: int
    days_off: Annotated[list[date], bound(maxItems=366)]  # public holidays falling on weekdays or weekends
    days_on: Annotated[list[date], bound(maxItems=366)]  # adjusted working days (调休) falling on weekends
    source: Name  # e.g. "chinese-calendar 1.11.0"


# --- Asset ---------------------------------------------------------------------------------


class AssetRegistered(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"
    serial: Name
    model: Name = ""
    asset_type: Name
    customer_id: AggId
    site: Name
    contract_id: AggId
    placeholder: bool = False  # a desk's configuration item, not a real serial (§9.14)
    replaces: Name | None = None  # asset id of the unit this one replaced (§9.6)


class AssetMoved(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"
    site: Name


class AssetContractChanged(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"
    contract_id: AggId


class AssetDelivered(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"


class AssetInstalled(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"


class AssetAccepted(Fact, frozen=True, kw_only=True):
    """The buyer signs acceptance: warranty runs from this instant (§9.6)."""

    aggregate: ClassVar[str] = "asset"


class FollowUpDone(Fact, frozen=True, kw_only=True):
    """A follow-up call or visit (回访). scope=site covers every asset of the site (§9.8)."""

    aggregate: ClassVar[str] = "asset"
    kind: VisitKind
    scope: Literal["asset", "site"] = "asset"
    notes: Text = ""


class InspectionDone(Fact, frozen=True, kw_only=True):
    """A preventive inspection (巡检), with its report reference."""

    aggregate: ClassVar[str] = "asset"
    scope: Literal["asset", "site"] = "asset"
    report_ref: Name = ""


class AssetReplaced(Fact, frozen=True, kw_only=True):
    """This unit was replaced by another one (already registered with `replaces`)."""

    aggregate: ClassVar[str] = "asset"
    by_asset: AggId
    reason: Text = ""


class AssetDecommissioned(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"
    reason: Text = ""


# --- Ticket --------------------------------------------------------------------------------


class TicketOpened(Fact, frozen=True, kw_only=True):
    """A fault report. occurred_at is the report time, the start of every clock (§9.1).

    Version 2 renamed v1's `down` to `asset_down` (see domain.upcasting).
    """

    aggregate: ClassVar[str] = "ticket"
    version: ClassVar[int] = 2
    v: int = 2
    asset_id: AggId
    severity: Name
    fault_category: Name
    asset_down: bool = False
    reporter_ref: Name = ""  # a reference into the erasable person store, never a name (§7)
    description: Text = ""
    contract_id: str = ""  # filled from the asset
    site: str = ""  # filled from the asset


class SeverityChanged(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    severity: Name
    reason: Text = ""


class TicketAcknowledged(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"


class RemoteFixAttempted(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    fixed: bool
    notes: Text = ""


class TechnicianDispatched(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    technician: Name


class TechnicianArrived(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    technician: Name


class WaitStarted(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: WaitReason
    notes: Text = ""


class WaitEnded(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: WaitReason  # which open wait ends (waits of different reasons may overlap)


class DeadlineExtended(Fact, frozen=True, kw_only=True):
    """The buyer consented to more time on one clock (seed 004, §9.5)."""

    aggregate: ClassVar[str] = "ticket"
    clock: ClockName
    add_minutes: Annotated[int, msgspec.Meta(gt=0), bound(maximum=MAX_PERIOD["minutes"])]  # at most 100 years
    consented_by: Name


class SolutionPlanProposed(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    summary: Text


class SpareUnitLent(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    spare_serial: Name


class SpareUnitReturned(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    spare_serial: Name


class PartLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    part: Name
    quantity: Annotated[int, msgspec.Meta(gt=0), bound(maximum=MAX_QUANTITY)]
    quoted_price_fen: Fen  # unit price quoted in the tender
    cost_price_fen: Fen  # unit cost price
    consumable: bool = False  # 易损品: a property of the line, not a cause (§9.10)


# A line's value (quantity x unit price) stays within the money bound, at either price.
PricedLine = Annotated[PartLine, bound(x_maxProduct=[{"of": ["quantity", "quoted_price_fen"], "maximum": MAX_FEN},
                                                     {"of": ["quantity", "cost_price_fen"], "maximum": MAX_FEN}])]


class RepairAttempted(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    fixed: bool
    technician: Name = ""
    parts: Annotated[list[PricedLine], bound(maxItems=MAX_PART_LINES)] = []
    labour_fen: Fen = 0


class FaultCauseDetermined(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    cause: FaultCause


class EvidenceAttached(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    media_type: Name
    size: Annotated[int, msgspec.Meta(ge=0), bound(maximum=2**53)]  # bytes
    filename: Name = ""
    description: Text = ""


class TicketResolved(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    summary: Text = ""


class CustomerSignedOff(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    satisfaction: Annotated[int, msgspec.Meta(ge=1, le=5)]


class TicketReopened(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: Text = ""


class TicketClosed(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"


class TicketCancelled(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: Text = ""


class LossClaimed(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    amount_fen: Fen
    description: Text = ""


class TicketReassigned(Fact, frozen=True, kw_only=True):
    """The desk handed the ticket to another group or person (desk imports)."""

    aggregate: ClassVar[str] = "ticket"
    assignee: Name


class FactCorrected(Fact, frozen=True, kw_only=True):
    """Corrects an earlier fact of the same aggregate, named by its version (§3).

    `changes` holds the corrected fields (e.g. {"occurred_at": "..."}); views use the
    corrected values, audit shows both. Works for tickets and assets.

    Version 2 holds the instants of `changes` in UTC like every other instant; v1 kept the zone
    they were written in (read as v2 through domain.upcasting).
    """

    aggregate: ClassVar[str] = "any"
    version: ClassVar[int] = 2
    v: int = 2
    corrects_version: Annotated[int, msgspec.Meta(ge=1)]
    changes: dict[str, Any]  # the corrected fact is checked against its own type's bounds
    reason: Annotated[str, msgspec.Meta(min_length=1), TEXT]


TicketFact = (
    TicketOpened
    | SeverityChanged
    | TicketAcknowledged
    | RemoteFixAttempted
    | TechnicianDispatched
    | TechnicianArrived
    | WaitStarted
    | WaitEnded
    | DeadlineExtended
    | SolutionPlanProposed
    | SpareUnitLent
    | SpareUnitReturned
    | RepairAttempted
    | FaultCauseDetermined
    | EvidenceAttached
    | TicketResolved
    | CustomerSignedOff
    | TicketReopened
    | TicketClosed
    | TicketCancelled
    | LossClaimed
    | TicketReassigned
)
AssetFact = (
    AssetRegistered
    | AssetMoved
    | AssetContractChanged
    | AssetDelivered
    | AssetInstalled
    | AssetAccepted
    | FollowUpDone
    | InspectionDone
    | AssetReplaced
    | AssetDecommissioned
)
AnyFact = (
    TicketFact
    | AssetFact
    | ContractRegistered
    | ContractAmended
    | CalendarYearRecorded
    | FactCorrected
)

TICKET_FACT_TYPES: tuple[type[Fact], ...] = TicketFact.__args__  # type: ignore[attr-defined]
ASSET_FACT_TYPES: tuple[type[Fact], ...] = AssetFact.__args__  # type: ignore[attr-defined]

FACT_TYPES: dict[str, type[Fact]] = {
    cls.__name__: cls
    for cls in (
        *TICKET_FACT_TYPES,
        *ASSET_FACT_TYPES,
        ContractRegistered,
        ContractAmended,
        CalendarYearRecorded,
        FactCorrected,
    )
}


def _enc_hook(obj: Any) -> Any:
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_decoder = msgspec.json.Decoder(AnyFact)


def utc(dt: datetime) -> datetime:
    """The same instant in UTC (stored form: ISO with Z)."""
    return dt.astimezone(UTC)


@functools.cache
def time_fields(cls: type[Fact]) -> tuple[str, ...]:
    """The fields of a fact type that hold an instant (occurred_at, effective_from, ...)."""
    def is_time(t: Any) -> bool:
        t = t.type if isinstance(t, msgspec.inspect.Metadata) else t
        if isinstance(t, msgspec.inspect.UnionType):
            return any(is_time(x) for x in t.types)
        return isinstance(t, msgspec.inspect.DateTimeType)

    return tuple(f.name for f in msgspec.inspect.type_info(cls).fields if is_time(f.type))


@functools.cache
def time_field_names() -> frozenset[str]:
    """Every field name that holds an instant in some fact type: a correction's `changes` naming
    one holds a time (normalised to UTC like every other time, see in_utc). Computed on first use:
    inspecting every type at import would slow every command's start."""
    return frozenset(name for cls in FACT_TYPES.values() for name in time_fields(cls))


def in_utc(fact: Fact) -> Fact:
    """The same fact with every instant in UTC, the instants a correction's `changes` name
    included: the stored form, and what a command's fingerprint hashes (so a retry written in
    another zone is the same command). Returns `fact` itself when nothing changes."""
    changes: dict[str, Any] = {}
    for name in time_fields(type(fact)):
        t = getattr(fact, name)
        if t is not None and t.tzinfo is not None and t.tzinfo is not UTC:
            changes[name] = utc(t)
    if isinstance(fact, FactCorrected):
        fixed = {k: utc_value(v) if k in time_field_names() else v for k, v in fact.changes.items()}
        if fixed != fact.changes:
            changes["changes"] = fixed
    return msgspec.structs.replace(fact, **changes) if changes else fact


def utc_value(v: Any) -> Any:
    """A corrected time as stored: ISO in UTC with Z; anything that is not an aware time unchanged
    (the correction is then refused with the corrected fact's own error)."""
    try:
        t = v if isinstance(v, datetime) else msgspec.convert(v, datetime)
    except (msgspec.ValidationError, TypeError):
        return v
    return msgspec.to_builtins(utc(t)) if t.tzinfo is not None else v


def encode(fact: Fact) -> bytes:
    """Plain JSON: the stored state, the stream payload, the hash-chain input."""
    return _encoder.encode(fact)


def decode(data: bytes | str) -> AnyFact:
    """Decode the current version of any fact (upcast older versions first)."""
    return _decoder.decode(data)


def topic_of(fact: Fact, kind: str) -> str:
    """The stored event's topic: aggregate kind, type and schema version."""
    return f"{kind}.{type(fact).__name__}.v{fact.v}"


def parse_topic(topic: str) -> tuple[str, str, int]:
    kind, name, v = topic.split(".")
    return kind, name, int(v[1:])

