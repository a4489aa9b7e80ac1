"""`ticketledger verify` (SPEC §5): the hash chain names the first position that differs when
one byte of a stored event changes, one event is deleted or two are swapped; a clean log
passes; a tampered evidence file is reported; the store and the NATS stream are compared."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig, iter_log
from domain import events as ev
from replay.verify import verify_log

from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def build(data: Path, tickets: int = 4) -> int:
    """A small ledger: contract, asset, a few tickets with several events each. Returns last position."""
    desk = Desk()
    app = Ledger.open(StoreConfig(data))
    facts: list[ev.Fact] = [desk.contract("000"), desk.asset("A1")]
    for i in range(tickets):
        t = f"T{i}"
        facts += [desk.open(t, "A1", f"2025-10-0{i + 1}T09:00"),
                  desk.fact(ev.TicketAcknowledged, t, f"2025-10-0{i + 1}T09:05"),
                  desk.fact(ev.TicketResolved, t, f"2025-10-0{i + 1}T15:00")]
    for f in facts:  # one transaction each: positions and recording times all differ
        assert app.execute_many([f], now=NOW)[0].status == "recorded"
    last = app.position
    app.close()
    return last


def verify(data: Path, *extra: str) -> tuple[int, dict]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--data-dir", str(data), "--json", "verify", "--no-stream", *extra])
    return code, json.loads(out.getvalue())


def sql(data: Path, *statements: tuple) -> None:
    db = sqlite3.connect(data / "events.sqlite")
    with db:
        for s in statements:
            db.execute(*s)
    db.close()


def test_a_clean_log_verifies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    last = build(data)
    code, report = verify(data)
    assert code == 0 and report["ok"] and report["events"] == last and report["first_difference"] is None


def test_one_changed_byte_is_detected_at_its_position(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    db = sqlite3.connect(data / "events.sqlite")
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 7").fetchone()
    db.close()
    altered = bytearray(state)
    i = bytes(state).index(b"T1")  # the ticket id: one byte, still valid JSON
    altered[i + 1] = ord("9")
    sql(data, ("UPDATE stored_events SET state = ? WHERE rowid = 7", (bytes(altered),)))
    code, report = verify(data)
    assert code == 1
    assert report["first_difference"]["position"] == 7
    assert report["first_difference"]["kind"] == "altered"


def test_a_changed_byte_with_its_digest_rewritten_breaks_the_link(tmp_path: Path) -> None:
    import hashlib

    data = tmp_path / "data"
    build(data)
    db = sqlite3.connect(data / "events.sqlite")
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 5").fetchone()
    db.close()
    forged = bytes(state).replace(b"desk:test", b"desk:tesx")
    assert forged != state
    sql(data, ("UPDATE stored_events SET state = ? WHERE rowid = 5", (forged,)),
        ("UPDATE ledger_chain SET state_sha256 = ? WHERE position = 5", (hashlib.sha256(forged).hexdigest(),)))
    code, report = verify(data)
    assert code == 1 and report["first_difference"]["position"] == 5
    assert report["first_difference"]["kind"] == "chain"


def test_a_deleted_event_is_detected_at_the_next_position(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    sql(data, ("DELETE FROM stored_events WHERE rowid = 6",), ("DELETE FROM ledger_chain WHERE position = 6",))
    code, report = verify(data)
    assert code == 1
    first = report["first_difference"]
    assert first["position"] == 7 and first["kind"] == "deleted" and "6" in first["detail"]


def test_the_last_event_deleted_is_detected(tmp_path: Path) -> None:
    data = tmp_path / "data"
    last = build(data)
    sql(data, ("DELETE FROM stored_events WHERE rowid = ?", (last,)))
    code, report = verify(data)
    assert code == 1 and report["first_difference"]["position"] == last
    assert report["first_difference"]["kind"] == "truncated"


def test_two_swapped_events_are_detected_at_the_first_of_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    db = sqlite3.connect(data / "events.sqlite")
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events WHERE rowid IN (4, 8)")}
    db.close()
    # swap the whole rows (a reordering), keeping the primary key unique on the way
    sql(data,
        ("UPDATE stored_events SET originator_version = -1 WHERE rowid = 4",),
        ("UPDATE stored_events SET originator_id = ?, originator_version = ?, topic = ?, state = ? WHERE rowid = 8",
         rows[4]),
        ("UPDATE stored_events SET originator_id = ?, originator_version = ?, topic = ?, state = ? WHERE rowid = 4",
         rows[8]))
    code, report = verify(data)
    assert code == 1 and report["first_difference"]["position"] == 4
    assert {f["position"] for f in report["findings"]} == {4, 8}


def test_swapped_states_with_their_chain_rows_still_break_the_chain(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    db = sqlite3.connect(data / "events.sqlite")
    s = {r[0]: r[1] for r in db.execute("SELECT rowid, state FROM stored_events WHERE rowid IN (5, 9)")}
    c = {r[0]: r[1:] for r in db.execute("SELECT position, state_sha256, link FROM ledger_chain "
                                          "WHERE position IN (5, 9)")}
    db.close()
    sql(data, ("UPDATE stored_events SET state = ? WHERE rowid = 5", (s[9],)),
        ("UPDATE stored_events SET state = ? WHERE rowid = 9", (s[5],)),
        ("UPDATE ledger_chain SET state_sha256 = ?, link = ? WHERE position = 5", c[9]),
        ("UPDATE ledger_chain SET state_sha256 = ?, link = ? WHERE position = 9", c[5]))
    code, report = verify(data)
    assert code == 1 and report["first_difference"]["position"] == 5


def test_recording_time_never_decreases_and_is_chained(tmp_path: Path) -> None:
    """§9.13 as verify sees it: an earlier recording time written back is caught by the chain, the
    time order and the Merkle tree (the recording time is in the leaf)."""
    data = tmp_path / "data"
    build(data)
    sql(data, ("UPDATE ledger_chain SET recorded_at = '2000-01-01T00:00:00.000000Z' WHERE position = 6",))
    code, report = verify(data)
    assert code == 1 and report["first_difference"]["position"] == 6
    assert {f["kind"] for f in report["findings"] if f["position"] == 6} == {"chain", "time", "tree"}


def test_a_tampered_evidence_file_is_reported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data, tickets=1)
    doc = tmp_path / "service-report.pdf"
    doc.write_bytes(b"%PDF-1.4 signed service report, T0\n")
    assert main(["--data-dir", str(data), "attach", "T0", str(doc), "--actor", "li",
                 "--at", "2025-10-01T15:05+08:00"]) == 0
    code, report = verify(data)
    assert code == 0 and report["evidence_checked"] == 1
    from adapters.evidence import evidence_path

    app = Ledger.open(StoreConfig(data))
    pos, sha = next((r.position, json.loads(r.state)["sha256"]) for r in iter_log(app) if "Evidence" in r.topic)
    app.close()
    evidence_path(data, sha).write_bytes(b"%PDF-1.4 a different report\n")
    code, report = verify(data)
    assert code == 1
    assert report["first_difference"] == {"position": pos, "kind": "evidence",
                                          "detail": report["first_difference"]["detail"]}
    assert "altered" in report["first_difference"]["detail"]
    evidence_path(data, sha).unlink()
    code, report = verify(data)
    assert code == 1 and "missing" in report["first_difference"]["detail"]


def test_text_report_names_the_first_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    build(data)
    sql(data, ("DELETE FROM stored_events WHERE rowid = 3",), ("DELETE FROM ledger_chain WHERE position = 3",))
    assert main(["--data-dir", str(data), "--lang", "en", "verify", "--no-stream"]) == 1  # (its contracts': Chinese)
    out = capsys.readouterr().out
    assert "FAILED: first difference at position 4 (deleted)" in out


def test_store_and_stream_are_compared_event_by_event(tmp_path: Path) -> None:
    from adapters.nats_server import NatsServer
    from adapters.relay import relay_all

    data = tmp_path / "data"
    last = build(data, tickets=2)
    with NatsServer(tmp_path / "nats") as server:
        app = Ledger.open(StoreConfig(data))
        assert relay_all(app, server.url) == last
        app.close()
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(["--data-dir", str(data), "--json", "verify", "--nats-url", server.url])
        report = json.loads(out.getvalue())
        assert code == 0, report
        assert report["stream_checked"] and report["stream_events"] == last
        # an event recorded but not (yet) on the stream: named by its position
        app = Ledger.open(StoreConfig(data))
        late = ev.TicketClosed(command_id="late-close-T0", id="T0", occurred_at=datetime(2025, 10, 2, tzinfo=UTC),
                               actor="desk:late")
        assert app.execute_many([late], now=NOW)[0].status == "recorded"
        app.close()
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(["--data-dir", str(data), "--json", "verify", "--nats-url", server.url])
        report = json.loads(out.getvalue())
        assert code == 1
        assert report["first_difference"]["position"] == last + 1
        assert report["first_difference"]["kind"] == "stream"


def test_verify_log_is_pure_over_rows() -> None:
    """The pure function over hand-made rows: a gap with a valid link (a PostgreSQL sequence
    gap) is not tampering; a stream with one different payload is named by position."""
    import hashlib

    from adapters.store import LogRow
    from domain import hashchain

    rows, prev = [], hashchain.GENESIS
    for pos in (1, 2, 5):
        state = f'{{"n":{pos}}}'.encode()
        d = hashlib.sha256(state).hexdigest()
        prev = hashchain.link(prev, pos, f"2026-01-01T00:00:0{pos}Z", "o", pos, "ticket.X.v1", d)
        rows.append(LogRow(pos, "o", pos, "ticket.X.v1", state, f"2026-01-01T00:00:0{pos}Z", d, prev))
    assert verify_log(rows).ok

    class Msg:
        def __init__(self, r: LogRow, data: bytes) -> None:
            self.position, self.data, self.link, self.topic, self.recorded_at = (
                r.position, data, r.link, r.topic, r.recorded_at)

    stream = [Msg(rows[0], rows[0].state), Msg(rows[1], b'{"n":99}'), Msg(rows[2], rows[2].state)]
    report = verify_log(rows, stream=stream)
    assert not report.ok and report.first_difference.position == 2
    assert report.first_difference.kind == "stream"
