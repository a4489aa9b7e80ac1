"""The proof service's answers to requests a customer's program may send (README, *Proof
service*): a bad request is a 400 with a plain sentence, never a 500 with a Python repr; a size
asked for is a signed checkpoint's for inclusion and consistency alike; calendar data, no
customer's, comes with its leaf to every customer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from adapters import log_key
from adapters.calendar_data import record_calendar
from adapters.ledger_tree import LedgerTree
from adapters.nats_server import NatsServer
from adapters.proof_service import start_proof_service
from adapters.store import iter_log
from adapters.stream import connect
from tests import natskit

nats_single = natskit.nats_single


@pytest.fixture
def answers(tmp_path: Path, nats_single: NatsServer):  # type: ignore[no-untyped-def]
    """ask(subject, body) -> (error code or None, error text or the decoded answer), against a
    ledger of acme and beta with the 2025 calendar and one signed checkpoint."""
    ledger = natskit.make_ledger(tmp_path / "data", 2, ("acme", "beta"))
    record_calendar(ledger, [2025])
    tree = LedgerTree(ledger)
    tree.build()
    signer, _ = log_key.ensure(tmp_path / "data")
    size = tree.sign_checkpoint(signer).tree_size
    rows = list(iter_log(ledger))
    owners = {r.position: msgspec.json.decode(r.state).get("customer") for r in rows}

    def ask(*requests: tuple[str, bytes]) -> list[tuple[str | None, object]]:
        async def go() -> list[tuple[str | None, object]]:
            nc = await connect(nats_single.url)
            svc = await start_proof_service(nc, ledger)
            try:
                out: list[tuple[str | None, object]] = []
                for subject, body in requests:
                    reply = await nc.request(subject, body, timeout=10)
                    code = (reply.headers or {}).get("Nats-Service-Error-Code")
                    out.append((code, (reply.headers or {}).get("Nats-Service-Error") if code else
                                msgspec.json.decode(reply.data)))
                return out
            finally:
                await svc.stop()
                await nc.close()
        return asyncio.run(go())

    yield ask, size, owners
    ledger.close()


def test_a_request_for_a_proof_that_cannot_exist_is_a_400_in_plain_words(answers) -> None:  # type: ignore[no-untyped-def]
    ask, size, _ = answers
    got = ask(("proof.acme.consistency", b'{"old": 0}'),
              ("proof.acme.consistency", b'{"old": -1}'),
              ("proof.acme.consistency", msgspec.json.encode({"old": size + 1})),
              ("proof.acme.consistency", b'{"old": "x"}'),
              ("proof.acme.inclusion", b'{"size": 3}'))
    for code, text in got:
        assert code == "400", (code, text)
        assert "Error(" not in str(text) and "Traceback" not in str(text), text
    assert "between 1 and the new size" in str(got[0][1])


def test_a_consistency_request_s_shape_is_checked_before_its_checkpoint_each_case_said(answers) -> None:  # type: ignore[no-untyped-def]
    ask, size, _ = answers
    got = ask(("proof.acme.consistency", msgspec.json.encode({"old": 2 * size, "new": size})),
              ("proof.acme.consistency", msgspec.json.encode({"old": 200 * size})),
              ("proof.acme.consistency", msgspec.json.encode({"old": 1, "new": 200 * size})),
              ("proof.acme.consistency", msgspec.json.encode({"old": size - 1, "new": size - 2})))
    assert [code for code, _ in got] == ["400"] * 4, got
    assert got[0][1] == f"old size {2 * size} is above the new size {size}: a tree extends only smaller ones; " \
                        "ask with old no larger than new"
    assert got[1][1] == f"old size {200 * size} is beyond the log ({size} leaves)"
    assert got[2][1] == f"new size {200 * size} is beyond the log ({size} leaves)"
    assert "above the new size" in str(got[3][1])  # neither size signed: still the shape first
    assert not any("tree of 0 leaves" in str(text) for _, text in got), got


def test_inclusion_and_consistency_treat_a_size_with_no_signed_checkpoint_alike(answers) -> None:  # type: ignore[no-untyped-def]
    ask, size, _ = answers
    unsigned = size - 1
    (inc_code, inc), (con_code, con), (ok_code, ok) = ask(
        ("proof.acme.inclusion", msgspec.json.encode({"position": 1, "size": unsigned})),
        ("proof.acme.consistency", msgspec.json.encode({"old": 1, "new": unsigned})),
        ("proof.acme.consistency", msgspec.json.encode({"old": 1, "new": size})))
    assert (inc_code, con_code) == ("404", "404"), (inc, con)
    assert inc == con == f"no signed checkpoint of size {unsigned}"
    assert ok_code is None and isinstance(ok, dict) and str(ok["checkpoint"]).count("\n— ") >= 1, ok


def test_calendar_data_comes_with_its_leaf_to_every_customer(answers) -> None:  # type: ignore[no-untyped-def]
    ask, _, owners = answers
    calendar = next(p for p, c in owners.items() if c == "_public")
    beta = next(p for p, c in owners.items() if c == "beta")
    got = ask(*((f"proof.{who}.inclusion", msgspec.json.encode({"position": p}))
                for who in ("acme", "beta") for p in (calendar, beta)))
    (_, acme_cal), (_, acme_beta), (_, beta_cal), (_, beta_own) = got
    assert acme_cal["leaf"]["position"] == calendar and beta_cal["leaf"]["position"] == calendar
    assert acme_beta["leaf"] is None and beta_own["leaf"]["position"] == beta
