"""`nats customer-stream C`: a customer's own stream, sourced from LEDGER; it refuses a server on
which the source would never flow, and says whether it flows."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.calendar_data import record_calendar
from adapters.nats_server import NatsServer, free_port
from adapters.relay import relay_all
from adapters.stream import (
    MIN_SERVER_VERSION,
    ServerTooOld,
    connect,
    refuse_old_server,
    server_version,
)
from tests import natskit

nats_single = natskit.nats_single
ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "adapters.cli"]


@pytest.mark.parametrize("version", ["2.9.10", "v2.9.25", "2.10.0", "2.10.13"])
def test_a_server_that_rechecks_the_relays_fence_when_sourcing_is_refused_by_name(version: str) -> None:
    with pytest.raises(ServerTooOld) as e:
        refuse_old_server(version)
    assert version in str(e.value) and "2.10.14" in str(e.value)


@pytest.mark.parametrize("version", ["2.10.14", "2.11.0-beta.2", "2.15.1", ""])
def test_a_server_from_the_minimum_on_is_used(version: str) -> None:
    refuse_old_server(version)  # "" is a server that said no version: not refused on a guess
    assert server_version("2.15.1") == (2, 15, 1) > MIN_SERVER_VERSION


def _customer_subjects(url: str, stream: str) -> list[str]:
    async def read() -> list[str]:
        nc = await connect(url)
        try:
            info = await nc.jetstream().stream_info(stream, subjects_filter="ledger.>")
            return sorted(info.state.subjects or {})
        finally:
            await nc.close()
    return asyncio.run(read())


def test_customer_stream_says_its_source_flows_and_carries_the_calendars(tmp_path: Path,
                                                                          nats_single: NatsServer) -> None:
    """A customer's clocks count on the calendars (`ledger._public.>`, no customer's): its stream
    holds them beside its own events, and the command says the events arrived."""
    data = tmp_path / "data"
    ledger = natskit.make_ledger(data, 3, ("acme", "beta"))
    record_calendar(ledger, [2025])
    relay_all(ledger, nats_single.url)
    ledger.close()
    made = subprocess.run([*CLI, "--lang", "en", "--data-dir", str(data), "nats", "customer-stream", "acme",
                           "--nats-url", nats_single.url], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "the source flows:" in made.stdout and "events of acme in LEDGER are in LEDGER_acme" in made.stdout
    subjects = _customer_subjects(nats_single.url, "LEDGER_acme")
    assert any(s.startswith("ledger._public.calendar.") for s in subjects), subjects
    assert all(s.split(".")[1] in ("acme", "_public") for s in subjects), subjects


def _old_server() -> str | None:
    """The machine's own nats-server when it is one the ledger refuses (2.9 on Debian 12)."""
    found = shutil.which("nats-server", path="/usr/sbin:/usr/bin")
    if not found:
        return None
    said = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    version = server_version(said.rsplit(" ", 1)[-1])  # "nats-server: v2.9.10"
    return found if version is not None and version < MIN_SERVER_VERSION else None


@pytest.mark.skipif(_old_server() is None, reason="no nats-server older than 2.10.14 on this machine")
def test_customer_stream_and_relay_refuse_a_server_too_old_naming_both_versions(tmp_path: Path) -> None:
    import socket
    import time

    port = free_port()
    server = subprocess.Popen([str(_old_server()), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd",
                               str(tmp_path / "store")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the old nats-server did not start"
                time.sleep(0.1)
        data = tmp_path / "data"
        natskit.make_ledger(data, 1, ("acme",)).close()
        url = f"nats://127.0.0.1:{port}"
        for command in (["nats", "customer-stream", "acme"], ["relay"]):
            run = subprocess.run([*CLI, "--lang", "en", "--data-dir", str(data), *command, "--nats-url", url],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert run.returncode == 2 and "is too old" in run.stderr and "2.10.14 or later" in run.stderr, run
    finally:
        server.terminate()
        server.wait(10)
