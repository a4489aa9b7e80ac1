"""C2SP tlog-cosignature/v1 (domain/cosignature.py): a vector built here by hand from the spec's
layout (key-ID byte 0x04; `cosignature/v1\\ntime T\\n` + checkpoint; u64 big-endian T before the
64-byte Ed25519 signature), checked both ways, and refused with any byte changed."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain import cosignature as cs
from domain import signed_note as sn

SEED = bytes(range(32))
NAME = "witness.example/acme"
TIME = 1764979200  # 2025-12-06T00:00:00Z
CHECKPOINT = "ticketledger.example/ledger-1\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
# the vector: derived once from the layout below and frozen here
VKEY = "witness.example/acme+5fe24d27+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
LINE = ("— witness.example/acme X+JNJwAAAABpM3IAFyYUWs4/nuqSXrjVpCbWYmGb3AlLJQzPITTLHsDEeiQd+18tPwSP2fSrCjdMB+e"
        "vGnn9WnYxwr8szdzDWOrKCg==\n")
LOG = sn.Signer("ticketledger.example/ledger-1", bytes([7]) * 32)


def by_hand() -> str:
    """The cosignature line written straight from the C2SP text, without domain/cosignature.py."""
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(NAME.encode() + b"\n" + b"\x04" + public).digest()[:4]
    message = b"cosignature/v1\n" + f"time {TIME}\n".encode() + CHECKPOINT.encode()
    raw = key_id + struct.pack(">Q", TIME) + key.sign(message)
    return f"\u2014 {NAME} {base64.b64encode(raw).decode()}\n"


def test_the_vector_is_the_spec_layout_and_our_code_makes_it() -> None:
    assert by_hand() == LINE
    w = cs.Witness(NAME, SEED)
    assert w.verifier.vkey == VKEY
    assert w.signature_line(CHECKPOINT, TIME) == LINE
    assert cs.Witness.parse(w.skey).verifier.vkey == VKEY
    raw = base64.b64decode(LINE.split(" ")[2])
    assert len(raw) == 4 + 8 + 64 and struct.unpack(">Q", raw[4:12]) == (TIME,)


def test_a_cosigned_note_keeps_the_log_signature_and_gives_the_time() -> None:
    note = LOG.sign(CHECKPOINT)
    cosigned = cs.Witness(NAME, SEED).cosign(note, TIME)
    assert cosigned == note + LINE
    # the log's verifier still accepts it (the witness line is another key's)
    _, good = sn.open_note(cosigned, [LOG.verifier])
    assert [v.name for v in good] == [LOG.name]
    found = cs.cosignatures(cosigned, [cs.WitnessVerifier.parse(VKEY)])
    assert [(c.name, c.time, c.vkey) for c in found] == [(NAME, TIME, VKEY)]
    # no cosignature by a witness not asked about
    other = cs.Witness("witness.example/beta", bytes([9]) * 32)
    assert cs.cosignatures(cosigned, [other.verifier]) == []
    # merging the same line twice keeps one
    assert cs.merge(cosigned, [LINE, LINE]) == cosigned


@pytest.mark.parametrize("where", ["text", "time", "signature", "key"])
def test_any_change_is_refused(where: str) -> None:
    note = LOG.sign(CHECKPOINT) + LINE
    verifier = cs.WitnessVerifier.parse(VKEY)
    if where == "text":  # another tree size under the same cosignature
        bad = note.replace("\n10\n", "\n11\n", 1)
    else:
        raw = bytearray(base64.b64decode(LINE.split(" ")[2]))
        at = {"time": 11, "signature": 40, "key": 0}[where]
        raw[at] ^= 0x01
        bad = note.replace(LINE, f"\u2014 {NAME} {base64.b64encode(bytes(raw)).decode()}\n")
    if where == "key":  # a key hash no longer this witness's: not its cosignature at all
        assert cs.cosignatures(bad, [verifier]) == []
        return
    with pytest.raises(cs.CosignatureError, match="does not match"):
        cs.cosignatures(bad, [verifier])


def test_bad_witness_keys_are_refused() -> None:
    log_key = LOG.verifier.vkey  # a 0x01 (note) key is not a cosignature key
    with pytest.raises(cs.CosignatureError, match="not a cosignature/v1 key"):
        cs.WitnessVerifier.parse(log_key)
    with pytest.raises(cs.CosignatureError, match="does not match its name"):
        cs.WitnessVerifier.parse(VKEY.replace("acme+", "acmf+"))
