"""The log's Merkle tree in the store, its signed checkpoints and the keys that signed them.

The tree's nodes ride in `ledger_chain` (adapters/tree_rows.py: written by the recording
transaction itself). Here: reading them (a proof is one SELECT of O(log n) rows), building the
tree of a ledger recorded before it existed (migration), and the two tables

  ledger_log_keys(key_hash, vkey, added_at, retired_at)     every key the log has signed with
  ledger_checkpoints(id, tree_size, key_hash, signed_at, note)  signed notes, verbatim

Readers never write: a ledger without the tree reads as "not built" until `ticketledger
checkpoint` (or `LedgerTree.build`) builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec

from domain import leaf as lf
from domain import merkle
from domain import signed_note as sn
from domain.errors import N_, Explained
from domain.proofs import ConsistencyProof, InclusionProof, b64

from . import tree_rows
from .store import EventStoreApp, on_postgres


class TreeNotBuilt(Explained, LookupError):
    """The ledger's tree does not cover what was asked (build it with `ticketledger checkpoint`)."""


class NoEventAt(Explained, LookupError):
    """No event at that log position (beyond the log, or below 1)."""


class SavedCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    tree_size: int
    key_hash: str
    signed_at: str
    note: str


class LogKey(msgspec.Struct, frozen=True, kw_only=True):
    key_hash: str
    vkey: str
    added_at: str
    retired_at: str | None


BUILD_BATCH = 50_000


