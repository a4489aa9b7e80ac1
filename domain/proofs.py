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
from .errors import N_, Explained, Phrase
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
    ticket: str | None = None  # the ticket the report is about (its events, its asset's, its contract's)


class Finding(msgspec.Struct, kw_only=True, frozen=True):
    """One result of `proof verify`: ok, note (something not checked, said), withheld or failed, with
    a stable code when failed.
    `what` is in English; `message` is its template (marked for the catalogs) and `params` its
    fields, so that the CLI writes it in the reader's language: what == message.format(**params)."""

    status: str  # "ok" | "note" | "withheld" | "failed"
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
E_UNTRUSTED = "TL-E170"
E_COVERAGE = "TL-E171"
E_SUBJECT = "TL-E172"
E_WITHHELD = "TL-E173"


def reason(err: Exception) -> str:
    """An error's text as a finding's field: a Phrase (said in the reader's language) when the
    error is Explained, else its text."""
    return Phrase(err.message, **err.params) if isinstance(err, Explained) else str(err)


def short(hex_digest: str) -> str:
    return hex_digest[:12] + "…"


def check_evidence(ev: Evidence, trusted: list[sn.Verifier], saved: str | None = None, *,
                   shown: list[int] | None = None, subject: str | None = None,
                   witnesses: list[tuple[str, bytes]] | None = None) -> list[Finding]:
    """Every check `proof verify` makes, in order; the report holds when none failed.

    `trusted`: the verifier keys the reader holds (contract annex). When empty the report's own
    keys are used to check that the proof holds together, and that fails (TL-E170) unless `saved`
    anchors it: anyone can sign a note with a key of their own. `saved`: a checkpoint the reader
    saved earlier (the signed note as received); the report must then carry a consistency proof
    from it, or be it. `shown`: the log positions the report displays (its annex); the proof must
    carry exactly those. `subject`: the ticket the report names; the proof's events must be that
    ticket's, its asset's and its contract's. `witnesses`: (name, key hash) of the witnesses whose
    cosignatures the caller checks; any other signature on the checkpoint is said to be unchecked."""
    out: list[Finding] = []
    keys = trusted
    if not keys:
        try:
            keys = [sn.Verifier.parse(k) for k in ev.log_keys]
        except sn.NoteError as e:
            return [finding("failed", N_("the report's log key: {reason}"), code=E_KEY, reason=reason(e))]
        if saved is None:
            out.append(finding("failed", N_("no --log-key given: the proof is consistent in itself with the key "
                                            "the report names, but it is not checked against the log's key, so anyone "
                                            "could have made and signed it; give the log's verifier key from your "
                                            "contract annex with --log-key"), code=E_UNTRUSTED))
        else:
            out.append(finding("note", N_("no --log-key given: checked with the keys the report names, anchored by "
                                          "your saved checkpoint; give the key of your contract annex with --log-key "
                                          "to check who signed")))
    try:
        note, good = sn.open_note(ev.checkpoint, keys)
        cp = sn.parse_checkpoint(note.text)
    except sn.NoteError as e:
        return [*out, finding("failed", N_("checkpoint: {reason}"), code=E_SIGNATURE, reason=reason(e))]
    out.append(finding("ok", N_("checkpoint {origin} size {size} signed by {signers}"), origin=cp.origin,
                       size=cp.size, signers=", ".join(f"{v.name}+{v.key_hash.hex()}" for v in good)))
    if not ev.events:
        out.append(finding("failed", N_("the proof cites no event, so it proves nothing about the report; a report "
                                        "from `explain` cites every event of its ticket"), code=E_COVERAGE))
    for e in ev.events:
        out.append(_check_event(e, cp))
    out += _check_coverage(ev, shown)
    out += _check_subject(ev, subject)
    if saved is not None:
        out.append(_check_saved(saved, cp, ev, keys))
    out += _unchecked_cosignatures(note, good, witnesses or [])
    return out


def _check_coverage(ev: Evidence, shown: list[int] | None) -> list[Finding]:
    """The proof carries each event the report shows, once, and no other."""
    out = []
    proved = [e.leaf.position for e in ev.events]
    for p in sorted({p for p in proved if proved.count(p) > 1}):
        out.append(finding("failed", N_("position {position}: the proof cites this event twice"),
                           code=E_COVERAGE, position=p))
    if shown is None:
        return out
    for p in sorted(set(shown) - set(proved)):
        out.append(finding("failed", N_("position {position}: the report shows this event but its proof does not "
                                        "carry it (cut from the proof, or the proof of another report)"),
                           code=E_COVERAGE, position=p))
    for p in sorted(set(proved) - set(shown)):
        out.append(finding("failed", N_("position {position}: the proof carries an event the report does not show"),
                           code=E_COVERAGE, position=p))
    return out


