"""The live follower: keeps the DuckDB views current from a durable JetStream consumer.

Exactly once into the views: the position of the last applied event is stored by
`projections.apply_batch` in the same DuckDB transaction as the rows it changed, and the
consumer is (re)created at start from that position; `apply_batch` skips positions it
already holds, so a redelivery after a crash is harmless. Messages are acked only after
the transaction commits.

At start, and every `interval` seconds with no news, the follower re-evaluates every clock not
yet final (`projections.reevaluate`), so a deadline passing turns a clock to breached (§4).

Latency (recording -> visible): each fetch takes what the stream holds at once, so a batch is
whatever arrived while the previous one was applied; the consumer acks a whole batch with one
ack (AckPolicy.ALL) after its commit. A committed batch is visible at once to readers of
`views.duckdb` in this process. Other processes read `views-snapshot.duckdb`, a copy of the
checkpointed file made by a background thread at most every `snapshot_every` seconds when a
batch or a re-evaluation moved the views, spaced further for a large ledger (copying a quarter of
the time, writing 16 MiB/s at most: `snapshot_spacing`), and once more when the follower stops
(Ctrl-C, SIGTERM); a batch waits for the checkpoint, never for the copy.

Alerts (§6): each clock state change to at_risk, breached or met is published once on
`alert.<customer>.<ticket>.<clock>` (stream ALERTS); so is every change a live queue shows (the
web console's): a clock appearing as running, a deadline moved (consent, severity change, a wait
ended) and a pausing wait opening or ending (`paused_since`), a live clock becoming not
applicable, and an overdue clock stopping (its breach alerted again, with `stopped_at`).
`alert_state` in the views database holds the last state, deadline, pause and stop alerted per clock (a pass's, written in the next batch's transaction: no commit of its own); the
message id is `ticket:clock:n:state` (n counts that clock's alerts), and after a restart the last
message of each subject is read back before publishing, so a crash between publish and
bookkeeping neither loses nor doubles one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import nats.errors
import nats.js.api as jsapi
import pyarrow as pa
from nats.js import JetStreamContext

import projections
from projections.comments import comment

from .alerts import utc_instant
from .data_folder import snapshot_path, views_path
from .stream import (
    ALERTS_STREAM,
    H_MSG_ID,
    STREAM,
    ConnectOptions,
    NotLedgerEvent,
    StreamEvent,
    connect,
    ensure_alert_stream,
    ensure_stream,
    find_start_seq,
    parse_message,
    publish_alerts,
    read_events,
)

CONSUMER = "views-follower"
ALERT_STATES = ("at_risk", "breached", "met")
# nats-py's fetch(n), once a first message arrived, keeps collecting until its timeout: so a
# batch takes what is there within this short gather time, and only an empty stream is waited on
GATHER = 0.01
# The most events one views transaction takes. A batch costs about the same for 300 or 3,000
# events (its statements' fixed work: ~1.5 s of CPU at 10M), so a follower that fell behind drains
# in few large batches; one that keeps up takes what arrived during the last, far fewer
BATCH = 5000


@dataclass
class FollowStats:
    applied: int = 0
    skipped_garbage: int = 0
    reevaluations: int = 0
    alerts: int = 0
    last_position: int = 0


def _ensure_alert_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS alert_state (ticket VARCHAR, clock VARCHAR, state VARCHAR, "
        "alerts INTEGER, customer VARCHAR, PRIMARY KEY (ticket, clock))"
    )
    # what a live queue was last told (files of earlier versions gain the columns)
    con.execute("ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS deadline TIMESTAMP")
    con.execute("ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS paused_since TIMESTAMP")
    had = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'alert_state'").fetchall()}
    if "stopped" not in had:
        con.execute("ALTER TABLE alert_state ADD COLUMN stopped BOOLEAN")
        # an earlier version's file: what it alerted stands, so a clock already stopped is not news
        con.execute("UPDATE alert_state SET stopped = c.stopped_at IS NOT NULL FROM sla_clocks c "
                    "WHERE c.ticket = alert_state.ticket AND c.clock = alert_state.clock")


# A clock is alerted when its state changes to one of ALERT_STATES, when it appears running or
# returns to running, when a live clock's deadline or pause changes (a paused clock's deadline
# moves with every evaluation: that is the pause, not news), when a live clock stops applying,
# and when an overdue clock (breached, still running) stops: the queue shows it until then.
_CHANGED = """(
    (c.state IN ('at_risk', 'breached', 'met') AND c.state IS DISTINCT FROM a.state)
    OR (c.state = 'breached' AND a.state = 'breached' AND c.stopped_at IS NOT NULL AND NOT coalesce(a.stopped, false))
    OR (c.state = 'running' AND a.state IS DISTINCT FROM 'running')
    OR (c.state IN ('running', 'at_risk') AND a.state IN ('running', 'at_risk') AND (
        c.paused_since IS DISTINCT FROM a.paused_since
        OR (c.paused_since IS NULL AND c.deadline IS DISTINCT FROM a.deadline)))
    OR (c.state = 'not_applicable' AND a.state IN ('running', 'at_risk')))"""


_ALERT_TIMES = ("deadline", "evaluated_at", "paused_since", "stopped_at")  # published as UTC instants with Z


def pending_alerts(con: duckdb.DuckDBPyConnection, *, rewritten_only: bool = False) -> list[dict[str, Any]]:
    """Clock states not yet alerted, with their stable message keys.

    `rewritten_only`: only the clocks the last apply rewrote (`_aff`, left by
    projections.recompute on this connection); no other clock changed state since the last pass.
    """
    only = "AND c.ticket IN (SELECT ticket FROM _aff)" if rewritten_only else ""
    cur = con.execute(
        f"""SELECT c.customer, c.ticket, c.clock, c.state, coalesce(a.alerts, 0) + 1 AS n,
                  c.deadline, c.evaluated_at,
                  c.breach_minutes, c.contract, c.asset, c.site, c.severity, c.technician,
                  c.paused_since, c.stopped_at,
                  c.deadline AS _deadline,
                  c.paused_since AS _paused_since
           FROM sla_clocks c LEFT JOIN alert_state a USING (ticket, clock)
           WHERE {_CHANGED} {only}
           ORDER BY c.ticket, c.clock"""
    )
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        change = dict(zip(names, row, strict=True))
        for column in _ALERT_TIMES:
            change[column] = utc_instant(change[column])
        change["key"] = alert_key(change)
        out.append(change)
    return out


def alert_key(change: dict[str, Any]) -> str:
    """An alert's message id: its clock, its number among that clock's alerts, and the state."""
    return f"{change['ticket']}:{change['clock']}:{change['n']}:{change['state']}"


def mark_alerted(con: duckdb.DuckDBPyConnection, changes: list[dict[str, Any]]) -> None:
    if not changes:
        return
    rows = pa.table({
        "ticket": [c["ticket"] for c in changes], "clock": [c["clock"] for c in changes],
        "state": [c["state"] for c in changes], "alerts": pa.array([c["n"] for c in changes], pa.int32()),
        "customer": [c["customer"] for c in changes],
        "deadline": pa.array([c["_deadline"] for c in changes], pa.timestamp("us")),
        "paused_since": pa.array([c["_paused_since"] for c in changes], pa.timestamp("us")),
        "stopped": pa.array([c["stopped_at"] is not None for c in changes], pa.bool_()),
    })
    con.register("_alerted", rows)  # one set-wise upsert, not a statement per row
    try:
        con.execute("INSERT OR REPLACE INTO alert_state (ticket, clock, state, alerts, customer, deadline, "
                    "paused_since, stopped) SELECT * FROM _alerted")
    finally:
        con.unregister("_alerted")


async def _already_published(js: JetStreamContext, change: dict[str, Any]) -> bool:
    """Whether `change` went out before a crash; when the stream holds a later alert of its clock
    than alert_state says (published, then killed before the commit that records it) and this
    state differs, `change` takes the next number, so no (ticket, clock, n) is published twice."""
    subject = f"alert.{change['customer']}.{change['ticket']}.{change['clock']}"
    try:
        msg = await js.get_last_msg(ALERTS_STREAM, subject, direct=True)
    except nats.js.errors.NotFoundError:
        return False
    last = (msg.headers or {}).get(H_MSG_ID, "")
    if last == change["key"]:
        return True
    try:  # the key is ticket:clock:n:state; the ticket and the clock hold no ':' (ids are [A-Za-z0-9_-])
        published_n = int(last.rsplit(":", 2)[1])
    except (IndexError, ValueError):
        return False
    if published_n >= change["n"]:
        change["n"] = published_n + 1
        change["key"] = alert_key(change)
    return False


async def _fetch(sub: Any, n: int, timeout: float) -> list[Any]:
    try:
        return await sub.fetch(n, timeout=timeout)
    except (TimeoutError, nats.errors.TimeoutError):  # nats-py raises either when empty
        return []


# The share of the time the analysts' snapshot may spend copying, and the bytes it may write per
# second on average. A small ledger's views copy in a fraction of a second, so copies follow
# `--snapshot-every`. At 10M a copy is ~1.3 GB: one every few seconds wrote ~150 MB/s, and every
# reader that takes each new copy starts cold (the console's ticket pages, cached per copy, were
# built again: p95 of a page served before 77 ms with a copy a minute, 385-437 ms with one every
# few seconds); at 16 MiB/s it is one copy every ~80 s
SNAPSHOT_SHARE = 0.25
SNAPSHOT_BYTES_PER_S = 16 * 2**20


def snapshot_spacing(every: float, took: float, size: int = 0) -> float:
    """Seconds from the start of one snapshot copy to the next: `every`, or, when the last copy
    took `took` s and wrote `size` bytes, long enough that copying takes at most SNAPSHOT_SHARE
    of the time and writes at most SNAPSHOT_BYTES_PER_S on average."""
    return max(every, took / SNAPSHOT_SHARE, size / SNAPSHOT_BYTES_PER_S)


class Snapshots:
    """The analysts' snapshot, copied off the apply path.

    Between two batches the apply loop checkpoints the views file and holds off DuckDB's
    automatic checkpoints; a background thread then copies the file's bytes aside and renames the
    copy (projections.publish_snapshot says why the bytes of a checkpointed file are a consistent
    state), and lets checkpoints run again. Batches committed meanwhile go to the write-ahead log
    only. The apply loop only starts a copy when the last one is done, `every` seconds have passed
    and the views moved: a batch, or a re-evaluation alone (a deadline passed: a clock breached).

    The file is copied from one descriptor, opened here and closed only after the connection
    (`close`): closing any descriptor of it would end DuckDB's lock (projections.copy_aside).
    """

    # while a copy runs, no commit may checkpoint (DuckDB's largest size: never)
    HOLD = "1000 GiB"

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, every: float, log: Any) -> None:
        self.con, self.path, self.every, self.log = con, path, every, log
        self.reader = con.cursor()
        source = projections.database_file(con)
        if source is None:
            raise ValueError("a snapshot is a copy of a views file, not of an in-memory database")
        self.source = os.open(source, os.O_RDONLY)
        self.threshold = con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0]
        self.thread: threading.Thread | None = None
        self.started = float("-inf")
        self.took = 0.0  # seconds the last copy took
        self.size = 0  # bytes the last copy wrote
        # the views the last copy holds: (position, evaluation time)
        self.published: tuple[int, datetime | None] | None = None
        self.copies = 0

    def poke(self, position: int, evaluated_at: datetime | None = None) -> None:
        """Start a copy if one is due (the views at `position`, evaluated at `evaluated_at`, are not
        the ones published, and the spacing has passed); never waits for one."""
        if self.thread is not None and self.thread.is_alive():
            return
        views = (position, evaluated_at)
        if views == self.published or time.monotonic() - self.started < snapshot_spacing(self.every, self.took, self.size):
            return
        self.started = time.monotonic()
        try:
            self.con.execute("CHECKPOINT")
            self.con.execute(f"SET checkpoint_threshold = '{self.HOLD}'")
        except duckdb.Error as e:
            self.log(f"views follow: snapshot not published: {e}")
            return
        self.thread = threading.Thread(target=self._copy, args=(views,), name="views-snapshot", daemon=True)
        self.thread.start()

    def _copy(self, views: tuple[int, datetime | None]) -> None:
        with contextlib.suppress(AttributeError, OSError):  # Linux: this thread yields the CPU to batches
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            self.size = projections.copy_aside(self.source, self.path)
            self.published = views
            self.copies += 1
            self.took = time.monotonic() - self.started
        except OSError as e:
            self.log(f"views follow: snapshot not published: {e}")
        finally:
            self.reader.execute(f"SET checkpoint_threshold = '{self.threshold}'")

    def close(self, position: int, evaluated_at: datetime | None = None, *, publish: bool = True) -> None:
        """Wait for a copy under way, publish the last state (left to analysts), then close the
        views connection and only after it the descriptor the copies read."""
        try:
            if self.thread is not None:
                self.thread.join()
            if publish and (position, evaluated_at) != self.published:
                projections.publish_snapshot(self.con, self.path, source=self.source)
                self.published = (position, evaluated_at)
        finally:
            self.reader.close()
            self.con.close()
            os.close(self.source)


# views holding at least this many events are followed on every core (duckdb_threads)
MANY_EVENTS = 2_000_000


def duckdb_threads(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's threads for a follower of these views, chosen as it starts. A live batch runs ~90
    statements; on a few thousand events each is DuckDB's fixed cost on a few hundred rows, and a
    second thread costs more than it saves (~20 % more CPU per batch). On a large ledger the
    batch's reads of scattered tickets' facts are scans of the log, which a second thread halves:
    1,000-event batches on file, 2 threads against 1, wall p50 at 2M events 1.62-1.72 against
    1.88-1.91 s (CPU +14-19 %), at 10M 3.56-3.70 against 5.69-5.70 s (CPU +8-12 %)."""
    events = con.execute("SELECT coalesce(max(events), 0) FROM checkpoint").fetchall()[0][0]
    return (os.cpu_count() or 1) if events >= MANY_EVENTS else 1


