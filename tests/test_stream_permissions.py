"""A NATS user limited to one customer reads that customer's events through
`ticketledger tail --customer` and nothing else by any JetStream API (SPEC §7, issue 9).
Real nats-server with the configuration of docs/nats-permissions.md."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from nats.js import api as jsapi

from adapters.cli.stream import PermissionRefused, refused_fast
from adapters.nats_server import NatsServer
from adapters.relay import relay_all
from adapters.store import iter_log
from adapters.stream import ConnectOptions, connect, ensure_customer_stream, ensure_stream
from tests.natskit import make_ledger

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ConnectOptions(user="ledger", password="admin-secret-1")
ACME_PASSWORD = "acme-secret-2"


def customer_user(c: str, password: str) -> str:
    allow = [
        "$JS.API.INFO", f"$JS.API.STREAM.INFO.LEDGER_{c}",
        f"$JS.API.CONSUMER.CREATE.LEDGER_{c}", f"$JS.API.CONSUMER.CREATE.LEDGER_{c}.>",
        f"$JS.API.CONSUMER.INFO.LEDGER_{c}.>", f"$JS.API.CONSUMER.DELETE.LEDGER_{c}.>",
        f"$JS.API.CONSUMER.MSG.NEXT.LEDGER_{c}.>", f"$JS.API.DIRECT.GET.LEDGER_{c}",
        f"$JS.API.DIRECT.GET.LEDGER_{c}.>", f"$JS.ACK.LEDGER_{c}.>", f"$JS.FC.LEDGER_{c}.>",
    ]
    pub = ", ".join(f'"{s}"' for s in allow)
    return (f'{{ user: {c}, password: "{password}", permissions: {{ publish: {{ allow: [{pub}] }}, '
            f'subscribe: {{ allow: ["_INBOX_{c}.>", "ledger.{c}.>"] }} }} }}')


@pytest.fixture
def secured(tmp_path: Path):
    conf = tmp_path / "nats.conf"
    conf.write_text(
        "authorization {\n  users = [\n"
        f'    {{ user: ledger, password: "{ADMIN.password}" }}\n'
        f"    {customer_user('acme', ACME_PASSWORD)}\n"
        f"    {customer_user('beta', 'beta-secret-3')}\n"
        "  ]\n}\n"
    )
    with NatsServer(tmp_path / "nats", config_file=conf, log_file=tmp_path / "nats.log") as server:
        yield server


def events_of(ledger, customer: str) -> list[int]:
    return [r.position for r in iter_log(ledger) if msgspec.json.decode(r.state)["customer"] == customer]


async def _setup(url: str, want: dict[str, int]) -> None:
    nc = await connect(url, ADMIN)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        for c in want:
            await ensure_customer_stream(js, c)
        deadline = time.monotonic() + 20
        for c, n in want.items():
            while (await js.stream_info(f"LEDGER_{c}")).state.messages < n:
                assert time.monotonic() < deadline, f"LEDGER_{c} not sourced"
                await asyncio.sleep(0.05)
    finally:
        await nc.close()


async def _attempts(url: str, beta_seq: int) -> dict[str, str]:
    """Every bypass, as the acme user: what happened to each."""
    errors: list[str] = []
    nc = await connect(url, ConnectOptions(user="acme", password=ACME_PASSWORD, inbox_prefix="_INBOX_acme"),
                       errors=errors)
    js = nc.jetstream(timeout=1.0)
    outcome: dict[str, str] = {}

    async def attempt(name: str, coro) -> None:  # type: ignore[no-untyped-def]
        try:
            r = await refused_fast(coro, errors)
            outcome[name] = f"ALLOWED: {r!r}"[:200]
        except PermissionRefused as e:
            outcome[name] = f"refused: {e}"
        except Exception as e:  # noqa: BLE001 - any refusal counts; we look at what it was
            outcome[name] = f"refused: {type(e).__name__}"

    await attempt("unfiltered consumer on LEDGER",
                  js.add_consumer("LEDGER", jsapi.ConsumerConfig(deliver_subject="_INBOX_acme.x1")))
    await attempt("named unfiltered consumer on LEDGER",
                  js.add_consumer("LEDGER", jsapi.ConsumerConfig(name="c1", deliver_subject="_INBOX_acme.x2")))
    await attempt("consumer filtered on beta, on LEDGER",
                  js.add_consumer("LEDGER", jsapi.ConsumerConfig(name="c2", filter_subject="ledger.beta.>",
                                                                  deliver_subject="_INBOX_acme.x3")))
    await attempt("consumer on LEDGER_beta",
                  js.add_consumer("LEDGER_beta", jsapi.ConsumerConfig(deliver_subject="_INBOX_acme.x4")))
    await attempt("direct get of a beta message on LEDGER", js.get_msg("LEDGER", beta_seq, direct=True))
    await attempt("last beta message by subject on LEDGER",
                  js.get_msg("LEDGER", subject="ledger.beta.>", direct=True))
    await attempt("stream msg get on LEDGER", js.get_msg("LEDGER", beta_seq))
    await attempt("direct get on LEDGER_beta", js.get_msg("LEDGER_beta", 1, direct=True))
    await attempt("a stream sourcing LEDGER",
                  js.add_stream(jsapi.StreamConfig(name="MINE", sources=[jsapi.StreamSource(name="LEDGER")])))
    # positive control: its own stream's direct get works
    own = await js.get_msg("LEDGER_acme", 1, direct=True)
    assert own.subject.startswith("ledger.acme.")
    # a core subscription to another customer's subjects is refused by the server
    await nc.subscribe("ledger.beta.>")
    await nc.flush()
    await asyncio.sleep(0.3)
    outcome["core subscribe ledger.beta.>"] = (
        "refused" if any("ermission" in e and "ledger.beta" in e for e in errors) else "ALLOWED")
    await nc.close()
    return outcome


def tail_as(url: str, user: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TICKETLEDGER_NATS_USER": user, "TICKETLEDGER_NATS_PASSWORD": password,
           "TICKETLEDGER_NATS_INBOX_PREFIX": f"_INBOX_{user}"}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from adapters.cli import main; sys.exit(main())", "--json",
         "--data-dir", "unused", "tail", "--nats-url", url, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )


def test_customer_user_reads_its_events_and_nothing_else(tmp_path: Path, secured: NatsServer) -> None:
    ledger = make_ledger(tmp_path / "data", 60, ("acme", "beta"))
    url = secured.url
    assert relay_all(ledger, url, options=ADMIN) == ledger.position
    acme, beta = events_of(ledger, "acme"), events_of(ledger, "beta")
    asyncio.run(_setup(url, {"acme": len(acme), "beta": len(beta)}))

    r = tail_as(url, "acme", ACME_PASSWORD, "--customer", "acme")
    assert r.returncode == 0, r.stderr
    got = [msgspec.json.decode(line) for line in r.stdout.splitlines()]
    assert [e["position"] for e in got] == acme
    assert {e["event"]["customer"] for e in got} == {"acme"}
    r = tail_as(url, "acme", ACME_PASSWORD, "--customer", "acme", "--from-position", str(acme[-10]))
    assert [msgspec.json.decode(line)["position"] for line in r.stdout.splitlines()] == acme[-10:]
    assert ACME_PASSWORD not in r.stdout + r.stderr

    r = tail_as(url, "acme", ACME_PASSWORD, "--customer", "beta")
    assert r.returncode != 0 and r.stdout == ""
    assert ACME_PASSWORD not in r.stderr

    outcome = asyncio.run(_attempts(url, beta_seq=beta[0]))
    allowed = {k: v for k, v in outcome.items() if not v.startswith("refused")}
    assert not allowed, allowed
    assert len(outcome) == 10
    assert all("permissions violation" in v.lower() or k.startswith("core") for k, v in outcome.items()), outcome
