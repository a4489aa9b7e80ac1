"""The transparency log's proofs as programs exchange them (JSON through msgspec), and the
offline check of a dispute report's evidence, pure. The CLI (`prove`, `proof verify`), the
reports (`explain`) and the NATS proof service all use these shapes.

Hashes are standard base64 with padding, as in C2SP checkpoints and the reference vectors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import msgspec

from . import merkle
from . import signed_note as sn
from .leaf import Leaf, LeafError
from .leaf import leaf_hash as hash_leaf

FORMAT = "ticketledger-proof/v1"


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def unb64(s: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise merkle.ProofError(f"{s[:20]!r} is not standard base64") from e


class InclusionProof(msgspec.Struct, kw_only=True, frozen=True):
    """RFC 9162 audit path of one leaf in the tree of `tree_size` leaves (leaf side first)."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]
    position: int | None = None  # the log position of the leaf's event, for people
    root: str | None = None  # the tree head it leads to (for tools; a verifier takes the checkpoint's)
    kind: str = "inclusion"


class ConsistencyProof(msgspec.Struct, kw_only=True, frozen=True):
    """RFC 9162 proof that the tree of `new_size` leaves only appended to the one of `old_size`."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    hashes: list[str]
    checkpoint: str | None = None  # the signed note of new_size, exactly as the log signed it
    kind: str = "consistency"


class CitedEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One event a report cites: its leaf inputs, its stored bytes verbatim, and where it sits."""

    leaf: Leaf
    stored_b64: str | None  # None: the payload is withheld (see `withheld`)
    inclusion: list[str]  # audit path to the checkpoint's tree size
    view: Any = None  # the fact as the report reads it: the stored bytes upcast to today's version
    withheld: str | None = None  # why the payload is not here, e.g. "personal data erased"


class Evidence(msgspec.Struct, kw_only=True, frozen=True):
    """What a report carries so that a reader checks it without our store or network."""

    format: str
    checkpoint: str  # the signed note, verbatim
    log_keys: list[str]  # verifier keys the log has used (the reader trusts only their own copy)
    events: list[CitedEvent]
    consistency: list[ConsistencyProof] = []  # from earlier checkpoints, when the report has them


class Finding(msgspec.Struct, kw_only=True, frozen=True):
    """One result of `proof verify`: ok, withheld or failed, with a stable code when failed."""

    status: str  # "ok" | "withheld" | "failed"
    what: str
    code: str = ""
    position: int | None = None


# Stable codes (adapters/cli/errors.py lists them with their meaning)
E_FORMAT = "TL-E160"
E_SIGNATURE = "TL-E161"
E_LEAF = "TL-E162"
E_INCLUSION = "TL-E163"
E_PAYLOAD = "TL-E164"
E_CONSISTENCY = "TL-E165"
E_KEY = "TL-E166"


def check_evidence(ev: Evidence, trusted: list[sn.Verifier],
                   saved: str | None = None) -> list[Finding]:
    """Every check `proof verify` makes, in order; the report holds when none failed.

    `trusted`: the verifier keys the reader holds (contract annex); when empty the report's own
    keys are used and a finding says so. `saved`: a checkpoint the reader saved earlier (the
    signed note as received); the report must then carry a consistency proof from it, or be it."""
    out: list[Finding] = []
    keys = trusted
    if not keys:
        try:
            keys = [sn.Verifier.parse(k) for k in ev.log_keys]
        except sn.NoteError as e:
            return [Finding(status="failed", code=E_KEY, what=f"the report's log key: {e}")]
        out.append(Finding(status="withheld", code=E_KEY,
                           what="no --log-key given: checked with the keys the report names, which proves "
                                "integrity but not who signed; give the key of your contract annex"))
    try:
        note, good = sn.open_note(ev.checkpoint, keys)
        cp = sn.parse_checkpoint(note.text)
    except sn.NoteError as e:
        return [*out, Finding(status="failed", code=E_SIGNATURE, what=f"checkpoint: {e}")]
    out.append(Finding(status="ok", what=f"checkpoint {cp.origin} size {cp.size} signed by "
                                         + ", ".join(f"{v.name}+{v.key_hash.hex()}" for v in good)))
    for e in ev.events:
        out.append(_check_event(e, cp))
    if saved is not None:
        out.append(_check_saved(saved, cp, ev, keys))
    return out


