"""The payload of an alert (stream ALERTS, subject `alert.<customer>.<ticket>.<clock>`): what the
live follower publishes (adapters.follower), the web console's live queue reads (adapters.web.live)
and `ticketledger schema` publishes as `alert.json`.

Times are UTC instants as every other time of ours, ISO 8601 with `Z` (`2025-04-24T04:33:55Z`,
microseconds only when some): a reader's date parser never takes them for local time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

# Every state an SLA clock of the views can be in (projections.sla), and so every state an alert carries.
ClockState = Literal["running", "at_risk", "breached", "met", "not_applicable"]
UtcInstant = Annotated[datetime, msgspec.Meta(tz=True)]  # published as "format": "date-time"


class Alert(msgspec.Struct, kw_only=True):
    """One change of one SLA clock, as a live queue or an alert reader needs it."""

    customer: str
    ticket: str
    clock: str
    state: ClockState
    n: int  # this clock's alerts so far, this one included
    key: str  # the message id, `ticket:clock:n:state`
    deadline: UtcInstant | None
    evaluated_at: UtcInstant  # when the follower evaluated the clock (the views' evaluation time)
    breach_minutes: float | None
    contract: str | None
    asset: str | None
    site: str | None
    severity: str | None
    technician: str | None
    paused_since: UtcInstant | None  # a pausing wait open since then; null when none
    stopped_at: UtcInstant | None  # null while the clock runs


def utc_instant(views_time: datetime | None) -> datetime | None:
    """A views time (naive, UTC) as the instant an alert carries."""
    return None if views_time is None else views_time.replace(tzinfo=UTC)


class _AlertBeforeZ(Alert, kw_only=True):
    """An alert published before its times said Z: naive UTC as the views write them
    (`2025-04-24 04:33:55`). An ALERTS stream keeps them, and a live queue still reads them."""

    deadline: datetime | None
    evaluated_at: datetime
    paused_since: datetime | None
    stopped_at: datetime | None


_TIMES = ("deadline", "evaluated_at", "paused_since", "stopped_at")


def decode_alert(data: bytes) -> Alert:
    """An alert from its JSON, in either form of its times; msgspec.DecodeError when not an alert."""
    try:
        return msgspec.json.decode(data, type=Alert)
    except msgspec.ValidationError:
        old = msgspec.json.decode(data, type=_AlertBeforeZ)
        fields = {f: getattr(old, f) for f in Alert.__struct_fields__}
        return Alert(**{**fields, **{f: utc_instant(fields[f]) for f in _TIMES}})
