"""Shared fixtures: a ledger on each real store (SQLite file; PostgreSQL when reachable).

PostgreSQL: set TICKETLEDGER_TEST_POSTGRES to a DSN ("host=… port=… dbname=… user=…");
the default is the CI machine's server, host=127.0.0.1 port=5432 dbname=test user=postgres.
Each test gets a schema of its own, dropped afterwards. When no server answers, the
PostgreSQL cases are skipped and say so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.ledger import Ledger
from adapters.store import StoreConfig


@pytest.fixture(autouse=True)
def english_system_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with an English system locale and no TICKETLEDGER_LANG, whatever the
    developer's machine says: output for people is then Chinese only where a contract in China
    applies (the CLI's rule), English elsewhere. No COLUMNS either: captured tables keep their
    natural width unless a test sets one."""
    for name in ("LC_ALL", "LC_MESSAGES", "TICKETLEDGER_LANG", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


PG_DSN = os.environ.get("TICKETLEDGER_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")
CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"
# the team's shared folder (spec, seeds, desk logs, test vectors): beside the checkout, else the
# workplace's own, so a fresh clone anywhere (`git clone . $(mktemp -d)`) finds it
SHARED = next((p for p in (Path(os.environ.get("TICKETLEDGER_SHARED", "/nonexistent")),
                           Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")) if p.is_dir()),
              Path("/work/shared"))


def postgres_reachable() -> str | None:
    """None when reachable, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except Exception as e:  # any failure means: skip with the reason
        return f"PostgreSQL not reachable at '{PG_DSN}' ({type(e).__name__}: {str(e).strip()[:120]})"


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test server (PG_DSN), dropped afterwards; skipped, saying why, when
    no server answers."""
    why = postgres_reachable()
    if why:
        pytest.skip(why + "; set TICKETLEDGER_TEST_POSTGRES to point the tests at a server")
    import psycopg

    schema = f"tl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def login_role(postgres_schema: str) -> Iterator[str]:
    """A PostgreSQL login role of this test's own (no rights yet), dropped afterwards with what it
    was granted."""
    import psycopg

    name = f"tl_role_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(f"CREATE ROLE {name} LOGIN")
    try:
        yield name
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as c:
            c.execute(f"DROP OWNED BY {name}")
            c.execute(f"DROP ROLE {name}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreConfig]:
    if request.param == "sqlite":
        yield StoreConfig(tmp_path / "data")
        return
    schema = request.getfixturevalue("postgres_schema")
    yield StoreConfig(tmp_path / "data", postgres_dsn=PG_DSN, postgres_schema=schema)


@pytest.fixture
def ledger(store_config: StoreConfig) -> Iterator[Ledger]:
    app = Ledger.open(store_config)
    yield app
    app.close()


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Ledger]:
    app = Ledger.open(StoreConfig(tmp_path / "data"))
    yield app
    app.close()
