"""Reports read from views behind the log say so: one line on stderr (the table or the JSON on
stdout unchanged), a field in the statement's --json and a line in the statement itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.cli import main

from .test_contract_and_folder_checks import contract_file, ledger_in


def run(data: Path, *argv: str) -> int:
    return main(["--data-dir", str(data), *argv])


@pytest.fixture
def behind(tmp_path: Path) -> Path:
    """Views rebuilt, then an amendment recorded: the views are one position behind the log."""
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    assert run(data, "views", "rebuild") == 0
    assert run(data, "contract", "amend", str(contract_file(tmp_path, "b.toml", resolution_hours=24)),
               "--effective-from", "2026-01-01T00:00+08:00") == 0
    return data


def test_a_report_from_views_behind_the_log_says_so_on_stderr(behind: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(behind, "--lang", "en", "report", "totals", "--contract", "K-4") == 0
    err = capsys.readouterr().err
    assert "views are at position 1, the log at 2: run `ticketledger views rebuild` or `views follow`" in err, err
    assert run(behind, "--lang", "zh_CN", "report", "sla", "--json") == 0
    got = capsys.readouterr()
    assert json.loads(got.out) == [] and "视图停在位置 1，日志已到 2：运行 `ticketledger views rebuild`" in got.err
    assert run(behind, "views", "rebuild") == 0
    capsys.readouterr()
    assert run(behind, "--lang", "en", "report", "totals", "--contract", "K-4") == 0
    assert "views are at" not in capsys.readouterr().err


def test_a_statement_from_views_behind_the_log_says_so(behind: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.html"
    capsys.readouterr()
    assert run(behind, "--lang", "en", "statement", "--customer", "buyer-004", "--month", "2025-10",
               "--out", str(out), "--json") == 0
    got = capsys.readouterr()
    assert json.loads(got.out)[0]["views_behind"] == {"views_position": 1, "log_position": 2}
    assert "views are at position 1, the log at 2" in got.err
    assert "The views were at position 1, the log at 2: facts recorded since are not in this statement" \
        in out.read_text()


def test_sql_and_export_say_what_report_says_of_the_same_views(behind: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """An analyst's raw rows carry the same warnings as `report`'s table: on stderr, the rows unchanged."""
    capsys.readouterr()
    assert run(behind, "--lang", "en", "sql", "SELECT count(*) AS n FROM terms", "--json") == 0
    got = capsys.readouterr()
    assert json.loads(got.out) == [{"n": 1}] and "views are at position 1, the log at 2" in got.err
    assert run(behind, "--lang", "en", "export", "--parquet", str(tmp_path / "pq"), "--json") == 0
    got = capsys.readouterr()
    assert json.loads(got.out)[0]["views_behind"] == {"views_position": 1, "log_position": 2}
    assert "views are at position 1, the log at 2" in got.err

    what_if = tmp_path / "w.duckdb"  # the amendment's terms as a what-if of the contract's
    assert run(behind, "replay", "--terms", str(contract_file(tmp_path, "t.toml", resolution_hours=24)),
               "--out", str(what_if)) == 0
    capsys.readouterr()
    assert run(behind, "--lang", "en", "sql", "--views", str(what_if), "SELECT count(*) AS n FROM terms") == 0
    got = capsys.readouterr()
    assert "Hypothetical (what-if): terms from file t.toml" in got.err and "views are at" not in got.err
    assert run(behind, "--lang", "en", "export", "--views", str(what_if), "--parquet", str(tmp_path / "w"),
               "--json") == 0
    got = capsys.readouterr()
    assert json.loads(got.out)[0]["what_if"]["file"] == "t.toml" and "Hypothetical (what-if)" in got.err


def test_a_what_if_of_several_contracts_names_each_of_them() -> None:
    """`replay --terms F --terms-for K-001 --terms-for K-002`: what the reports' and export's JSON
    say of the views names both contracts, not the first alone."""
    from projections import open_views
    from replay.explain import views_what_if

    con = open_views(None)
    con.execute("INSERT INTO terms (contract, version, what_if, what_if_file, what_if_sha256) VALUES "
                "('K-002', 1, true, 't.toml', 'ab'), ('K-001', 1, true, 't.toml', 'ab'), ('K-003', 1, false, NULL, NULL)")
    assert views_what_if(con) == {"contract": "K-001", "contracts": ["K-001", "K-002"], "file": "t.toml",
                                  "sha256": "ab"}
