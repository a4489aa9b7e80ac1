"""The PostgreSQL recorder of the event store (adapters.store): the same chain, command ids and
Merkle tree cells as the SQLite recorder's, written in the recording transaction. A module of its
own so that a command on the SQLite default never imports psycopg."""

from __future__ import annotations

import select
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import ConnectionPool, PostgresApplicationRecorder, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection
from psycopg.rows import DictRow, dict_row
from psycopg.sql import SQL, Identifier

from domain import hashchain

from . import tree_rows
from .store import chain_rows


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, its connections made from TICKETLEDGER_POSTGRES whole.

    Its own pool passes libpq only dbname, host, port, user and password; every other parameter
    of the DSN (sslmode, sslrootcert, application_name, options, target_session_attrs…) would be
    dropped, and `sslmode=verify-full` silently lose its certificate check. Its pool, not open
    yet, is replaced by one of the same sizes that takes the DSN whole and checks what it hands
    out (`alive`)."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        store, given = self.datastore, self.datastore.pool  # never opened: replaced before any use
        made: list[weakref.ref[ConnectionPool[Any]]] = []
        store.pool = ConnectionPool(
            self.env.get("POSTGRES_CONNINFO") or "", connection_class=Connection[DictRow],
            kwargs={"row_factory": dict_row}, min_size=given.min_size, max_size=given.max_size, open=False,
            configure=store.after_connect_func(), timeout=given.timeout, max_waiting=given.max_waiting,
            max_lifetime=given.max_lifetime, check=alive_in(lambda: made[0]() if made else None))
        made.append(weakref.ref(store.pool))  # weak: the pool holds its check


def alive_in(pool: Callable[[], ConnectionPool[Any] | None]) -> Callable[[Connection[Any]], None]:
    """The pool's check of a connection it hands out.

    One the server ended while it sat idle (pg_terminate_backend, a restart, a failover) was
    handed out as it was, and the command or page using it failed: the console answered 500
    until each dead pooled connection had been used once. Such a connection has something to
    read (the server's notice, or the end of the socket), so a live one costs no round trip.
    A dead one is refused (the pool hands out another) after the pool's other connections are
    checked at once: psycopg_pool waits longer after each refused one (1 s, 2 s, 4 s…), and a
    pool the server emptied would outlast the request's wait."""
    def alive(conn: Connection[Any]) -> None:
        poll = select.poll()  # not select.select: it cannot watch a descriptor above 1023
        poll.register(conn.fileno(), select.POLLIN)
        if not conn.closed and not poll.poll(0):
            return
        try:
            conn.execute("")
        except psycopg.Error:
            held = pool()
            if held is not None:
                held.check()
            raise

    return alive


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    on_postgres = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {}.ledger_chain (position bigint PRIMARY KEY, "
                "recorded_at text NOT NULL, state_sha256 text NOT NULL, link text NOT NULL, "
                + tree_rows.POSTGRES_COLUMNS + ")").format(schema),
            SQL("CREATE TABLE IF NOT EXISTS {}.ledger_commands (command_id text PRIMARY KEY, "
                "content_sha256 text NOT NULL, position bigint NOT NULL)").format(schema),
        ]
        # The chain head this recorder last committed: (position, link, recorded_at). Reading it
        # back is a round trip a one-command save waits for; it is used only when the new rows
        # directly follow it (under the table lock, so no other writer committed in between; a
        # rolled-back transaction leaves a gap in the ids and the head is read from the table).
        # With it, the tree's right edge (None while the tree is not built: then the head is
        # always read, so a build by another process is seen at the next save).
        self._head: tuple[int, str, str, tree_rows.TreeHead | None] | None = None
        self._pending = threading.local()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        self._pending.head = None
        ids = super().insert_events(stored_events, **kwargs)
        if self._pending.head is not None:  # committed
            self._head = self._pending.head
        return ids

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # Still inside the transaction and the EXCLUSIVE table lock: writers are serialised here.
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if not ids:
            return ids
        schema = self.datastore.schema
        head = self._head
        tree: tree_rows.TreeHead | None = None
        if head is not None and head[3] is not None and ids[0] == head[0] + 1:
            prev, prev_time, tree = head[1], head[2], head[3].copy()
        else:
            curs.execute(f'SELECT * FROM "{schema}".ledger_chain ORDER BY position DESC LIMIT 1')
            row = curs.fetchone()  # before the description: in a pipeline it comes with the rows
            names = [d.name for d in curs.description]
            prev, prev_time = (row["link"], row["recorded_at"]) if row else (hashchain.GENESIS, None)
            if "leaf_index" in names and (row is None or row["leaf_index"] is not None):
                tree = tree_rows.head_or_none(curs, row["leaf_index"] + 1 if row else 0, prev, schema)
        # One statement per table (arrays through unnest), not one per row: with executemany the
        # chain and command rows tripled the statements per event (bench.writepath, PostgreSQL).
        # The tree's cells ride in the chain's INSERT (no statement of their own).
        chain = chain_rows(prev, prev_time, ids, stored_events)
        columns = [list(column) for column in zip(*chain, strict=True)]
        if tree is None:  # the tree is not built yet: `checkpoint` builds it
            curs.execute(
                f'INSERT INTO "{schema}".ledger_chain (position, recorded_at, state_sha256, link) '
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])", columns)
        else:
            cells = tree_rows.extend(tree, chain, stored_events)
            curs.execute(
                f'INSERT INTO "{schema}".ledger_chain '
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bytea[])",
                [*columns, [i for i, _ in cells], [t for _, t in cells]])
        self._pending.head = (chain[-1][0], chain[-1][3], chain[-1][1], tree)
        commands = kwargs.get("commands") or ()
        if commands:
            curs.execute(
                f'INSERT INTO "{schema}".ledger_commands '
                "SELECT c, h, %s::bigint FROM unnest(%s::text[], %s::text[]) AS u(c, h)",
                (ids[0], [cid for cid, _ in commands], [h for _, h in commands]),
            )
        return ids
