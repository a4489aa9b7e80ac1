"""C2SP signed notes with Ed25519 and the tlog-checkpoint they carry, pure (keys are given).

Formats (c2sp.org/signed-note, c2sp.org/tlog-checkpoint; Go: golang.org/x/mod/sumdb/note):
  note        = text (lines, each ending in "\\n") + "\\n" + signature lines
  signature   = "— " + key name + " " + base64(4-byte key hash || Ed25519 signature of text) + "\\n"
  key hash    = SHA-256(key name || "\\n" || 0x01 || public key)[:4]
  verifier key = name + "+" + key hash (8 hex) + "+" + base64(0x01 || public key)
  signer key   = "PRIVATE+KEY+" + name + "+" + key hash + "+" + base64(0x01 || 32-byte seed)
  checkpoint  = origin "\\n" tree size "\\n" base64(root) "\\n" [extension lines]

A verifier ignores signatures by keys it does not know (a witness's cosignature, a rotated key)
and requires at least one by a key it knows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable

import msgspec

from .errors import N_, Explained, Phrase

ALG_ED25519 = 0x01
DASH = "\u2014"  # the em dash that opens a signature line
MAX_SIGNATURES = 100


class NoteError(Explained, ValueError):
    """A malformed note or key, or a note no known key signed."""


class UnverifiedNote(NoteError):
    """A well-formed note without a valid signature by any of the keys given."""


def _key_hash(name: str, alg_and_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + alg_and_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise NoteError(N_("key name {name}: it must be non-empty, without '+', spaces or control characters"), name=repr(name))


def _b64(text: str, what: str, error: type[Exception] = NoteError) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise error(N_("{what} is not standard base64"), what=what) from e


def key_fields(key: str, *, private: bool, alg: int, what: str, alg_text: str,
               error: type[Exception] = NoteError) -> tuple[str, str, bytes]:
    """(name, key hash in hex, key bytes after the algorithm byte) of a C2SP verifier key
    (NAME+KEYHASH+BASE64) or signer key (PRIVATE+KEY+NAME+KEYHASH+BASE64) whose algorithm byte
    is `alg`; `error` names what is wrong in the words of `what` and `alg_text`."""
    if private:
        parts = key.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise error(N_("a {what} reads PRIVATE+KEY+NAME+KEYHASH+BASE64SEED"), what=Phrase(what))
        parts = parts[2:]
    else:
        parts = key.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise error(N_("a {what} reads NAME+KEYHASH+BASE64KEY (8 hex digits of key hash)"), what=Phrase(what))
    name, hexhash, encoded = parts
    raw = _b64(encoded, Phrase(N_("the {what}"), what=Phrase(what)), error)
    if len(raw) != 33 or raw[0] != alg:
        raise error(N_("the {what} is not {alg_text}"), what=Phrase(what), alg_text=Phrase(alg_text))
    return name, hexhash, raw[1:]


class Verifier:
    """A public key that checks notes: parsed from, and printed as, a C2SP verifier key."""

    def __init__(self, name: str, public: bytes) -> None:
        _check_name(name)
        self.name, self.public = name, public
        self.key_hash = _key_hash(name, bytes([ALG_ED25519]) + public)
        # cryptography is imported by the first key, not with the module: `explain` imports this
        # module for a report's proofs and, on a ledger with no checkpoint, never checks a note
        # (the import is ~20 ms of its command)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        self._key = Ed25519PublicKey.from_public_bytes(public)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        name, hexhash, public = key_fields(vkey, private=False, alg=ALG_ED25519, what=N_("verifier key"),
                                           alg_text=N_("an Ed25519 key (0x01 and 32 bytes)"))
        v = cls(name, public)
        if v.key_hash.hex() != hexhash.lower():
            raise NoteError(N_("the verifier key's hash {hexhash} does not match its name and key"), hexhash=hexhash)
        return v

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + self.public).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(signature, message)
            return True
        except InvalidSignature:
            return False


class Signer:
    """A private key that signs notes; printed only as the C2SP signer key, kept in a 0600 file."""

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if len(seed) != 32:
            raise NoteError(N_("an Ed25519 seed has 32 bytes"))
        self.name, self._seed = name, seed
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, public)

    @classmethod
    def generate(cls, name: str, seed: bytes) -> Signer:
        """A new key from 32 random bytes the caller drew (the domain draws none)."""
        return cls(name, seed)

    @classmethod
    def parse(cls, skey: str) -> Signer:
        name, hexhash, seed = key_fields(skey, private=True, alg=ALG_ED25519, what=N_("signer key"),
                                         alg_text=N_("an Ed25519 key (0x01 and a 32-byte seed)"))
        s = cls(name, seed)
        if s.verifier.key_hash.hex() != hexhash.lower():
            raise NoteError(N_("the signer key's hash does not match its name and key"))
        return s

    @property
    def skey(self) -> str:
        seed = base64.b64encode(bytes([ALG_ED25519]) + self._seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_hash.hex()}+{seed}"

    def signature_line(self, text: str) -> str:
        sig = self._key.sign(text.encode())
        return f"{DASH} {self.name} {base64.b64encode(self.verifier.key_hash + sig).decode()}\n"

    def sign(self, text: str) -> str:
        """The signed note of `text` (which must be a valid note text)."""
        _check_text(text)
        return text + "\n" + self.signature_line(text)


class Signature(msgspec.Struct, frozen=True):
    name: str
    key_hash: bytes
    signature: bytes  # after the 4-byte key hash


class Note(msgspec.Struct, frozen=True):
    text: str
    signatures: list[Signature]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError(N_("a note's text ends with a newline"))
    if any((c < " " and c != "\n") or c == "\x7f" for c in text):
        raise NoteError(N_("a note's text holds control characters"))


def parse(note: str | bytes) -> Note:
    """Split a signed note into its text and signature lines (nothing verified yet)."""
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError as e:
            raise NoteError(N_("a note is UTF-8 text")) from e
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError(N_("a signed note is its text, a blank line, then signature lines"))
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(text)
    sigs = []
    for line in block.splitlines():
        if not line.startswith(DASH + " "):
            raise NoteError(N_("signature line {line} does not start with '{dash} '"), line=repr(line[:40]), dash=DASH)
        fields = line[2:].split(" ")
        if len(fields) != 2:
            raise NoteError(N_("a signature line reads '— NAME BASE64'"))
        name, raw = fields[0], _b64(fields[1], Phrase(N_("the signature by {name}"), name=fields[0]))
        if len(raw) < 5:
            raise NoteError(N_("the signature by {name} is too short"), name=name)
        sigs.append(Signature(name, raw[:4], raw[4:]))
    if not sigs:
        raise NoteError(N_("a signed note has at least one signature line"))
    if len(sigs) > MAX_SIGNATURES:
        raise NoteError(N_("more than {n} signatures"), n=MAX_SIGNATURES)
    return Note(text, sigs)


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> tuple[Note, list[Verifier]]:
    """The note and the known keys whose signatures on it hold. Raises UnverifiedNote when none
    does, NoteError when a known key's signature is present but wrong."""
    n = parse(note)
    known = {(v.name, v.key_hash): v for v in verifiers}
    good: list[Verifier] = []
    for s in n.signatures:
        v = known.get((s.name, s.key_hash))
        if v is None:
            continue  # another party's signature (a witness, a key we were not given)
        if not v.verify(n.text.encode(), s.signature):
            raise NoteError(N_("the signature by {signer} does not match the note's text"),
                            signer=f"{s.name}+{s.key_hash.hex()}")
        good.append(v)
    if not good:
        names = ", ".join(f"{s.name}+{s.key_hash.hex()}" for s in n.signatures)
        raise UnverifiedNote(N_("no signature by a known key (the note is signed by {names})"), names=names)
    return n, good


# --- tlog-checkpoint ----------------------------------------------------------------------


class Checkpoint(msgspec.Struct, frozen=True):
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        body = f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
        return body + "".join(e + "\n" for e in self.extensions)


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return Checkpoint(origin, size, root).text


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a note's text holds (C2SP tlog-checkpoint)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError(N_("a checkpoint has an origin, a tree size and a root hash, each on its line"))
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError(N_("the checkpoint's origin line is empty"))
    if not size.isdigit() or (size != "0" and size.startswith("0")) or not size.isascii():
        raise NoteError(N_("the checkpoint's tree size {size} is not a decimal without leading zeros"), size=repr(size))
    raw = _b64(root, "the checkpoint's root hash")
    if len(raw) != 32:
        raise NoteError(N_("the checkpoint's root hash has {n} bytes, not 32"), n=len(raw))
    return Checkpoint(origin, int(size), raw, tuple(lines[3:-1]))
