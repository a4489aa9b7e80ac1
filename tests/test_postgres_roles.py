"""Least privilege on PostgreSQL: only `init` (the tables' owner) creates the ledger's tables;
a host granted what README's *PostgreSQL roles* lists reads (reader) or records (writer).

Every opening ran eventsourcing's create statements, so even the read-only console host had to
own the tables: granted SELECT (and INSERT), it was refused with `must be owner of table
ledger_events` (or of its function).

A user refused a privilege is told which (the server's words, naming the object) and where the
grants are listed: TL-E012 said "if it is damaged, restore it from a backup" for a plain
`permission denied`, and a failed `init` left an empty data folder."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from adapters.cli import main
from domain import events as ev

from .conftest import CONTRACTS, PG_DSN
from .domainkit import Desk

# README, *PostgreSQL roles*: what each host role is granted (the owner runs init)
READER_GRANTS = ('GRANT USAGE ON SCHEMA "{s}" TO {r}',
                 'GRANT SELECT ON ALL TABLES IN SCHEMA "{s}" TO {r}')
WRITER_GRANTS = (*READER_GRANTS,
                 'GRANT INSERT ON "{s}".ledger_events, "{s}".ledger_chain, "{s}".ledger_commands TO {r}',
                 'GRANT UPDATE ON "{s}".ledger_events TO {r}',
                 'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{s}" TO {r}')


def _facts(path: Path, *facts: ev.Fact) -> Path:
    path.write_text("\n".join(ev.encode(f).decode() for f in facts) + "\n")
    return path


@pytest.fixture
def owned(tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ledger the test server's user (its owner) made, with a contract and one ticket."""
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "init"]) == 0
    assert main(["--data-dir", str(data), "contract", "add", str(CONTRACTS / "seed-000.toml")]) == 0
    desk = Desk()
    one = _facts(tmp_path / "one.jsonl", desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00"))
    assert main(["--data-dir", str(data), "import", str(one)]) == 0
    return data


@pytest.fixture
def role(login_role: str) -> str:
    return login_role


def _grant(role: str, schema: str, grants: tuple[str, ...]) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        for g in grants:
            c.execute(g.format(s=schema, r=role))


def test_a_reader_granted_usage_and_select_reads_the_ledger(
        owned: Path, role: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _grant(role, postgres_schema, READER_GRANTS)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} user={role}")
    capsys.readouterr()
    for argv in (["log", "--limit", "3"], ["ticket", "show", "T1"], ["verify", "--no-stream"],
                 ["explain", "T1"], ["views", "rebuild"]):
        assert main(["--data-dir", str(owned), *argv]) == 0, capsys.readouterr().err
    assert "T1" in capsys.readouterr().out


def test_a_writer_granted_insert_records_and_cannot_create_tables(
        owned: Path, role: str, postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _grant(role, postgres_schema, WRITER_GRANTS)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} user={role}")
    capsys.readouterr()
    desk = Desk()
    desk._n = iter(range(100, 200))  # command ids the fixture's desk did not use
    two = _facts(tmp_path / "two.jsonl", desk.open("T2", "A1", "2025-10-02T09:00"))
    assert main(["--data-dir", str(owned), "import", str(two)]) == 0, capsys.readouterr().err
    assert main(["--data-dir", str(owned), "ticket", "show", "T2"]) == 0, capsys.readouterr().err
    with psycopg.connect(PG_DSN) as c:  # the owner still owns every table: none was made anew
        owners = c.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s",
                           (postgres_schema,)).fetchall()
    assert role not in {o for (o,) in owners}


def test_a_reader_that_records_is_told_the_missing_privilege_not_to_restore(
        owned: Path, role: str, postgres_schema: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _grant(role, postgres_schema, READER_GRANTS)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} user={role}")
    capsys.readouterr()
    desk = Desk()
    desk._n = iter(range(100, 200))
    two = _facts(tmp_path / "two.jsonl", desk.open("T2", "A1", "2025-10-02T09:00"))
    assert main(["--data-dir", str(owned), "import", str(two)]) == 2
    err = capsys.readouterr().err
    assert "TL-E012" in err and "permission denied for table ledger_events" in err, err
    assert f"user {role}" in err and "README, *PostgreSQL roles*" in err
    assert "restore" not in err and "damaged" not in err and "Traceback" not in err


def test_init_refused_a_privilege_leaves_no_data_folder(
        role: str, postgres_schema: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} user={role}")  # no grant at all
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    data = tmp_path / "new" / "data"
    assert main(["--data-dir", str(data), "init"]) == 2
    err = capsys.readouterr().err
    assert "TL-E012" in err and f"permission denied for schema {postgres_schema}" in err, err
    assert "README, *PostgreSQL roles*" in err and "restore" not in err
    assert not data.exists()
