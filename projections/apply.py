"""The one code path: append a batch of stored events and recompute what it touches (§4).

A full rebuild is `apply_batch` over everything (streamed in as many Arrow batches as the
reader likes, one transaction); the live follower calls it with whatever arrived and
`reevaluate` on a timer. Both end in `_recompute`, so "rebuild == live" holds by construction.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from domain.events import FACT_TYPES
from domain.terms import Terms
from domain.upcasting import upcast_state

from . import bounds, facts, schema
from .parsed import ParsedOnce
from .positions import at_positions
from .recompute import WHOLE_STEPS, Upto
from .recompute import recompute as _recompute
from .terms_flat import WhatIf


class RebuildProgress:
    """What a rebuild tells as it goes (the CLI draws it on a terminal): rows loaded into
    `events`, then the steps of the views' computation (WHOLE_STEPS of them)."""

    steps = WHOLE_STEPS

    def loaded(self, rows: int) -> None:
        """`rows` more stored rows are in `events`."""

    def computed(self, steps: int) -> None:
        """`steps` more steps of the views are done (the first call ends the load)."""


def _counted(reader: pa.RecordBatchReader, told: Callable[[int], None]) -> pa.RecordBatchReader:
    """The same stream, telling each batch's rows as DuckDB pulls it (one call per batch)."""
    def batches() -> Iterable[pa.RecordBatch]:
        for b in reader:
            told(b.num_rows)
            yield b

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _one_at_a_time(told: Callable[[int], None]) -> Callable[[int], None]:
    """`told`, called by one thread at a time (the load reads its streams on threads of their own)."""
    lock = threading.Lock()

    def tell(rows: int) -> None:
        with lock:
            told(rows)

    return tell

# DuckDB's own default is 80 % of RAM; a rebuild of 10M events must stay within 1 GiB in all
# (issue 15). Python, pyarrow and the Arrow batches take ~300 MiB beside DuckDB's pool: at 10M,
# 1GB peaked at 1,291 MiB, 700MB at 1,045 MiB, 600MB at 930 MiB in 139 s (142.5 s with 1GB)
MEMORY_LIMIT = os.environ.get("TICKETLEDGER_DUCKDB_MEMORY", "600MB")

BATCH_COLUMNS = ("position", "originator_id", "originator_version", "topic", "state", "recorded_at")
ARROW_SCHEMA = pa.schema([
    ("position", pa.int64()), ("originator_id", pa.string()), ("originator_version", pa.int64()),
    ("topic", pa.string()), ("state", pa.string()), ("recorded_at", pa.string()),
])


