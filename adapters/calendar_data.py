"""Official PRC working-day years recorded as calendar data in the ledger (SPEC §8): what
`init`, `calendar record`, the demo and the first import record."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from domain import events as ev

from .ledger import Ledger


def record_calendar(ledger: Ledger, years: list[int] | None) -> list[int]:
    """Record the official years the installed chinese-calendar knows (`years`, or every year
    from 2004 to next year); returns the years recorded now. A year already recorded with the
    same days records nothing (its command id is a function of its days)."""
    from importlib.metadata import version

    from domain.calendar import official_years

    source = f"chinese-calendar {version('chinese-calendar')}"
    data = official_years(years if years is not None else range(2004, datetime.now().year + 2))
    facts = [
        ev.CalendarYearRecorded(
            command_id=f"calendar-CN-{y}-{hashlib.sha256(repr(d).encode()).hexdigest()[:12]}",
            id=f"CN-{y}", occurred_at=datetime(y - 1, 12, 1, tzinfo=UTC), actor="ticketledger calendar record",
            channel="cli", year=y, days_off=off, days_on=on, source=source,
        )
        for y, d in sorted(data.items())
        for off, on in [d]
    ]
    outcomes = ledger.execute_many(facts)
    return [f.year for f, o in zip(facts, outcomes, strict=True) if o.status == "recorded"]
