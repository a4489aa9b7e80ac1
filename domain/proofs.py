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
from .errors import N_
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
    """One result of `proof verify`: ok, withheld or failed, with a stable code when failed.
    `what` is in English; `message` is its template (marked for the catalogs) and `params` its
    fields, so that the CLI writes it in the reader's language: what == message.format(**params)."""

    status: str  # "ok" | "withheld" | "failed"
    what: str
    code: str = ""
    position: int | None = None
    message: str = ""
    params: dict[str, str | int] = {}


def finding(status: str, message: str, /, *, code: str = "", position: int | None = None,
            **params: str | int) -> Finding:
    """A Finding from its message template (marked N_) and fields; an event's `position` is one."""
    fields = params if position is None else {**params, "position": position}
    return Finding(status=status, what=message.format(**fields), code=code, position=position,
                   message=message, params=fields)


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
            return [finding("failed", N_("the report's log key: {reason}"), code=E_KEY, reason=str(e))]
        out.append(finding("withheld", N_("no --log-key given: checked with the keys the report names, which "
                                          "proves integrity but not who signed; give the key of your contract annex"),
                           code=E_KEY))
    try:
        note, good = sn.open_note(ev.checkpoint, keys)
        cp = sn.parse_checkpoint(note.text)
    except sn.NoteError as e:
        return [*out, finding("failed", N_("checkpoint: {reason}"), code=E_SIGNATURE, reason=str(e))]
    out.append(finding("ok", N_("checkpoint {origin} size {size} signed by {signers}"), origin=cp.origin,
                       size=cp.size, signers=", ".join(f"{v.name}+{v.key_hash.hex()}" for v in good)))
    for e in ev.events:
        out.append(_check_event(e, cp))
    if saved is not None:
        out.append(_check_saved(saved, cp, ev, keys))
    return out


def _check_event(e: CitedEvent, cp: sn.Checkpoint) -> Finding:
    pos, idx = e.leaf.position, e.leaf.index

    def event(status: str, message: str, code: str = "", **params: str | int) -> Finding:
        return finding(status, message, code=code, position=pos, **params, leaf=idx)

    if e.stored_b64 is not None:
        try:
            stored = base64.b64decode(e.stored_b64, validate=True)
        except (binascii.Error, ValueError):
            return event("failed", N_("event at position {position} (leaf {leaf}): stored bytes are not base64"),
                         E_PAYLOAD)
        if hashlib.sha256(stored).hexdigest() != e.leaf.state_sha256:
            return event("failed", N_("event at position {position} (leaf {leaf}): the stored bytes in the report "
                                      "were altered (their SHA-256 is not the leaf's)"), E_PAYLOAD)
    try:
        h = hash_leaf(e.leaf)
    except LeafError as err:
        return event("failed", N_("event at position {position} (leaf {leaf}): {reason}"), E_LEAF, reason=str(err))
    try:
        merkle.verify_inclusion(idx, cp.size, h, [unb64(x) for x in e.inclusion], cp.root)
    except merkle.ProofError as err:
        return event("failed", N_("event at position {position} (leaf {leaf}): not in the signed log as the report "
                                  "states it ({reason})"), E_INCLUSION, reason=str(err))
    if e.stored_b64 is None:
        return event("withheld", N_("event at position {position} (leaf {leaf}): in the log; payload withheld "
                                    "({reason}), so its content is not checked"),
                     reason=e.withheld or "no reason given")
    if e.view is not None and e.view != _upcast(e.leaf.topic, stored):
        return event("failed", N_("event at position {position} (leaf {leaf}): the report's reading of the event "
                                  "is not what its stored bytes say"), E_PAYLOAD)
    return event("ok", N_("event at position {position} (leaf {leaf}): leaf recomputed from its bytes, in the log"))


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
        return finding("failed", N_("saved checkpoint: {reason}"), code=E_SIGNATURE, reason=str(e))
    if old.origin != cp.origin:
        return finding("failed", N_("saved checkpoint is of log {saved_log}, the report's of {report_log}"),
                       code=E_CONSISTENCY, saved_log=repr(old.origin), report_log=repr(cp.origin))
    sizes = {"old": old.size, "new": cp.size}
    proofs = [p for p in ev.consistency if p.old_size == old.size and p.new_size == cp.size]
    if old.size >= cp.size:
        try:
            if old.size > cp.size:
                return finding("failed", N_("the saved checkpoint has {old} events, the report's only {new}: the log "
                                            "was rolled back (or restored from a backup)"), code=E_CONSISTENCY, **sizes)
            merkle.verify_consistency(old.size, cp.size, [], old.root, cp.root)
        except merkle.ProofError as e:
            return finding("failed", N_("saved checkpoint: {reason}"), code=E_CONSISTENCY, reason=str(e))
        return finding("ok", N_("saved checkpoint (size {old}) is the report's"), old=old.size)
    if not proofs:
        return finding("failed", N_("no consistency proof from size {old} to {new}: ask for one with "
                                    "`ticketledger prove consistency {old} {new}` and pass it with --consistency"),
                       code=E_CONSISTENCY, **sizes)
    p = proofs[0]
    try:
        merkle.verify_consistency(old.size, cp.size, [unb64(x) for x in p.hashes], old.root, cp.root)
    except merkle.ProofError as e:
        return finding("failed", N_("the log of the report does not extend the saved checkpoint (size {old}): "
                                    "{reason}; its history was rewritten, rolled back or shown differently to "
                                    "someone"), code=E_CONSISTENCY, old=old.size, reason=str(e))
    return finding("ok", N_("the report's log (size {new}) extends the saved checkpoint (size {old})"), **sizes)
