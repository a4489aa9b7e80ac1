"""The proof service on NATS: a nats-py `micro` service named `ticketledger-proofs`, hosted by
`ticketledger relay --follow` (unless `--no-proofs`), so a customer's program asks for proofs
without shell access to the ledger's host (issue 16).

Requests (`nats req proof.acme.inclusion '{"position": 1234}'`):

  proof.<customer>.checkpoint    body empty, or {"size": N}: the signed checkpoint (the newest,
                                 or the one of size N) as the signed note's text, verbatim, with
                                 the witnesses' cosignatures collected for it
  proof.<customer>.inclusion     {"position": P, "size": N?}: the inclusion proof of the event at
                                 log position P (domain.proofs.InclusionProof) in the tree of the
                                 newest checkpoint (or of size N), with `leaf` (its inputs) and
                                 `checkpoint`. For an event of another customer only hashes come
                                 back: `leaf` is null; calendar data (customer `_public`, no
                                 customer's) comes with its leaf to every customer.
  proof.<customer>.consistency   {"old": O, "new": N?}: the consistency proof from tree size O
                                 (1 or more) to the newest checkpoint's (or N)
                                 (domain.proofs.ConsistencyProof), with `checkpoint`: the signed
                                 note of the new size.

A size asked for (`size`, `new`) is one of a signed checkpoint, for every request alike: a proof
always comes with the signed note its root is checked against (404 otherwise). Errors are micro
errors (headers Nats-Service-Error-Code and Nats-Service-Error, a plain sentence): 400 a request
that cannot be answered as asked (not the shape, a size 0 or out of order), 404 nothing of that
position or size, 503 a tree not built yet.
The customer token in the subject is what NATS permissions grant (docs/nats-permissions.md:
user acme may publish only `proof.acme.>`); `_` asks as no customer (hashes only).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service

from domain.contract import CALENDAR_CUSTOMER
from domain.leaf import Leaf
from domain.merkle import ProofError
from domain.proofs import InclusionProof

from .store import EventStoreApp, read_log

SERVICE = "ticketledger-proofs"
VERSION = "1.0.0"
SUBJECT = "proof.*.{kind}"


class CheckpointAsk(msgspec.Struct, forbid_unknown_fields=True):
    size: int | None = None


class InclusionAsk(msgspec.Struct, forbid_unknown_fields=True):
    position: int
    size: int | None = None


class ConsistencyAsk(msgspec.Struct, forbid_unknown_fields=True):
    old: int
    new: int | None = None


class InclusionAnswer(InclusionProof, frozen=True, kw_only=True):
    leaf: Leaf | None = None  # None: another customer's event (only hashes)
    checkpoint: str | None = None


class ProofRefused(ValueError):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


class _Customer(msgspec.Struct):
    customer: str = ""


def _note(app: EventStoreApp, size: int | None) -> tuple[int, str]:
    """(tree size, cosigned note) of the newest checkpoint, or of the one of `size`."""
    from .ledger_tree import LedgerTree
    from .tlog_stream import cosigned_note

    cps = LedgerTree(app).checkpoints()
    if size is not None:
        cps = [c for c in cps if c.tree_size == size]
    if not cps:
        raise ProofRefused("404", f"no signed checkpoint of size {size}" if size is not None else
                           "no signed checkpoint yet (`ticketledger checkpoint`, or the relay's next one)")
    cp = max(cps, key=lambda c: (c.tree_size, c.id))
    return cp.tree_size, cosigned_note(app, cp.note, cp.tree_size)


def checkpoint(app: EventStoreApp, ask: CheckpointAsk) -> bytes:
    return _note(app, ask.size)[1].encode()


def inclusion(app: EventStoreApp, customer: str, ask: InclusionAsk) -> bytes:
    from .ledger_tree import LedgerTree, TreeNotBuilt

    tree = LedgerTree(app)
    rows = read_log(app, ask.position, 1)
    if not rows or rows[0].position != ask.position:
        raise ProofRefused("404", f"no event at log position {ask.position}")
    try:
        leaf = tree.leaf(ask.position)
    except TreeNotBuilt as e:
        raise ProofRefused("503", str(e)) from None
    size, note = _note(app, ask.size)
    if leaf.index >= size:
        raise ProofRefused("404", f"the event at position {ask.position} (leaf {leaf.index}) is not in the tree of "
                                  f"size {size}: ask again after the next checkpoint")
    proof = tree.inclusion_proof(leaf.index, size)
    own = customer != "_" and msgspec.json.decode(rows[0].state, type=_Customer).customer in (customer, CALENDAR_CUSTOMER)
    answer = InclusionAnswer(**msgspec.structs.asdict(proof) | {"position": ask.position},
                             leaf=leaf if own else None, checkpoint=note)
    return msgspec.json.encode(answer)


def consistency(app: EventStoreApp, ask: ConsistencyAsk) -> bytes:
    from .ledger_tree import LedgerTree, TreeNotBuilt

    # the request's shape first (a proof that cannot exist is a 400 whatever is signed), then
    # whether the size proved to has a signed checkpoint (404)
    if ask.old < 1:
        raise ProofRefused("400", f"old size {ask.old} is not between 1 and the new size (a tree of 0 "
                                  "leaves has no consistency proof: every tree extends it)")
    if ask.new is not None and ask.old > ask.new:
        raise ProofRefused("400", f"old size {ask.old} is above the new size {ask.new}: a tree extends only "
                                  "smaller ones; ask with old no larger than new")
    leaves = LedgerTree(app).size
    if leaves:  # (a tree not built yet is said below)
        for which, size in (("old", ask.old), ("new", ask.new)):
            if size is not None and size > leaves:
                raise ProofRefused("400", f"{which} size {size} is beyond the log ({leaves} leaves)")
    new, note = _note(app, ask.new)
    if ask.old > new:
        raise ProofRefused("400", f"old size {ask.old} is above the newest signed checkpoint's size {new}: "
                                  "ask with old no larger than it, or after the next checkpoint")
    try:
        proof = LedgerTree(app).consistency_proof(ask.old, new)
    except TreeNotBuilt as e:
        raise ProofRefused("404", str(e)) from None
    return msgspec.json.encode(msgspec.structs.replace(proof, checkpoint=note))


async def start_proof_service(nc: NATS, app: EventStoreApp) -> Service:
    """Add the `ticketledger-proofs` service to this connection (stop it with `await svc.stop()`)."""
    svc = await add_service(nc, name=SERVICE, version=VERSION,
                            description="ticketledger transparency log: checkpoints, inclusion and consistency proofs")

    def handler(kind: str, answer: Any) -> Any:
        async def handle(req: Request) -> None:
            customer = req.subject.split(".")[1]
            try:
                body = await asyncio.to_thread(answer, customer, req.data or b"")
            except ProofRefused as e:
                await req.respond_error(e.code, str(e))
                return
            except ProofError as e:  # a proof that cannot exist: the request's fault, said plainly
                await req.respond_error("400", f"{kind}: {e}")
                return
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                await req.respond_error("400", f"{kind}: the request is not {_shapes[kind]} ({e})")
                return
            await req.respond(body)
        return handle

    def _decode(data: bytes, t: type) -> Any:
        return msgspec.json.decode(data or b"{}", type=t)

    answers = {
        "checkpoint": lambda c, d: checkpoint(app, _decode(d, CheckpointAsk)),
        "inclusion": lambda c, d: inclusion(app, c, _decode(d, InclusionAsk)),
        "consistency": lambda c, d: consistency(app, _decode(d, ConsistencyAsk)),
    }
    for kind, answer in answers.items():
        await svc.add_endpoint(name=kind, subject=SUBJECT.format(kind=kind), handler=handler(kind, answer))
    return svc


_shapes = {"checkpoint": 'empty or {"size": N}', "inclusion": '{"position": P, "size": N?}',
           "consistency": '{"old": O, "new": N?}'}