class Follower:
    def __init__(self, data_dir: Path, url: str, options: ConnectOptions | None = None, *,
                 interval: float = 30.0, batch: int = BATCH, alerts: bool = True, snapshot: bool = True,
                 snapshot_every: float = 2.0, wait: float = 0.5, timings: Path | None = None,
                 threads: int | None = None, fsync: bool = True, log: Any = None) -> None:
        self.data_dir, self.url, self.options = data_dir, url, options
        self.interval, self.batch, self.alerts, self.snapshot = interval, batch, alerts, snapshot
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.stats = FollowStats()
        self._first_alert_pass = True
        # alerted, not yet recorded in alert_state: recorded in the next batch's transaction
        self._alerted: list[dict[str, Any]] = []
        self.snapshot_every, self.wait, self.threads = snapshot_every, wait, threads
        self.fsync = fsync
        self.timings = timings  # a JSON line per committed batch (bench.live_bench reads it)
        self._snapshots: Snapshots | None = None
        self._withheld = WithheldFromStore(data_dir, lambda m: self.log(f"views follow: {m}"))
        self._seen_seq = 0
        self._caught_up = False  # fetched everything the stream held when the follower started
        self._evaluated_at: datetime | None = None  # the views' evaluation time, this follower's last
        self._stopping = False  # SIGTERM: stop after the batch under way, as Ctrl-C does

    async def run(self, *, until_position: int | None = None, max_seconds: float | None = None) -> FollowStats:
        nc = await connect(self.url, self.options)
        js = nc.jetstream(timeout=30)  # a busy server answers API requests late; waiting is right here
        con = projections.open_views(views_path(self.data_dir))
        con.execute(f"SET threads = {self.threads or duckdb_threads(con)}")
        if not self.fsync:
            # The views are derived and hold their own position: after a crash of the process the OS
            # still writes what was committed, and a batch lost with the machine is fetched again from
            # the stream; a file left corrupt by an OS or power failure is rebuilt from the store
            # (`views rebuild`). Each commit's fsync was 20-200 ms of a batch's wall time on a shared
            # disk (live_bench --profile on file, docs/performance-history.md).
            con.execute("SET fsync_mode = 'NONE'")
        _ensure_alert_table(con)
        comment(con)  # alert_state is made here, after the schema's comments were written
        timings = open(self.timings, "a", buffering=1) if self.timings else None  # noqa: SIM115
        on_signals = self._stop_on_signals()
        try:
            await ensure_stream(js)
            if self.alerts:
                await ensure_alert_stream(js)
            # The first snapshot waits for the initial catch-up: the stream's end when the follower
            # started. Published earlier, it showed analysts an empty (or old) ledger as if current.
            catch_up_to = (await js.stream_info(STREAM)).state.last_seq
            sub, start = await self._subscribe(js, con)
            self._seen_seq = start - 1  # the last stream sequence fetched (ledger event or not)
            self._caught_up = self._seen_seq >= catch_up_to
            if self.snapshot:
                self._snapshots = Snapshots(con, snapshot_path(self.data_dir), self.snapshot_every, self.log)
            # Views left at an earlier evaluation time (a rebuild, a follower stopped for a while)
            # are brought to now before the first batch: that batch re-evaluated every clock and
            # visit period of the time between (30 s at 10M after a rebuild months old), and every
            # event behind it waited for that
            self._reevaluate(con)
            if self._caught_up:  # nothing behind on the stream can contradict what it found: alert now
                await self._after_checkpoint(js, con)
            started = last_eval = time.monotonic()
            while True:
                t0 = time.monotonic()
                msgs = await self._next_batch(sub)
                if msgs:
                    self._seen_seq = msgs[-1].metadata.sequence.stream
                    self._caught_up = self._caught_up or self._seen_seq >= catch_up_to
                    t1, cpu = time.monotonic(), time.process_time()
                    n = self._apply(con, msgs)
                    t2, cpu = time.monotonic(), time.process_time() - cpu
                    committed = time.time()
                    await msgs[-1].ack()  # AckPolicy.ALL: acks the whole batch, after its commit
                    if n or self._first_alert_pass:  # a batch of redelivered events changed no clock
                        await self._after_checkpoint(js, con)
                    last_eval = time.monotonic()
                    if timings:
                        stamps = [m.metadata.timestamp.timestamp() for m in (msgs[0], msgs[-1])]
                        timings.write(json.dumps({
                            "committed": committed, "position": self.stats.last_position, "events": n,
                            "messages": len(msgs), "fetch_s": round(t1 - t0, 4), "apply_s": round(t2 - t1, 4),
                            "apply_cpu_s": round(cpu, 4),
                            "after_s": round(last_eval - t2, 4), "stream_first": stamps[0], "stream_last": stamps[1],
                        }) + "\n")
                elif time.monotonic() - last_eval >= self.interval:
                    self._reevaluate(con, also=self._record_alerted)
                    self._alerted = []
                    await self._after_checkpoint(js, con)
                    last_eval = time.monotonic()
                if self._snapshots is not None and self._caught_up:
                    self._snapshots.poke(self.stats.last_position, self._evaluated_at)
                if self._stopping:
                    return self.stats
                if until_position is not None and self.stats.last_position >= until_position:
                    return self.stats
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    return self.stats
        finally:
            if on_signals:  # a second Ctrl-C during the clean-up below stops it
                for number in (signal.SIGTERM, signal.SIGINT):
                    asyncio.get_running_loop().remove_signal_handler(number)
            if self._alerted:  # what the last pass published, in a transaction of its own
                with contextlib.suppress(duckdb.Error):
                    mark_alerted(con, self._alerted)
            if self._snapshots is not None:
                with contextlib.suppress(duckdb.Error):  # leave analysts the last state, once caught up
                    self._snapshots.close(self.stats.last_position, self._evaluated_at, publish=self._caught_up)
            if timings:
                timings.close()
            self._withheld.close()
            con.close()
            await nc.close()

    def _stop_on_signals(self) -> bool:
        """SIGTERM (`kill`, a service manager's stop) and Ctrl-C end the follower after the batch
        under way, leaving analysts the last snapshot (SIGTERM killed the process, and the snapshot
        kept whatever the last copy held); a second Ctrl-C stops at once. Only a main thread takes
        signals: a follower run in another keeps the process's handling."""
        def stop() -> None:
            if self._stopping:  # asked again (a second Ctrl-C): now, not after the batch
                raise KeyboardInterrupt
            self._stopping = True

        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGTERM, stop)
            # Ctrl-C too: asyncio's own cancelled the task wherever it awaited, a batch's thread
            # included, and a loaded machine saw the follower hang in that cleanup
            loop.add_signal_handler(signal.SIGINT, stop)
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        return True

    async def _next_batch(self, sub: Any) -> list[Any]:
        """Up to `batch` messages the stream holds now; when none, wait up to `wait` seconds
        for the first and take what came with it.

        A backlog is taken whole (up to `batch`): while the last message says the consumer holds
        more (`num_pending`), fetch again. One gather took ~600 messages (nats-py decodes about
        that many in GATHER), so a follower behind by thousands applied batches of ~600 and ~400
        in turn, while a batch costs about the same for 50 or 4,000 events (live_bench --profile,
        the live bench's ledger: ~380 ms of CPU, +0.04 ms an event): its pace was capped by GATHER."""
        msgs = await _fetch(sub, self.batch, GATHER)
        if not msgs and self.batch > 1:
            first = await _fetch(sub, 1, self.wait)
            if not first:
                return []
            msgs = first + await _fetch(sub, self.batch - 1, GATHER)
        while msgs and len(msgs) < self.batch and msgs[-1].metadata.num_pending:
            more = await _fetch(sub, self.batch - len(msgs), GATHER)
            if not more:
                break
            msgs += more
        return msgs

    async def _subscribe(self, js: JetStreamContext, con: duckdb.DuckDBPyConnection) -> tuple[Any, int]:
        """The durable consumer starts after the position the views hold (DuckDB is the truth);
        returns it and the stream sequence it starts at."""
        held = con.execute("SELECT coalesce(max(position), 0) FROM events").fetchall()[0][0]
        self.stats.last_position = held
        start = await find_start_seq(js, STREAM, position=held + 1)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(STREAM, CONSUMER)
        config = jsapi.ConsumerConfig(
            durable_name=CONSUMER,
            deliver_policy=jsapi.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(start, 1),
            max_ack_pending=-1, ack_policy=jsapi.AckPolicy.ALL,
        )
        return await js.pull_subscribe("ledger.>", durable=CONSUMER, stream=STREAM, config=config), max(start, 1)

    def _apply(self, con: duckdb.DuckDBPyConnection, msgs: list[Any]) -> int:
        """Apply the ledger events among `msgs` in one transaction; returns how many."""
        events = []
        for m in msgs:
            try:
                e = parse_message(m.subject, m.data, m.headers, m.metadata.sequence.stream)
            except NotLedgerEvent as err:
                self.stats.skipped_garbage += 1
                self.log(f"views follow: skipped stream message {m.metadata.sequence.stream} on {m.subject}: {err}")
                continue
            if e.position > self.stats.last_position:
                events.append(e)
        events = self._withheld.fill(events)
        if not events:
            return 0
        table = events_table(events)
        last = max(e.position for e in events)
        self._evaluated_at = datetime.now(UTC)
        projections.apply_batch(con, table, self._evaluated_at, consumer="follow", position=last,
                                also=self._record_alerted)
        self._alerted = []
        self.stats.applied += table.num_rows
        self.stats.last_position = last
        return table.num_rows

    def _reevaluate(self, con: duckdb.DuckDBPyConnection, **kwargs: Any) -> None:
        """Every clock not yet final evaluated at now (a deadline passing turns one to breached)."""
        self._evaluated_at = datetime.now(UTC)
        projections.reevaluate(con, self._evaluated_at, consumer="follow", **kwargs)
        self.stats.reevaluations += 1

    async def _after_checkpoint(self, js: JetStreamContext, con: duckdb.DuckDBPyConnection) -> None:
        if self.alerts:
            if self._alerted:  # no transaction ran since the last pass: recorded before this one reads
                mark_alerted(con, self._alerted)
                self._alerted = []
            # after the first full pass, a pass reads only the clocks just rewritten
            pending = pending_alerts(con, rewritten_only=not self._first_alert_pass)
            to_publish = pending
            if self._first_alert_pass:
                # After a restart, some of these may have been published before the crash.
                to_publish = [c for c in pending if not await _already_published(js, c)]
                self._first_alert_pass = False
            if to_publish:
                self.stats.alerts += await publish_alerts(js, to_publish)
            # Recorded with the next batch (or re-evaluation, or at the end): one commit per batch.
            # A crash before that commit is a crash between publishing and recording, as before:
            # the first pass after the restart finds them published (_already_published).
            self._alerted = pending

    def _record_alerted(self, con: duckdb.DuckDBPyConnection) -> None:
        """Inside a batch's transaction: what the last alert pass published."""
        mark_alerted(con, self._alerted)


