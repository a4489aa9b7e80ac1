"""`ticketledger tail`: from the start, a ledger position or a recording time; garbage on a
ledger subject is reported with its stream sequence and skipped, never a crash."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import msgspec

from adapters.nats_server import NatsServer
from adapters.relay import relay_all
from adapters.store import iter_log
from adapters.stream import connect
from tests import natskit
from tests.natskit import make_ledger, ticket_facts

nats_single = natskit.nats_single
ROOT = Path(__file__).resolve().parents[1]


def tail(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from adapters.cli import main; sys.exit(main())", "--json", "--data-dir", "unused", "tail", "--nats-url", url, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


async def _publish_garbage(url: str) -> list[int]:
    nc = await connect(url)
    try:
        js = nc.jetstream()
        a = await js.publish("ledger.acme.ticket.X1.TicketOpened", b"not json at all")
        b = await js.publish("ledger.acme.ticket.X2.TicketOpened", b'{"type":"TicketOpened"}',
                             headers={"Ledger-Position": "999999", "Ledger-Topic": "ticket.TicketOpened.v2",
                                      "Ledger-Recorded-At": "2099-01-01T00:00:00.000000Z"})
        return [a.seq, b.seq]
    finally:
        await nc.close()


def test_tail_reports_and_skips_garbage_and_reads_from_position_and_time(tmp_path: Path,
                                                                           nats_single: NatsServer) -> None:
    url = nats_single.url
    ledger = make_ledger(tmp_path / "data", 100)
    relay_all(ledger, url)
    bad = asyncio.run(_publish_garbage(url))
    # the relay is fenced by the foreign messages, re-reads the stream's end and goes on
    ledger.execute_many(ticket_facts(50, prefix="L"))
    assert relay_all(ledger, url) == 100
    n = ledger.position

    r = tail(url)
    assert r.returncode == 0, r.stderr
    events = [msgspec.json.decode(line) for line in r.stdout.splitlines()]
    assert [e["position"] for e in events] == list(range(1, n + 1))
    for seq in bad:
        assert f"stream sequence {seq} " in r.stderr and "skipped" in r.stderr
    # upcast on read: every TicketOpened reads as the current version
    assert all(e["event"]["v"] == 2 for e in events if e["type"] == "TicketOpened")

    r = tail(url, "--from-position", str(n - 120), "--type", "TicketOpened")
    assert r.returncode == 0, r.stderr
    got = [msgspec.json.decode(line) for line in r.stdout.splitlines()]
    want = [row.position for row in iter_log(ledger, n - 120) if ".TicketOpened." in row.topic]
    assert [e["position"] for e in got] == want

    rows = list(iter_log(ledger))
    t = rows[150].recorded_at
    r = tail(url, "--from-time", t, "--limit", "5")
    assert r.returncode == 0, r.stderr
    got = [msgspec.json.decode(line)["position"] for line in r.stdout.splitlines()]
    first = next(row.position for row in rows if row.recorded_at >= t)
    assert got == list(range(first, first + 5))

    r = tail(url, "--id", "Tacme-7")
    assert [msgspec.json.decode(line)["type"] for line in r.stdout.splitlines()] == [
        "TicketOpened", "TicketAcknowledged"]
    # for people, in their language: words for headers and events, local times with the zone named
    r = subprocess.run([sys.executable, "-c", "import sys; from adapters.cli import main; sys.exit(main())",
                        "--lang", "zh_CN", "--data-dir", "unused", "tail", "--nats-url", url, "--id", "Tacme-7"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "流中的事件；时间为" in r.stdout and "报修" in r.stdout and "recorded_at" not in r.stdout, r.stdout
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", r.stdout), r.stdout
    r = tail(url, "--from-position", str(n + 1000))  # beyond the stream's last event, as `log --from` beyond the log
    assert r.returncode == 2 and "TL-E021: --from-position" in r.stderr and "--follow" in r.stderr, r.stderr
    r = tail(url, "--stream", "NOPE")  # a stream the server does not hold: one line naming the right ones
    assert r.returncode == 2 and "no stream NOPE on the NATS server; the ledger's is LEDGER" in r.stderr, r.stderr
