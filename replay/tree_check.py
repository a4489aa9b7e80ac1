"""`verify`'s check of the Merkle tree against the log (issue 16), pure like replay/verify.py.

Handed the log rows in position order, each with the tree cell stored beside it (leaf index and
nodes, adapters/tree_rows.py), and the ledger's signed checkpoints, it recomputes every leaf from
the row (the stored bytes' own SHA-256, not the chain's digest) and every node, and adds to the
verify report:
  - `tree`:       a stored leaf index or node differs from the one recomputed from the log, or
                  a built row follows one the tree does not cover yet;
  - `checkpoint`: a signed checkpoint whose signature does not hold, whose root is not the
                  log's at its size (the log changed after it was signed), or whose size the
                  log no longer reaches (rolled back, or restored from an older backup).
Rows not built yet (a ledger older than the tree, before `ticketledger checkpoint`) are a
notice, not a failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from domain import leaf as lf
from domain import merkle
from domain import signed_note as sn

from .verify import Report, Row


@dataclass
class TreeSummary:
    leaves: int = 0
    unbuilt: int = 0
    checkpoints: int = 0


def _fold(frontier: list[bytes]) -> bytes:
    if not frontier:
        return merkle.EMPTY_ROOT
    acc = frontier[-1]
    for h in reversed(frontier[:-1]):
        acc = merkle.node_hash(h, acc)
    return acc


def check_tree(entries: Iterable[tuple[Row, int | None, bytes | None]], checkpoints: Sequence[Any],
               keys: Sequence[sn.Verifier], report: Report) -> TreeSummary:
    """`checkpoints`: objects with `id`, `tree_size`, `signed_at`, `note` (the ledger's, and any
    the user handed over)."""
    out = TreeSummary()
    wanted: dict[int, list[tuple[Any, bytes]]] = {}
    for cp in checkpoints:
        try:
            note, _ = sn.open_note(cp.note, keys)
            head = sn.parse_checkpoint(note.text)
        except sn.NoteError as e:
            report.add(0, "checkpoint", f"checkpoint {cp.id} (signed {cp.signed_at}): {e}")
            continue
        wanted.setdefault(head.size, []).append((cp, head.root))
    frontier: list[bytes] = []
    sizes: list[int] = []
    gap_at: int | None = None

    def at_size(n: int) -> None:
        for cp, root in wanted.pop(n, []):
            out.checkpoints += 1
            if _fold(frontier) != root:
                report.add(last_position, "checkpoint",
                           f"checkpoint {cp.id} (tree size {n}, signed {cp.signed_at}) is not the log's head at that "
                           "size: the log changed after it was signed")

    last_position = 0
    at_size(0)
    for row, index, cell in entries:
        last_position = row.position
        if index is None:  # not built yet: the leaf is still recomputed, for the checkpoints
            out.unbuilt += 1
            if gap_at is None:
                gap_at = row.position
        elif gap_at is not None:
            report.add(row.position, "tree", f"a built leaf follows position {gap_at}, which the tree does not cover")
            gap_at = None
        if index is not None and index != out.leaves:
            report.add(row.position, "tree", f"leaf index {index} stored, {out.leaves} expected (events before it "
                                             "were removed or reordered)")
        leaf = lf.Leaf(index=out.leaves, position=row.position, recorded_at=row.recorded_at,
                       originator_id=row.originator_id, originator_version=row.originator_version,
                       topic=row.topic, state_sha256=hashlib.sha256(row.state).hexdigest())
        try:
            made = merkle.append(frontier, sizes, lf.leaf_hash(leaf))
        except lf.LeafError as e:
            report.add(row.position, "tree", str(e))
            continue
        if cell is not None and b"".join(made) != cell:
            report.add(row.position, "tree", "the tree nodes stored with this event are not those of the log")
        out.leaves += 1
        at_size(out.leaves)
    if out.unbuilt:
        report.notice(gap_at or last_position, "unbuilt",
                      f"{out.unbuilt} event(s) not yet in the Merkle tree: `ticketledger checkpoint` builds it")
    for n, cps in sorted(wanted.items()):
        for cp, _root in cps:
            report.add(last_position, "checkpoint",
                       f"checkpoint {cp.id} (signed {cp.signed_at}) vouched for {n} events; the log's tree holds "
                       f"{out.leaves}: events were removed (a rollback, or a restore from an older backup)")
    return out
