"""The Merkle tree over the log, RFC 6962 §2.1 / RFC 9162 §2.1, pure.

leaf hash = SHA-256(0x00 || leaf bytes), interior node = SHA-256(0x01 || left || right), the
empty tree's root = SHA-256(""). A tree of n leaves splits at the largest power of two below n.

Stored nodes are the roots of *complete* subtrees: node (level, index) covers the leaves
[index * 2^level, (index + 1) * 2^level). Every hash a root or a proof needs is a fold of such
nodes, so the functions here name the nodes they need and ask a `NodeReader` for all of them at
once: an adapter answers with one read of O(log n) rows.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 and refuses every malformed case of the
reference implementation's test vectors (transparency-dev/merkle): hashes of the wrong length,
proofs one hash short or long, sizes out of range, a consistency proof from the empty tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from .errors import N_, Explained, Phrase

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]  # (level, index) of a complete subtree
NodeReader = Callable[[Sequence[NodeId]], Sequence[bytes]]


class ProofError(Explained, ValueError):
    """A proof that does not hold, or a request for one that cannot exist."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# --- appending: the nodes one new leaf completes ------------------------------------------


def append(frontier: list[bytes], sizes: list[int], leaf: bytes) -> list[bytes]:
    """Append a leaf hash to the right edge of a tree and return the nodes it completes.

    `frontier` holds the roots of the tree's complete subtrees from left (largest) to right,
    `sizes` their leaf counts; both are updated in place. The result is the leaf hash followed
    by the new node of each level it completes: (level 0, 1, ..., t) for a leaf whose 0-based
    index ends in t one bits. Storing it with the leaf is all the tree ever writes.
    """
    made = [leaf]
    cur, size = leaf, 1
    while sizes and sizes[-1] == size:
        cur = node_hash(frontier.pop(), cur)
        sizes.pop()
        size *= 2
        made.append(cur)
    frontier.append(cur)
    sizes.append(size)
    return made


def frontier_ids(size: int) -> list[NodeId]:
    """The complete subtrees of a tree of `size` leaves, largest (leftmost) first."""
    out, begin = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, begin >> level))
            begin += 1 << level
    return out


def stored_at(node: NodeId) -> tuple[int, int]:
    """Where append() put a node: (index of the leaf that completed it, its slot in that list)."""
    level, index = node
    return ((index + 1) << level) - 1, level


# --- hashes of ranges from stored nodes ---------------------------------------------------


def _range_ids(begin: int, end: int) -> list[NodeId]:
    """The complete subtrees whose fold (from the right) is the hash of leaves [begin, end).

    Valid for the ranges RFC 6962's recursion produces: begin is a multiple of a power of two at
    least end - begin, so the greedy aligned decomposition is exactly that recursion's split."""
    out = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        while begin & ((1 << level) - 1):
            level -= 1
        out.append((level, begin >> level))
        begin += 1 << level
    return out


def _fold(hashes: Sequence[bytes]) -> bytes:
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _hash_ranges(ranges: Sequence[tuple[int, int]], read: NodeReader) -> list[bytes]:
    parts = [_range_ids(b, e) for b, e in ranges]
    wanted = sorted({n for p in parts for n in p})
    got = dict(zip(wanted, read(wanted), strict=True)) if wanted else {}
    return [_fold([got[n] for n in p]) for p in parts]


def root(size: int, read: NodeReader) -> bytes:
    """The tree head of the first `size` leaves."""
    if size == 0:
        return EMPTY_ROOT
    return _hash_ranges([(0, size)], read)[0]


def root_of(leaves: Iterable[bytes]) -> bytes:
    """The root over leaf hashes held in memory (a migration check, tests)."""
    frontier: list[bytes] = []
    sizes: list[int] = []
    for leaf in leaves:
        append(frontier, sizes, leaf)
    return _fold(frontier) if frontier else EMPTY_ROOT


# --- proofs -------------------------------------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) as leaf ranges, the leaf's side first."""
    if not 0 <= index < size:
        raise ProofError(N_("leaf index {index} is not in a tree of {size} leaves"), index=index, size=size)
    out: list[tuple[int, int]] = []
    begin, end, m = 0, size, index
    while end - begin > 1:
        k = _split(end - begin)
        if m < k:
            out.append((begin + k, end))
            end = begin + k
        else:
            out.append((begin, begin + k))
            begin, m = begin + k, m - k
    out.reverse()
    return out


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) as leaf ranges."""
    if not 0 < old <= new:
        raise ProofError(N_("no consistency proof from a tree of {old} leaves to one of {new}"), old=old, new=new)
    out: list[tuple[int, int]] = []
    begin, end, m, whole = 0, new, old, True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            out.append((begin + k, end))
            end = begin + k
        else:
            out.append((begin, begin + k))
            begin, m, whole = begin + k, m - k, False
    if not whole:
        out.append((begin, end))
    out.reverse()
    return out


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    return _hash_ranges(inclusion_ranges(index, size), read)


def consistency_proof(old: int, new: int, read: NodeReader) -> list[bytes]:
    if old == new:
        if old == 0:
            raise ProofError(N_("no consistency proof from the empty tree"))
        return []
    return _hash_ranges(consistency_ranges(old, new), read)


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------


def _check_hash(what: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise ProofError(N_("{what} has {n} bytes, a SHA-256 hash has {size}"), what=what, n=len(h), size=HASH_SIZE)


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to; raises ProofError if it cannot be a proof."""
    if not 0 <= index < size:
        raise ProofError(N_("leaf index {index} is not in a tree of {size} leaves"), index=index, size=size)
    _check_hash(Phrase(N_("the leaf hash")), leaf)
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        _check_hash(Phrase(N_("proof hash {i}"), i=i), p)
        if sn == 0:
            raise ProofError(N_("the proof has {n} hashes, more than a tree of {size} needs"), n=len(proof), size=size)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(N_("the proof has {n} hashes, fewer than a tree of {size} needs"), n=len(proof), size=size)
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` under `root_hash`."""
    _check_hash(Phrase(N_("the root")), root_hash)
    if root_from_inclusion(index, size, leaf, proof) != root_hash:
        raise ProofError(N_("the inclusion proof of leaf {index} does not lead to the root of tree size {size}"), index=index,
                         size=size)


def verify_consistency(old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> None:
    """Raise ProofError unless the tree of `new` leaves only appended to the one of `old`."""
    if old > new:
        raise ProofError(N_("tree size {new} is smaller than the earlier {old}: the log lost entries"), new=new, old=old)
    if old == new:
        if proof:
            raise ProofError(N_("two heads of one size need an empty proof"))
        if old == 0 or old_root != new_root:
            raise ProofError(N_("two different roots for tree size {old}: the log shows two views"), old=old)
        return
    if old == 0:
        raise ProofError(N_("a consistency proof from the empty tree proves nothing"))
    if not proof:
        raise ProofError(N_("an empty consistency proof"))
    _check_hash("the old root", old_root)
    _check_hash("the new root", new_root)
    for i, p in enumerate(proof):
        _check_hash(Phrase(N_("proof hash {i}"), i=i), p)
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(N_("the proof has {n} hashes, more than sizes {old} to {new} need"), n=len(proof), old=old, new=new)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(N_("the proof has {n} hashes, fewer than sizes {old} to {new} need"), n=len(proof), old=old, new=new)
    if fr != old_root:
        raise ProofError(N_("the consistency proof does not lead to the old root (size {old})"), old=old)
    if sr != new_root:
        raise ProofError(N_("the consistency proof does not lead to the new root (size {new})"), new=new)
