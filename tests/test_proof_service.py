"""The proof service as a customer's program meets it (issue 16): a real nats-server with the
configuration of docs/nats-permissions.md, `relay --follow` running as the `ledger` user (it
hosts `ticketledger-proofs`), and the customer `acme` asking on `proof.acme.*` with its own
scoped user. The leaf is recomputed from the message acme received on its own stream; another
customer's event comes back as hashes only; `proof.beta.*` is refused to acme; and acme's
witness follows the checkpoints its stream sources from CHECKPOINTS and cosigns them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from adapters.cli.stream import PermissionRefused, refused_fast
from adapters.ledger import open_ledger
from adapters.ledger_tree import LedgerTree
from adapters.nats_server import NatsServer
from adapters.store import iter_log
from adapters.stream import ConnectOptions, connect
from domain import leaf as lf
from domain import merkle
from domain import signed_note as sn
from domain.proofs import unb64

from .test_stream_protection import PASSWORDS, documented  # noqa: F401 - fixture
from .test_witness import ledger_with_key

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "adapters.cli"]
ACME = ConnectOptions(user="acme", password=PASSWORDS["ACME_PASSWORD"], inbox_prefix="_INBOX_acme")


def as_env(user: str, password: str, inbox: str | None = None) -> dict[str, str]:
    env = {**os.environ, "TICKETLEDGER_NATS_USER": user, "TICKETLEDGER_NATS_PASSWORD": password}
    if inbox:
        env["TICKETLEDGER_NATS_INBOX_PREFIX"] = inbox
    return env


async def _acme_program(url: str, acme_position: int, beta_position: int) -> dict[str, object]:
    """What a customer's program does: read its stream, ask for proofs, check them."""
    errors: list[str] = []
    nc = await connect(url, ACME, errors=errors)
    out: dict[str, object] = {}
    try:
        js = nc.jetstream(timeout=5)
        # the message of its event, from its own stream, and the newest checkpoint beside it
        deadline = time.monotonic() + 20
        while True:
            try:
                cp_msg = await js.get_last_msg("LEDGER_acme", "checkpoint.>", direct=True)
                break
            except Exception:  # noqa: BLE001 - not sourced yet
                assert time.monotonic() < deadline, "LEDGER_acme holds no checkpoint"
                await asyncio.sleep(0.2)
        sub = await js.subscribe("ledger.acme.>", stream="LEDGER_acme", ordered_consumer=True)
        while True:
            m = await sub.next_msg(timeout=10)
            if int(m.headers["Ledger-Position"]) == acme_position:
                break
        await sub.unsubscribe()
        h = m.headers
        leaf = lf.Leaf(index=int(h["Ledger-Leaf-Index"]), position=int(h["Ledger-Position"]),
                       recorded_at=h["Ledger-Recorded-At"], originator_id=h["Ledger-Originator"],
                       originator_version=int(h["Ledger-Version"]), topic=h["Ledger-Topic"],
                       state_sha256=lf.state_sha256(m.data))
        # the proof service: its own event
        reply = await nc.request("proof.acme.inclusion", msgspec.json.encode({"position": acme_position}), timeout=5)
        proof = msgspec.json.decode(reply.data)
        checkpoint = sn.parse_checkpoint(sn.parse(proof["checkpoint"]).text)
        merkle.verify_inclusion(leaf.index, checkpoint.size, lf.leaf_hash(leaf), [unb64(x) for x in proof["hashes"]],
                                checkpoint.root)
        out["own"] = proof
        out["stream_checkpoint"] = cp_msg.data.decode()
        # another customer's event: hashes only
        reply = await nc.request("proof.acme.inclusion", msgspec.json.encode({"position": beta_position}), timeout=5)
        out["other"] = msgspec.json.decode(reply.data)
        # a bad request: a micro error, not silence
        reply = await nc.request("proof.acme.consistency", b'{"old": "x"}', timeout=5)
        out["bad"] = dict(reply.headers or {})
        # another customer's subject: refused by the server
        try:
            await refused_fast(nc.request("proof.beta.checkpoint", b"", timeout=2), errors)
            out["beta"] = "ALLOWED"
        except PermissionRefused as e:
            out["beta"] = f"refused: {e}"
        except Exception as e:  # noqa: BLE001
            out["beta"] = f"refused: {type(e).__name__}"
    finally:
        await nc.close()
    return out


@pytest.mark.usefixtures("documented")
def test_a_customer_program_gets_its_proofs_and_only_hashes_of_others(tmp_path: Path, documented: NatsServer) -> None:  # noqa: F811
    url = documented.url
    data = tmp_path / "data"
    vkey = ledger_with_key(data, 3, ("acme", "beta"))
    ledger_env = as_env("ledger", PASSWORDS["LEDGER_PASSWORD"])
    made = subprocess.run([*CLI, "--data-dir", str(data), "nats", "customer-stream", "acme", "--nats-url", url],
                          cwd=ROOT, env=ledger_env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and "checkpoints from CHECKPOINTS" in made.stdout, made.stderr
    relay = subprocess.Popen([*CLI, "--data-dir", str(data), "relay", "--follow", "--nats-url", url],
                             cwd=ROOT, env=ledger_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        app = open_ledger(data)
        try:
            rows = list(iter_log(app))
            size = LedgerTree(app).size
        finally:
            app.close()
        customer = [msgspec.json.decode(r.state).get("customer") for r in rows]
        acme_position = next(r.position for r, c in zip(rows, customer, strict=True) if c == "acme")
        beta_position = next(r.position for r, c in zip(rows, customer, strict=True) if c == "beta")
        got = asyncio.run(_acme_program(url, acme_position, beta_position))

        own, other = got["own"], got["other"]
        assert isinstance(own, dict) and own["leaf"]["position"] == acme_position and own["tree_size"] == size
        assert isinstance(other, dict) and other["leaf"] is None and other["leaf_hash"] and other["hashes"]
        assert str(got["stream_checkpoint"]).startswith(sn.parse(str(own["checkpoint"])).text)
        assert got["bad"].get("Nats-Service-Error-Code") == "400"
        assert str(got["beta"]).startswith("refused") and "permissions violation" in str(got["beta"]).lower()

        # acme's witness, with acme's scoped user, reads the checkpoints its stream sources
        w = subprocess.run([*CLI, "witness", "--log-key", vkey, "--nats-url", url, "--state", str(tmp_path / "w"),
                            "--customer", "acme", "--once"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env=as_env("acme", PASSWORDS["ACME_PASSWORD"], "_INBOX_acme"))
        assert w.returncode == 0 and "accepted: tree size" in w.stdout, w.stdout + w.stderr
        assert PASSWORDS["ACME_PASSWORD"] not in w.stdout + w.stderr
    finally:
        relay.terminate()
        relay.wait(20)
