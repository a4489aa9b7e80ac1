"""PostgreSQL connections dropped under a running process (a restart, a failover,
pg_terminate_backend): `relay --follow` retries the store as it retries NATS, and never names
NATS for a store error; a pooled connection the server ended is not handed out, so a console
page read after it is answered.

`relay --follow` exited at the first dropped connection, blaming NATS: `TL-E117: NATS at
(self-started): OperationalError: terminating connection due to administrator command`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from adapters.ledger import open_ledger
from adapters.nats_server import NatsServer
from adapters.store import iter_log
from tests.natskit import make_ledger, ticket_facts
from tests.test_stream_exactly_once import count, wait_for

from .conftest import PG_DSN

ROOT = Path(__file__).resolve().parents[1]


def terminate(application_name: str) -> int:
    """End every session of this application name (only this test's), waiting until each has
    ended: how many there were."""
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        rows = c.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = %s",
                         (application_name,)).fetchall()
    return len(rows)


@pytest.fixture
def role(login_role: str, postgres_schema: str) -> str:
    """A login role of this test's own with every right on the test's schema."""
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(f'GRANT ALL ON SCHEMA "{postgres_schema}" TO {login_role}')
    return login_role


def _admin(sql: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(sql)


def test_a_page_read_after_the_servers_sessions_were_ended_is_answered(
        tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `serve` does for a ticket page and its proof (adapters.dispute.rows_for): it answered
    500 after the sessions were terminated, until each dead pooled connection had failed once."""
    from adapters.dispute import rows_for

    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    data = tmp_path / "data"
    data.mkdir()
    make_ledger(data, 3).close()
    name = f"tl_serve_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", f"{PG_DSN} application_name={name}")
    ledger = open_ledger(data)
    try:
        oid = iter_log(ledger).__next__().originator_id
        assert rows_for(ledger, [oid])
        assert terminate(name) >= 1
        for _ in range(3):  # every read after it is answered, the first included
            assert rows_for(ledger, [oid])
    finally:
        ledger.close()


def test_a_following_relay_retries_postgresql_and_relays_what_came_meanwhile(
        tmp_path: Path, postgres_schema: str, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    data = tmp_path / "data"
    data.mkdir()
    ledger = make_ledger(data, 20)
    _admin(f'GRANT ALL ON ALL TABLES IN SCHEMA "{postgres_schema}" TO {role}; '
           f'GRANT ALL ON ALL SEQUENCES IN SCHEMA "{postgres_schema}" TO {role}')
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
    name = f"tl_relay_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "TICKETLEDGER_POSTGRES": f"{PG_DSN} user={role} connect_timeout=2 application_name={name}"}
    log = tmp_path / "relay.err"
    with open(log, "wb") as err:
        relay = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "relay",
                                  "--follow", "--no-proofs", "--nats-url", server.url],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err)
    try:
        wait_for(lambda: count(server.url) == ledger.position, timeout=60)
        _admin(f"ALTER ROLE {role} NOLOGIN")  # the database away for the relay: ended, and no new session
        assert terminate(name) >= 1
        assert all(o.status == "recorded" for o in ledger.execute_many(ticket_facts(5, prefix="D")))
        wait_for(lambda: b"PostgreSQL unavailable" in log.read_bytes(), timeout=60, every=0.2)
        assert relay.poll() is None, log.read_text()
        _admin(f"ALTER ROLE {role} LOGIN")  # back: the relay reconnects and relays what came meanwhile
        wait_for(lambda: count(server.url) == ledger.position, timeout=60)
        assert relay.poll() is None, log.read_text()
        position = ledger.position
    finally:
        relay.send_signal(signal.SIGTERM)
        out, _ = relay.communicate(timeout=30)
        server.stop()
        ledger.close()
    said = log.read_text()
    assert relay.returncode == 0, said
    assert "relay: PostgreSQL unavailable: " in said and "; retrying in 5 s" in said
    assert "TL-E" not in said and not any("NATS" in line for line in said.splitlines() if "PostgreSQL" in line)
    assert f"stream at ledger position {position}" in out.decode()
