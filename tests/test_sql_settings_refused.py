"""`sql` changes no DuckDB setting (issue 14 item 11): `PRAGMA profiling_output='…'` ended in a
Python traceback and `CALL enable_logging(storage='file', …)` aborted the process (rc 134).
Every setting is locked for the query, so these and their kin (query logs, temp folders) are
refused in one line, exit 2, and write nothing. Run as a real process: an abort would kill pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.cli import main

from .domainkit import ledger_with_one_ticket

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = ledger_with_one_ticket(tmp_path_factory.mktemp("sql") / "data")
    assert main(["--data-dir", str(data), "views", "rebuild"]) == 0
    return data


@pytest.mark.parametrize("query", [
    "PRAGMA profiling_output='{out}'",
    "PRAGMA enable_profiling; PRAGMA profiling_output='{out}'; SELECT count(*) FROM sla_clocks",
    "SET profiling_output='{out}'; SET enable_profiling='json'; SELECT 1",
    "CALL enable_logging(storage='file', storage_path='{out}'); SELECT 1",
    "SELECT * FROM enable_logging(storage='file', storage_config={{'path': '{out}'}})",
    "SET log_query_path='{out}'; SELECT 1",
    "SET temp_directory='{out}'; SELECT 1",
])
def test_sql_refuses_settings_that_write_files_or_abort(views: Path, tmp_path: Path, query: str) -> None:
    out = tmp_path / "written"
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(views), "sql",
                           query.format(out=out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stderr[-1500:])
    assert "Traceback" not in done.stderr and "terminate called" not in done.stderr
    assert "the configuration has been locked: `sql` runs queries on the views and changes no setting" in done.stderr
    assert not out.exists()


def test_sql_still_answers_what_analysts_ask(views: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for query in ("SELECT clock, state FROM sla_clocks ORDER BY clock", "DESCRIBE sla_clocks", "SHOW TABLES",
                  "EXPLAIN SELECT count(*) FROM events", "PRAGMA table_info('liability')"):
        assert main(["--data-dir", str(views), "sql", query]) == 0, query
    assert "resolution" in capsys.readouterr().out


def test_each_statement_of_a_query_prints_its_own_result(views: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "a; b" printed b's rows only, so the analyst never saw a's
    query = "SELECT count(*) AS clocks FROM sla_clocks; SELECT count(*) AS tickets FROM first_time_fix"
    assert main(["--data-dir", str(views), "sql", query]) == 0
    out = capsys.readouterr().out
    assert "clocks" in out and "tickets" in out and out.index("clocks") < out.index("tickets")
    # a program reading --json gets one result or a refusal, never two documents run together
    assert main(["--data-dir", str(views), "sql", "--json", query]) == 2
    assert "holds 2 statements" in capsys.readouterr().err
