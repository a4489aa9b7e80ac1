"""The Merkle tree's cells in `ledger_chain`, written by the recording transaction itself.

Two columns beside the chain link: `leaf_index` (0-based count of earlier events) and `tree`,
the hashes merkle.append() returns for that leaf (its leaf hash, then each complete subtree it
closes), 32 bytes each. They go in the same INSERT as the link, so a transaction that records
events records their leaves or nothing: a crash never leaves a tree that disagrees with the log.

A ledger recorded before the tree existed has neither column (or NULLs after the last built
leaf); its recorders keep writing NULLs until `LedgerTree.build` (run by `ticketledger
checkpoint`) fills the rows in order. Readers never write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain import leaf as lf
from domain import merkle

SQLITE_COLUMNS = "leaf_index INTEGER UNIQUE, tree BLOB"
POSTGRES_COLUMNS = "leaf_index bigint UNIQUE, tree bytea"


@dataclass
class TreeHead:
    """The right edge of the tree after `size` leaves, and the chain link of its last event (to
    know a cached head from a stale one)."""

    size: int
    link: str
    frontier: list[bytes] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def copy(self) -> TreeHead:
        return TreeHead(self.size, self.link, list(self.frontier), list(self.sizes))


def hex_id(originator_id: Any) -> str:
    return originator_id.hex if isinstance(originator_id, uuid.UUID) else str(originator_id).replace("-", "")


def extend(head: TreeHead, chain: Sequence[tuple[int, str, str, str]], stored: Sequence[Any]) -> list[tuple[int, bytes]]:
    """(leaf index, tree cell) of each new event, in order; `head` moves past them.

    `chain` holds the rows store.chain_rows made (position, recorded_at, sha256, link), `stored`
    the StoredEvents they chain."""
    return extend_rows(head, ((*link, s.originator_id, s.originator_version, s.topic)
                              for link, s in zip(chain, stored, strict=True)))


def extend_rows(head: TreeHead, rows: Iterable[Sequence[Any]]) -> list[tuple[int, bytes]]:
    """`extend` for rows of (position, recorded_at, sha256, link, originator_id,
    originator_version, topic): the recorder's, and the build's rows as read from the store."""
    out = []
    pack, h, append, fromhex = lf.pack, merkle.leaf_hash, merkle.append, bytes.fromhex
    frontier, sizes = head.frontier, head.sizes
    times: dict[str, int] = {}  # one recording time per transaction: parsed once
    topics: dict[str, bytes] = {}
    index = head.size
    link = None
    for position, recorded_at, digest, link, oid, version, topic_name in rows:  # noqa: B007 (the last link: the head's)
        us = times.get(recorded_at)
        if us is None:
            us = times[recorded_at] = lf.micros(recorded_at)
        topic = topics.get(topic_name)
        if topic is None:
            topic = topics[topic_name] = topic_name.encode()
        raw = oid.bytes if isinstance(oid, uuid.UUID) else fromhex(oid.replace("-", ""))
        out.append((index, b"".join(append(frontier, sizes, h(pack(index, position, us, raw, version, topic,
                                                                   fromhex(digest)))))))
        index += 1
    if link is not None:
        head.size, head.link = index, link
    return out


def _get(row: Any, name: str, i: int) -> Any:
    return row[name] if isinstance(row, dict) else row[i]


def read_cells(cur: Any, indexes: Sequence[int], pg_schema: str | None) -> dict[int, bytes]:
    """leaf index -> tree cell, for the rows of these leaves (one statement)."""
    if not indexes:
        return {}
    if pg_schema is not None:
        cur.execute(f'SELECT leaf_index, tree FROM "{pg_schema}".ledger_chain WHERE leaf_index = ANY(%s)',
                    (list(indexes),))
    else:
        cur.execute(f"SELECT leaf_index, tree FROM ledger_chain WHERE leaf_index IN ({','.join('?' * len(indexes))})",
                    list(indexes))
    return {_get(r, "leaf_index", 0): bytes(_get(r, "tree", 1)) for r in cur.fetchall()}


class TreeMissing(LookupError):
    """Tree nodes a proof needs are not stored (tree not built that far, or rows removed)."""


def read_nodes(cur: Any, ids: Sequence[merkle.NodeId], pg_schema: str | None) -> list[bytes]:
    where = [merkle.stored_at(n) for n in ids]
    cells = read_cells(cur, sorted({i for i, _ in where}), pg_schema)
    out = []
    for (i, slot), n in zip(where, ids, strict=True):
        cell = cells.get(i)
        if cell is None or len(cell) < 32 * (slot + 1):
            raise TreeMissing(f"tree node {n} (kept with leaf {i}) is not stored")
        out.append(cell[32 * slot : 32 * slot + 32])
    return out


def load_head(cur: Any, size: int, link: str, pg_schema: str | None) -> TreeHead:
    """The right edge of a tree of `size` leaves, from the rows that keep its subtrees."""
    ids = merkle.frontier_ids(size)
    frontier = read_nodes(cur, ids, pg_schema)
    return TreeHead(size, link, frontier, [1 << level for level, _ in ids])


def head_or_none(cur: Any, size: int, link: str, pg_schema: str | None) -> TreeHead | None:
    """The recorder's read of the right edge: None when rows it needs are gone (a damaged or
    tampered table). Recording then goes on without the tree (NULL cells), and `verify` names
    the damage; refusing to record would not repair it."""
    try:
        return load_head(cur, size, link, pg_schema)
    except TreeMissing:
        return None
