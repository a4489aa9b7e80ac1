"""A second, independent implementation agrees (issue 16, settled after review): pymerkle 7 in
its RFC 9162 mode (0x00/0x01 prefixes, SHA-256) computes the same roots as our stored tree for
every size 1..N of a ledger of more than 10,000 real events, and the same inclusion paths
(pymerkle indexes leaves from 1 and starts its paths with the leaf hash)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.ledger import Ledger
from adapters.ledger_tree import LedgerTree
from adapters.store import StoreConfig, iter_log
from domain import leaf as lf
from domain import merkle
from domain.proofs import unb64

pymerkle = pytest.importorskip("pymerkle", reason="pymerkle is a test dependency: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def big_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("interop") / "data"
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "--json", "demo",
                           "--tickets", "900", "--no-stream"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return data


def test_pymerkle_agrees_with_our_roots_and_inclusion_paths(big_ledger: Path) -> None:
    app = Ledger.open(StoreConfig(big_ledger))
    try:
        tree = LedgerTree(app)
        leaves = [lf.encode(lf.Leaf(index=i, position=r.position, recorded_at=r.recorded_at,
                                    originator_id=r.originator_id, originator_version=r.originator_version,
                                    topic=r.topic, state_sha256=lf.state_sha256(r.state)))
                  for i, r in enumerate(iter_log(app))]
        n = len(leaves)
        assert n >= 10_000 and tree.size == n
        other = pymerkle.InmemoryTree(algorithm="sha256")  # security (prefixes) on: RFC 9162 hashing
        for leaf in leaves:
            other.append_entry(leaf)
        with tree._cursor() as cur:
            read = tree._reader(cur)
            for size in range(1, n + 1):
                assert merkle.root(size, read) == other.get_root(size), size
        for size in (1, 2, 3, 1000, 4096, 4097, n):
            for index in sorted({0, size // 3, size // 2, size - 1}):
                ours = tree.inclusion_proof(index, size)
                theirs = other.prove_inclusion(index + 1, size)
                assert theirs.path[0] == merkle.leaf_hash(leaves[index])
                assert [unb64(h) for h in ours.hashes] == list(theirs.path[1:]), (index, size)
    finally:
        app.close()
