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
    # FactCorrected v2: a corrected time in UTC (issue 14 item 21); other changed fields as they were
    assert upcast("FactCorrected", 1, {"changes": {"occurred_at": "2025-10-05T09:20:00+08:00", "technician": "li"},
                                       "v": 1}) == {"changes": {"occurred_at": "2025-10-05T01:20:00Z",
                                                                "technician": "li"}, "v": 2}


def test_views_and_explain_read_version_1_and_version_2(sqlite_ledger: Ledger, tmp_path) -> None:
    import json
    import subprocess
    import sys

    import duckdb

    from adapters.cli.core import record_calendar
    from adapters.store_arrow import rebuild_from_store

    ledger = sqlite_ledger
    desk = Desk()
    record_calendar(ledger, [2025])
    ledger.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    record_v1_ticket(ledger, "OLD-1", "A1", down=True)
    ledger.execute_many([desk.open("NEW-1", "A1", "2025-10-02T09:00", asset_down=False)], now=NOW)
    views = tmp_path / "v.duckdb"
    rebuild_from_store(ledger, views, NOW)
    con = duckdb.connect(str(views), read_only=True)
    rows = con.execute("SELECT id, asset_down, v "
                       "FROM events WHERE type = 'TicketOpened' ORDER BY id").fetchall()
    clocks = con.execute("SELECT DISTINCT ticket FROM sla_clocks ORDER BY ticket").fetchall()
    con.close()
    assert rows == [("NEW-1", False, 2), ("OLD-1", True, 2)]  # the views hold both, upcast
    assert clocks == [("NEW-1",), ("OLD-1",)]
    data = ledger.env["SQLITE_DBNAME"].rsplit("/", 1)[0]
    out = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", data, "explain", "OLD-1",
                          "--format", "json", "--at", NOW.isoformat()], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    opened = [e for e in report["timeline"] if e["type"] == "TicketOpened"]
    assert len(opened) == 1 and {c["clock"] for c in report["clocks"]} >= {"response", "resolution"}
    assert opened[0]["detail"].get("asset_down") is True and "down" not in opened[0]["detail"]  # read as v2
