"""A data folder says which store its events are in (store.json), and a command run with an
environment that names another store is refused (TL-E013) instead of working on another ledger.

A folder `init` made on PostgreSQL, used in a shell without TICKETLEDGER_POSTGRES, silently
became a second, SQLite ledger: `import` recorded into a new events.sqlite beside the evidence
and views of the PostgreSQL one (exit 0, "the first import into this ledger"), and `log` there
sent the operator to `init`."""

from __future__ import annotations

import json
import shutil
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


def test_the_same_store_named_with_or_without_libpq_defaults_is_the_folders(
        tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """store.json records the effective store: a DSN that leaves the port (or host, database)
    to libpq's defaults or the PG* variables names the same store as one that spells them."""
    p = conninfo_to_dict(PG_DSN)
    host, port, dbname, user = p["host"], str(p.get("port") or 5432), p["dbname"], p.get("user", "postgres")
    for var in ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"host={host} port={port} dbname={dbname} user={user}")
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "init"]) == 0
    capsys.readouterr()
    if port == "5432":
        spellings = [f"host={host} dbname={dbname} user={user}", f"postgresql://{user}@{host}/{dbname}"]
    else:
        spellings = [f"postgresql://{user}@{host}:0{port}/{dbname}"]
    for dsn in spellings:
        monkeypatch.setenv("TICKETLEDGER_POSTGRES", dsn)
        assert main(["--data-dir", str(data), "log", "--limit", "1"]) == 0, capsys.readouterr().err
    # host, port and database from PGHOST/PGPORT/PGDATABASE only
    monkeypatch.setenv("PGHOST", host)
    monkeypatch.setenv("PGPORT", port)
    monkeypatch.setenv("PGDATABASE", dbname)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"user={user}")
    assert main(["--data-dir", str(data), "log", "--limit", "1"]) == 0, capsys.readouterr().err
    # and the reverse: a folder marked by a DSN that left them out opens with them spelt out
    other = tmp_path / "other"
    shutil.copytree(data, other)
    (other / "store.json").unlink()
    assert main(["--data-dir", str(other), "log", "--limit", "1"]) == 0, capsys.readouterr().err
    assert json.loads((other / "store.json").read_text())["port"] == port
    monkeypatch.delenv("PGHOST")
    monkeypatch.delenv("PGPORT")
    monkeypatch.delenv("PGDATABASE")
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"host={host} port={port} dbname={dbname} user={user}")
    assert main(["--data-dir", str(other), "log", "--limit", "1"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    # another schema is still another store
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"postgresql://{user}@{host}/{dbname}")
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", "public")
    assert main(["--data-dir", str(data), "log", "--limit", "1"]) == 2
    err = capsys.readouterr().err
    assert "TL-E013" in err and f"schema {postgres_schema}, not to the ledger" in err, err


def test_a_store_json_that_left_the_port_out_still_opens(
        pg_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    marker = json.loads((pg_folder / "store.json").read_text())
    if marker["port"] != "5432":
        pytest.skip("the test server is not on libpq's default port")
    monkeypatch.delenv("PGPORT", raising=False)
    del marker["port"]
    (pg_folder / "store.json").write_text(json.dumps(marker))
    assert main(["--data-dir", str(pg_folder), "log", "--limit", "1"]) == 0, capsys.readouterr().err