class WithheldFromStore:
    """The stored bytes of events the stream carries withheld (too large for one message, see
    adapters.relay.message_for), read from the ledger in the data folder when it has one; without
    one such an event cannot be applied, and is skipped, saying so."""

    def __init__(self, data_dir: Path, log: Any) -> None:
        self.data_dir, self.log = data_dir, log
        self.ledger: Any = None
        self.skipped = 0

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def fill(self, events: list[StreamEvent]) -> list[StreamEvent]:
        if not any(e.withheld for e in events):
            return events
        return [f for e in events if (f := self._filled(e) if e.withheld else e) is not None]

    def _filled(self, e: StreamEvent) -> StreamEvent | None:
        import dataclasses
        import hashlib

        from .store import StoreConfig, read_log

        config = StoreConfig.from_env(self.data_dir)
        if self.ledger is None and (config.postgres_dsn or config.sqlite_path.exists()):
            from .ledger import Ledger

            self.ledger = Ledger.open(config)
        rows = read_log(self.ledger, e.position, 1, e.position) if self.ledger is not None else []
        if rows and hashlib.sha256(rows[0].state).hexdigest() == e.sha256:
            return dataclasses.replace(e, data=rows[0].state)
        self.skipped += 1
        self.log(f"position {e.position} ({e.subject}) is withheld from the stream ({e.withheld}) and "
                 f"{'the ledger in ' + str(self.data_dir) + ' does not hold it' if self.ledger else 'no ledger is at hand'}"
                 "; the views lack it (rebuild them from the store: `views rebuild`)")
        return None


