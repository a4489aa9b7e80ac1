"""What an operator who rewrites history runs: the hash chain recomputed over edited bytes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from domain import hashchain


def recompute_chain(data: Path) -> None:
    db = sqlite3.connect(data / "events.sqlite")
    rows = db.execute("SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, c.recorded_at "
                      "FROM stored_events e JOIN ledger_chain c ON c.position = e.rowid ORDER BY e.rowid").fetchall()
    link = hashchain.GENESIS
    with db:
        for pos, oid, v, topic, state, at in rows:
            digest = hashlib.sha256(state if isinstance(state, bytes) else state.encode()).hexdigest()
            link = hashchain.link(link, pos, at, oid, v, topic, digest)
            db.execute("UPDATE ledger_chain SET state_sha256 = ?, link = ? WHERE position = ?", (digest, link, pos))
    db.close()


def edit_event(data: Path, position: int, old: bytes, new: bytes) -> None:
    """Change the stored bytes of the event at `position` (they must contain `old`)."""
    db = sqlite3.connect(data / "events.sqlite")
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()
    assert old in state, (position, state)
    with db:
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state.replace(old, new), position))
    db.close()
