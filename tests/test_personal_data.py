"""Personal data (SPEC §7, PIPL art. 47): reporters' names and phones never enter an event or
the stream; events carry a reference; `erase-person` removes the details and the log still
verifies afterwards (nothing in the hash-chained log is rewritten)."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig
from domain import events as ev

from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)
NAME, PHONE = "王小明", "13800138000"


def run(data: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--data-dir", str(data), *argv])
    return code, out.getvalue()


def test_erasing_a_reporter_leaves_the_log_verifiable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, ref = run(data, "person", "add", "--name", NAME, "--phone", PHONE)
    ref = ref.strip()
    assert code == 0 and ref.startswith("P-")
    desk = Desk()
    app = Ledger.open(StoreConfig(data))
    outcomes = app.execute_many([desk.contract("000"), desk.asset("A1"),
                                 desk.open("T1", "A1", "2025-10-01T09:00", reporter_ref=ref),
                                 desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:10")], now=NOW)
    assert {o.status for o in outcomes} == {"recorded"}
    app.close()

    def log_bytes() -> bytes:
        db = sqlite3.connect(data / "events.sqlite")
        blob = b"".join(r[0] for r in db.execute("SELECT state FROM stored_events ORDER BY rowid"))
        db.close()
        return blob

    before = log_bytes()
    assert ref.encode() in before  # the event carries the reference
    assert NAME.encode() not in before and PHONE.encode() not in before  # never the details
    code, report = run(data, "--json", "verify", "--no-stream")
    assert code == 0, report
    head = json.loads(report)["head_link"]

    code, shown = run(data, "--json", "person", "show", ref)
    assert code == 0 and PHONE in shown
    code, _ = run(data, "erase-person", ref)
    assert code == 0
    assert main(["--data-dir", str(data), "person", "show", ref]) == 2  # gone
    raw = (data / "persons.sqlite").read_bytes()
    assert NAME.encode() not in raw and PHONE.encode() not in raw  # not left in free pages

    assert log_bytes() == before  # the log was not rewritten
    code, report = run(data, "--json", "verify", "--no-stream")
    assert code == 0 and json.loads(report)["head_link"] == head


def test_person_add_and_erase_person_say_what_they_did_in_json(tmp_path: Path) -> None:
    # --json was ignored: a bare reference and a sentence, where every other command prints JSON
    data = tmp_path / "data"
    code, out = run(data, "--json", "person", "add", "--name", NAME, "--phone", PHONE, "--ref", "P-0001")
    assert code == 0 and json.loads(out) == [{"ref": "P-0001", "stored": True}]
    assert NAME not in out and PHONE not in out  # the details stay in the store
    code, out = run(data, "erase-person", "--json", "P-0001")
    assert code == 0 and json.loads(out) == [{"ref": "P-0001", "erased": True, "log_changed": False}]
    code, out = run(data, "--json", "erase-person", "P-0001")  # already erased
    assert code == 0 and json.loads(out) == [{"ref": "P-0001", "erased": False, "log_changed": False}]