def events_table(events: list[StreamEvent]) -> pa.Table:
    """Stream events as the Arrow rows `projections.apply_batch` takes (same as the store's)."""
    ids = [e.msg_id.rpartition(":") for e in events]
    return pa.table({
        "position": [e.position for e in events],
        "originator_id": [oid for oid, _, _ in ids],
        "originator_version": [int(v) for _, _, v in ids],
        "topic": [e.topic for e in events],
        "state": [e.data.decode() for e in events],
        "recorded_at": [e.recorded_at for e in events],
    }, schema=projections.ARROW_SCHEMA)


def stream_batches(url: str, options: ConnectOptions | None = None, size: int = 50_000,
                   data_dir: Path | None = None) -> list[pa.Table]:
    """The whole LEDGER stream as Arrow batches, for `views rebuild --from nats` (withheld events
    read from the ledger in `data_dir`, when there is one)."""

    async def collect() -> list[pa.Table]:
        nc = await connect(url, options)
        out: list[pa.Table] = []
        chunk: list[StreamEvent] = []
        withheld = WithheldFromStore(data_dir or Path("."), lambda m: print(f"views rebuild: {m}", file=sys.stderr))

        def garbage(seq: int, subject: str, reason: str) -> None:
            print(f"views rebuild: skipped stream message {seq} on {subject}: {reason}", file=sys.stderr)

        try:
            async for e in read_events(nc.jetstream(), on_garbage=garbage):
                chunk.append(e)
                if len(chunk) >= size:
                    out.append(events_table(withheld.fill(chunk)))
                    chunk = []
        finally:
            await nc.close()
        if chunk:
            out.append(events_table(withheld.fill(chunk)))
        withheld.close()
        return out

    return asyncio.run(collect())


