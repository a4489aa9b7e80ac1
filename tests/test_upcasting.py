"""Old event versions stay readable (SPEC §6): TicketOpened v1 (`down`) beside v2 (`asset_down`).

The v1 events are written the way an older release stored them: raw JSON under the topic
`ticket.TicketOpened.v1`, through the same recorder (so they are in the hash chain).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from eventsourcing.persistence import StoredEvent

from adapters.ledger import Ledger
from adapters.store import decode_stored, iter_log
from domain import events as ev
from domain.base import aggregate_uuid
from domain.upcasting import current_version, upcast

from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def record_v1_ticket(ledger: Ledger, ticket: str, asset: str, down: bool) -> None:
    """A TicketOpened as release 1 stored it."""
    state = {
        "type": "TicketOpened", "command_id": f"v1-{ticket}", "id": ticket, "occurred_at": "2025-10-01T01:00:00Z",
        "actor": "desk:old", "channel": "phone", "customer": "buyer-000", "source_recorded_at": None, "v": 1,
        "asset_id": asset, "severity": "normal", "fault_category": "no-power", "down": down,
        "reporter_ref": "", "description": "", "contract_id": "K-000", "site": "site-1",
    }
    ledger.recorder.insert_events([StoredEvent(
        originator_id=aggregate_uuid("ticket", ticket), originator_version=1,
        topic="ticket.TicketOpened.v1", state=msgspec.json.encode(state),
    )])


def test_version_1_ticket_opened_is_read_as_version_2(ledger: Ledger) -> None:
    desk = Desk()
    ledger.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    record_v1_ticket(ledger, "OLD-1", "A1", down=True)
    ledger.execute_many([desk.open("NEW-1", "A1", "2025-10-02T09:00", asset_down=False)], now=NOW)

    # The aggregate reads the old version upgraded, and takes new facts after it.
    old = ledger.aggregate("ticket", "OLD-1")
    assert old.state.opened.asset_down is True and old.state.opened.v == 2
    assert ledger.execute_many([desk.fact(ev.TicketAcknowledged, "OLD-1", "2025-10-01T09:10")], now=NOW)[0].status == "recorded"

    # Every reader of stored rows (stream consumers, views) upgrades through decode_stored.
    opened = [decode_stored(r.topic, r.state) for r in iter_log(ledger) if ".TicketOpened." in r.topic]
    assert [(f.id, f.asset_down, f.v) for f in opened] == [("OLD-1", True, 2), ("NEW-1", False, 2)]
    # The stored v1 bytes are never rewritten.
    raw = [r for r in iter_log(ledger) if r.topic == "ticket.TicketOpened.v1"]
    assert len(raw) == 1 and b'"down":true' in raw[0].state


def test_upcaster_chain_reaches_the_current_version() -> None:
    assert current_version("TicketOpened") == ev.TicketOpened.version == 2
    assert upcast("TicketOpened", 1, {"down": True, "v": 1}) == {"asset_down": True, "v": 2}
    assert current_version("TicketAcknowledged") == 1