def open_views(path: str | Path | None = None, read_only: bool = False,
               threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open (and create if absent) the views database; `None` is an in-memory database.
    `threads`: DuckDB's worker threads (default: one per core)."""
    con = in_utc(duckdb.connect(str(path) if path else ":memory:", read_only=read_only,
                                config={"threads": threads} if threads else {}))
    if path:  # a file spills to `<file>.tmp` beyond the limit instead of growing with the ledger
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    if not read_only:  # comments for the files people open; an in-memory replay's are ~40 ms of nothing
        schema.create(con, described=path is not None)
    return con


def in_utc(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The connection with its session's time zone UTC: every instant of the views is a UTC
    TIMESTAMP, and the load's `iso_ts` casts through TIMESTAMPTZ in the session's zone. A cursor
    is a connection of its own and does not inherit it."""
    con.execute("SET TimeZone = 'UTC'")
    return con


def _naive_utc(t: datetime | None) -> datetime:
    t = t or datetime.now(UTC)
    if t.tzinfo is None:
        raise ValueError("evaluate_at must carry a time zone")
    return t.astimezone(UTC).replace(tzinfo=None)


def _as_table(batch: Any) -> pa.Table:
    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    cols = {}
    for name, typ in zip(ARROW_SCHEMA.names, ARROW_SCHEMA.types, strict=True):
        col = batch.column(name)
        if col.type != typ:  # the store's readers type their columns already: nothing to cast
            pc = _compute()
            if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
                col = pc.cast(col, pa.large_string() if pa.types.is_large_binary(col.type) else pa.string())
            col = pc.cast(col, typ)
        cols[name] = col
    return _upcast(pa.table(cols, schema=ARROW_SCHEMA))


def _compute() -> Any:
    """pyarrow.compute, imported when first needed: its import scrapes every function's docs
    (~40 ms), which a scratch replay of a few hundred rows (explain, a statement) never needs."""
    import pyarrow.compute as pc

    return pc


# a batch of at most this many rows has its distinct topics read in Python (without pyarrow.compute)
SMALL_BATCH = 10_000


def _topics(col: Any) -> list[str]:
    """The distinct topics of a batch's topic column, in order of first appearance."""
    if len(col) <= SMALL_BATCH:
        return list(dict.fromkeys(col.to_pylist()))
    return _compute().unique(col).to_pylist()


def _old_topics(topics: Iterable[str]) -> list[str]:
    """The topics among these of a version older than the fact type's current one."""
    out = []
    for topic in topics:
        _, name, v = topic.split(".")
        if name in FACT_TYPES and int(v[1:]) < FACT_TYPES[name].version:
            out.append(topic)
    return out


def _upcast(tbl: pa.Table) -> pa.Table:
    """Rows of an old topic version are upgraded in Python (domain.upcasting); the rest untouched."""
    old = _old_topics(_topics(tbl.column("topic")))
    if not old:
        return tbl
    states = tbl.column("state").to_pylist()
    topics = tbl.column("topic").to_pylist()
    for i, topic in enumerate(topics):
        if topic in old:
            _, name, v = topic.split(".")
            states[i] = upcast_state(name, int(v[1:]), states[i].encode()).decode()
    return tbl.set_column(tbl.schema.get_field_index("state"), "state", pa.array(states, pa.string()))


# the envelope's fields the views keep (actor and channel are read from the store: no view reads them)
ENVELOPE_FIELDS = ("occurred_at", "source_recorded_at", "id", "customer", "v")


def _ingest_sql(source: str, where: str = "", types: Collection[str] | None = None) -> str:
    """Rows of `source` (stored-log columns, already upcast) into `events`: each JSON state parsed
    ONCE, into the envelope's columns and the typed columns the fact types declare
    (projections.facts). The JSON itself is not kept: the views read the columns only.
    `types`: the only fact types the rows hold (None: any); the columns no other type fills are
    NULL without a parse (a live batch's, read from its Arrow columns: the statement of every
    type's ~50 columns cost ~7 ms of planning a batch).

    The one parse is `json_transform` to a struct of every field as text: the same text as
    `json_extract_string` with the list of every path (checked equal on the 1M bench ledger),
    in about half its time (one pass over each object's keys, where each path searches them)."""
    j = facts.parsed_json("state", ENVELOPE_FIELDS, types)
    typ = "b.type"  # once per row, not once per column
    return f"""
INSERT INTO events
SELECT b.position, iso_ts(b.recorded_at), iso_ts(j.occurred_at), iso_ts(j.source_recorded_at), {typ},
       split_part(b.topic, '.', 1), j.id, j.customer, b.originator_version,
       CAST(j.v AS INTEGER), false,
       date_diff('second', iso_ts(j.occurred_at), coalesce(iso_ts(j.source_recorded_at), iso_ts(b.recorded_at))),
       {facts.projection(typ, "j", types)}
FROM (SELECT position, originator_version, topic, recorded_at, split_part(topic, '.', 2) AS type,
             {j} AS j
      FROM {source} {where}) b
"""


@functools.lru_cache(maxsize=256)
def _ingest_batch_sql(types: frozenset[str]) -> str:
    """A live batch's ingest, of a batch holding these fact types. It may hold positions already
    applied (redelivery): skip them; the scan of `events` is limited to the batch's range, which
    the zone maps of the position column prune cheaply."""
    return _ingest_sql("_batch", "WHERE position NOT IN (SELECT position FROM events "
                                 "WHERE position >= (SELECT min(position) FROM _batch))", types)


@functools.cache
def _correct_sql(changed: tuple[str, ...]) -> tuple[str, str]:
    """Corrections (§3): a corrected fact's effective columns are, for each column, the latest
    value any correction gave its field (cast as the load casts it), else the value recorded;
    `occurred_at` too. What was recorded is kept in `corrected_facts` at the first correction,
    so a second correction (live, later) starts again from it, as the first did.

    Only the `changed` columns (those some correction in play names) are SET: any other column
    of a corrected fact holds what was recorded already, and DuckDB rewrites, at the COMMIT,
    every column an UPDATE sets in every row group it touches (corrections touch them all: the
    1M bench prefix's COMMIT took ~2 s with all ~47 columns set).

    They read `_fixes` (the corrections in play) and `_fixed` (the facts they correct, found by a
    narrow scan); `{at}` is `at_positions` of the latter: the wide rows are read at their positions."""
    cols = facts.columns()
    keys = ["occurred_at", *(c.name for c in cols)]
    picks = ", ".join(f"bool_or(key = '{k}') AS \"has_{k}\", any_value(val) FILTER (WHERE key = '{k}') AS \"val_{k}\""
                      for k in keys)

    def eff(k: str, value: str) -> str:
        return f"CASE WHEN p.\"has_{k}\" THEN {value} ELSE r.{k} END AS {k}"
    values = {"occurred_at": "iso_ts(json_extract_string(p.\"val_occurred_at\", '$'))",
              **{c.name: c.value("e.type", f"json_extract_string(p.\"val_{c.name}\", '$')") for c in cols}}
    sets = ", ".join(["e.position", *(eff(k, values[k]) for k in changed)])
    # §9.12 measures lateness from when the fact occurred: a corrected occurred_at moves it
    lateness = ("lateness_seconds = date_diff('second', fx.occurred_at, "
                "coalesce(events.source_recorded_at, events.recorded_at)), ")
    return schema.keep_as_recorded("{at}"), f"""
UPDATE events SET {"".join(f"{k} = fx.{k}, " for k in changed)}{lateness if "occurred_at" in changed else ""}corrected = true
FROM (
    WITH kv AS (SELECT aggregate AS agg, id AS oid, ver, position, unnest(json_keys(changes)) AS key, changes AS ch
                FROM _fixes),
    latest AS (SELECT agg, oid, ver, key, arg_max(json_extract(ch, '$."' || key || '"'), position) AS val
               FROM kv GROUP BY agg, oid, ver, key),
    patch AS (SELECT agg, oid, ver, {picks} FROM latest GROUP BY agg, oid, ver)
    SELECT {sets}
    FROM _fixed e JOIN patch p ON p.agg = e.aggregate AND p.oid = e.id AND p.ver = e.ver
    JOIN corrected_facts r ON r.position = e.position) fx
WHERE events.position = fx.position AND events.position {{at}}
"""


def _correct(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every correction of the aggregates in `_batch_fix` (see _correct_sql); returns the
    positions of the facts corrected (the only rows of `events` whose columns it set).

    The corrections are read once (`_fixes`), the facts they name found by their key on the few
    narrow columns (`_fixed`), and only then are wide rows read, at those positions."""
    con.execute("CREATE OR REPLACE TEMP TABLE _fixes AS SELECT aggregate, id, corrects_version AS ver, position, changes "
                "FROM events WHERE type = 'FactCorrected' AND (aggregate, id) IN (SELECT aggregate, id FROM _batch_fix)")
    con.execute("CREATE OR REPLACE TEMP TABLE _fixed AS SELECT e.position, e.type, e.aggregate, e.id, "
                "e.originator_version AS ver FROM events e JOIN (SELECT DISTINCT aggregate, id, ver FROM _fixes) f "
                "ON f.aggregate = e.aggregate AND f.id = e.id AND f.ver = e.originator_version")
    positions = sorted(r[0] for r in con.execute("SELECT position FROM _fixed").fetchall())
    if not positions:
        return []
    named = {r[0] for r in con.execute("SELECT DISTINCT unnest(json_keys(changes)) FROM _fixes").fetchall()}
    if con.execute(f"SELECT count(*) FROM beyond_bounds WHERE effect = '{bounds.LEFT_OUT}' "
                   "AND position IN (SELECT position FROM _fixed)").fetchall()[0][0]:
        # a number an earlier batch left out: its column is set again from what was recorded, so
        # that bounds.flag, re-checking the corrected fact, finds it again (a rebuild corrects first)
        named |= set(bounds.left_out_columns())
    columns = ("occurred_at", *(c.name for c in facts.columns()))
    at = at_positions(con, positions, "_fixed_at")
    for sql in _correct_sql(tuple(k for k in columns if k in named)):
        con.execute(sql.replace("{at}", at))
    return positions


def _ingest(con: duckdb.DuckDBPyConnection, batch: Any) -> dict[str, Any]:
    tbl = _as_table(batch)
    if tbl.num_rows == 0:
        return {"events": 0, "last": None, "global": False, "tickets": set()}
    # what the batch holds, read from its Arrow columns: a statement each cost ~1 ms of a batch
    first, last = (v.as_py() for v in _compute().min_max(tbl.column("position")).values())
    topics = [(*t.split(".", 2), "")[:2] for t in _topics(tbl.column("topic"))]  # (aggregate, name)
    types = frozenset(name for _, name in topics)
    con.register("_batch", tbl)
    try:
        con.execute(_ingest_batch_sql(types))
        corrected: list[int] = []
        if any(name == "FactCorrected" for _, name in topics):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _batch_fix AS SELECT DISTINCT split_part(topic, '.', 1) AS aggregate, "
                "json_extract_string(state, '$.id') AS id FROM _batch WHERE split_part(topic, '.', 2) = 'FactCorrected'"
            )
            corrected = _correct(con)
        # a corrected fact may be of any type; otherwise only the batch's own types are checked
        bounds.flag(con, since=first, corrected=corrected, types=None if corrected else types)
        con.execute(
            "INSERT INTO _touched SELECT DISTINCT json_extract_string(state, '$.id') FROM _batch "
            "WHERE split_part(topic, '.', 1) = 'ticket'"
        )
        con.execute(
            "INSERT INTO _touched_assets SELECT DISTINCT json_extract_string(state, '$.id') FROM _batch "
            "WHERE split_part(topic, '.', 1) = 'asset'"
        )
    finally:
        con.unregister("_batch")
    return {"events": tbl.num_rows, "last": last, "global": bool({"contract", "calendar"} & {a for a, _ in topics})}


def _begin(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE OR REPLACE TEMP TABLE _touched (ticket VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE _touched_assets (asset VARCHAR)")


def _checkpoint(con: duckdb.DuckDBPyConnection, consumer: str, position: int | None, ev: datetime) -> None:
    """The consumer's position, and the evaluation time the views now carry on every row: on every
    consumer's row, since each write re-stamps the whole views. A rebuild's row kept its own time
    after a follower took over, so the next batches' window of evaluation times (recompute.EVWIN,
    from the earliest row's) spanned from the rebuild to now and re-evaluated every visit period
    in it, batch after batch (7.9 of 10.7 s of CPU per batch at 10M, nine months after a rebuild)."""
    con.execute(
        "INSERT OR REPLACE INTO checkpoint SELECT ?, coalesce(?, (SELECT max(position) FROM events), 0), ?, "
        "(SELECT count(*) FROM events)", [consumer, position, ev],
    )
    con.execute("UPDATE checkpoint SET evaluated_at = ? WHERE evaluated_at IS DISTINCT FROM ?", [ev, ev])


def _terms_state(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the terms tables were built with what-if terms (a later plain apply rebuilds them)."""
    r = con.execute("SELECT bool_or(what_if) FROM terms").fetchall()[0]
    return bool(r and r[0])


def apply_batch(con: duckdb.DuckDBPyConnection, batch: pa.Table | Iterable[Any], evaluate_at: datetime | None,
                *, consumer: str = "rebuild", position: int | None = None,
                terms_override: Terms | dict | WhatIf | None = None,
                also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> dict[str, Any]:
    """Append `batch` (or an iterable of batches) and recompute, in ONE DuckDB transaction.

    Columns: position int64, originator_id, originator_version int64, topic, state (JSON text),
    recorded_at (ISO UTC). Positions already present are skipped (redelivery is harmless).
    `also`: more writes of the caller's, run first in the same transaction (the follower records
    there what it alerted of the batch before: a commit of their own cost each batch a second
    fsync, ~20 ms of wall time on the shared disk).
    """
    ev = _naive_utc(evaluate_at)
    batches = [batch] if isinstance(batch, pa.Table | pa.RecordBatch) else batch
    started = time.perf_counter()
    con = ParsedOnce(con)  # type: ignore[assignment]  # the follower runs the same texts batch after batch
    _begin(con)
    try:
        if also is not None:
            also(con)
        first = con.execute("SELECT count(*) FROM checkpoint").fetchall()[0][0] == 0
        n, last, glob = 0, None, False
        for b in batches:
            info = _ingest(con, b)
            n += info["events"]
            last = info["last"] if info["last"] is not None else last
            glob = glob or info["global"]
        rebuild_terms = first or glob or terms_override is not None or _terms_state(con)
        _recompute(con, ev, everything=rebuild_terms, terms_override=terms_override, rebuild_terms=rebuild_terms)
        _checkpoint(con, consumer, position if position is not None else last, ev)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"events": n, "last_position": last, "evaluated_at": ev, "seconds": time.perf_counter() - started}


def reevaluate(con: duckdb.DuckDBPyConnection, evaluate_at: datetime | None = None, *,
               consumer: str = "follow", also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
               ) -> dict[str, Any]:
    """Move the evaluation time: recompute every clock not yet final (the follower's timer).
    `also`: as apply_batch's."""
    empty = pa.table({n: pa.array([], t) for n, t in zip(ARROW_SCHEMA.names, ARROW_SCHEMA.types, strict=True)})
    pos = con.execute("SELECT position FROM checkpoint WHERE consumer = ?", [consumer]).fetchall()
    return apply_batch(con, empty, evaluate_at, consumer=consumer, position=pos[0][0] if pos else None, also=also)


def _upcast_stream(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """The store driver's stream with the rows of an old topic version upcast batch by batch
    (`_upcast`, domain.upcasting the one home of upcasts) before DuckDB parses them: the typed
    columns are derived once, from the current version's JSON, on this path as on the others."""
    def batches() -> Iterable[pa.RecordBatch]:
        for b in reader:
            old = _old_topics(_topics(b.column(b.schema.get_field_index("topic"))))
            if not old:
                yield b
                continue
            yield from _as_table(b).select(reader.schema.names).cast(reader.schema).to_batches()

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _streams(source: Any) -> tuple[pa.RecordBatchReader, ...] | None:
    """The store driver's C streams a source is (one, or a tuple: the log in position ranges), else None."""
    if isinstance(source, pa.RecordBatchReader):
        return (source,)
    if isinstance(source, tuple) and source and all(isinstance(s, pa.RecordBatchReader) for s in source):
        return source
    return None


def _insert_stream(con: duckdb.DuckDBPyConnection, stream: pa.RecordBatchReader,
                   told: Callable[[int], None] | None) -> None:
    """One C stream's rows, upcast, into `events`, in the connection's transaction."""
    stream = _upcast_stream(stream)
    con.register("_stream", _counted(stream, told) if told else stream)
    try:
        con.execute(_ingest_sql("_stream"))
    finally:
        con.unregister("_stream")


def _insert_streams(con: duckdb.DuckDBPyConnection, streams: tuple[pa.RecordBatchReader, ...],
                    told: Callable[[int], None] | None) -> None:
    """The streams (consecutive position ranges) into `events` at the same time: each by a cursor
    (a connection) of its own, on a thread of its own, in a transaction of its own, then committed
    in the streams' order, so `events` stays in log order. DuckDB keeps a stream's insertion
    order by running its whole INSERT (the read, the parse, the write) on one thread: with one
    stream the load used one core of two (the 2M prefix's INSERT: 11.2 s wall alone, 5.7 s as
    two streams side by side). `preserve_insertion_order = false` parallelised one stream as
    well, but left `events` in row-group order, not log order, for analysts reading it."""
    from concurrent.futures import ThreadPoolExecutor

    cursors = [in_utc(con.cursor()) for _ in streams]
    try:
        for cur in cursors:
            cur.execute("BEGIN TRANSACTION")
        with ThreadPoolExecutor(len(streams)) as pool:
            for done in [pool.submit(_insert_stream, cur, s, told) for cur, s in zip(cursors, streams, strict=True)]:
                done.result()
        for cur in cursors:
            cur.execute("COMMIT")
    except BaseException:
        for cur in cursors:
            with contextlib.suppress(duckdb.Error):  # not in a transaction any more: committed, or never begun
                cur.execute("ROLLBACK")
        raise
    finally:
        for cur in cursors:
            cur.close()


def _load(con: duckdb.DuckDBPyConnection, source: Any, progress: RebuildProgress | None = None) -> None:
    """Bulk path: every stored row, upcast, into `events` (no anti-join: the database is empty,
    nothing is redelivered), then corrections set-wise, in one transaction. Each row's JSON is
    parsed once, here, after its upcast (projections.facts: "parse at load").

    A `RecordBatchReader` (the store driver's C stream), or a tuple of them (the log in
    consecutive position ranges), is read by DuckDB itself and committed before the corrections'
    transaction (`_insert_streams`). Python iterables are inserted batch by batch in this thread
    (their readers, e.g. sqlite3, are bound to the thread that opened them, and DuckDB would pull
    from its own worker threads)."""
    streams = _streams(source)
    if streams is not None:
        _insert_streams(con, streams, _one_at_a_time(progress.loaded) if progress else None)
    con.execute("BEGIN TRANSACTION")
    try:
        if streams is None:
            for b in source:
                tbl = _as_table(b)
                con.register("_batch", tbl)
                try:
                    con.execute(_ingest_sql("_batch"))
                finally:
                    con.unregister("_batch")
                if progress:
                    progress.loaded(tbl.num_rows)
        con.execute("CREATE OR REPLACE TEMP TABLE _batch_fix AS SELECT DISTINCT aggregate, id FROM events "
                    "WHERE type = 'FactCorrected'")
        if con.execute("SELECT count(*) FROM _batch_fix").fetchall()[0][0]:
            _correct(con)
        bounds.flag(con)  # after the corrections: what a fact reads now is what is bounded
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@dataclass
class Twin:
    """A second views file of the same events under other terms (a scoped what-if's comparison under
    the terms as recorded, `replay --terms` with a scope), rebuilt beside a rebuild into a views file:
    the events are read and parsed once, the file holding them (and no view yet) is copied to `path`,
    and the two files' views are computed at once, on one DuckDB thread each. `then` runs on its
    connection once its views are computed (replay.scope.prune); `stats` is its computation's
    (`seconds`: from the copy to its views pruned, at the same time as the rebuild's own views)."""

    path: Path
    terms_override: Terms | dict | WhatIf | None = None
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    stats: dict[str, Any] = field(default_factory=dict)


def rebuild(con: duckdb.DuckDBPyConnection, batches: Any,
            evaluate_at: datetime | None = None, *, consumer: str = "rebuild",
            terms_override: Terms | dict | WhatIf | None = None,
            progress: RebuildProgress | None = None, upto: Upto = "all", twin: Twin | None = None) -> dict[str, Any]:
    """Empty the database's events and views, load every stored row, then compute the views once
    (telling `progress`, when given, the rows loaded and the steps computed). `upto`: every view,
    or for a scratch replay only the views its reader reads (projections.recompute). `twin`: the
    same events' views under its terms too, in its file (see Twin; `con` must be a file's).

    `batches`: an iterable of Arrow batches (or a callable returning one), or a
    `pyarrow.RecordBatchReader` straight from the store's driver (rows not yet upcast).
    The views come from the same `recompute` as a live batch's, over every ticket.
    """
    if callable(batches):
        batches = batches()
    ev = _naive_utc(evaluate_at)
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    for t in ("events", "corrected_facts", "checkpoint", "beyond_bounds", *schema.VIEW_TABLES):
        con.execute(f"DELETE FROM {t}")
    con.execute("COMMIT")
    _load(con, batches, progress)
    loaded = time.perf_counter()
    n, last = con.execute("SELECT count(*), max(position) FROM events").fetchall()[0]
    compute = functools.partial(_views, ev=ev, consumer=consumer, last=last, upto=upto)
    if twin is None:
        compute(con, terms_override=terms_override, step=progress.computed if progress else None)
        done = time.perf_counter()
    else:  # `seconds` stays this file's load and views: the twin's, at the same time, are its stats
        done = _beside(con, twin, compute, terms_override, progress)
    # the load (store -> decoded `events`, committed) apart from the views: the bench sets it beside the bare scan
    return {"events": n, "last_position": last, "evaluated_at": ev, "seconds": done - started,
            "load_seconds": loaded - started}


def _views(con: duckdb.DuckDBPyConnection, *, ev: datetime, consumer: str, last: int | None, upto: Upto,
          terms_override: Terms | dict | WhatIf | None, step: Callable[[int], None] | None) -> None:
    """Every view of the events loaded, in one transaction."""
    _begin(con)
    try:
        _recompute(con, ev, everything=True, terms_override=terms_override, rebuild_terms=True, step=step, upto=upto)
        _checkpoint(con, consumer, last, ev)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _beside(con: duckdb.DuckDBPyConnection, twin: Twin, compute: Callable[..., None],
            terms_override: Terms | dict | WhatIf | None, progress: RebuildProgress | None) -> float:
    """The loaded file copied to the twin's (a file copy: ~0.02 s for a customer's 220,860 events at
    10M, where moving the rows through Arrow cost 0.7 s of CPU), then both computations at once.
    One DuckDB thread each: a scope's tables are a row group or two, on which a second thread cost
    ~25 % more CPU (a customer's views at 10M: 2.9 against 2.3 s) and, beside the other
    computation, has no core to run on."""
    from concurrent.futures import ThreadPoolExecutor

    src = database_file(con)
    if src is None:
        raise ValueError("a twin is rebuilt beside a views file, not an in-memory database")
    con.execute("CHECKPOINT")  # the loaded events in the file itself, none in its WAL (see publish_snapshot)
    for p in (twin.path, Path(str(twin.path) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(src, twin.path)

    def other() -> None:
        started = time.perf_counter()
        tcon = open_views(twin.path, threads=1)
        try:
            compute(tcon, terms_override=twin.terms_override, step=None)
            if twin.then is not None:
                twin.then(tcon)
        finally:
            tcon.close()
        twin.stats["seconds"] = time.perf_counter() - started

    con.execute("SET threads = 1")
    try:
        with ThreadPoolExecutor(1) as pool:
            beside = pool.submit(other)
            try:
                compute(con, terms_override=terms_override, step=progress.computed if progress else None)
                done = time.perf_counter()
            finally:
                beside.result()  # waited for (and its error raised) whatever became of this one
    finally:
        con.execute("RESET threads")
    return done


def rebuild_from_store(source: Iterable[Any] | Callable[[], Iterable[Any]],
                       duckdb_path: str | Path | duckdb.DuckDBPyConnection | None,
                       evaluate_at: datetime | None = None, *, terms_override: Terms | dict | WhatIf | None = None,
                       consumer: str = "rebuild", progress: RebuildProgress | None = None,
                       upto: Upto = "all", twin: Twin | None = None) -> dict[str, Any]:
    """Bulk path: `source` yields Arrow batches of stored rows (adapters.store_arrow reads them
    from SQLite with ADBC or from PostgreSQL). Rebuilds into a fresh file at `duckdb_path`, in
    memory (None), or into an open views database, emptied and rebuilt in place (a scratch
    replay read in the same process needs no file). `upto`, `twin`: see `rebuild`."""
    if isinstance(duckdb_path, duckdb.DuckDBPyConnection):
        return rebuild(duckdb_path, source, evaluate_at, consumer=consumer, terms_override=terms_override,
                       progress=progress, upto=upto, twin=twin)
    if duckdb_path and Path(duckdb_path).exists():
        tmp = Path(str(duckdb_path) + ".rebuild")
        for p in (tmp, Path(str(tmp) + ".wal")):
            p.unlink(missing_ok=True)
        con = _open_fresh(tmp)
        try:
            stats = rebuild(con, source, evaluate_at, consumer=consumer, terms_override=terms_override,
                            progress=progress, upto=upto, twin=twin)
        finally:
            con.close()
        os.replace(tmp, duckdb_path)
        Path(str(duckdb_path) + ".wal").unlink(missing_ok=True)
        return stats
    con = _open_fresh(duckdb_path)
    try:
        return rebuild(con, source, evaluate_at, consumer=consumer, terms_override=terms_override,
                       progress=progress, upto=upto, twin=twin)
    finally:
        con.close()


def _open_fresh(path: str | Path | None) -> duckdb.DuckDBPyConnection:
    """A new views file for one rebuild, which then closes it.

    Its checkpoints vacuum nothing: a fresh file holds no deleted row to reclaim, and the one thing
    a vacuum finds there is the partial row group each of the clocks' passes (sla.TICKETS_PER_PASS)
    leaves at the end of its INSERTs, which it merges by rewriting them into new blocks: the first
    copy stayed in the file as free blocks (63 of the 10M file's 1,139 MB; at 3M 21 MB, and the
    commit's checkpoint 1.5 s against 0.1 s). The partial row groups cost 1.3 MB at 3M. A live
    follower's connection vacuums as DuckDB does by default (its DELETEs leave rows to reclaim).

    And each of its few commits checkpoints at once: the load's corrections UPDATE rewrites the
    columns they set, and the blocks that frees are reused by the views' writes only when the
    load's checkpoint comes before them (left to the end, 30 of the 10M file's 948 MB stayed free;
    3M: 302 -> 298 MB, 0 free)."""
    con = open_views(path)
    con.execute("SET max_vacuum_tasks = 0")
    con.execute("SET checkpoint_threshold = '0b'")
    return con


def publish_snapshot(con: duckdb.DuckDBPyConnection, path: str | Path, *, source: int | None = None) -> Path:
    """A read-only copy for analysts beside the follower (§7): written aside, then renamed.

    A views file is copied as a file once checkpointed: every committed change is then in it, and
    nothing rewrites its blocks until the next checkpoint (DuckDB writes a checkpoint's blocks
    anew, then switches the header). `COPY FROM DATABASE` re-encoded every table instead: ~0.25 s
    of CPU at 30k events, ~40 s for the ~1 GB of a 10M ledger, against a copy of the bytes.

    `source`: a descriptor of the views file that stays open as long as `con` (`copy_aside` says
    why). Without it the file is opened and closed here, which ends DuckDB's lock on it: only for
    a connection closed right after (`views rebuild`'s)."""
    path = Path(path)
    con.execute("CHECKPOINT")
    if source is not None:
        copy_aside(source, path)
        return path
    file = database_file(con)
    if file is None:
        raise ValueError("a snapshot is a copy of a views file, not of an in-memory database")
    fd = os.open(file, os.O_RDONLY)
    try:
        copy_aside(fd, path)
    finally:
        os.close(fd)
    return path


def copy_aside(source: int, path: Path) -> int:
    """The bytes of the file open as `source` copied to `path` (written to `<path>.part`, then
    renamed, so a reader opens the old copy or the new one); returns how many.

    From a descriptor, never by the file's name: a process that opens and closes a file drops
    every POSIX (fcntl) lock it holds on it, whichever descriptor took them. A follower copying
    `views.duckdb` with shutil.copyfile lost DuckDB's lock with its first snapshot: readers then
    opened the file being written instead of the snapshot, and `views rebuild` replaced it under the
    follower, which went on writing to the deleted file. Read at explicit offsets, so the
    descriptor's own offset is shared with nobody (the copy runs in a thread)."""
    tmp = path.with_name(path.name + ".part")
    size = os.fstat(source).st_size
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        done = 0
        ranged = hasattr(os, "copy_file_range")  # in the kernel, without the bytes passing through Python
        while done < size:
            if ranged:
                try:
                    n = os.copy_file_range(source, out, size - done, done, done)
                except OSError:  # not across these file systems, or not on this kernel
                    ranged = False
                    continue
            else:
                chunk = os.pread(source, min(size - done, 2**24), done)
                n = os.pwrite(out, chunk, done) if chunk else 0
            if n == 0:
                break  # the file ended early: copy what it holds
            done += n
    except BaseException:
        os.close(out)
        tmp.unlink(missing_ok=True)
        raise
    os.close(out)
    # a write-ahead log beside the snapshot is another process's, which opened a copy read-write:
    # DuckDB refuses to open the next copy with it ("WAL checkpoint iteration does not match")
    Path(f"{path}.wal").unlink(missing_ok=True)
    os.replace(tmp, path)
    return done


def database_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file of the connection's database; None when it is in memory."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(path[0][0]) if path and path[0][0] else None