def follow(data_dir: Path, url: str, options: ConnectOptions | None = None, **kwargs: Any) -> FollowStats:
    run_kwargs = {k: kwargs.pop(k) for k in ("until_position", "max_seconds") if k in kwargs}
    return asyncio.run(Follower(data_dir, url, options, **kwargs).run(**run_kwargs))


def main(argv: list[str] | None = None) -> int:
    """python -m adapters.follower DATA_DIR URL [--until-position N] [--interval S] [--batch N]"""
    import argparse

    from .cli import positive_float, positive_int

    p = argparse.ArgumentParser(prog="python -m adapters.follower", description=main.__doc__)
    p.add_argument("data_dir", type=Path)
    p.add_argument("url")
    p.add_argument("--until-position", type=int, default=None)
    p.add_argument("--max-seconds", type=positive_float, default=None)
    p.add_argument("--interval", type=positive_float, default=30.0)
    p.add_argument("--batch", type=positive_int, default=BATCH)
    p.add_argument("--snapshot-every", type=positive_float, default=2.0)
    p.add_argument("--timings", type=Path, default=None, help="append a JSON line per committed batch here")
    p.add_argument("--no-fsync", action="store_true",
                   help="commit the views without waiting for the disk (an OS crash may need `views rebuild`)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="DuckDB's threads (default: 1 below 2M events in the views, else one per core)")
    a = p.parse_args(argv)
    stats = follow(a.data_dir, a.url, interval=a.interval, batch=a.batch, snapshot_every=a.snapshot_every,
                   timings=a.timings, until_position=a.until_position, max_seconds=a.max_seconds,
                   fsync=not a.no_fsync, threads=a.threads)
    print(f"applied {stats.applied}, alerts {stats.alerts}, last position {stats.last_position}")
    return 0


if __name__ == "__main__":
    from .allocator import run_under_jemalloc

    run_under_jemalloc("python -m adapters.follower")
    sys.exit(main())
