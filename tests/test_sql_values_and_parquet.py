"""What an analyst reads from `sql` and `export --parquet`: each value as it is. The table
printed DOUBLEs at 3 decimals (1e-5 as 0), an INTERVAL as seconds (a 17:30 close of business as
63000) and lists without their brackets; `--json` wrote a JSON column as a string of JSON; the
Parquet files held INTERVAL as 12 raw bytes (Polars panicked) and JSON as a type Polars reads as
binary."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.cli import main

from .domainkit import Desk


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed 000 (7x24) and seed 002 (its `office` calendar closes at 17:30), one ticket."""
    from datetime import UTC, datetime

    from adapters.ledger import Ledger
    from adapters.store import StoreConfig

    folder = tmp_path_factory.mktemp("analyst") / "data"
    desk = Desk()
    app = Ledger.open(StoreConfig(folder))
    try:
        app.execute_many([desk.contract("000"), desk.contract("002"), desk.asset("A1"),
                          desk.open("T1", "A1", "2025-10-01T09:00")], now=datetime(2026, 11, 1, tzinfo=UTC))
    finally:
        app.close()
    assert main(["--data-dir", str(folder), "views", "rebuild"]) == 0
    return folder


LITERALS = ("SELECT 1e-5::DOUBLE AS tiny, 0.0004::DOUBLE AS small, 2.0/3 AS third, INTERVAL 90 MINUTE AS span, "
            "[1, 2] AS list, [['a', 'b'], ['c']] AS nested, 0.30::DECIMAL(10, 2) AS money")


def test_sql_prints_a_querys_values_as_they_are(views: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(views), "--lang", "en", "sql", LITERALS]) == 0
    header, _rule, row = capsys.readouterr().out.splitlines()[:3]
    cells = row.split("  ")
    cells = [c.strip() for c in cells if c.strip()]
    assert cells == ["1e-05", "0.0004", "0.666666666666667", "01:30:00", "[1, 2]", "[[a, b], [c]]", "0.30"]
    assert main(["--data-dir", str(views), "--lang", "en", "sql",
                 "SELECT close_time, hours FROM terms_calendars WHERE contract = 'K-002'"]) == 0
    out = capsys.readouterr().out
    assert "17:30:00" in out and "63000" not in out and "[[08:30, 17:30]]" in out


def test_sql_json_and_csv_shapes(views: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = (LITERALS + ", t.terms AS terms, c.close_time FROM terms t JOIN terms_calendars c USING (contract, version) "
             "WHERE t.contract = 'K-002'")
    assert main(["--data-dir", str(views), "sql", "--json", query]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    # a JSON column is the JSON value itself, not a string of JSON inside JSON
    assert isinstance(row["terms"], dict) and row["terms"]["calendars"]["office"]
    assert row["nested"] == [["a", "b"], ["c"]] and row["tiny"] == 1e-5
    assert row["money"] == "0.30"  # DECIMAL as text: every digit, as written (README, `sql`)
    assert row["span"] == 5400 and row["close_time"] == 63000  # INTERVAL in seconds
    assert main(["--data-dir", str(views), "sql", "--csv", query]) == 0
    record = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert json.loads(record["terms"])["calendars"]["office"]  # the JSON text, encoded once
    assert record["span"] == "5400" and record["nested"] == '[["a","b"],["c"]]'


def test_parquet_export_is_read_in_plain_types(views: Path, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    assert main(["--data-dir", str(views), "export", "--parquet", str(out)]) == 0
    for file in sorted(out.glob("*.parquet")):
        table = pq.read_table(file)
        for field in table.schema:
            kind = field.type
            while pa.types.is_list(kind):
                kind = kind.value_type
            # no interval bytes (Polars panicked on them), no JSON extension (read as binary)
            assert not (pa.types.is_fixed_size_binary(kind) or pa.types.is_binary(kind)
                        or isinstance(kind, pa.ExtensionType)), (file.name, field)
    calendars = pq.read_table(out / "terms_calendars.parquet").to_pylist()
    office = next(r for r in calendars if r["contract"] == "K-002")
    assert office["close_time"] == "17:30:00"
    terms = pq.read_table(out / "terms.parquet")
    assert terms.schema.field("terms").type == pa.string()
    assert json.loads(terms.column("terms").to_pylist()[0])["clocks"]
    assert pq.read_table(out / "events.parquet").schema.field("parts").type == pa.string()


def test_the_views_carry_their_documentation_as_duckdb_comments(views: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # DBeaver and duckdb show COMMENT ON text; the views had none. It is projections/README.md's own words.
    import duckdb

    from adapters.follower import _ensure_alert_table
    from projections import schema
    from projections.comments import documented

    assert main(["--data-dir", str(views), "sql", "--json",
                 "SELECT table_name, column_name, comment FROM duckdb_columns() "
                 "WHERE table_name = 'sla_clocks' AND column_name IN ('counted_minutes', 'state') ORDER BY 2"]) == 0
    counted, state = json.loads(capsys.readouterr().out)
    assert counted == {"table_name": "sla_clocks", "column_name": "counted_minutes",
                       "comment": "the clock's own counted (open, unpaused) minutes, hour/minute clocks"}
    assert state["comment"].startswith("met, breached, running, at_risk, not_applicable. At risk (§9.2)")
    assert main(["--data-dir", str(views), "sql", "--json",
                 "SELECT comment FROM duckdb_tables() WHERE table_name = 'first_time_fix'"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"comment": "per ticket (§9.9)"}]
    # every table a views file can hold has its section in the README (alert_state had none)
    con = duckdb.connect()
    schema.create(con)
    _ensure_alert_table(con)
    held = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'main'").fetchall()}
    assert held - set(documented()) == set()


def test_a_long_text_value_wraps_in_a_narrow_terminal(views: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # the value columns must wrap text as before, not leave a column of long text out
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["--data-dir", str(views), "--lang", "en", "sql",
                 "SELECT contract, name, terms FROM terms WHERE contract = 'K-002'"]) == 0
    out = capsys.readouterr().out
    assert "left out" not in out and '{"at_risk_share"' in out and max(map(len, out.splitlines())) <= 60