class LedgerTree:
    def __init__(self, app: EventStoreApp) -> None:
        self.app = app
        rec = app.recorder
        self.pg = on_postgres(rec)
        self.schema: str | None = rec.datastore.schema if self.pg else None
        self._q = "%s" if self.pg else "?"

    # --- plumbing -----------------------------------------------------------------------

    def _t(self, table: str) -> str:
        return f'"{self.schema}".{table}' if self.pg else table

    @contextmanager
    def _cursor(self, commit: bool = False) -> Iterator[Any]:
        with self.app.recorder.datastore.transaction(commit=commit) as cur:
            yield cur

    def _rows(self, cur: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Sequence[Any]]:
        """The rows as sequences: SQLite's as they come (a copy of a million rows cost the tree's
        build ~0.6 s), PostgreSQL's dicts as tuples of their values."""
        cur.execute(sql.replace("?", self._q), params)
        rows = cur.fetchall()
        return [tuple(r.values()) for r in rows] if rows and isinstance(rows[0], dict) else rows

    def _has_table(self, cur: Any, table: str) -> bool:
        if self.pg:
            return self._rows(cur, "SELECT to_regclass(?)", (f'"{self.schema}".{table}',))[0][0] is not None
        return bool(self._rows(cur, "SELECT 1 FROM sqlite_master WHERE name = ?", (table,)))

    def _has_tree_columns(self, cur: Any) -> bool:
        if self.pg:
            return bool(self._rows(cur, "SELECT 1 FROM information_schema.columns WHERE table_schema = ? "
                                        "AND table_name = 'ledger_chain' AND column_name = 'leaf_index'", (self.schema,)))
        return any(r[1] == "leaf_index" for r in self._rows(cur, "PRAGMA table_info(ledger_chain)"))

    def _reader(self, cur: Any) -> merkle.NodeReader:
        def read(ids: Any) -> list[bytes]:
            try:
                return tree_rows.read_nodes(cur, ids, self.schema)
            except tree_rows.TreeMissing as e:
                raise TreeNotBuilt(N_("{error}: build the tree with `ticketledger checkpoint`"), error=e) from e
        return read

    # --- state ----------------------------------------------------------------------------

    def status(self) -> tuple[int, int]:
        """(leaves built, events in the log)."""
        with self._cursor() as cur:
            events = self._rows(cur, f"SELECT count(*) FROM {self._t('ledger_chain')}")[0][0]
            if not self._has_tree_columns(cur):
                return 0, events
            top = self._rows(cur, f"SELECT max(leaf_index) FROM {self._t('ledger_chain')}")[0][0]
            return (0 if top is None else top + 1), events

    @property
    def size(self) -> int:
        """Leaves of the built tree (0 when not built)."""
        with self._cursor() as cur:
            if not self._has_tree_columns(cur):
                return 0
            top = self._rows(cur, f"SELECT max(leaf_index) FROM {self._t('ledger_chain')}")[0][0]
            return 0 if top is None else top + 1

    def is_complete(self) -> bool:
        with self._cursor() as cur:
            if not self._has_tree_columns(cur):
                return False
            last = self._rows(cur, f"SELECT leaf_index FROM {self._t('ledger_chain')} ORDER BY position DESC LIMIT 1")
            return not last or last[0][0] is not None

    def root(self, size: int) -> bytes:
        with self._cursor() as cur:
            return merkle.root(size, self._reader(cur))

    def leaf_index(self, position: int) -> int:
        with self._cursor() as cur:
            rows = self._rows(cur, f"SELECT leaf_index FROM {self._t('ledger_chain')} WHERE position = ?", (position,)) \
                if self._has_tree_columns(cur) else []
        if not rows:
            raise NoEventAt(N_("no event at log position {position}"), position=position)
        if rows[0][0] is None:
            raise TreeNotBuilt(N_("the tree does not reach position {position} yet: run "
                              "`ticketledger checkpoint`"), position=position)
        return rows[0][0]

    def leaf(self, position: int) -> lf.Leaf:
        """The leaf inputs of the event at `position`."""
        e = f'"{self.schema}".{self.app.recorder.events_table_name}' if self.pg else "stored_events"
        key = "notification_id" if self.pg else "rowid"
        oid = "e.originator_id::text" if self.pg else "e.originator_id"
        with self._cursor() as cur:
            rows = self._rows(cur, f"SELECT c.leaf_index, c.position, c.recorded_at, {oid}, e.originator_version, "
                                   f"e.topic, c.state_sha256 FROM {self._t('ledger_chain')} c JOIN {e} e "
                                   f"ON e.{key} = c.position WHERE c.position = ?", (position,))
        if not rows:
            raise NoEventAt(N_("no event at log position {position}"), position=position)
        i, p, t, o, v, topic, digest = rows[0]
        if i is None:
            raise TreeNotBuilt(N_("the tree does not reach position {position} yet: run "
                              "`ticketledger checkpoint`"), position=position)
        return lf.Leaf(index=i, position=p, recorded_at=t, originator_id=tree_rows.hex_id(o),
                       originator_version=v, topic=topic, state_sha256=digest)

    def cells(self, batch: int = 20_000) -> Iterator[tuple[int, int | None, bytes | None]]:
        """(position, leaf index, tree cell) of every event, in log order ([] without the columns)."""
        with self._cursor() as cur:
            if not self._has_tree_columns(cur):
                return
        start = 0
        chain = self._t("ledger_chain")
        while True:
            with self._cursor() as cur:
                rows = self._rows(cur, f"SELECT position, leaf_index, tree FROM {chain} WHERE position > ? "
                                       f"ORDER BY position LIMIT {batch}", (start,))
            for p, i, t in rows:
                yield p, i, (bytes(t) if t is not None else None)
            if len(rows) < batch:
                return
            start = rows[-1][0]

    # --- proofs -----------------------------------------------------------------------------

    def _check_size(self, size: int) -> None:
        built = self.size
        if size > built:
            raise TreeNotBuilt(N_("tree size {size} is beyond the built tree ({built} leaves)"),
                               size=size, built=built)

    def inclusion_proof(self, index: int, size: int) -> InclusionProof:
        self._check_size(size)
        with self._cursor() as cur:
            read = self._reader(cur)
            hashes = merkle.inclusion_proof(index, size, read)
            leaf = read([(0, index)])[0]
            root = merkle.root(size, read)
        return InclusionProof(leaf_index=index, tree_size=size, leaf_hash=b64(leaf),
                              hashes=[b64(h) for h in hashes], root=b64(root))

    def consistency_proof(self, old: int, new: int) -> ConsistencyProof:
        self._check_size(new)
        with self._cursor() as cur:
            read = self._reader(cur)
            hashes = merkle.consistency_proof(old, new, read)
            roots = merkle.root(old, read), merkle.root(new, read)
        return ConsistencyProof(old_size=old, new_size=new, old_root=b64(roots[0]), new_root=b64(roots[1]),
                                hashes=[b64(h) for h in hashes])

    # --- building the tree of an older ledger (migration) -----------------------------------

    def _lock(self, cur: Any) -> None:
        """Take the writers' lock, so no recording interleaves with this batch."""
        if self.pg:
            cur.execute(f'LOCK TABLE "{self.schema}".{self.app.recorder.events_table_name} IN EXCLUSIVE MODE')
        else:
            cur.execute("DELETE FROM ledger_chain WHERE 0")  # takes SQLite's write lock now

    def _add_columns(self) -> None:
        with self._cursor(commit=True) as cur:
            self._lock(cur)
            if self._has_tree_columns(cur):
                return
            if self.pg:
                cur.execute(f"ALTER TABLE {self._t('ledger_chain')} ADD COLUMN IF NOT EXISTS leaf_index bigint, "
                            "ADD COLUMN IF NOT EXISTS tree bytea")
                cur.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS ledger_chain_leaf ON {self._t('ledger_chain')} (leaf_index)")
            else:
                cur.execute("ALTER TABLE ledger_chain ADD COLUMN leaf_index INTEGER")
                cur.execute("ALTER TABLE ledger_chain ADD COLUMN tree BLOB")
                cur.execute("CREATE UNIQUE INDEX IF NOT EXISTS ledger_chain_leaf ON ledger_chain (leaf_index)")

    def build(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Give every event without a leaf its leaf, in log order; returns the leaves added.

        Batches of BUILD_BATCH events, each its own transaction under the writers' lock, so a
        crash keeps a built prefix and recording goes on between batches (its rows get NULL
        cells until the build reaches them). The tree only vouches for the log as it is now:
        the first checkpoint after a build vouches for the history held then, nothing earlier."""
        self._add_columns()
        added, total = 0, None
        e = f'"{self.schema}".{self.app.recorder.events_table_name}' if self.pg else "stored_events"
        key = "notification_id" if self.pg else "rowid"
        oid = "e.originator_id::text" if self.pg else "e.originator_id"
        chain = self._t("ledger_chain")
        while True:
            with self._cursor(commit=True) as cur:
                self._lock(cur)
                top = self._rows(cur, f"SELECT max(leaf_index) FROM {chain}")[0][0]
                size = 0 if top is None else top + 1
                start = 0
                if size:
                    start, link = self._rows(cur, f"SELECT position, link FROM {chain} WHERE leaf_index = ?", (size - 1,))[0]
                    head = tree_rows.load_head(cur, size, link, self.schema)
                else:
                    head = tree_rows.TreeHead(0, "")
                if total is None:
                    total = self._rows(cur, f"SELECT count(*) FROM {chain} WHERE position > ?", (start,))[0][0]
                rows = self._rows(cur, f"SELECT c.position, c.recorded_at, c.state_sha256, c.link, {oid}, "
                                       f"e.originator_version, e.topic FROM {chain} c JOIN {e} e ON e.{key} = c.position "
                                       f"WHERE c.position > ? ORDER BY c.position LIMIT {BUILD_BATCH}", (start,))
                if not rows:
                    return added
                cells = tree_rows.extend_rows(head, rows)
                params = [(i, c, r[0]) for r, (i, c) in zip(rows, cells, strict=True)]
                if self.pg:
                    cur.execute(f"UPDATE {chain} c SET leaf_index = u.i, tree = u.t FROM "
                                "unnest(%s::bigint[], %s::bytea[], %s::bigint[]) AS u(i, t, p) WHERE c.position = u.p",
                                [list(x) for x in zip(*params, strict=True)])
                else:
                    cur.executemany("UPDATE ledger_chain SET leaf_index = ?, tree = ? WHERE position = ?", params)
            added += len(rows)
            if progress:
                progress(added, total)

    # --- keys and checkpoints -----------------------------------------------------------------

    def _ensure_tables(self, cur: Any) -> None:
        ident = "bigserial PRIMARY KEY" if self.pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self._t('ledger_log_keys')} (key_hash text PRIMARY KEY, "
                    "vkey text NOT NULL, added_at text NOT NULL, retired_at text)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self._t('ledger_checkpoints')} (id {ident}, "
                    "tree_size bigint NOT NULL, key_hash text NOT NULL, signed_at text NOT NULL, note text NOT NULL)")

    def log_keys(self) -> list[LogKey]:
        with self._cursor() as cur:
            if not self._has_table(cur, "ledger_log_keys"):
                return []
            rows = self._rows(cur, f"SELECT key_hash, vkey, added_at, retired_at FROM {self._t('ledger_log_keys')} "
                                   "ORDER BY added_at, key_hash")
        return [LogKey(key_hash=a, vkey=b, added_at=c, retired_at=d) for a, b, c, d in rows]

    def add_key(self, verifier: sn.Verifier, now: datetime | None = None, *, retire_others: bool = False) -> None:
        """Record a key the log signs with (it stays listed, and verifiable, after retirement)."""
        stamp = _stamp(now)
        with self._cursor(commit=True) as cur:
            self._ensure_tables(cur)
            t = self._t("ledger_log_keys")
            if retire_others:
                self._rows_write(cur, f"UPDATE {t} SET retired_at = ? WHERE retired_at IS NULL AND key_hash <> ?",
                                 (stamp, verifier.key_hash.hex()))
            if not self._rows(cur, f"SELECT 1 FROM {t} WHERE key_hash = ?", (verifier.key_hash.hex(),)):
                self._rows_write(cur, f"INSERT INTO {t} VALUES (?, ?, ?, NULL)", (verifier.key_hash.hex(), verifier.vkey, stamp))

    def _rows_write(self, cur: Any, sql: str, params: tuple[Any, ...]) -> None:
        cur.execute(sql.replace("?", self._q), params)

    def sign_checkpoint(self, signer: sn.Signer, now: datetime | None = None) -> SavedCheckpoint:
        """Sign the current tree head (the tree must be built to the end of the log)."""
        keys = {k.key_hash: k for k in self.log_keys()}
        mine = keys.get(signer.verifier.key_hash.hex())
        if mine is not None and mine.retired_at is not None:
            raise ValueError(f"log key {signer.verifier.vkey} was retired on {mine.retired_at}; sign with the current key")
        if mine is None:
            self.add_key(signer.verifier, now)
        stamp = _stamp(now)
        with self._cursor(commit=True) as cur:
            self._ensure_tables(cur)
            self._lock(cur)  # the head signed is the log's head at this instant
            last = self._rows(cur, f"SELECT leaf_index FROM {self._t('ledger_chain')} ORDER BY position DESC LIMIT 1")
            if last and last[0][0] is None:
                raise TreeNotBuilt(N_("the tree does not reach the end of the log: build it first"))
            size = last[0][0] + 1 if last else 0
            root = merkle.root(size, self._reader(cur))
            note = signer.sign(sn.checkpoint_text(signer.name, size, root))
            self._rows_write(cur, f"INSERT INTO {self._t('ledger_checkpoints')} (tree_size, key_hash, signed_at, note) "
                                  "VALUES (?, ?, ?, ?)", (size, signer.verifier.key_hash.hex(), stamp, note))
            got = self._rows(cur, f"SELECT max(id) FROM {self._t('ledger_checkpoints')}")[0][0]
        return SavedCheckpoint(id=got, tree_size=size, key_hash=signer.verifier.key_hash.hex(), signed_at=stamp, note=note)

    def checkpoints(self) -> list[SavedCheckpoint]:
        with self._cursor() as cur:
            if not self._has_table(cur, "ledger_checkpoints"):
                return []
            rows = self._rows(cur, f"SELECT id, tree_size, key_hash, signed_at, note FROM {self._t('ledger_checkpoints')} "
                                   "ORDER BY id")
        return [SavedCheckpoint(id=a, tree_size=b, key_hash=c, signed_at=d, note=e) for a, b, c, d, e in rows]

    def latest_checkpoint(self) -> SavedCheckpoint | None:
        cps = self.checkpoints()
        return max(cps, key=lambda c: (c.tree_size, c.id)) if cps else None

    def checkpoint_covering(self, size: int) -> SavedCheckpoint | None:
        """The first checkpoint whose tree holds the first `size` events (the smallest at or after)."""
        cps = [c for c in self.checkpoints() if c.tree_size >= size]
        return min(cps, key=lambda c: (c.tree_size, c.id)) if cps else None


def _stamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
