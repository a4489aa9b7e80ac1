"""The store's log reaches the LEDGER stream exactly once, whatever fails (issue 5).

Every test ends with: stream content == store content (count, order, payload hash and
event id of every event). Real nats-server processes, real SQLite, relays as killable
subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.nats_server import NatsServer
from adapters.relay import Fenced, RelayStats, publish_rows, relay_all, resume_point
from adapters.store import iter_log
from adapters.stream import connect
from tests import natskit
from tests.natskit import assert_stream_equals_store, make_ledger, ticket_facts

nats_single = natskit.nats_single

ROOT = Path(__file__).resolve().parents[1]


def relay_process(data_dir: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.relay", "--data-dir", str(data_dir), "--nats-url", url, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


async def _count(url: str) -> int:
    nc = await connect(url, max_reconnect_attempts=0)
    try:
        return (await nc.jetstream().stream_info("LEDGER")).state.messages
    except Exception:  # noqa: BLE001 - no stream yet
        return 0
    finally:
        await nc.close()


def count(url: str) -> int:
    return asyncio.run(_count(url))


def wait_for(cond, timeout: float = 30.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def test_relay_killed_mid_batch_resumes_without_gap_or_duplicate(tmp_path: Path, nats_single: NatsServer) -> None:
    ledger = make_ledger(tmp_path / "data", 1500)  # 3002 events
    total = ledger.position
    url = nats_single.url
    proc = relay_process(tmp_path / "data", url, "--batch", "100", "--window", "16")
    try:
        wait_for(lambda: count(url) >= 300)
        os.kill(proc.pid, signal.SIGKILL)  # mid-batch: windows of 16 are in flight
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    published = count(url)
    assert 0 < published < total, "the kill must land in the middle of the relay's work"
    again = relay_process(tmp_path / "data", url)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err.decode()
    assert assert_stream_equals_store(url, ledger) == total


def test_nats_down_commands_still_record_and_relay_catches_up(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
    data = tmp_path / "data"
    ledger = make_ledger(data, 200)
    proc = relay_process(data, server.url, "--follow")
    try:
        wait_for(lambda: count(server.url) == ledger.position)
        server.stop()
        t0 = time.monotonic()
        outs = ledger.execute_many(ticket_facts(300, prefix="D"))  # NATS is down
        assert all(o.status == "recorded" for o in outs)
        assert time.monotonic() - t0 < 5, "recording must not wait on NATS"
        time.sleep(1.5)  # the relay notices and keeps retrying
        server.start()  # same ports, same store directory
        wait_for(lambda: count(server.url) == ledger.position, timeout=40)
        outs = ledger.execute_many(ticket_facts(50, prefix="E"))  # and it keeps following
        wait_for(lambda: count(server.url) == ledger.position, timeout=20)
        assert assert_stream_equals_store(server.url, ledger) == ledger.position
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.stop()
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""


def test_same_batch_relayed_twice_is_stored_once(tmp_path: Path, nats_single: NatsServer) -> None:
    ledger = make_ledger(tmp_path / "data", 300)
    url = nats_single.url
    assert relay_all(ledger, url) == ledger.position
    assert relay_all(ledger, url) == 0  # the resume point is the stream's end

    rows = list(iter_log(ledger))

    async def republish() -> tuple[int, int]:
        nc = await connect(url)
        try:
            js = nc.jetstream()
            at = await resume_point(js)
            assert at.position == ledger.position
            # a stale relay that still believes the stream is empty: fenced, nothing stored
            stats = RelayStats()
            with pytest.raises(Fenced):
                await publish_rows(js, rows[:50], 0, 16, stats)
            assert stats.published == 0
            # the same batch without the fence: the duplicate window drops every one
            dups = 0
            for r in rows[:50]:
                from adapters.stream import headers_for, subject_for

                ack = await js.publish(subject_for(r), r.state, headers=headers_for(r))
                dups += ack.duplicate
            return dups, (await js.stream_info("LEDGER")).state.messages
        finally:
            await nc.close()

    dups, messages = asyncio.run(republish())
    assert dups == 50
    assert messages == ledger.position
    assert assert_stream_equals_store(url, ledger) == ledger.position
