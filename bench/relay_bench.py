"""Relay throughput and lag, measured in one run against one local nats-server.

  relay_eps       the relay (fenced with Nats-Expected-Last-Sequence, windows of js.publish
                  under gather, acks awaited), store -> stream LEDGER
  bare_async_eps  bare js.publish_async of the same payloads + headers (no fence) into a
                  second stream, then publish_async_completed(): the ceiling
  lag_p50/p99_ms  relay --follow while commands are recorded at a steady rate: time from
                  the ledger's recording time to the event arriving at a core subscriber

`python bench/relay_bench.py [--events N] [--rate R]` or `python -m bench --only relay`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.ledger import open_ledger
from adapters.nats_server import NatsServer
from adapters.relay import relay
from adapters.store import iter_log
from adapters.stream import connect, headers_for, subject_for
from domain import events as ev


def _facts(n_tickets: int, prefix: str) -> list[ev.Fact]:
    t0 = datetime(2025, 3, 1, 8, tzinfo=UTC)
    out: list[ev.Fact] = []
    for i in range(n_tickets):
        tid = f"{prefix}{i}"
        out.append(ev.TicketOpened(command_id=f"o-{tid}", id=tid, occurred_at=t0, actor="bench",
                                   asset_id="A1", severity="normal", fault_category="f",
                                   description="a fault report of typical length " * 3))
        out.append(ev.TicketAcknowledged(command_id=f"k-{tid}", id=tid, occurred_at=t0, actor="bench"))
    return out


def _setup(ledger: Any) -> None:
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    ledger.execute_many([
        ev.ContractRegistered(command_id="c", id="K1", occurred_at=t0, actor="b", supplier="s", customer_id="acme",
                              terms={"name": "t", "severities": ["normal"]}),
        ev.AssetRegistered(command_id="a", id="A1", occurred_at=t0, actor="b", serial="S1", asset_type="x",
                           customer_id="acme", site="s", contract_id="K1"),
    ])


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


async def _measure(ledger: Any, url: str, rate: int, seconds: float) -> dict[str, Any]:
    nc = await connect(url)
    js = nc.jetstream(timeout=30)
    rows = list(iter_log(ledger))
    n = len(rows)

    t = time.perf_counter()
    stats = await relay(ledger, js, batch=5000, window=256)
    relay_s = time.perf_counter() - t
    assert stats.published == n, (stats.published, n)

    from nats.js import api as jsapi

    await js.add_stream(jsapi.StreamConfig(name="BARE", subjects=["bare.>"], storage=jsapi.StorageType.FILE))
    t = time.perf_counter()
    for r in rows:
        await js.publish_async("bare" + subject_for(r)[6:], r.state, headers=headers_for(r))
    await asyncio.wait_for(js.publish_async_completed(), 120)
    bare_s = time.perf_counter() - t
    assert (await js.stream_info("BARE")).state.messages == n

    # lag at a steady recording rate, relay following
    lags: list[float] = []

    async def on_msg(m: Any) -> None:
        rec = datetime.strptime(m.headers["Ledger-Recorded-At"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        lags.append((datetime.now(UTC) - rec).total_seconds() * 1000)

    await nc.subscribe("ledger.>", cb=on_msg)
    stop = asyncio.Event()
    follower = asyncio.create_task(relay(ledger, js, follow=True, stop=stop, poll=0.02))
    per_batch, every = max(1, rate // 20), 0.05
    facts = _facts(int(rate * seconds / 2) + per_batch, "L")

    def record() -> None:
        nxt = time.perf_counter()
        for i in range(0, len(facts), per_batch):
            ledger.execute_many(facts[i : i + per_batch])
            nxt += every * per_batch / max(1, rate * every)
            time.sleep(max(0.0, nxt - time.perf_counter()))

    th = threading.Thread(target=record)
    t = time.perf_counter()
    th.start()
    await asyncio.to_thread(th.join)
    record_s = time.perf_counter() - t
    deadline = time.monotonic() + 30
    while len(lags) < len(facts) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await follower
    await nc.close()
    return {
        "events": n,
        "relay_eps": round(n / relay_s),
        "bare_publish_async_eps": round(n / bare_s),
        "relay_vs_bare": round(bare_s / relay_s, 2),
        "lag_rate_eps": round(len(facts) / record_s),
        "lag_events": len(lags),
        "lag_p50_ms": round(_pct(lags, 0.5), 1),
        "lag_p99_ms": round(_pct(lags, 0.99), 1),
    }


def run(quick: bool = False, events: int | None = None, rate: int = 2000) -> dict[str, Any]:
    n_events = min(events or 50_000, 100_000) if not quick else 10_000
    with tempfile.TemporaryDirectory() as d:
        ledger = open_ledger(Path(d) / "data")
        _setup(ledger)
        facts = _facts(n_events // 2, "T")
        for i in range(0, len(facts), 2000):
            ledger.execute_many(facts[i : i + 2000])
        with NatsServer(Path(d) / "nats", log_file=Path(d) / "nats.log") as server:
            return asyncio.run(_measure(ledger, server.url, rate, 3.0 if quick else 5.0))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--rate", type=int, default=2000, help="events/s recorded during the lag measurement")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    for k, v in run(a.quick, a.events, a.rate).items():
        print(f"{k:>24}: {v}")