def _check_event(e: CitedEvent, cp: sn.Checkpoint) -> Finding:
    pos, idx = e.leaf.position, e.leaf.index
    name = f"event at position {pos} (leaf {idx})"
    if e.stored_b64 is not None:
        try:
            stored = base64.b64decode(e.stored_b64, validate=True)
        except (binascii.Error, ValueError):
            return Finding(status="failed", code=E_PAYLOAD, position=pos, what=f"{name}: stored bytes are not base64")
        if hashlib.sha256(stored).hexdigest() != e.leaf.state_sha256:
            return Finding(status="failed", code=E_PAYLOAD, position=pos,
                           what=f"{name}: the stored bytes in the report were altered (their SHA-256 is not the leaf's)")
    try:
        h = hash_leaf(e.leaf)
    except LeafError as err:
        return Finding(status="failed", code=E_LEAF, position=pos, what=f"{name}: {err}")
    try:
        merkle.verify_inclusion(idx, cp.size, h, [unb64(x) for x in e.inclusion], cp.root)
    except merkle.ProofError as err:
        return Finding(status="failed", code=E_INCLUSION, position=pos,
                       what=f"{name}: not in the signed log as the report states it ({err})")
    if e.stored_b64 is None:
        return Finding(status="withheld", position=pos,
                       what=f"{name}: in the log; payload withheld ({e.withheld or 'no reason given'}), "
                            "so its content is not checked")
    if e.view is not None and e.view != _upcast(e.leaf.topic, stored):
        return Finding(status="failed", code=E_PAYLOAD, position=pos,
                       what=f"{name}: the report's reading of the event is not what its stored bytes say")
    return Finding(status="ok", position=pos, what=f"{name}: leaf recomputed from its bytes, in the log")


def _upcast(topic: str, stored: bytes) -> Any:
    from .events import parse_topic
    from .upcasting import upcast_state

    try:
        _, name, version = parse_topic(topic)
        return msgspec.json.decode(upcast_state(name, version, stored))
    except Exception:  # noqa: BLE001 - bytes that are no fact read as no view
        return None


def _check_saved(saved: str, cp: sn.Checkpoint, ev: Evidence, keys: list[sn.Verifier]) -> Finding:
    try:
        note, _ = sn.open_note(saved, keys)
        old = sn.parse_checkpoint(note.text)
    except sn.NoteError as e:
        return Finding(status="failed", code=E_SIGNATURE, what=f"saved checkpoint: {e}")
    if old.origin != cp.origin:
        return Finding(status="failed", code=E_CONSISTENCY,
                       what=f"saved checkpoint is of log {old.origin!r}, the report's of {cp.origin!r}")
    proofs = [p for p in ev.consistency if p.old_size == old.size and p.new_size == cp.size]
    if old.size >= cp.size:
        try:
            if old.size > cp.size:
                return Finding(status="failed", code=E_CONSISTENCY,
                               what=f"the saved checkpoint has {old.size} events, the report's only {cp.size}: "
                                    "the log was rolled back (or restored from a backup)")
            merkle.verify_consistency(old.size, cp.size, [], old.root, cp.root)
        except merkle.ProofError as e:
            return Finding(status="failed", code=E_CONSISTENCY, what=f"saved checkpoint: {e}")
        return Finding(status="ok", what=f"saved checkpoint (size {old.size}) is the report's")
    if not proofs:
        return Finding(status="failed", code=E_CONSISTENCY,
                       what=f"no consistency proof from size {old.size} to {cp.size}: ask for one with "
                            f"`ticketledger prove consistency {old.size} {cp.size}` and pass it with --consistency")
    p = proofs[0]
    try:
        merkle.verify_consistency(old.size, cp.size, [unb64(x) for x in p.hashes], old.root, cp.root)
    except merkle.ProofError as e:
        return Finding(status="failed", code=E_CONSISTENCY,
                       what=f"the log of the report does not extend the saved checkpoint (size {old.size}): {e}; "
                            "its history was rewritten, rolled back or shown differently to someone")
    return Finding(status="ok", what=f"the report's log (size {cp.size}) extends the saved checkpoint (size {old.size})")
