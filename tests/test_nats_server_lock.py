"""One nats-server per data folder (issue 14 item 8): after kill -9 of `relay --follow`, its
self-started server lives on; the next command uses that orphan and stops it when it ends,
instead of starting a second server on the same JetStream store. Real processes throughout."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nats.js.errors import NotFoundError

from adapters.stream import connect
from tests.natskit import assert_stream_equals_store, make_ledger

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "adapters.cli"]


def servers_on(store: Path) -> list[int]:
    """Pids of the live nats-server processes whose JetStream store is `store`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        server = state != "Z" and argv[0].endswith(b"nats-server") and b"-sd" in argv
        if server and Path(argv[argv.index(b"-sd") + 1].decode()).resolve() == store.resolve():
            found.append(int(proc.name))
    return found


def start(data: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")  # noqa: SIM115 - the child's; closed here once it has it
    try:
        return subprocess.Popen([*CLI, "--data-dir", str(data), *args], cwd=ROOT, stdout=out, stderr=out)
    finally:
        out.close()


def wait_for_text(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = path.read_text(errors="replace") if path.exists() else ""
        if text in seen:
            return seen
        assert proc.poll() is None, f"exited with {proc.returncode}: {seen}"
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not printed in {timeout} s")


def stop_all(procs: list[subprocess.Popen[bytes]], store: Path) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for pid in servers_on(store):  # whatever a failed test left running
        os.kill(pid, signal.SIGKILL)


def test_after_kill_9_of_relay_follow_the_next_command_uses_the_orphaned_server_and_stops_it(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "data" / "nats"
    ledger = make_ledger(data, 20)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first = start(data, "relay", "--follow", log=tmp_path / "first.log")
        procs.append(first)
        wait_for_text(tmp_path / "first.log", "relay: following", first)
        (orphan,) = servers_on(store)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert servers_on(store) == [orphan], "the orphan lives on after its command is killed"

        second = start(data, "relay", "--follow", log=tmp_path / "second.log")
        procs.append(second)
        said = wait_for_text(tmp_path / "second.log", "relay: following", second)
        assert servers_on(store) == [orphan], "one server on the store folder: the orphan, reused"
        url = said.split("-> ")[1].split()[0]
        deadline = time.monotonic() + 30
        while True:  # the stream it serves is the one the relay completes (or makes: it may not be there yet)
            try:
                assert_stream_equals_store(url, ledger)
                break
            except (AssertionError, NotFoundError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
        assert servers_on(store) == [], "the command that adopted the orphan stopped it when it ended"

        third = subprocess.run([*CLI, "--data-dir", str(data), "relay"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)  # and the folder is usable as before
        assert third.returncode == 0, third.stderr
        assert "relayed 0 events" in third.stdout
        assert servers_on(store) == []
    finally:
        ledger.close()
        stop_all(procs, store)


def test_a_command_beside_nats_serve_uses_that_server(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "data" / "nats"
    ledger = make_ledger(data, 10)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        serve = start(data, "--json", "nats", "serve", log=tmp_path / "serve.log")
        procs.append(serve)
        url = json.loads(wait_for_text(tmp_path / "serve.log", "}", serve))["url"]
        (served,) = servers_on(store)
        relay = subprocess.run([*CLI, "--data-dir", str(data), "relay"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
        assert relay.returncode == 0, relay.stderr
        assert f"relayed {ledger.position} events" in relay.stdout
        assert servers_on(store) == [served], "the relay left the served server running, and started none"
        assert assert_stream_equals_store(url, ledger) == ledger.position  # what it relayed is on that server

        async def alive() -> bool:
            nc = await connect(url, max_reconnect_attempts=0)
            await nc.close()
            return True

        assert asyncio.run(alive())
        again = subprocess.run([*CLI, "--data-dir", str(data), "nats", "serve"], cwd=ROOT, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 2 and f"already serves {store} at {url}" in again.stderr, again.stderr
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(20) == 0
        assert servers_on(store) == []
    finally:
        ledger.close()
        stop_all(procs, store)
