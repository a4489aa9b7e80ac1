"""TICKETLEDGER_POSTGRES reaches every connection of the ledger whole, read by libpq's rules.

The store split the DSN on spaces and kept host, port, dbname, user and password only: sslmode,
sslrootcert, application_name, options… were dropped from the ledger's connections (so
`sslmode=verify-full` silently lost its certificate check), and a postgresql:// URI or a quoted
value (`password='p w'`) crashed with a traceback."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig

from .conftest import PG_DSN


def _sessions_named(name: str) -> int:
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        row = c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def test_application_name_in_the_dsn_names_the_ledgers_sessions(tmp_path: Path, postgres_schema: str) -> None:
    name = f"tl_app_{uuid.uuid4().hex[:8]}"
    ledger = Ledger.open(StoreConfig(tmp_path / "data", f"{PG_DSN} application_name={name}", postgres_schema))
    try:
        assert ledger.position > 0 or ledger.position == 0  # a query on the ledger's own pool
        assert _sessions_named(name) >= 1  # the pool's session carries the DSN's application_name
    finally:
        ledger.close()


def test_a_uri_dsn_and_a_quoted_value_work(tmp_path: Path, postgres_schema: str,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    p = conninfo_to_dict(PG_DSN)
    name = f"tl_uri_{uuid.uuid4().hex[:8]}"
    uri = f"postgresql://{p.get('user', 'postgres')}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{uri}?application_name={name}")
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "init"]) == 0, capsys.readouterr().err
    assert main(["--data-dir", str(data), "log", "--limit", "1"]) == 0, capsys.readouterr().err
    # a quoted value with a space (trust auth ignores the password; libpq must still read it)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} password='p w' application_name='tl {name}'")
    assert main(["--data-dir", str(data), "log", "--limit", "1"]) == 0, capsys.readouterr().err


def test_a_dsn_libpq_would_refuse_is_refused_in_one_line_naming_the_key(
        tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} sslmod=require")
    assert main(["--data-dir", str(tmp_path / "data"), "init"]) == 2
    err = capsys.readouterr().err
    assert 'TL-E012: TICKETLEDGER_POSTGRES is not a connection string libpq reads (invalid connection option "sslmod")' in err
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} password=secret part")
    assert main(["--data-dir", str(tmp_path / "data"), "init"]) == 2
    err = capsys.readouterr().err
    assert "TL-E012" in err and "part" not in err.split("(")[1].split(")")[0]  # no piece of the password
