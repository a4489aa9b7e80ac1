"""The bulk rebuild: whatever way the log is read and however the tickets are split into passes,
the views hold the same rows (a generated ledger with every ingredient of the synthetic mix)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.store_arrow import rebuild_from_store, sqlite_batches
from bench.generate import generate
from projections import open_views, sla
from projections import rebuild_from_store as rebuild_batches

AT = datetime(2026, 3, 1, tzinfo=UTC)
TABLES = {
    "sla_clocks": "ticket, clock", "liability": "ticket", "warranty": "asset",
    "visit_periods": "asset, schedule_no, period", "sla_summary": "dimension, key, clock",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("ledger")
    generate(data, 4000)
    return data / "events.sqlite"


def table_rows(path: Path) -> dict[str, list[tuple]]:
    con = open_views(path, read_only=True)
    try:
        # sums of minutes differ in the last bit with the order rows are added in: 6 decimals
        return {t: [tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                    for r in con.execute(f"SELECT * EXCLUDE (evaluated_at) FROM {t} ORDER BY {order}").fetchall()]
                for t, order in TABLES.items()}
    finally:
        con.close()


def test_the_stream_reader_and_the_batch_reader_give_the_same_views(store: Path, tmp_path: Path) -> None:
    rebuild_from_store(store, tmp_path / "stream.duckdb", AT)
    rebuild_batches(lambda: sqlite_batches(store, size=700), tmp_path / "batches.duckdb", AT)
    streamed, batched = table_rows(tmp_path / "stream.duckdb"), table_rows(tmp_path / "batches.duckdb")
    assert len(streamed["sla_clocks"]) > 1000
    assert streamed == batched


def test_clocks_evaluated_in_passes_equal_one_pass(store: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rebuild_from_store(store, tmp_path / "one.duckdb", AT)
    monkeypatch.setattr(sla, "TICKETS_PER_PASS", 37)
    rebuild_from_store(store, tmp_path / "parts.duckdb", AT)
    one, parts = table_rows(tmp_path / "one.duckdb"), table_rows(tmp_path / "parts.duckdb")
    states = {r[20] for r in one["sla_clocks"]}
    assert {"met", "breached"} <= states  # the mix reaches both verdicts
    assert parts == one


def test_the_log_read_as_streams_side_by_side_in_beijing_time_gives_the_views_of_one_stream(
        store: Path, tmp_path: Path) -> None:
    """A whole log is loaded as consecutive position ranges on threads of their own (each its own
    DuckDB connection); a machine set to Beijing time must not shift an instant of any of them."""
    script = (
        "import sys\n"
        "from datetime import datetime, UTC\n"
        "from adapters.store_arrow import sqlite_streams\n"
        "from projections import rebuild_from_store\n"
        "with sqlite_streams(sys.argv[1], streams=3, batch_rows=500) as streams:\n"
        "    assert len(streams) == 3\n"
        "    rebuild_from_store(lambda: streams, sys.argv[2], datetime(2026, 3, 1, tzinfo=UTC))\n")
    subprocess.run([sys.executable, "-c", script, str(store), str(tmp_path / "three.duckdb")], check=True,
                   cwd=Path(__file__).resolve().parents[1], env={**os.environ, "TZ": "Asia/Shanghai"})
    rebuild_batches(lambda: sqlite_batches(store, size=700), tmp_path / "one.duckdb", AT)
    assert table_rows(tmp_path / "three.duckdb") == table_rows(tmp_path / "one.duckdb")
    con = open_views(tmp_path / "three.duckdb", read_only=True)
    try:
        stored = [r[0] for r in con.execute("SELECT position FROM events").fetchall()]  # as analysts read it
        instants = con.execute("SELECT * FROM events ORDER BY position").fetchall()
    finally:
        con.close()
    assert stored == list(range(1, len(stored) + 1))  # the log's order, every position once
    con = open_views(tmp_path / "one.duckdb", read_only=True)
    try:
        assert instants == con.execute("SELECT * FROM events ORDER BY position").fetchall()
    finally:
        con.close()


def test_a_rebuild_as_of_a_position_holds_exactly_the_prefix(store: Path, tmp_path: Path) -> None:
    stats = rebuild_from_store(store, tmp_path / "half.duckdb", AT, as_of_position=2000)
    assert stats["events"] == 2000 and stats["last_position"] == 2000
    con = open_views(tmp_path / "half.duckdb", read_only=True)
    try:
        assert con.execute("SELECT count(*), min(position), max(position) FROM events").fetchall() == [(2000, 1, 2000)]
    finally:
        con.close()


def test_the_cli_rebuild_and_reports_speak_json_and_refuse_bad_filters(
        store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import shutil

    from adapters.cli import main

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(store, data / "events.sqlite")
    assert main(["views", "rebuild", "--data-dir", str(data), "--at", "2026-03-01T00:00:00Z", "--json"]) == 0
    (done,) = json.loads(capsys.readouterr().out)
    assert done["events"] == done["rows"]["events"] > 4000 and done["evaluated_at"] == "2026-03-01T00:00:00Z"
    assert main(["report", "sla", "--state", "breached", "--limit", "3", "--json", "--data-dir", str(data)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and {r["state"] for r in rows} == {"breached"}
    assert main(["--data-dir", str(data), "report", "sla", "--limit", "1"]) == 0  # a table without the flag
    assert capsys.readouterr().out.startswith("服务时限，评估时间 2026-03-01 08:00")  # the contracts' language
    # bad filters are refused, naming what would be right
    assert main(["report", "sla", "--month", "2025/10", "--data-dir", str(data)]) == 2
    assert "write a month as YYYY-MM" in capsys.readouterr().err
    assert main(["report", "visits", "--state", "breached", "--data-dir", str(data)]) == 2
    assert "states are done, due, missed, upcoming" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("")
    assert main(["export", "--parquet", str(tmp_path / "a-file"), "--data-dir", str(data)]) == 2
    assert "name a folder" in capsys.readouterr().err


def test_a_cut_before_the_first_event_rebuilds_empty_views_and_a_position_outside_is_refused(
        store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nothing.duckdb"
    stats = rebuild_from_store(store, out, AT, as_of_recorded="2000-01-01T00:00:00.000000Z")
    assert stats["events"] == 0 and table_rows(out)["sla_clocks"] == []

    import shutil

    from adapters.cli import main

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(store, data / "events.sqlite")
    assert main(["--data-dir", str(data), "views", "rebuild", "--as-of-position", "0"]) == 2
    assert "--as-of-position 0: the log holds positions 1-" in capsys.readouterr().err


def test_a_reader_on_an_older_snapshot_does_not_hide_the_newest_facts_from_a_rebuild(tmp_path: Path) -> None:
    """A follower, relay or report reading the store holds a snapshot while the ledger writes on:
    the rebuild's WAL checkpoint cannot complete then, and the rebuild reads through sqlite3
    instead, newest facts included."""
    import sqlite3

    from tests.viewkit import Kit

    kit = Kit(tmp_path / "data")
    cid = kit.contract_file(str(Path(__file__).resolve().parents[1] / "contracts" / "seed-000.toml"))
    kit.asset("A-1", cid, customer="buyer-000", accepted="2025-01-02T09:00")
    kit.ticket("T-1", "A-1", "2025-06-02T10:00")
    store = kit.dir / "events.sqlite"
    reader = sqlite3.connect(store)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM ledger_chain").fetchone()[0] > 0  # its snapshot is now held
    try:
        kit.ticket("T-2", "A-1", "2025-06-03T10:00")  # written after the reader's snapshot
        rebuild_from_store(store, tmp_path / "views.duckdb", AT)
    finally:
        reader.close()
    con = open_views(tmp_path / "views.duckdb", read_only=True)
    try:
        assert {r[0] for r in con.execute("SELECT ticket FROM liability").fetchall()} == {"T-1", "T-2"}
    finally:
        con.close()


def test_a_rebuild_through_the_ledger_leaves_its_connections_locked_against_other_processes(
        tmp_path: Path) -> None:
    """The bulk reader links its own copy of SQLite, and closing it drops every POSIX lock this
    process holds on the store. The ledger's connections are closed before it opens the file and
    open afresh after: a read the ledger starts after the rebuild still keeps another process from
    truncating the write-ahead log under it, and the ledger records on."""
    import sqlite3

    from tests.viewkit import Kit

    kit = Kit(tmp_path / "data")
    cid = kit.contract_file(str(Path(__file__).resolve().parents[1] / "contracts" / "seed-000.toml"))
    kit.asset("A-1", cid, customer="buyer-000", accepted="2025-01-02T09:00")
    kit.ticket("T-1", "A-1", "2025-06-02T10:00")
    store = kit.dir / "events.sqlite"
    assert kit.ledger.position > 0  # the ledger holds an open connection to the store
    rebuild_from_store(kit.ledger, tmp_path / "views.duckdb", AT)

    def other_process(sql: str) -> list:
        script = ("import sqlite3, sys\n"
                  "c = sqlite3.connect(sys.argv[1], timeout=0.1, isolation_level=None)\n"
                  "print(c.execute(sys.argv[2]).fetchall())")
        done = subprocess.run([sys.executable, "-c", script, str(store), sql], capture_output=True, text=True,
                              check=True)
        return eval(done.stdout)  # noqa: S307 - our own child's list of tuples

    position = kit.ledger.position  # the ledger's connection, open again
    other_process("PRAGMA user_version = 7")  # another process's commit: a frame the WAL keeps
    with kit.ledger.recorder.datastore.transaction(commit=False) as cur:
        cur.execute("SELECT count(*) FROM stored_events")  # a read on the ledger's snapshot, WAL included
        assert cur.fetchone()[0] == position
        busy, _, _ = other_process("PRAGMA wal_checkpoint(TRUNCATE)")[0]
        assert busy == 1  # the WAL is kept for the ledger's reader
    assert sqlite3.connect(store).execute("PRAGMA user_version").fetchone()[0] == 7
    kit.ticket("T-2", "A-1", "2025-06-03T10:00")  # the ledger records on with its fresh connections
    con = open_views(tmp_path / "views.duckdb", read_only=True)
    try:
        assert {r[0] for r in con.execute("SELECT ticket FROM liability").fetchall()} == {"T-1"}
    finally:
        con.close()


def test_export_keeps_fen_integers_in_parquet_and_says_what_it_wrote_in_json(
        store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import shutil

    import duckdb

    from adapters.cli import main

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(store, data / "events.sqlite")
    assert main(["views", "rebuild", "--data-dir", str(data), "--at", "2026-03-01T00:00:00Z"]) == 0
    capsys.readouterr()
    out = tmp_path / "parquet"
    # --json was ignored: prose, where a program reads what was written
    assert main(["--data-dir", str(data), "--json", "export", "--parquet", str(out)]) == 0
    (done,) = json.loads(capsys.readouterr().out)
    assert done["parquet"] == str(out)
    assert {"table": "events", "file": str(out / "events.parquet")} in done["tables"]
    assert {Path(t["file"]) for t in done["tables"]} == set(out.glob("*.parquet"))
    # HUGEINT columns (bounded amounts, sums) were written as DOUBLE: fen read back as floats
    with duckdb.connect() as con:
        def types(table: str) -> dict[str, str]:
            return dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                    f"'{out / (table + '.parquet')}')").fetchall())

        events = types("events")
        assert {events[c] for c in ("labour_fen", "amount_fen", "add_minutes", "size")} == {"BIGINT"}
        assert types("liability_totals")["supplier_pays_fen"] == "BIGINT"
        assert all(t != "DOUBLE" for t in events.values())
        held = con.execute(f"SELECT sum(labour_fen) FROM '{out / 'events.parquet'}'").fetchone()[0]
    views = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    try:
        assert held == views.execute("SELECT sum(labour_fen) FROM events").fetchone()[0] and held > 0
    finally:
        views.close()


def test_report_liability_month_is_the_month_in_the_contract_s_own_time_zone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import msgspec

    from adapters.cli import main
    from adapters.ledger import Ledger
    from adapters.store import StoreConfig

    from .domainkit import Desk, changed_terms

    # --month added 8 hours whatever the contract's zone: a Berlin ticket of 31 October, 23:30
    # (22:30 UTC) was counted in November, Beijing's date
    desk = Desk()
    berlin = desk.contract("000")
    berlin = msgspec.structs.replace(berlin, terms=changed_terms(berlin.terms, timezone="Europe/Berlin"))
    data = tmp_path / "data"
    app = Ledger.open(StoreConfig(data))
    try:
        app.execute_many([berlin, desk.asset("A1"),
                          desk.open("T1", "A1", "2025-10-31T23:30+01:00"),
                          desk.open("T2", "A1", "2025-11-01T00:30+01:00")], now=datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        app.close()
    assert main(["--data-dir", str(data), "views", "rebuild", "--at", "2026-01-01T00:00:00Z"]) == 0
    capsys.readouterr()
    for month, tickets in (("2025-10", ["T1"]), ("2025-11", ["T2"])):
        assert main(["--data-dir", str(data), "--json", "report", "liability", "--month", month]) == 0
        assert [r["ticket"] for r in json.loads(capsys.readouterr().out)] == tickets, month
        # the same month as the views' own (sla_clocks.month, counted in the contract's zone)
        assert main(["--data-dir", str(data), "--json", "report", "sla", "--month", month]) == 0
        assert {r["ticket"] for r in json.loads(capsys.readouterr().out)} == set(tickets), month
