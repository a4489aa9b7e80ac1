"""A 3-node JetStream cluster on 127.0.0.1, stream replicas 3: one node stops while the
relay publishes and a consumer reads; nothing is lost, the consumer sees every event once,
in order (issue 5)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec

from adapters.stream import STREAM, connect
from tests import natskit
from tests.natskit import Cluster, assert_stream_equals_store, make_ledger, ticket_facts

nats_cluster = natskit.nats_cluster
ROOT = Path(__file__).resolve().parents[1]


async def _leader(url: str) -> str | None:
    nc = await connect(url, max_reconnect_attempts=0)
    try:
        info = await nc.jetstream().stream_info(STREAM)
        return info.cluster.leader if info.cluster else None
    except Exception:  # noqa: BLE001 - no stream yet
        return None
    finally:
        await nc.close()


def _tailing(url: str, data: Path) -> tuple[subprocess.Popen[str], list[int]]:
    """`tail --follow --json` as a consumer in another process, and the positions it has printed
    so far (read on a thread of their own)."""
    consumer = subprocess.Popen(
        [sys.executable, "-c", "import sys; from adapters.cli import main; sys.exit(main())", "--lang", "en",
         "--json", "--data-dir", str(data), "tail", "--follow", "--nats-url", url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: list[int] = []

    def read() -> None:
        assert consumer.stdout is not None
        for line in consumer.stdout:
            seen.append(msgspec.json.decode(line)["position"])

    threading.Thread(target=read, daemon=True).start()
    return consumer, seen


def test_cluster_node_stops_while_relaying_and_reading(tmp_path: Path, nats_cluster: Cluster) -> None:
    data = tmp_path / "data"
    ledger = make_ledger(data, 200)
    url = nats_cluster.url
    relay = subprocess.Popen(
        [sys.executable, "-m", "adapters.relay", "--data-dir", str(data), "--nats-url", url, "--follow",
         "--replicas", "3", "--batch", "100", "--window", "32"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    leader = None
    while leader is None and time.monotonic() < deadline:
        leader = asyncio.run(_leader(url))
        time.sleep(0.1)
    assert leader, "the relay creates the replicated stream"
    consumer, seen = _tailing(url, tmp_path / "unused")
    try:
        # keep recording while a node goes away: the stream's leader, the hardest case
        for k in range(6):
            ledger.execute_many(ticket_facts(50, prefix=f"B{k}"))
            if k == 2:
                victim = next(n for n in nats_cluster.nodes if n.name == leader)
                victim.stop()
            time.sleep(0.3)
        total = ledger.position
        deadline = time.monotonic() + 60
        while len(seen) < total and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = ",".join(n.url for n in nats_cluster.nodes if n.proc is not None)
        assert assert_stream_equals_store(survivors, ledger) == total
        assert seen == list(range(1, total + 1)), f"consumer saw {len(seen)} of {total}"
    finally:
        for p in (relay, consumer):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stderr is not None:
                err = p.stderr.read()
                print(err if isinstance(err, str) else err.decode(errors="replace"))  # shown on failure


def test_tail_follow_started_while_the_cluster_has_no_quorum_waits_for_it(tmp_path: Path,
                                                                           nats_cluster: Cluster) -> None:
    """A consumer started during a failover (two of three nodes down) waits, whether its set-up's
    requests or its reading are what the cluster cannot answer yet, and reads every event once the
    nodes are back, instead of exiting on the first timeout (TL-E118)."""
    data = tmp_path / "data"
    ledger = make_ledger(data, 20)
    for _ in range(5):  # a cluster just started may still be electing its JetStream meta leader
        relay = subprocess.run([sys.executable, "-m", "adapters.relay", "--data-dir", str(data), "--nats-url",
                                nats_cluster.url, "--replicas", "3"], cwd=ROOT, capture_output=True, timeout=60)
        if relay.returncode == 0:
            break
    assert relay.returncode == 0, relay.stderr
    down = nats_cluster.nodes[1:]
    for n in down:
        n.stop()
    consumer, seen = _tailing(nats_cluster.url, tmp_path / "unused")
    try:
        time.sleep(12)  # past a set-up request's timeout (10 s), which ended the consumer
        assert consumer.poll() is None, consumer.communicate()
        for n in down:
            n.start(healthy=False)
        for n in down:
            n.wait_healthy(30)
        deadline = time.monotonic() + 60
        while len(seen) < ledger.position and time.monotonic() < deadline:
            time.sleep(0.2)
        assert seen == list(range(1, ledger.position + 1))
    finally:
        consumer.send_signal(signal.SIGTERM)
        try:
            consumer.wait(15)
        except subprocess.TimeoutExpired:
            consumer.kill()
            consumer.wait()
