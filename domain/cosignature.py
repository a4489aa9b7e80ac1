"""Witness cosignatures: C2SP tlog-cosignature/v1 with Ed25519, pure (keys and times are given).

A witness (a customer's `ticketledger witness`) that checked a checkpoint extends the one it
accepted before adds a signature line of its own key to the log's signed note:

  key hash        = SHA-256(key name || "\\n" || 0x04 || 32-byte public key)[:4]
  signed message  = "cosignature/v1\\n" + "time " + T + "\\n" + the checkpoint (the note's text)
  signature line  = "— " + key name + " " + base64(key hash || u64 big-endian T || Ed25519 signature)
  verifier key    = key name + "+" + key hash (8 hex) + "+" + base64(0x04 || public key)

T is the witness's time in seconds since the epoch: the only evidence of *when* a tree head
existed that does not come from the log's operator. The log's own verifier ignores these lines
(another key, another algorithm byte), and a cosignature verifier ignores the log's.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import signed_note as sn
from .errors import N_, Explained

ALG_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1\n"


class CosignatureError(Explained, ValueError):
    """A malformed witness key or cosignature, or one that does not hold."""


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public).digest()[:4]


def signed_message(checkpoint: str, time: int) -> bytes:
    """What a witness signs: the cosignature/v1 header, its time, then the checkpoint text."""
    if not 0 <= time < 2**64:
        raise CosignatureError(N_("a cosignature time is a u64 number of seconds, not {time}"), time=time)
    return f"{HEADER}time {time}\n{checkpoint}".encode()


class Cosignature(msgspec.Struct, frozen=True, kw_only=True):
    """One cosignature found on a note: whose, and when the witness says it signed."""

    name: str
    key_hash: str  # 8 hex digits
    time: int  # seconds since 1970-01-01T00:00:00Z
    vkey: str  # the witness's verifier key


class WitnessVerifier:
    """A witness's public key: parsed from, and printed as, its verifier key (0x04 form)."""

    def __init__(self, name: str, public: bytes) -> None:
        if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
            raise CosignatureError(N_("witness name {name}: non-empty, without '+', spaces or control characters"),
                                   name=repr(name))
        if len(public) != 32:
            raise CosignatureError(N_("an Ed25519 public key has 32 bytes"))
        self.name, self.public = name, public
        self.key_hash = key_hash(name, public)
        self._key = Ed25519PublicKey.from_public_bytes(public)

    @classmethod
    def parse(cls, vkey: str) -> WitnessVerifier:
        name, hexhash, public = sn.key_fields(vkey, private=False, alg=ALG_COSIGNATURE_V1, what=N_("witness key"),
                                              alg_text=N_("a cosignature/v1 key (0x04 and 32 bytes of Ed25519)"),
                                              error=CosignatureError)
        v = cls(name, public)
        if v.key_hash.hex() != hexhash.lower():
            raise CosignatureError(N_("the witness key's hash {hexhash} does not match its name and key"), hexhash=hexhash)
        return v

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public).decode()}"

    def check(self, checkpoint: str, signature: sn.Signature) -> int:
        """The time of this witness's cosignature on `checkpoint`; CosignatureError if it does not hold."""
        if signature.name != self.name or signature.key_hash != self.key_hash:
            raise CosignatureError(N_("the signature is not by witness {witness}"), witness=f"{self.name}+{self.key_hash.hex()}")
        if len(signature.signature) != 8 + 64:
            raise CosignatureError(N_("the cosignature by {name} is not a u64 time and a 64-byte signature"), name=self.name)
        (time,) = struct.unpack(">Q", signature.signature[:8])
        try:
            self._key.verify(signature.signature[8:], signed_message(checkpoint, time))
        except InvalidSignature:
            raise CosignatureError(N_("the cosignature by {witness} does not match the checkpoint and its time"),
                                   witness=f"{self.name}+{self.key_hash.hex()}") from None
        return time


class Witness:
    """A witness's private key (an Ed25519 seed). Printed only as its signer key, kept 0600."""

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise CosignatureError(N_("an Ed25519 seed has 32 bytes"))
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.verifier = WitnessVerifier(name, self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        self.name = name

    @classmethod
    def parse(cls, skey: str) -> Witness:
        name, hexhash, seed = sn.key_fields(skey, private=True, alg=ALG_COSIGNATURE_V1, what=N_("witness signer key"),
                                            alg_text=N_("a cosignature/v1 key (0x04 and a 32-byte seed)"),
                                            error=CosignatureError)
        w = cls(name, seed)
        if w.verifier.key_hash.hex() != hexhash.lower():
            raise CosignatureError(N_("the witness signer key's hash does not match its name and key"))
        return w

    @property
    def skey(self) -> str:
        seed = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self._seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_hash.hex()}+{seed}"

    def signature_line(self, checkpoint: str, time: int) -> str:
        """The cosignature line of `checkpoint` (a note's text) at `time` (seconds)."""
        sig = self._key.sign(signed_message(checkpoint, time))
        raw = self.verifier.key_hash + struct.pack(">Q", time) + sig
        return f"{sn.DASH} {self.name} {base64.b64encode(raw).decode()}\n"

    def cosign(self, note: str, time: int) -> str:
        """The signed note with this witness's cosignature added (other signatures kept)."""
        n = sn.parse(note)
        return note + self.signature_line(n.text, time)


def cosignatures(note: str | bytes, witnesses: Iterable[WitnessVerifier]) -> list[Cosignature]:
    """The cosignatures on `note` by the witnesses given, each checked, with its time. A line by a
    given witness that does not hold raises CosignatureError; other lines are ignored."""
    n = sn.parse(note)
    known = {(w.name, w.key_hash): w for w in witnesses}
    out = []
    for s in n.signatures:
        w = known.get((s.name, s.key_hash))
        if w is not None:
            out.append(Cosignature(name=w.name, key_hash=w.key_hash.hex(), time=w.check(n.text, s), vkey=w.vkey))
    return out


def merge(note: str, lines: Iterable[str]) -> str:
    """`note` with the signature lines of `lines` it does not hold yet appended (as received)."""
    have = set(note.splitlines())
    extra = [line if line.endswith("\n") else line + "\n" for line in lines if line.rstrip("\n") not in have]
    merged = note + "".join(dict.fromkeys(extra))
    sn.parse(merged)  # still a signed note
    return merged


E_WITNESS = "TL-E182"


def witness_findings(note: str, witnesses: Iterable[WitnessVerifier]) -> list[Any]:
    """`proof verify --witness-key`: one finding per required witness, ok with the time it
    cosigned the report's checkpoint, failed (TL-E182) when its cosignature is missing or wrong."""
    from datetime import UTC, datetime

    from .proofs import finding, reason

    out = []
    for w in witnesses:
        try:
            found = cosignatures(note, [w])
        except CosignatureError as e:
            out.append(finding("failed", N_("witness {witness}: {reason}"), code=E_WITNESS, witness=w.vkey, reason=reason(e)))
            continue
        except sn.NoteError as e:
            out.append(finding("failed", N_("witness {witness}: {reason}"), code=E_WITNESS, witness=w.vkey, reason=reason(e)))
            continue
        who = f"{w.name}+{w.key_hash.hex()}"
        if not found:
            out.append(finding("failed", N_("witness {witness} did not cosign the report's checkpoint"),
                               code=E_WITNESS, witness=who))
            continue
        when = datetime.fromtimestamp(found[0].time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(finding("ok", N_("checkpoint cosigned by witness {witness} at {when}"), witness=who, when=when))
    return out
