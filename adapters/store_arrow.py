"""The stored log as Arrow batches, for the views' bulk rebuild (notes/replay-speed.md).

SQLite: the full rebuild hands DuckDB Arrow C streams from adbc-driver-sqlite, two position
ranges loaded side by side on two cores (`sqlite_streams`, after a WAL checkpoint); batch-wise
readers (tests, the live path's catch-up) use Python's sqlite3 `fetchmany` pages turned into
Arrow columns (`sqlite_batches`).
PostgreSQL: `adapters.store.read_log` pages turned into Arrow columns.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from .store import EventStoreApp, on_postgres, read_log

SQL = (
    "SELECT e.rowid AS position, e.originator_id AS originator_id, e.originator_version AS originator_version, "
    "e.topic AS topic, CAST(e.state AS TEXT) AS state, c.recorded_at AS recorded_at "
    "FROM stored_events e JOIN ledger_chain c ON c.position = e.rowid "
    "WHERE e.rowid >= ? AND e.rowid <= ? AND c.recorded_at <= ? ORDER BY e.rowid"
)
# a scoped replay (adapters.store_scope): only these aggregates' events. Their positions come from
# the primary key's index alone (it holds the rowid), and `rowid IN` then reads the rows in log
# order: read through the index, one customer's 220,860 rows of the 10M bench ledger were fetched
# in aggregate order, all over the file, and sorted (1.8 s of CPU in the driver; 0.9 s this way)
SCOPED_SQL = SQL.replace("WHERE ", "WHERE e.rowid IN (SELECT k.rowid FROM stored_events k "
                                   "WHERE k.originator_id IN (SELECT value FROM json_each(?))) AND ")


def _query(originators: Sequence[str] | None, *bounds: Any) -> tuple[str, tuple]:
    if originators is None:
        return SQL, bounds
    return SCOPED_SQL, (msgspec.json.encode(list(originators)).decode(), *bounds)


def _bounds(as_of_position: int | None, as_of_recorded: datetime | str | None) -> tuple[int, str]:
    stop = as_of_position if as_of_position is not None else 2**62
    if as_of_recorded is None:
        rec = "9999"
    elif isinstance(as_of_recorded, datetime):
        from domain.events import utc

        rec = utc(as_of_recorded).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        rec = as_of_recorded
    return stop, rec


def sqlite_batches(path: str | Path, start: int = 1, as_of_position: int | None = None,
                   as_of_recorded: datetime | str | None = None, size: int = 100_000,
                   originators: Sequence[str] | None = None) -> Iterator[pa.Table]:
    import sqlite3

    stop, rec = _bounds(as_of_position, as_of_recorded)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cur = conn.execute(*_query(originators, start, stop, rec))
        while rows := cur.fetchmany(size):
            pos, oid, ver, topic, state, recorded = zip(*rows, strict=True)
            yield pa.table({
                "position": pa.array(pos, pa.int64()), "originator_id": pa.array(oid, pa.string()),
                "originator_version": pa.array(ver, pa.int64()), "topic": pa.array(topic, pa.string()),
                "state": pa.array(state, pa.string()), "recorded_at": pa.array(recorded, pa.string()),
            })
    finally:
        conn.close()


# rows per Arrow batch of the ADBC stream: the driver's default (1,024) fills half of each of
# DuckDB's 2,048-row vectors and passes every batch through Python (the upcast), which made the
# load of the 1M bench prefix cost 5.0-6.6 s CPU against 3.5-3.7 s at 262,144 (bench.load_stages).
# A whole number of DuckDB row groups (122,880 rows), never a remainder: the load inserts each batch
# as its own row groups, and 262,144 left a 16,384-row group per batch, which DuckDB's checkpoint then
# merged with its neighbours by rewriting them. Half of `events` was written twice, and the first copy
# stayed in the file as free blocks: 32 of the 1M prefix's 153 MB, 2.8 s of its checkpoint.
# One row group, not two: two streams loaded side by side hold twice the batches in flight, and
# with 245,760 rows the 10M rebuild peaked at 1,124 MiB (918 MiB at 122,880, the same 121-124 s).
DUCKDB_ROW_GROUP = 122_880
ADBC_BATCH_ROWS = DUCKDB_ROW_GROUP


CHECKPOINT_WAIT_S = 0.2  # seconds a scoped read waits for the WAL checkpoint (sqlite_reader)
# a scope of at most this many aggregates (one ticket's for `explain`: ~40, a few hundred rows) is
# read through sqlite3 (`sqlite_batches`), not the driver's stream: the driver's import, load and
# WAL checkpoint cost 65-85 ms before its first row, and sqlite3 reads ~200 rows in 3-5 ms
# (~20 us a row, so it stays the cheaper way up to a few thousand rows)
SMALL_SCOPE = 500


# a whole log is read as this many C streams of consecutive positions, loaded side by side
# (projections.apply._insert_streams): DuckDB reads and parses one stream on one thread
LOAD_STREAMS = 2 if (os.cpu_count() or 1) >= 2 else 1


@contextmanager
def sqlite_reader(path: str | Path, start: int = 1, as_of_position: int | None = None,
                  as_of_recorded: datetime | str | None = None,
                  originators: Sequence[str] | None = None) -> Iterator[pa.RecordBatchReader | None]:
    """The stored rows as one Arrow C stream (sqlite_streams); None as there."""
    with sqlite_streams(path, start, as_of_position, as_of_recorded, originators) as streams:
        yield None if streams is None else streams[0]


@contextmanager
def sqlite_streams(path: str | Path, start: int = 1, as_of_position: int | None = None,
                   as_of_recorded: datetime | str | None = None, originators: Sequence[str] | None = None,
                   streams: int = 1, batch_rows: int = ADBC_BATCH_ROWS) -> Iterator[tuple[pa.RecordBatchReader, ...] | None]:
    """The stored rows as Arrow C streams (adbc-driver-sqlite), for DuckDB to read itself, in
    log order: a whole log (no `originators`) of at least a batch per stream is cut into
    `streams` consecutive position ranges, whole batches (of `batch_rows`) each but the last, one
    stream and connection each; anything else is one stream.

    Its bundled SQLite was seen reading a stale snapshot of a store whose recent commits were
    still in the WAL; so the WAL is checkpointed through sqlite3 first and only positions up to
    what that checkpoint covered are read. Yields None when the checkpoint could not complete
    (a writer busy, or a reader on an older snapshot): the caller then reads with `sqlite_batches`.
    A FULL checkpoint waits for such readers, and a follower, a relay or a bench reading the
    store is one for as long as it reads. A scoped read (`originators`: a few thousand rows, read
    as fast either way) waits CHECKPOINT_WAIT_S, not the 5 s that made every `explain
    --as-of-recorded` 5 s longer beside such a reader; a whole log is worth 5 s of waiting for
    the driver's stream (minutes faster at 10M than rows through sqlite3)."""
    import sqlite3

    wait = CHECKPOINT_WAIT_S if originators is not None else 5.0
    # closed before the driver opens the file: the driver links its own copy of SQLite, and two
    # copies in one process do not see each other's POSIX locks (`with` on a sqlite3 connection
    # ends its transaction, not the connection, which stayed open until collected)
    with closing(sqlite3.connect(str(path), timeout=wait)) as lite:
        busy, _, _ = lite.execute("PRAGMA wal_checkpoint(FULL)").fetchall()[0]
        seen = lite.execute("SELECT coalesce(max(position), 0) FROM ledger_chain").fetchall()[0][0]
    if busy:
        yield None
        return
    as_of_position = seen if as_of_position is None else min(seen, as_of_position)
    stop, rec = _bounds(as_of_position, as_of_recorded)
    batches = -(-(stop - start + 1) // batch_rows)
    if originators is not None or batches < streams:
        streams = 1
    # each range whole batches from its start (a partial row group only at the end of the last)
    cuts = [start + batch_rows * (batches * i // streams) for i in range(streams)] + [stop + 1]
    with ExitStack() as opened:
        yield tuple(_stream(opened, path, originators, a, b - 1, rec, batch_rows) for a, b in itertools.pairwise(cuts))


def _stream(opened: ExitStack, path: str | Path, originators: Sequence[str] | None,
            start: int, stop: int, rec: str, batch_rows: int) -> pa.RecordBatchReader:
    """One adbc-driver-sqlite stream of positions start..stop; its cursor and connection close with `opened`."""
    import adbc_driver_sqlite.dbapi as adbc

    conn = opened.enter_context(closing(adbc.connect(str(path))))
    cur = opened.enter_context(closing(conn.cursor()))
    cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
    cur.execute(*_query(originators, start, stop, rec))
    reader = cur.fetch_record_batch()
    if reader.schema.field("topic").type != pa.string():
        # no row in the cut: the driver types every column int64, which no SQL over the
        # log's text columns binds to; an empty stream of the log's own schema instead
        from projections import ARROW_SCHEMA

        reader = pa.RecordBatchReader.from_batches(ARROW_SCHEMA, [])
    return reader


def log_batches(app: EventStoreApp, start: int = 1, as_of_position: int | None = None,
                as_of_recorded: datetime | str | None = None, size: int = 50_000,
                originators: Sequence[str] | None = None) -> Iterator[pa.Table]:
    """Any recorder (the PostgreSQL path): pages of `read_log` as Arrow tables."""
    stop, rec = _bounds(as_of_position, as_of_recorded)
    if originators is not None:  # a scoped replay: its aggregates' rows in one indexed query
        from .store_scope import scoped_rows

        scoped = [r for r in scoped_rows(app, originators, stop) if r.position >= start]
        pages: Iterator[list[Any]] = iter([scoped])
    while True:
        page = next(pages, []) if originators is not None else read_log(app, start, size, stop)
        rows = [r for r in page if r.recorded_at <= rec]
        if rows:
            yield pa.table({
                "position": pa.array([r.position for r in rows], pa.int64()),
                "originator_id": [str(r.originator_id) for r in rows],
                "originator_version": pa.array([r.originator_version for r in rows], pa.int64()),
                "topic": [r.topic for r in rows],
                "state": [bytes(r.state).decode() for r in rows],
                "recorded_at": [r.recorded_at for r in rows],
            })
        if originators is not None or len(page) < size or len(rows) < len(page):
            return
        start = page[-1].position + 1


def store_batches(app_or_path: Any, start: int = 1, as_of_position: int | None = None,
                  as_of_recorded: datetime | str | None = None,
                  originators: Sequence[str] | None = None) -> Iterator[Any]:
    """Arrow batches of the stored log from an app (SQLite or PostgreSQL) or an SQLite file path."""
    path = sqlite_path(app_or_path)
    if path is None:
        return log_batches(app_or_path, start, as_of_position, as_of_recorded, originators=originators)
    return sqlite_batches(path, start, as_of_position, as_of_recorded, originators=originators)


def sqlite_path(app_or_path: Any) -> Path | None:
    """The SQLite file behind an app or a data folder; None for the PostgreSQL recorder."""
    if isinstance(app_or_path, str | Path):
        path = Path(app_or_path)
        return path / "events.sqlite" if path.is_dir() else path
    if on_postgres(app_or_path.recorder):
        return None
    return Path(app_or_path.recorder.datastore.pool.db_name)


@contextmanager
def the_driver_alone(app_or_path: Any) -> Iterator[bool]:
    """Whether the bulk reader may open the store: with an app, its connections of Python's sqlite3
    to the file are closed first, and it gets a fresh pool of them afterwards.

    adbc-driver-sqlite links its own copy of SQLite. POSIX locks belong to the process, so when the
    driver closes the file, the locks that this process's sqlite3 connections hold on it go too,
    and another process may then checkpoint and truncate the write-ahead log under them (seen: a
    second process's TRUNCATE checkpoint went through beside an open read transaction). SQLite
    names this as a way to corrupt a database: two copies in one process on the same file.
    False when a connection is in use (another thread): then the caller reads through sqlite3.
    A path: the caller holds no connection to it (the bench's children, the tests)."""
    if isinstance(app_or_path, str | Path):
        yield True
        return
    from eventsourcing.sqlite import SQLiteConnectionPool

    store = app_or_path.recorder.datastore
    pool = store.pool
    if pool.num_in_use:
        yield False
        return
    store.close()  # a use of the app meanwhile fails loudly (its pool is closed), never silently
    try:
        yield True
    finally:
        store.pool = SQLiteConnectionPool(
            db_name=pool.db_name, lock_timeout=pool.lock_timeout, pool_size=pool.pool_size,
            max_overflow=pool.max_overflow, pool_timeout=pool.pool_timeout, max_age=pool.max_age,
            pre_ping=pool.pre_ping)


def rebuild_from_store(app_or_sqlite_path: Any, duckdb_path: Any, evaluate_at: datetime | None = None,
                       as_of_position: int | None = None, as_of_recorded: datetime | str | None = None,
                       terms_override: Any = None, progress: Any = None,
                       originators: Sequence[str] | None = None, upto: str = "all",
                       twin: Any = None) -> dict[str, Any]:
    """Read the store straight into a fresh views database: from SQLite as Arrow C streams that
    DuckDB reads itself (no Python per row; `the_driver_alone` first), from PostgreSQL as pages
    of the log.
    `duckdb_path`: a file (replaced), None (in memory), or an open views database (emptied and
    rebuilt in place: a scratch replay read in the same process needs no file).
    `progress`: a projections.apply.RebuildProgress (the CLI's bars on a terminal).
    `originators`: only these aggregates' events (a scoped replay, adapters.store_scope).
    `upto`: the views computed, into an open views database; `twin`: the same events' views under
    other terms beside them (both: projections.rebuild)."""
    from projections import rebuild_from_store as rebuild

    path = sqlite_path(app_or_sqlite_path)
    if path is not None and (originators is None or len(originators) > SMALL_SCOPE):
        with the_driver_alone(app_or_sqlite_path) as alone:
            if alone:
                with sqlite_streams(path, 1, as_of_position, as_of_recorded, originators, LOAD_STREAMS) as streams:
                    if streams is not None:
                        return rebuild(lambda: streams, duckdb_path, evaluate_at, terms_override=terms_override,
                                       progress=progress, upto=upto, twin=twin)
    return rebuild(lambda: store_batches(app_or_sqlite_path, 1, as_of_position, as_of_recorded, originators),
                   duckdb_path, evaluate_at, terms_override=terms_override, progress=progress, upto=upto,
                   twin=twin)
