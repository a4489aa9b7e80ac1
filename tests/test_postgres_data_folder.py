"""A ledger on PostgreSQL has a data folder too (issue 14 item 10): `init` said "data folder …
ready" and made none, and `verify` then refused with "no data folder". The folder holds what is
local (evidence, the NATS store, the views); `init` makes it and says where the events are, and
every other command refuses a folder or a schema that `init` never made, as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig, iter_log

from .conftest import CONTRACTS, PG_DSN


@pytest.fixture
def on_postgres(monkeypatch: pytest.MonkeyPatch, postgres_schema: str) -> str:
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    return postgres_schema


def test_init_on_postgresql_makes_the_data_folder_and_verify_then_passes(
        tmp_path: Path, on_postgres: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "ledger-data"
    assert main(["--data-dir", str(data), "init"]) == 0
    said = capsys.readouterr().out
    assert data.is_dir() and not (data / "events.sqlite").exists()
    assert f"data folder {data} ready (events on PostgreSQL 127.0.0.1:5432/test, schema {on_postgres}" in said
    assert "the folder holds the evidence, the NATS store and the views" in said
    ledger = Ledger.open(StoreConfig(data, PG_DSN, on_postgres))
    try:
        assert any(r.topic.startswith("calendar.") for r in iter_log(ledger))  # init recorded the years there
    finally:
        ledger.close()

    assert main(["--data-dir", str(data), "contract", "add", str(CONTRACTS / "seed-000.toml")]) == 0
    evidence = tmp_path / "photo.txt"
    evidence.write_text("the broken unit")
    assert main(["--data-dir", str(data), "import", str(_one_ticket(tmp_path))]) == 0
    assert main(["--data-dir", str(data), "attach", "T1", str(evidence), "--actor", "engineer:li"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", str(data), "--lang", "en", "verify", "--no-stream"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "OK: every event verifies against the hash chain" in out


def test_postgresql_commands_on_a_folder_or_schema_init_never_made_are_refused(
        tmp_path: Path, on_postgres: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    typo = tmp_path / "ledger-dta"
    for argv in (["verify"], ["log"], ["views", "rebuild"]):
        assert main(["--data-dir", str(typo), *argv]) == 2
        err = capsys.readouterr().err
        assert f"no data folder {typo}; with TICKETLEDGER_POSTGRES" in err, err
        assert f"set up this host's data folder with `ticketledger --data-dir {typo} init`" in err, err
        assert "the events are in PostgreSQL" in err
        assert not typo.exists()
    typo.mkdir()  # a folder, but nothing in the schema
    assert main(["--data-dir", str(typo), "log"]) == 2
    err = capsys.readouterr().err
    assert f"no ledger on PostgreSQL 127.0.0.1:5432/test, schema {on_postgres}; run" in err
    assert "check TICKETLEDGER_POSTGRES_SCHEMA" in err
    assert main(["--data-dir", str(typo), "init"]) == 0
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", on_postgres + "_typo")
    assert main(["--data-dir", str(typo), "log"]) == 2  # the folder's store.json names the schema init used
    assert f"TL-E013: the data folder {typo} belongs to the ledger on PostgreSQL 127.0.0.1:5432/test, schema {on_postgres}, not" in capsys.readouterr().err
    (typo / "store.json").unlink()  # a folder made before store.json: the schema is looked for
    assert main(["--data-dir", str(typo), "log"]) == 2
    assert f"the schema {on_postgres}_typo does not exist" in capsys.readouterr().err


def test_init_in_a_schema_that_does_not_exist_says_so_and_how_to_create_it(
        tmp_path: Path, on_postgres: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # init said TL-E012 "schema … does not exist; if it is damaged, restore it from a backup"
    missing = on_postgres + "_nosuch"
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", missing)
    data = tmp_path / "data"
    assert main(["--lang", "en", "--data-dir", str(data), "init"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ticketledger init: TL-E012: the schema {missing} does not exist on PostgreSQL "
                          "127.0.0.1:5432/test;"), err
    assert f"create it (`CREATE SCHEMA {missing}`" in err and "TICKETLEDGER_POSTGRES_SCHEMA for a typo" in err
    assert "restore it from a backup" not in err
    assert not data.exists()  # nothing made for a schema that is not there


def _one_ticket(tmp_path: Path) -> Path:
    from domain import events as ev

    from .domainkit import Desk

    desk = Desk()
    path = tmp_path / "one.jsonl"
    facts = [desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00")]
    path.write_text("\n".join(ev.encode(f).decode() for f in facts) + "\n")
    return path
