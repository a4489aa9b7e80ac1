"""`sql` changes no DuckDB setting (issue 14 item 11): `PRAGMA profiling_output='…'` ended in a
Python traceback and `CALL enable_logging(storage='file', …)` aborted the process (rc 134).
Every setting is locked for the query, so these and their kin (query logs, temp folders) are
refused in one line, exit 2, and write nothing. Run as a real process: an abort would kill pytest."""

from __future__ import annotations

import json
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


def test_a_duckdb_error_is_said_whole_with_its_suggestion_and_caret(views: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # only the first line was kept: the "Did you mean", the candidates and `LINE n:` with its caret were lost
    assert main(["--data-dir", str(views), "sql", "SELECT * FROM sla_clock"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ticketledger sql: TL-E050: Catalog Error: Table with name sla_clock does not exist!\n")
    assert 'Did you mean "sla_clocks"?' in err
    line, caret = err.splitlines()[-2:]
    assert line == "LINE 1: SELECT * FROM sla_clock" and caret.index("^") == line.index("sla_clock")
    assert main(["--data-dir", str(views), "sql", "SELECT\n  nosuch\nFROM sla_clocks"]) == 2
    err = capsys.readouterr().err
    assert "Candidate bindings:" in err and "LINE 2:   nosuch" in err
    # a refusal of ours keeps its explanation after DuckDB's first line, and DuckDB's caret after it
    assert main(["--data-dir", str(views), "sql", "SELECT * FROM read_csv('/etc/passwd')"]) == 2
    err = capsys.readouterr().err
    assert "disabled by configuration: `sql` reads the views only" in err and "LINE 1: SELECT * FROM read_csv" in err


def test_a_naive_timestamp_is_printed_as_it_is_not_labelled_utc(views: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # `sql` runs any expression: a UTC time turned into Beijing wall time was printed with a Z
    query = ("SELECT start, timezone('Asia/Shanghai', timezone('UTC', start)) AS beijing, "
             "start::timestamptz AS instant FROM sla_clocks WHERE clock = 'resolution'")
    assert main(["--data-dir", str(views), "sql", "--json", query]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row == {"start": "2025-10-01T01:00:00", "beijing": "2025-10-01T09:00:00",
                   "instant": "2025-10-01T01:00:00+00:00"}
    for flags in ([], ["--csv"]):
        assert main(["--data-dir", str(views), "sql", *flags, query]) == 0
        out = capsys.readouterr().out
        assert "2025-10-01T09:00:00" in out and "Z" not in out


def test_an_empty_result_is_a_header_in_csv_and_an_empty_list_in_json(views: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # --csv printed nothing at all: a program could not tell "no rows" from "no output"
    assert main(["--data-dir", str(views), "sql", "--csv", "SELECT 1 AS a, 'x' AS b WHERE false"]) == 0
    assert capsys.readouterr().out == "a,b\n"
    assert main(["--data-dir", str(views), "sql", "--json", "SELECT 1 AS a WHERE false"]) == 0
    assert capsys.readouterr().out == "[]\n"
    assert main(["--data-dir", str(views), "report", "visits", "--state", "missed", "--csv"]) == 0
    header = capsys.readouterr().out.splitlines()
    assert len(header) == 1 and header[0].startswith("asset,contract,customer,site,obligation,")
