"""Real nats-server processes for tests: one node, or a 3-node JetStream cluster on 127.0.0.1.

Store directories live under the test's tmp_path; health via the monitor port's
`/healthz?js-enabled-only=true`; stop is terminate + wait by PID (adapters.nats_server).
Also: small ledgers of real facts in real SQLite.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.ledger import Ledger, open_ledger
from adapters.nats_server import NatsServer, free_port
from adapters.store import iter_log
from adapters.stream import STREAM, connect
from domain import events as ev


@pytest.fixture
def nats_single(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log") as server:
        yield server


class Cluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        cports = [free_port() for _ in range(size)]
        routes = [f"nats://127.0.0.1:{p}" for p in cports]
        self.nodes = [
            NatsServer(root / f"n{i}", name=f"n{i}", cluster_name="ledgertest", cluster_port=cports[i],
                       routes=[r for j, r in enumerate(routes) if j != i], log_file=root / f"n{i}.log")
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def start(self) -> Cluster:
        for n in self.nodes:
            n.start(healthy=False)
        for n in self.nodes:
            n.wait_healthy(30)
        return self

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster").start()
    try:
        yield c
    finally:
        c.stop()


# --- facts --------------------------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def setup_facts(customers: tuple[str, ...] = ("acme",)) -> list[ev.Fact]:
    out: list[ev.Fact] = []
    for c in customers:
        out.append(ev.ContractRegistered(
            command_id=f"c-{c}", id=f"K-{c}", occurred_at=T0, actor="t", supplier="s", customer_id=c,
            terms={"name": "t", "severities": ["normal"]},
        ))
        out.append(ev.AssetRegistered(
            command_id=f"a-{c}", id=f"A-{c}", occurred_at=T0, actor="t", serial=f"S-{c}", asset_type="x",
            customer_id=c, site="site", contract_id=f"K-{c}",
        ))
    return out


def ticket_facts(n: int, customer: str = "acme", prefix: str = "T") -> list[ev.Fact]:
    """n tickets, each opened and acknowledged: 2n events."""
    out: list[ev.Fact] = []
    for i in range(n):
        t = T0 + timedelta(minutes=i)
        tid = f"{prefix}{customer}-{i}"
        out.append(ev.TicketOpened(command_id=f"o-{tid}", id=tid, occurred_at=t, actor="t",
                                   asset_id=f"A-{customer}", severity="normal", fault_category="f"))
        out.append(ev.TicketAcknowledged(command_id=f"k-{tid}", id=tid, occurred_at=t + timedelta(minutes=1),
                                         actor="t"))
    return out


def make_ledger(data_dir: Path, tickets: int, customers: tuple[str, ...] = ("acme",)) -> Ledger:
    ledger = open_ledger(data_dir)
    ledger.execute_many(setup_facts(customers))
    for c in customers:
        facts = ticket_facts(tickets, c)
        for i in range(0, len(facts), 500):
            outs = ledger.execute_many(facts[i : i + 500])
            assert all(o.status == "recorded" for o in outs), [o for o in outs if o.status != "recorded"][:3]
    return ledger


# --- comparing the stream with the store -----------------------------------------------------------


def store_rows(ledger: Ledger) -> list[tuple[int, str, str]]:
    return [(r.position, f"{r.originator_id}:{r.originator_version}", hashlib.sha256(r.state).hexdigest())
            for r in iter_log(ledger)]


async def _stream_rows(url: str, stream: str) -> list[tuple[int, str, str]]:
    nc = await connect(url)
    try:
        js = nc.jetstream(timeout=10)
        info = await js.stream_info(stream)
        out = []
        sub = await js.subscribe(">", stream=stream, ordered_consumer=True)
        for _ in range(info.state.messages):
            m = await sub.next_msg(timeout=10)
            out.append((int(m.headers["Ledger-Position"]), m.headers["Nats-Msg-Id"],
                        hashlib.sha256(m.data).hexdigest()))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def stream_rows(url: str, stream: str = STREAM) -> list[tuple[int, str, str]]:
    return asyncio.run(_stream_rows(url, stream))


def assert_stream_equals_store(url: str, ledger: Ledger) -> int:
    want, got = store_rows(ledger), stream_rows(url)
    assert len(got) == len(want), f"stream has {len(got)} events, store {len(want)}"
    assert got == want
    return len(got)
