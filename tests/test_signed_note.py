"""Signed notes reproduce the Go reference vector byte for byte and refuse it changed; leaf
bytes v1 match their documented example; checkpoints read back as written."""

from __future__ import annotations

import base64
import calendar
import hashlib
from datetime import datetime

import pytest

from domain import leaf as lf
from domain import merkle
from domain import signed_note as sn

SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIGNED = TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def test_the_go_reference_vector_byte_for_byte() -> None:
    signer = sn.Signer.parse(SKEY)
    assert signer.skey == SKEY
    assert signer.verifier.vkey == VKEY
    assert sn.Verifier.parse(VKEY).vkey == VKEY
    assert signer.sign(TEXT) == SIGNED
    note, good = sn.open_note(SIGNED, [sn.Verifier.parse(VKEY)])
    assert note.text == TEXT and [v.vkey for v in good] == [VKEY]


@pytest.mark.parametrize("where", range(len(TEXT)))
def test_one_character_of_text_changed_is_refused(where: int) -> None:
    c = TEXT[where]
    other = "x" if c != "x" else "y"
    if c == "\n":
        other = " "
    changed = TEXT[:where] + other + TEXT[where + 1:] + SIGNED[len(TEXT):]
    with pytest.raises(sn.NoteError):
        sn.open_note(changed, [sn.Verifier.parse(VKEY)])


def test_one_character_of_signature_changed_is_refused() -> None:
    b64 = SIGNED.rsplit(" ", 1)[1].rstrip("\n")
    start = len(SIGNED) - len(b64) - 1
    for i in range(len(b64) - 1):  # the last character is padding
        repl = "A" if b64[i] != "A" else "B"
        changed = SIGNED[: start + i] + repl + SIGNED[start + i + 1:]
        with pytest.raises(sn.NoteError):
            sn.open_note(changed, [sn.Verifier.parse(VKEY)])


def test_an_unknown_key_is_not_enough_and_a_witness_line_is_ignored() -> None:
    other = sn.Signer.generate("other", bytes(range(32)))
    with pytest.raises(sn.UnverifiedNote, match="PeterNeumann"):
        sn.open_note(SIGNED, [other.verifier])
    both = SIGNED + other.signature_line(TEXT)
    _, good = sn.open_note(both, [sn.Verifier.parse(VKEY)])
    assert [v.name for v in good] == ["PeterNeumann"]


def test_checkpoint_text_reads_back() -> None:
    root = hashlib.sha256(b"x").digest()
    cp = sn.Checkpoint("ticketledger.example/ledger-1", 42, root)
    assert cp.text == f"ticketledger.example/ledger-1\n42\n{base64.b64encode(root).decode()}\n"
    assert sn.parse_checkpoint(cp.text) == cp
    for bad in ("o\n042\n" + base64.b64encode(root).decode() + "\n", "o\n1\nAAAA\n", "o\n1\n"):
        with pytest.raises(sn.NoteError):
            sn.parse_checkpoint(bad)


# The example of docs/transparency-log.md (leaf bytes v1)
LEAF = lf.Leaf(index=0, position=1, recorded_at="2026-12-05T08:30:00.123456Z",
               originator_id="0f" * 16, originator_version=1, topic="ticket.TicketOpened.v1",
               state_sha256=hashlib.sha256(b'{"id":"T-1"}').hexdigest())
LEAF_HEX = ("01" "0000000000000000" "0000000000000001" "000661decc65d440" + "0f" * 16
            + "0000000000000001" "0016" + b"ticket.TicketOpened.v1".hex()
            + "bc891ac6e62c711084f3aaa4c49e5203dc54129063ea866e146bfd8843bb37cd")
LEAF_HASH = "a8ee0445d4252b080d914cda36019c23cf275d0499080cab57364c05d70238f9"


def test_leaf_bytes_v1_example() -> None:
    us = calendar.timegm(datetime(2026, 12, 5, 8, 30).timetuple()) * 1_000_000 + 123456
    assert LEAF_HEX[34:50] == us.to_bytes(8, "big").hex()
    assert lf.encode(LEAF).hex() == LEAF_HEX
    assert lf.leaf_hash(LEAF).hex() == LEAF_HASH == merkle.leaf_hash(bytes.fromhex(LEAF_HEX)).hex()
    assert lf.decode(bytes.fromhex(LEAF_HEX)) == LEAF
    with pytest.raises(lf.LeafError):
        lf.encode(msgspec_replace(LEAF, recorded_at="2026-12-05T08:30:00"))


def msgspec_replace(leaf: lf.Leaf, **kw: object) -> lf.Leaf:
    import msgspec

    return msgspec.structs.replace(leaf, **kw)
