"""A customer's witness of the transparency log (issue 16): `ticketledger witness`.

It follows the log's signed checkpoints (CHECKPOINTS, or the customer's own LEDGER_<customer>
stream, which sources them), and for each one checks, before it cosigns:
  1. the log's signature, with the verifier key the customer holds (`--log-key`, the contract
     annex), never one the stream offers;
  2. that it extends the checkpoint it accepted last: a larger tree needs a consistency proof
     (asked of the `ticketledger-proofs` service on `proof.<customer>.consistency`) that
     verifies against the two *signed* roots; the same size needs the same root.
Only then does it add its cosignature (C2SP tlog-cosignature/v1, domain/cosignature.py) with
its own key and publish the cosigned note on `cosignature.<customer>` (COSIGNATURES).

Anything else is an alarm (TL-E181): a checkpoint not signed by the log key, a smaller tree
(a rollback, or a restore from backup nobody announced), another root at the same size (a split
view: two heads at one size), or a consistency proof that fails or is refused (a rewritten
history). The witness then stops with a non-zero exit and keeps the evidence in its state
folder: `alarm-<time>/accepted.note` and `offered.note` (both signed notes exactly as
received), `proof.json` (the proof or the service's answer) and `reason.txt`.

State folder (`--state DIR`):
  witness.key     the witness's signer key (0600), made on the first run; its verifier key is
                  printed then, and by every run (give it to whoever checks cosignatures)
  accepted.note   the last checkpoint accepted, verbatim
  cosigned.note   the same with this witness's cosignature
  cursor.json     the stream and sequence read up to
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from domain import cosignature as cs
from domain import merkle
from domain import signed_note as sn
from domain.errors import N_, Explained, Phrase
from domain.proofs import ConsistencyProof, reason, unb64

from .stream import ConnectOptions, connect, customer_stream_name
from .tlog_stream import (
    CHECKPOINT_SUBJECTS,
    CHECKPOINTS,
    COSIGNATURES,
    H_WITNESS_KEY,
    cosignature_subject,
)

ALARM = "TL-E181"
KEY_FILE = "witness.key"


class Alarm(Explained):
    """The log showed a checkpoint that is not an extension of the one accepted: evidence kept."""

    code = ALARM

    def __init__(self, reason: Phrase, evidence: Path) -> None:
        super().__init__(N_("ALARM: {reason}; evidence kept in {evidence}"), reason=reason, evidence=evidence)
        self.reason, self.evidence = reason, evidence


class NotTheLogKey(Explained):
    """The first checkpoint seen is signed by another key than the one given: most likely a
    mistyped or wrong --log-key, not an attack on an accepted head, so no alarm; nothing cosigned."""

    code = "TL-E161"


class ProofUnavailable(Explained):
    """The proof service did not answer (NATS down, relay not following): not an alarm, try again."""


class _Cursor(msgspec.Struct):
    stream: str
    seq: int = 0


@dataclass
class WitnessState:
    folder: Path
    witness: cs.Witness
    made_now: bool

    @classmethod
    def open(cls, folder: Path, name: str) -> WitnessState:
        folder.mkdir(parents=True, exist_ok=True)
        key = folder / KEY_FILE
        if key.exists():
            return cls(folder, cs.Witness.parse(key.read_text()), False)
        w = cs.Witness(name, os.urandom(32))
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(w.skey + "\n")
        return cls(folder, w, True)

    @property
    def accepted(self) -> str | None:
        p = self.folder / "accepted.note"
        return p.read_text() if p.exists() else None

    def accept(self, note: str, cosigned: str) -> None:
        _write(self.folder / "accepted.note", note)
        _write(self.folder / "cosigned.note", cosigned)

    def cursor(self, stream: str) -> int:
        p = self.folder / "cursor.json"
        if not p.exists():
            return 0
        c = msgspec.json.decode(p.read_bytes(), type=_Cursor)
        return c.seq if c.stream == stream else 0

    def advance(self, stream: str, seq: int) -> None:
        _write(self.folder / "cursor.json", msgspec.json.encode(_Cursor(stream, seq)).decode())

    def alarm(self, reason: Phrase, accepted: str | None, offered: str, proof: bytes | None, now: datetime) -> Alarm:
        where = self.folder / f"alarm-{now.strftime('%Y%m%dT%H%M%S.%fZ')}"
        where.mkdir(parents=True, exist_ok=True)
        if accepted is not None:
            _write(where / "accepted.note", accepted)
        _write(where / "offered.note", offered)
        if proof is not None:
            (where / "proof.json").write_bytes(proof)
        _write(where / "reason.txt", reason + "\n")
        return Alarm(reason, where)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def default_name(customer: str | None) -> str:
    host = re.sub(r"[^A-Za-z0-9._-]", "-", os.uname().nodename) or "host"
    return f"witness.{customer or 'any'}.{host}"


async def judge(state: WitnessState, log: sn.Verifier, note: str, ask_consistency: Any,
                now: datetime) -> str | None:
    """Check one offered checkpoint against the accepted one; the cosigned note when accepted
    now, None when it is the one already accepted; raises Alarm."""
    accepted = state.accepted
    try:
        n, _ = sn.open_note(note, [log])
        cp = sn.parse_checkpoint(n.text)
    except sn.UnverifiedNote as e:
        if accepted is None:
            raise NotTheLogKey(N_("the first checkpoint on the stream is not signed by the log key {key} ({error}); "
                                  "check --log-key against the log's verifier key in the contract annex; nothing "
                                  "was cosigned"), key=log.vkey, error=reason(e)) from None
        raise state.alarm(Phrase(N_("a checkpoint on the stream is not signed by the log key {key} ({error})"),
                                 key=log.vkey, error=reason(e)), accepted, note, None, now) from None
    except sn.NoteError as e:
        raise state.alarm(Phrase(N_("a checkpoint on the stream is not signed by the log key {key} ({error})"),
                                 key=log.vkey, error=reason(e)), accepted, note, None, now) from None
    if accepted is not None:
        old = sn.parse_checkpoint(sn.parse(accepted).text)
        if old.origin != cp.origin:
            raise state.alarm(Phrase(N_("a checkpoint of log {origin!r} after one of {old!r}"), origin=cp.origin,
                                     old=old.origin), accepted, note, None, now)
        if cp.size < old.size:
            raise state.alarm(Phrase(N_("rollback: a checkpoint of {size} events after the accepted one of {old} "
                                        "(events were removed, or the log was restored from a backup without an "
                                        "announcement)"), size=cp.size, old=old.size), accepted, note, None, now)
        if cp.size == old.size:
            if cp.root != old.root:
                raise state.alarm(Phrase(N_("split view: two different heads at tree size {size} (roots {old} and "
                                            "{new}), both signed by the log"), size=cp.size, old=_b64(old.root),
                                         new=_b64(cp.root)), accepted, note, None, now)
            return None
        raw = await ask_consistency(old.size, cp.size)
        try:
            proof = msgspec.json.decode(raw, type=ConsistencyProof)
            merkle.verify_consistency(old.size, cp.size, [unb64(h) for h in proof.hashes], old.root, cp.root)
        except (msgspec.DecodeError, msgspec.ValidationError, merkle.ProofError) as e:
            raise state.alarm(Phrase(N_("the checkpoint of {size} events does not extend the accepted one of {old}: "
                                        "the consistency proof fails ({error}); the history was rewritten"),
                                     size=cp.size, old=old.size, error=reason(e)), accepted, note, raw, now) from None
    cosigned = note + state.witness.signature_line(n.text, int(now.timestamp()))
    return cosigned


def _b64(h: bytes) -> str:
    import base64

    return base64.b64encode(h).decode()


async def run_witness(state: WitnessState, log: sn.Verifier, url: str, options: ConnectOptions | None, *,
                      customer: str | None, once: bool, stop: asyncio.Event | None = None,
                      say: Callable[[Phrase], None] = print, proof_timeout: float = 10.0) -> int:
    """Follow the checkpoints; return how many were cosigned. Raises Alarm, ProofUnavailable."""
    from nats.js import api as jsapi

    nc = await connect(url, options, max_reconnect_attempts=0 if once else -1)
    cosigned = 0
    try:
        js = nc.jetstream(timeout=10)
        stream = customer_stream_name(customer) if customer else CHECKPOINTS
        subject = f"proof.{customer or '_'}.consistency"

        async def ask(old: int, new: int) -> bytes:
            try:
                msg = await nc.request(subject, msgspec.json.encode({"old": old, "new": new}), timeout=proof_timeout)
            except Exception as e:  # noqa: BLE001 - no responder, timeout: the service is not there
                raise ProofUnavailable(N_("no answer on {subject} ({kind}); is `ticketledger relay --follow` running "
                                          "(it hosts the proof service)?"), subject=subject, kind=type(e).__name__) from None
            code = (msg.headers or {}).get("Nats-Service-Error-Code")
            if code:  # the service refused: for a checkpoint the log signed, that is a failed proof
                return msgspec.json.encode({"refused": code, "error": (msg.headers or {}).get("Nats-Service-Error", "")})
            return msg.data

        start = state.cursor(stream) + 1
        info = await js.stream_info(stream)
        if once and start > info.state.last_seq:
            return 0
        sub = await js.subscribe(CHECKPOINT_SUBJECTS, stream=stream, ordered_consumer=True,
                                 config=jsapi.ConsumerConfig(deliver_policy=jsapi.DeliverPolicy.BY_START_SEQUENCE,
                                                             opt_start_seq=start))
        try:
            while stop is None or not stop.is_set():
                try:
                    msg = await sub.next_msg(timeout=5.0 if once else 1.0)
                except Exception:  # noqa: BLE001 - nothing new yet
                    if once:
                        return cosigned
                    continue
                seq = msg.metadata.sequence.stream
                note = msg.data.decode("utf-8", "replace")
                done = await judge(state, log, note, ask, datetime.now(UTC))
                if done is not None:
                    await js.publish(cosignature_subject(customer), done.encode(), stream=COSIGNATURES,
                                     headers={H_WITNESS_KEY: state.witness.verifier.vkey})
                    first = state.accepted is None  # nothing accepted before: nothing it could extend
                    state.accept(note, done)
                    cosigned += 1
                    size = sn.parse_checkpoint(sn.parse(note).text).size
                    say(Phrase(N_("witness: first checkpoint, of tree size {size}, accepted; cosigned") if first else
                               N_("witness: checkpoint of tree size {size} extends the one accepted before; cosigned"),
                               size=size))
                state.advance(stream, seq)
                if once and msg.metadata.num_pending == 0:
                    return cosigned
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
    return cosigned
