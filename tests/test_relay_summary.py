"""The relay's summary counts every event it published, across reconnects (issue 14 item 9):
a `relay --follow` whose nats-server restarts mid-relay said "relayed 4514 events", only the
last session's, when more had been published. A real nats-server, stopped and started again
on its port and store, under a real relay process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import msgspec

from adapters.nats_server import NatsServer
from tests.natskit import assert_stream_equals_store, make_ledger, ticket_facts
from tests.test_stream_exactly_once import count, wait_for

ROOT = Path(__file__).resolve().parents[1]


def test_relay_summary_after_a_reconnect_counts_every_session(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
    data = tmp_path / "data"
    ledger = make_ledger(data, 300)
    before = ledger.position
    log = tmp_path / "relay.err"
    with open(log, "wb") as err:
        relay = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "--json", "relay",
                                  "--follow", "--nats-url", server.url],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=err)
    try:
        wait_for(lambda: count(server.url) == before)  # the first session published these
        server.stop()
        assert all(o.status == "recorded" for o in ledger.execute_many(ticket_facts(200, prefix="D")))
        # its publishes go unanswered until they time out (10 s): that session ends in an error
        wait_for(lambda: b"NATS unavailable" in log.read_bytes(), timeout=60, every=0.2)
        server.start()  # same ports, same store: the relay reconnects and publishes the rest
        wait_for(lambda: count(server.url) == ledger.position, timeout=40)
    finally:
        relay.send_signal(signal.SIGTERM)
        out, _ = relay.communicate(timeout=30)
    try:
        assert relay.returncode == 0, log.read_text()
        summary = msgspec.json.decode(out.splitlines()[-1])
        assert summary["published"] == ledger.position > before, summary
        assert summary["position"] == ledger.position
        assert assert_stream_equals_store(server.url, ledger) == ledger.position
    finally:
        server.stop()
        ledger.close()
