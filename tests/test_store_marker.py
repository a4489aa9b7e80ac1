"""A data folder says which store its events are in (store.json), and a command run with an
environment that names another store is refused (TL-E013) instead of working on another ledger.

A folder `init` made on PostgreSQL, used in a shell without TICKETLEDGER_POSTGRES, silently
became a second, SQLite ledger: `import` recorded into a new events.sqlite beside the evidence
and views of the PostgreSQL one (exit 0, "the first import into this ledger"), and `log` there
sent the operator to `init`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from adapters.cli import main

from .conftest import PG_DSN

TICKETS = '{"type":"ContractRegistered"}\n'


def _commands(tmp_path: Path) -> Path:
    f = tmp_path / "cmds.jsonl"
    f.write_text(TICKETS)
    return f


@pytest.fixture
def pg_folder(tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "init"]) == 0
    return data


def test_a_postgresql_folder_without_the_variable_is_refused_naming_its_store(
        tmp_path: Path, pg_folder: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    dsn = conninfo_to_dict(PG_DSN)
    assert json.loads((pg_folder / "store.json").read_text()) == {
        "kind": "postgres", "host": dsn["host"], "port": dsn["port"], "dbname": dsn["dbname"], "schema": postgres_schema}
    assert "password" not in (pg_folder / "store.json").read_text()
    capsys.readouterr()
    monkeypatch.delenv("TICKETLEDGER_POSTGRES")
    for argv in (["import", str(_commands(tmp_path))], ["log"], ["verify", "--no-stream"]):
        assert main(["--data-dir", str(pg_folder), *argv]) == 2
        err = capsys.readouterr().err
        assert "TL-E013" in err and "belongs to the ledger on PostgreSQL" in err, err
        assert f"schema {postgres_schema}" in err and "set TICKETLEDGER_POSTGRES" in err
        assert not (pg_folder / "events.sqlite").exists()
    # another schema named: refused too, naming the folder's
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", "public")
    assert main(["--data-dir", str(pg_folder), "log"]) == 2
    err = capsys.readouterr().err
    assert "TL-E013" in err and f"schema {postgres_schema}, not to the ledger" in err, err


def test_an_sqlite_folder_with_the_variable_set_is_refused(
        tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    monkeypatch.delenv("TICKETLEDGER_POSTGRES", raising=False)
    assert main(["--data-dir", str(data), "init"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    for argv in (["log"], ["init"]):
        assert main(["--data-dir", str(data), *argv]) == 2
        err = capsys.readouterr().err
        assert "TL-E013" in err and "holds an SQLite ledger" in err and "unset TICKETLEDGER_POSTGRES" in err, err


def test_a_postgresql_folder_made_before_store_json_gets_it_at_its_next_opening(
        pg_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pg_folder / "store.json").unlink()
    assert main(["--data-dir", str(pg_folder), "log", "--limit", "1"]) == 0
    assert (pg_folder / "store.json").is_file()