def _check_subject(ev: Evidence, subject: str | None) -> list[Finding]:
    """The proof is about the report's ticket: every event is the ticket's, its asset's or its
    contract's (those its opening names), as `explain` cites them."""
    from .base import aggregate_uuid

    if ev.ticket and subject and ev.ticket != subject:
        return [finding("failed", N_("the proof is about ticket {proof_ticket}, the report about ticket "
                                     "{report_ticket}"), code=E_SUBJECT, proof_ticket=ev.ticket, report_ticket=subject)]
    ticket = ev.ticket or subject
    if not ticket:
        return [finding("failed", N_("neither the proof nor the report names its ticket, so the events cannot be "
                                     "told to be the report's"), code=E_SUBJECT)] if ev.events else []
    toid = aggregate_uuid("ticket", ticket).hex
    allowed = {toid}
    opening = next((e for e in ev.events if e.leaf.originator_id == toid and e.leaf.originator_version == 1), None)
    state: Any = None
    if opening is not None and opening.stored_b64 is not None:
        try:
            stored = base64.b64decode(opening.stored_b64, validate=True)
            if hashlib.sha256(stored).hexdigest() == opening.leaf.state_sha256:
                state = msgspec.json.decode(stored)
        except (binascii.Error, ValueError, msgspec.DecodeError):
            state = None
    out = []
    if not isinstance(state, dict):
        if ev.events:
            out.append(finding("failed", N_("the proof does not carry the opening of ticket {ticket}, the report's "
                                            "ticket"), code=E_SUBJECT, ticket=ticket))
    else:
        for kind, field in (("asset", "asset_id"), ("contract", "contract_id")):
            if isinstance(state.get(field), str) and state[field]:
                allowed.add(aggregate_uuid(kind, state[field]).hex)
    for e in ev.events:  # without the opening, only another ticket's events are told for sure
        if e.leaf.originator_id not in allowed and (isinstance(state, dict) or e.leaf.topic.startswith("ticket.")):
            out.append(finding("failed", N_("event at position {position} ({topic}) is not of ticket {ticket}, its "
                                            "asset or its contract: the proof was made for another report"),
                               code=E_SUBJECT, position=e.leaf.position, topic=e.leaf.topic, ticket=ticket))
    return out


UNCHECKED_SIGNATURES = N_("{n} other signature(s) on the checkpoint, not checked ({signers}): a witness's "
                          "cosignature is checked with --witness-key KEY, the witness's verifier key")


def _unchecked_cosignatures(note: sn.Note, good: list[sn.Verifier], witnesses: list[tuple[str, bytes]]) -> list[Finding]:
    """Signatures on the checkpoint by keys not checked (a witness's cosignature is, with
    --witness-key): said, so that a page's "cosigned by" is not read as checked."""
    known = {(v.name, v.key_hash) for v in good} | set(witnesses)
    others = [s for s in note.signatures if (s.name, s.key_hash) not in known]
    if not others:
        return []
    return [finding("note", UNCHECKED_SIGNATURES, n=len(others), signers=", ".join(f"{s.name}+{s.key_hash.hex()}" for s in others))]


def _check_event(e: CitedEvent, cp: sn.Checkpoint) -> Finding:
    pos, idx = e.leaf.position, e.leaf.index

    def event(status: str, message: str, code: str = "", **params: str | int) -> Finding:
        return finding(status, message, code=code, position=pos, **params, leaf=idx)

    if e.stored_b64 is None:
        # `explain` always carries an event's bytes (personal data is outside the log): a report
        # without them cannot show what the event said
        return event("failed", N_("event at position {position} (leaf {leaf}): its stored bytes are withheld "
                                  "({reason}); a report from `explain` always carries them, so what the event "
                                  "says is not proved: ask for the report again"), E_WITHHELD,
                     reason=e.withheld or "no reason given")
    try:
        stored = base64.b64decode(e.stored_b64, validate=True)
    except (binascii.Error, ValueError):
        return event("failed", N_("event at position {position} (leaf {leaf}): stored bytes are not base64"),
                     E_PAYLOAD)
    found = hashlib.sha256(stored).hexdigest()
    if found != e.leaf.state_sha256:
        return event("failed", N_("event at position {position} (leaf {leaf}): the stored bytes in the report were "
                                  "altered: their SHA-256 is {found}, the leaf's is {expected}"), E_PAYLOAD,
                     found=short(found), expected=short(e.leaf.state_sha256))
    try:
        h = hash_leaf(e.leaf)
    except LeafError as err:
        return event("failed", N_("event at position {position} (leaf {leaf}): {reason}"), E_LEAF, reason=reason(err))
    try:
        proof = [unb64(x) for x in e.inclusion]
        computed = merkle.root_from_inclusion(idx, cp.size, h, proof)
    except merkle.ProofError as err:
        return event("failed", N_("event at position {position} (leaf {leaf}): not in the signed log as the report "
                                  "states it ({reason})"), E_INCLUSION, reason=reason(err))
    if computed != cp.root:
        return event("failed", N_("event at position {position} (leaf {leaf}): not in the signed log as the report "
                                  "states it: its leaf hash {leaf_hash} and inclusion proof lead to root {computed}, "
                                  "the checkpoint's root is {root}"), E_INCLUSION,
                     leaf_hash=short(h.hex()), computed=short(computed.hex()), root=short(cp.root.hex()))
    if e.view is None or e.view != _upcast(e.leaf.topic, stored):
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
        return finding("failed", N_("saved checkpoint: {reason}"), code=E_SIGNATURE, reason=reason(e))
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
            return finding("failed", N_("saved checkpoint: {reason}"), code=E_CONSISTENCY, reason=reason(e))
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
                                    "someone"), code=E_CONSISTENCY, old=old.size, reason=reason(e))
    return finding("ok", N_("the report's log (size {new}) extends the saved checkpoint (size {old})"), **sizes)
