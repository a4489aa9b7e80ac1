"""A customer's witness catches the operator (issue 16): a real nats-server, `relay --follow`
(publishing checkpoints and hosting the proof service) and `ticketledger witness` run as
processes. The witness cosigns checkpoints that extend the one it accepted; an operator's full
chain rewrite, a rollback of the last events and a split view (two heads at one size) each
stop it with TL-E181 and leave both signed notes as evidence."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from adapters import log_key
from adapters.ledger import open_ledger
from adapters.ledger_tree import LedgerTree
from adapters.nats_server import NatsServer
from adapters.stream import connect
from adapters.tlog_stream import CHECKPOINTS, H_TREE_SIZE, cosignatures_of
from domain import cosignature as cs
from domain import signed_note as sn

from .natskit import make_ledger, nats_single, ticket_facts  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "adapters.cli"]


def ledger_with_key(data: Path, tickets: int, customers: tuple[str, ...] = ("acme",),
                    key_from: Path | None = None) -> str:
    """A ledger whose log key exists (as `init` makes it); the verifier key."""
    if key_from is not None:
        data.mkdir(parents=True, exist_ok=True)
        shutil.copy(key_from / "log.key", data / "log.key")
    ledger = make_ledger(data, tickets, customers)
    try:
        signer, _ = log_key.ensure(data)
        LedgerTree(ledger).add_key(signer.verifier)
        return signer.verifier.vkey
    finally:
        ledger.close()


class Relay:
    def __init__(self, data: Path, url: str, *extra: str) -> None:
        self.data, self.url = data, url
        self.log = open(data.parent / f"relay-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*CLI, "--data-dir", str(data), "relay", "--follow", "--nats-url", url,
             "--checkpoint-every", "1", "--checkpoint-seconds", "0.2", *extra],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()

    def said(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()


@pytest.fixture
def relay_of() -> Iterator:  # type: ignore[type-arg]
    started: list[Relay] = []

    def start(data: Path, url: str, *extra: str) -> Relay:
        r = Relay(data, url, *extra)
        started.append(r)
        return r

    yield start
    for r in started:
        if r.proc.poll() is None:
            r.stop()


async def _last_checkpoint(url: str) -> int:
    nc = await connect(url)
    try:
        js = nc.jetstream(timeout=5)
        try:
            m = await js.get_last_msg(CHECKPOINTS, "checkpoint.>", direct=True)
        except Exception:  # noqa: BLE001 - no stream or no checkpoint yet
            return -1
        # and the proof service answers
        try:
            await nc.request("proof._.checkpoint", b"", timeout=1)
        except Exception:  # noqa: BLE001
            return -1
        return int(m.headers[H_TREE_SIZE])
    finally:
        await nc.close()


def wait_checkpoint(url: str, size: int, relay: Relay, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while asyncio.run(_last_checkpoint(url)) != size:
        assert relay.proc.poll() is None, relay.said()
        assert time.monotonic() < deadline, f"no checkpoint of size {size}: {relay.said()}"
        time.sleep(0.2)


def tree_size(data: Path) -> int:
    app = open_ledger(data)
    try:
        return LedgerTree(app).size
    finally:
        app.close()


def witness(url: str, vkey: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "witness", "--log-key", vkey, "--nats-url", url, "--state", str(state), "--once",
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=60, env=os.environ.copy())


def accepted_size(state: Path) -> int:
    return sn.parse_checkpoint(sn.parse((state / "accepted.note").read_text()).text).size


def start_honest(tmp_path: Path, url: str, relay_of) -> tuple[Path, str, Path, Relay]:  # type: ignore[no-untyped-def]
    """A ledger, its relay, and a witness that accepted its first two checkpoints."""
    data, state = tmp_path / "data", tmp_path / "witness"
    vkey = ledger_with_key(data, 5)
    relay = relay_of(data, url)
    wait_checkpoint(url, tree_size(data), relay)
    r = witness(url, vkey, state)
    assert r.returncode == 0, r.stderr + r.stdout
    # the first run has nothing it could extend: it says the checkpoint is its first
    assert "first checkpoint" in r.stdout and "extends" not in r.stdout, r.stdout
    assert "witness verifier key: witness." in r.stderr and (state / "witness.key").stat().st_mode & 0o777 == 0o600
    assert accepted_size(state) == tree_size(data)
    # the log grows: the next checkpoint is checked by a consistency proof, and cosigned
    app = open_ledger(data)
    assert all(o.status == "recorded" for o in app.execute_many(ticket_facts(2, prefix="G")))
    app.close()
    wait_checkpoint(url, tree_size(data), relay)
    r = witness(url, vkey, state)
    assert r.returncode == 0 and "extends the one accepted before; cosigned" in r.stdout, r.stderr + r.stdout
    assert accepted_size(state) == tree_size(data)
    return data, vkey, state, relay


def test_the_witness_cosigns_an_honest_log_and_the_ledger_keeps_the_cosignatures(
        tmp_path: Path, nats_single: NatsServer, relay_of) -> None:  # noqa: F811
    data, vkey, state, relay = start_honest(tmp_path, nats_single.url, relay_of)
    witness_key = cs.Witness.parse((state / "witness.key").read_text()).verifier
    size = accepted_size(state)
    deadline = time.monotonic() + 20
    while True:  # relay --follow collects them from COSIGNATURES into ledger_cosignatures
        app = open_ledger(data)
        try:
            rows = cosignatures_of(app, size)
        finally:
            app.close()
        if rows:
            break
        assert time.monotonic() < deadline, relay.said()
        time.sleep(0.2)
    assert [r.vkey for r in rows] == [witness_key.vkey] and abs(rows[0].time - time.time()) < 120
    # the proof service hands out the checkpoint with the cosignature
    note = asyncio.run(_ask(nats_single.url, "proof.acme.checkpoint", b"")).decode()
    assert [c.vkey for c in cs.cosignatures(note, [witness_key])] == [witness_key.vkey]
    sn.open_note(note, [sn.Verifier.parse(vkey)])  # still the log's signed note
    # nothing is raised for an unchanged log
    r = witness(nats_single.url, vkey, state)
    assert r.returncode == 0 and "0 checkpoint(s) cosigned now" in r.stdout


async def _ask(url: str, subject: str, body: bytes) -> bytes:
    nc = await connect(url)
    try:
        return (await nc.request(subject, body, timeout=5)).data
    finally:
        await nc.close()


def alarm_of(r: subprocess.CompletedProcess[str], state: Path, says: str) -> Path:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "TL-E181" in r.stderr and "ALARM" in r.stderr and says in r.stderr, r.stderr
    (alarm,) = state.glob("alarm-*")
    assert (alarm / "accepted.note").read_text() == (state / "accepted.note").read_text()
    assert (alarm / "offered.note").exists() and says in (alarm / "reason.txt").read_text()
    return alarm


def test_a_full_chain_rewrite_is_caught(tmp_path: Path, nats_single: NatsServer, relay_of) -> None:  # noqa: F811
    data, vkey, state, relay = start_honest(tmp_path, nats_single.url, relay_of)
    relay.stop()
    # the operator writes another history, with a valid chain and tree, signed with the same key
    forged = tmp_path / "forged"
    ledger_with_key(forged, 9, ("acme", "zeta"), key_from=data)
    shutil.copy(forged / "events.sqlite", data / "events.sqlite")
    # the relay will not publish it into the stream of the first history, nor sign it (TL-E180):
    # it goes out only on a new stream, on purpose, where the witness meets it
    refused = subprocess.run([*CLI, "--data-dir", str(data), "relay", "--nats-url", nats_single.url], cwd=ROOT,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "TL-E180" in refused.stderr, refused.stderr
    asyncio.run(_delete_ledger_stream(nats_single.url))
    relay = relay_of(data, nats_single.url, "--new-stream")
    wait_checkpoint(nats_single.url, tree_size(data), relay)
    r = witness(nats_single.url, vkey, state)
    alarm = alarm_of(r, state, "the consistency proof fails")
    assert msgspec.json.decode((alarm / "proof.json").read_bytes())["old_size"] == accepted_size(state)
    offered = sn.parse_checkpoint(sn.parse((alarm / "offered.note").read_text()).text)
    assert offered.size == tree_size(data) > accepted_size(state)


def test_a_rollback_of_the_last_events_is_caught(tmp_path: Path, nats_single: NatsServer, relay_of) -> None:  # noqa: F811
    data, vkey, state, relay = start_honest(tmp_path, nats_single.url, relay_of)
    before = tree_size(data)
    with sqlite3.connect(data / "events.sqlite") as db:  # the last 3 events and their chain rows go
        last = db.execute("SELECT max(rowid) FROM stored_events").fetchone()[0]
        db.execute("DELETE FROM stored_events WHERE rowid > ?", (last - 3,))
        db.execute("DELETE FROM ledger_chain WHERE position > ?", (last - 3,))
    wait_checkpoint(nats_single.url, before - 3, relay)
    r = witness(nats_single.url, vkey, state)
    alarm_of(r, state, "rollback")


async def _delete_ledger_stream(url: str) -> None:
    nc = await connect(url)
    try:
        await nc.jetstream().delete_stream("LEDGER")
    finally:
        await nc.close()


async def _publish(url: str, note: str, size: int) -> None:
    nc = await connect(url)
    try:
        await nc.jetstream().publish(f"checkpoint.{size}", note.encode(), stream=CHECKPOINTS,
                                     headers={H_TREE_SIZE: str(size)})
    finally:
        await nc.close()


def test_a_split_view_is_caught(tmp_path: Path, nats_single: NatsServer, relay_of) -> None:  # noqa: F811
    data, vkey, state, relay = start_honest(tmp_path, nats_single.url, relay_of)
    size = accepted_size(state)
    # the operator signs a second head at the same size (another history shown to someone else)
    signer = log_key.load(data)
    other = signer.sign(sn.checkpoint_text(signer.name, size, bytes(32)))
    asyncio.run(_publish(nats_single.url, other, size))
    r = witness(nats_single.url, vkey, state)
    alarm = alarm_of(r, state, "split view")
    assert (alarm / "offered.note").read_text() == other


def test_a_checkpoint_not_signed_by_the_log_key_is_an_alarm(tmp_path: Path, nats_single: NatsServer, relay_of) -> None:  # noqa: F811
    data, vkey, state, relay = start_honest(tmp_path, nats_single.url, relay_of)
    impostor = sn.Signer(log_key.load(data).name, bytes([3]) * 32)
    asyncio.run(_publish(nats_single.url, impostor.sign(sn.checkpoint_text(impostor.name, 99, bytes(32))), 99))
    alarm_of(witness(nats_single.url, vkey, state), state, "not signed by the log key")


def test_a_report_carries_the_cosignatures_and_proof_verify_can_require_them(
        tmp_path: Path, nats_single: NatsServer, relay_of) -> None:  # noqa: F811
    import io
    import json
    from contextlib import redirect_stdout

    from adapters.cli import main

    from .disputekit import EVALUATED, TICKET, dispute_ledger

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(list(argv))
        return code, out.getvalue()

    data, state = tmp_path / "data", tmp_path / "witness"
    dispute_ledger(data)
    code, out = run("--data-dir", str(data), "init")
    vkey = out.split("verifier key for the contract annex: ")[1].split()[0]
    relay = relay_of(data, nats_single.url)
    size = tree_size(data)
    wait_checkpoint(nats_single.url, size, relay)
    w = witness(nats_single.url, vkey, state)
    assert w.returncode == 0, w.stderr
    witness_key = w.stderr.split("witness verifier key: ")[1].split()[0]
    deadline = time.monotonic() + 20
    while not cosignatures_of(app := open_ledger(data), size):
        app.close()
        assert time.monotonic() < deadline, relay.said()
        time.sleep(0.2)
    app.close()

    for fmt in ("json", "html"):
        report = tmp_path / f"r.{fmt}"
        code, _ = run("--data-dir", str(data), "explain", TICKET, "--format", fmt, "--at", EVALUATED,
                      "--out", str(report))
        assert code == 0
        if fmt == "json":
            (c,) = json.loads(report.read_text())["proofs"]["cosignatures"]
            assert c["key"] == witness_key and c["time"].endswith("Z")
        else:
            assert c["time"] in report.read_text() and witness_key in report.read_text()
        code, out = run("--lang", "en", "proof", "verify", str(report), "--log-key", vkey, "--witness-key", witness_key)
        assert code == 0 and f"at {c['time']}" in out, out
        stranger = cs.Witness("witness.other", bytes([5]) * 32).verifier.vkey
        code, out = run("--lang", "en", "proof", "verify", str(report), "--log-key", vkey, "--witness-key", stranger)
        assert code == 1 and "TL-E182" in out and "did not cosign" in out, out


def test_a_wrong_log_key_on_the_first_run_is_said_as_such_and_cosigns_nothing(
        tmp_path: Path, nats_single: NatsServer, relay_of) -> None:  # noqa: F811
    data, state = tmp_path / "data", tmp_path / "witness"
    ledger_with_key(data, 3)
    relay = relay_of(data, nats_single.url)
    wait_checkpoint(nats_single.url, tree_size(data), relay)
    other = sn.Signer.generate("someone.else/log", bytes([7]) * 32).verifier.vkey  # not this log's key
    r = witness(nats_single.url, other, state)
    assert r.returncode == 2 and "TL-E161" in r.stderr and "check --log-key" in r.stderr, r.stderr
    assert "ALARM" not in r.stderr and not list(state.glob("alarm-*")) and not (state / "accepted.note").exists()
    # a file where the witness's folder should be: one line, no errno
    (tmp_path / "file").write_text("")
    r = witness(nats_single.url, other, tmp_path / "file")
    assert r.returncode == 2 and "--state" in r.stderr and "is a file" in r.stderr and "Errno" not in r.stderr, r.stderr
