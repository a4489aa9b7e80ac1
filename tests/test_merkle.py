"""The Merkle code against the reference implementation's own test vectors (transparency-dev/
merkle, every happy path and every refusal), its roots for sizes 0..8, and a plain recursive
RFC 9162 implementation (tests/rfc9162.py) for proofs of every size pair up to 40."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from domain import merkle
from tests import rfc9162
from tests.conftest import SHARED

VECTORS = SHARED / "data" / "transparency-log-vectors"


def _b64(s: str) -> bytes:
    return base64.b64decode(s)


def _cases(kind: str) -> list[Path]:
    found = sorted((VECTORS / "testdata" / kind).rglob("*.json"))
    assert found, f"no {kind} vectors under {VECTORS}"
    return found


def _id(p: Path) -> str:
    return str(p.relative_to(VECTORS / "testdata"))


@pytest.mark.parametrize("case", _cases("inclusion"), ids=_id)
def test_inclusion_vector_gives_the_reference_answer(case: Path) -> None:
    v = json.loads(case.read_text())
    try:
        merkle.verify_inclusion(v["leafIdx"], v["treeSize"], _b64(v["leafHash"]),
                                [_b64(p) for p in v["proof"] or []], _b64(v["root"]))
        refused = False
    except merkle.ProofError:
        refused = True
    assert refused == v["wantErr"], v["desc"]


@pytest.mark.parametrize("case", _cases("consistency"), ids=_id)
def test_consistency_vector_gives_the_reference_answer(case: Path) -> None:
    v = json.loads(case.read_text())
    try:
        merkle.verify_consistency(v["size1"], v["size2"], [_b64(p) for p in v["proof"] or []],
                                  _b64(v["root1"]), _b64(v["root2"]))
        refused = False
    except merkle.ProofError:
        refused = True
    assert refused == v["wantErr"], v["desc"]


def _tree(leaves: list[bytes]) -> merkle.NodeReader:
    """A node reader over the nodes append() returns, as the store keeps them."""
    frontier: list[bytes] = []
    sizes: list[int] = []
    rows = [merkle.append(frontier, sizes, merkle.leaf_hash(x)) for x in leaves]

    def read(ids):
        return [rows[merkle.stored_at(n)[0]][merkle.stored_at(n)[1]] for n in ids]

    return read


def test_roots_of_the_reference_constants() -> None:
    consts = json.loads((VECTORS / "roots.json").read_text())
    leaves = [bytes.fromhex(x) for x in consts["leaf_inputs_hex"]]
    read = _tree(leaves)
    for size, want in enumerate(consts["root_by_tree_size_hex"]):
        assert merkle.root(size, read).hex() == want
        assert merkle.root_of(merkle.leaf_hash(x) for x in leaves[:size]).hex() == want


def test_proofs_equal_the_recursive_rfc_text_and_verify() -> None:
    leaves = [i.to_bytes(4, "big") for i in range(40)]
    read = _tree(leaves)
    for n in range(1, 41):
        root_n = rfc9162.mth(leaves[:n])
        assert merkle.root(n, read) == root_n
        for m in range(n):
            p = merkle.inclusion_proof(m, n, read)
            assert p == rfc9162.path(m, leaves[:n])
            merkle.verify_inclusion(m, n, merkle.leaf_hash(leaves[m]), p, root_n)
        for m in range(1, n + 1):
            p = merkle.consistency_proof(m, n, read)
            assert p == rfc9162.proof(m, leaves[:n])
            merkle.verify_consistency(m, n, p, rfc9162.mth(leaves[:m]), root_n)


def test_a_proof_for_another_leaf_or_a_rewritten_history_is_refused() -> None:
    leaves = [i.to_bytes(4, "big") for i in range(13)]
    read = _tree(leaves)
    p = merkle.inclusion_proof(5, 13, read)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(6, 13, merkle.leaf_hash(leaves[5]), p, merkle.root(13, read))
    rewritten = _tree(leaves[:3] + [b"edited"] + leaves[4:])
    with pytest.raises(merkle.ProofError, match="old root"):
        merkle.verify_consistency(7, 13, merkle.consistency_proof(7, 13, rewritten),
                                  merkle.root(7, read), merkle.root(13, rewritten))
    with pytest.raises(merkle.ProofError, match="smaller"):
        merkle.verify_consistency(13, 12, [], merkle.root(13, read), merkle.root(12, read))
    with pytest.raises(merkle.ProofError, match="two views"):
        merkle.verify_consistency(13, 13, [], merkle.root(13, read), merkle.root(13, rewritten))
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(13, 13, read)
