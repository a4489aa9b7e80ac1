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

from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

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
Fen = Annotated[int, msgspec.Meta(ge=0, description="money in integer fen (分)")]


class Fact(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    """Envelope shared by every fact: who, when, through which channel, under which command."""

    aggregate: ClassVar[str]
    version: ClassVar[int] = 1

    command_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    id: AggId
    occurred_at: datetime
    actor: Annotated[str, msgspec.Meta(min_length=1)]
    channel: str = "api"
    customer: str = ""  # filled by the aggregate from the asset or contract
    source_recorded_at: datetime | None = None  # the source desk's own recording time (§9.12)
    v: int = 1  # schema version: a command carries its type's current one, older ones are only read

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone (e.g. 2025-10-01T09:00:00+08:00)")


# --- Contract and calendar ------------------------------------------------------------------


class ContractRegistered(Fact, frozen=True, kw_only=True):
    """A service agreement: supplier, customer and its terms (domain.terms.Terms as JSON)."""

    aggregate: ClassVar[str] = "contract"
    supplier: str
    customer_id: AggId
    name: str = ""
    terms: dict[str, Any]


class ContractAmended(Fact, frozen=True, kw_only=True):
    """New terms in force from `effective_from` (§9.11)."""

    aggregate: ClassVar[str] = "contract"
    effective_from: datetime
    terms: dict[str, Any]
    reason: str = ""


class CalendarYearRecorded(Fact, frozen=True, kw_only=True):
    """One year of the official PRC calendar, as recorded in the ledger (§8)."""

    aggregate: ClassVar[str] = "calendar"
    region: str = "CN"
    year: int
    days_off: list[date]  # public holidays falling on weekdays or weekends
    days_on: list[date]  # adjusted working days (调休) falling on weekends
    source: str  # e.g. "chinese-calendar 1.11.0"


# --- Asset ---------------------------------------------------------------------------------


class AssetRegistered(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"
    serial: str
    model: str = ""
    asset_type: str
    customer_id: AggId
    site: str
    contract_id: AggId
    placeholder: bool = False  # a desk's configuration item, not a real serial (§9.14)
    replaces: str | None = None  # asset id of the unit this one replaced (§9.6)


class AssetMoved(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"
    site: str


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
    notes: str = ""


class InspectionDone(Fact, frozen=True, kw_only=True):
    """A preventive inspection (巡检), with its report reference."""

    aggregate: ClassVar[str] = "asset"
    scope: Literal["asset", "site"] = "asset"
    report_ref: str = ""


class AssetReplaced(Fact, frozen=True, kw_only=True):
    """This unit was replaced by another one (already registered with `replaces`)."""

    aggregate: ClassVar[str] = "asset"
    by_asset: AggId
    reason: str = ""


class AssetDecommissioned(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "asset"
    reason: str = ""


# --- Ticket --------------------------------------------------------------------------------


class TicketOpened(Fact, frozen=True, kw_only=True):
    """A fault report. occurred_at is the report time, the start of every clock (§9.1).

    Version 2 renamed v1's `down` to `asset_down` (see domain.upcasting).
    """

    aggregate: ClassVar[str] = "ticket"
    version: ClassVar[int] = 2
    v: int = 2
    asset_id: AggId
    severity: str
    fault_category: str
    asset_down: bool = False
    reporter_ref: str = ""  # a reference into the erasable person store, never a name (§7)
    description: str = ""
    contract_id: str = ""  # filled from the asset
    site: str = ""  # filled from the asset


class SeverityChanged(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    severity: str
    reason: str = ""


class TicketAcknowledged(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"


class RemoteFixAttempted(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    fixed: bool
    notes: str = ""


class TechnicianDispatched(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    technician: str


class TechnicianArrived(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    technician: str


class WaitStarted(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: WaitReason
    notes: str = ""


class WaitEnded(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: WaitReason  # which open wait ends (waits of different reasons may overlap)


class DeadlineExtended(Fact, frozen=True, kw_only=True):
    """The buyer consented to more time on one clock (seed 004, §9.5)."""

    aggregate: ClassVar[str] = "ticket"
    clock: ClockName
    add_minutes: Annotated[int, msgspec.Meta(gt=0)]
    consented_by: str


class SolutionPlanProposed(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    summary: str


class SpareUnitLent(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    spare_serial: str


class SpareUnitReturned(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    spare_serial: str


class PartLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    part: str
    quantity: Annotated[int, msgspec.Meta(gt=0)]
    quoted_price_fen: Fen  # unit price quoted in the tender
    cost_price_fen: Fen  # unit cost price
    consumable: bool = False  # 易损品: a property of the line, not a cause (§9.10)


class RepairAttempted(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    fixed: bool
    technician: str = ""
    parts: list[PartLine] = []
    labour_fen: Fen = 0


class FaultCauseDetermined(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    cause: FaultCause


class EvidenceAttached(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    media_type: str
    size: Annotated[int, msgspec.Meta(ge=0)]
    filename: str = ""
    description: str = ""


class TicketResolved(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    summary: str = ""


class CustomerSignedOff(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    satisfaction: Annotated[int, msgspec.Meta(ge=1, le=5)]


class TicketReopened(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: str = ""


class TicketClosed(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"


class TicketCancelled(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    reason: str = ""


class LossClaimed(Fact, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "ticket"
    amount_fen: Fen
    description: str = ""


class TicketReassigned(Fact, frozen=True, kw_only=True):
    """The desk handed the ticket to another group or person (desk imports)."""

    aggregate: ClassVar[str] = "ticket"
    assignee: str


class FactCorrected(Fact, frozen=True, kw_only=True):
    """Corrects an earlier fact of the same aggregate, named by its version (§3).

    `changes` holds the corrected fields (e.g. {"occurred_at": "..."}); views use the
    corrected values, audit shows both. Works for tickets and assets.
    """

    aggregate: ClassVar[str] = "any"
    corrects_version: Annotated[int, msgspec.Meta(ge=1)]
    changes: dict[str, Any]
    reason: Annotated[str, msgspec.Meta(min_length=1)]


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

