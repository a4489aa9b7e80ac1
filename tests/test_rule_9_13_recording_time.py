"""§9.13 Recording time is stamped by the store inside the transaction that records the event
(never by the domain or the caller), never decreases along the log position, and is covered by
the hash chain (so `verify` catches a rewritten recording time)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.ledger import Ledger
from adapters.store import StoreConfig, iter_log
from domain import events as ev
from replay.verify import verify_log

from .domainkit import Desk


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_recording_time_is_stamped_by_the_store_never_decreases_and_is_chained(tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = Ledger.open(StoreConfig(data))
    setup = Desk("setup")
    app.execute_many([setup.contract("000"), setup.asset("A1")])
    assert "recorded_at" not in ev.Fact.__struct_fields__  # a caller cannot even say it

    before = datetime.now(UTC)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            w = Ledger.open(StoreConfig(data))
            desk = Desk(f"desk:{n}")
            for i in range(15):
                t = f"T{n}-{i}"
                w.execute_many([ev.TicketOpened(command_id=f"{t}-open", id=t, occurred_at=datetime(2025, 10, 1, tzinfo=UTC),
                                                actor=desk.actor, asset_id="A1", severity="normal",
                                                fault_category="no-power")])
            w.close()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    assert not errors, errors
    rows = list(iter_log(app))
    app.close()
    assert len(rows) == 2 + 45
    stamps = [r.recorded_at for r in rows]
    assert stamps == sorted(stamps)  # never decreases along the position, across writers
    assert all(stamp(before) <= s <= stamp(after) for s in stamps[2:])  # stamped when recorded
    report = verify_log(rows)
    assert report.ok, report.text()

    # covered by the chain: an earlier recording time written back is detected at its position
    db = sqlite3.connect(data / "events.sqlite")
    with db:
        db.execute("UPDATE ledger_chain SET recorded_at = ? WHERE position = 20", (stamps[2],))
    db.close()
    app = Ledger.open(StoreConfig(data))
    report = verify_log(iter_log(app))
    app.close()
    assert not report.ok and report.first_difference.position == 20
    assert report.first_difference.kind == "chain"
