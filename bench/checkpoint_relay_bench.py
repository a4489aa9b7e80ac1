"""What publishing signed checkpoints costs the relay, measured in one run (issue 16).

Alternating A/B runs, median of 5: the relay of the same ledger into a fresh stream
  plain        relay() as before checkpoints existed (no CheckpointPublisher)
  checkpoints  relay() signing and publishing a checkpoint every 1000 events (the default)
ratio = checkpoints events/s / plain events/s (1.0: free).

`python bench/checkpoint_relay_bench.py [--events N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters import log_key
from adapters.ledger import open_ledger
from adapters.ledger_tree import LedgerTree
from adapters.nats_server import NatsServer
from adapters.relay import relay
from adapters.stream import STREAM, connect
from adapters.tlog_stream import CHECKPOINTS, CheckpointPublisher
from bench.relay_bench import _facts, _setup


async def _once(ledger: Any, url: str, signer: Any, with_checkpoints: bool) -> float:
    nc = await connect(url)
    js = nc.jetstream(timeout=30)
    for name in (STREAM, CHECKPOINTS):
        with contextlib.suppress(Exception):  # not there yet
            await js.delete_stream(name)
    from adapters.stream_guard import forget

    forget(ledger, STREAM)  # a fresh stream each run, on purpose
    publisher = CheckpointPublisher(ledger, signer, every=1000, seconds=60) if with_checkpoints else None
    t = time.perf_counter()
    stats = await relay(ledger, js, batch=1000, window=256, checkpoints=publisher)
    seconds = time.perf_counter() - t
    await nc.close()
    return stats.published / seconds


def run(events: int = 20_000, rounds: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        ledger = open_ledger(data)
        _setup(ledger)
        facts = _facts(events // 2, "T")
        for i in range(0, len(facts), 2000):
            ledger.execute_many(facts[i : i + 2000])
        signer, _ = log_key.ensure(data)
        LedgerTree(ledger).add_key(signer.verifier)
        plain, cp = [], []
        with NatsServer(Path(d) / "nats", log_file=Path(d) / "nats.log") as server:
            for _ in range(rounds):
                plain.append(asyncio.run(_once(ledger, server.url, signer, False)))
                cp.append(asyncio.run(_once(ledger, server.url, signer, True)))
        ledger.close()
    p, c = statistics.median(plain), statistics.median(cp)
    return {"events": events, "plain_eps": round(p), "checkpoints_eps": round(c), "ratio": round(c / p, 3)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    a = ap.parse_args()
    for k, v in run(a.events).items():
        print(f"{k:>16}: {v}")
