"""The live follower: keeps the DuckDB views current from a durable JetStream consumer.

Exactly once into the views: the position of the last applied event is stored by
`projections.apply_batch` in the same DuckDB transaction as the rows it changed, and the
consumer is (re)created at start from that position; `apply_batch` skips positions it
already holds, so a redelivery after a crash is harmless. Messages are acked only after
the transaction commits.

Every `interval` seconds with no news the follower re-evaluates every clock not yet final
(`projections.reevaluate`), so a deadline passing turns a clock to breached (§4).

Alerts (§6): each clock state change to at_risk, breached or met is published once on
`alert.<customer>.<ticket>.<clock>` (stream ALERTS). `alert_state` in the views database
holds the last state alerted per clock; the message id is `ticket:clock:n:state` (n counts
that clock's alerts), and after a restart the last message of each subject is read back
before publishing, so a crash between publish and bookkeeping neither loses nor doubles one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
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


@dataclass
class FollowStats:
    applied: int = 0
    skipped_garbage: int = 0
    reevaluations: int = 0
    alerts: int = 0
    last_position: int = 0


def views_path(data_dir: Path) -> Path:
    return data_dir / "views.duckdb"


def snapshot_path(data_dir: Path) -> Path:
    return data_dir / "views-snapshot.duckdb"


def _ensure_alert_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS alert_state (ticket VARCHAR, clock VARCHAR, state VARCHAR, "
        "alerts INTEGER, customer VARCHAR, PRIMARY KEY (ticket, clock))"
    )


def pending_alerts(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Clock states not yet alerted, with their stable message keys."""
    rows = con.execute(
        """SELECT c.customer, c.ticket, c.clock, c.state, coalesce(a.alerts, 0) + 1 AS n,
                  CAST(c.deadline AS VARCHAR), CAST(c.evaluated_at AS VARCHAR), c.breach_minutes
           FROM sla_clocks c LEFT JOIN alert_state a USING (ticket, clock)
           WHERE c.state IN ('at_risk', 'breached', 'met') AND c.state IS DISTINCT FROM a.state
           ORDER BY c.ticket, c.clock"""
    ).fetchall()
    return [
        {"customer": cu, "ticket": t, "clock": c, "state": s, "n": n, "key": f"{t}:{c}:{n}:{s}",
         "deadline": d, "evaluated_at": e, "breach_minutes": b}
        for cu, t, c, s, n, d, e, b in rows
    ]


def mark_alerted(con: duckdb.DuckDBPyConnection, changes: list[dict[str, Any]]) -> None:
    if not changes:
        return
    rows = pa.table({
        "ticket": [c["ticket"] for c in changes], "clock": [c["clock"] for c in changes],
        "state": [c["state"] for c in changes], "alerts": pa.array([c["n"] for c in changes], pa.int32()),
        "customer": [c["customer"] for c in changes],
    })
    con.register("_alerted", rows)  # one set-wise upsert, not a statement per row
    try:
        con.execute("INSERT OR REPLACE INTO alert_state SELECT * FROM _alerted")
    finally:
        con.unregister("_alerted")


async def _already_published(js: JetStreamContext, change: dict[str, Any]) -> bool:
    subject = f"alert.{change['customer']}.{change['ticket']}.{change['clock']}"
    try:
        msg = await js.get_last_msg(ALERTS_STREAM, subject, direct=True)
    except nats.js.errors.NotFoundError:
        return False
    return (msg.headers or {}).get(H_MSG_ID) == change["key"]


class Follower:
    def __init__(self, data_dir: Path, url: str, options: ConnectOptions | None = None, *,
                 interval: float = 30.0, batch: int = 1000, alerts: bool = True, snapshot: bool = True,
                 snapshot_every: float = 2.0, log: Any = None) -> None:
        self.data_dir, self.url, self.options = data_dir, url, options
        self.interval, self.batch, self.alerts, self.snapshot = interval, batch, alerts, snapshot
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.stats = FollowStats()
        self._first_alert_pass = True
        self.snapshot_every = snapshot_every
        self._snapshot_at = float("-inf")

    async def run(self, *, until_position: int | None = None, max_seconds: float | None = None) -> FollowStats:
        nc = await connect(self.url, self.options)
        js = nc.jetstream(timeout=30)  # a busy server answers API requests late; waiting is right here
        con = projections.open_views(views_path(self.data_dir))
        _ensure_alert_table(con)
        try:
            await ensure_stream(js)
            if self.alerts:
                await ensure_alert_stream(js)
            sub = await self._subscribe(js, con)
            started = last_eval = time.monotonic()
            while True:
                try:
                    msgs = await sub.fetch(self.batch, timeout=0.2)
                except (TimeoutError, nats.errors.TimeoutError):  # nats-py raises either when empty
                    msgs = []
                if msgs:
                    self._apply(con, msgs)
                    for m in msgs:
                        await m.ack()
                    await self._after_checkpoint(js, con)
                    last_eval = time.monotonic()
                elif time.monotonic() - last_eval >= self.interval:
                    projections.reevaluate(con, datetime.now(UTC), consumer="follow")
                    self.stats.reevaluations += 1
                    await self._after_checkpoint(js, con)
                    last_eval = time.monotonic()
                if until_position is not None and self.stats.last_position >= until_position:
                    return self.stats
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    return self.stats
        finally:
            if self.snapshot and self._snapshot_at != float("-inf"):
                with contextlib.suppress(duckdb.Error):  # leave analysts the last state
                    projections.publish_snapshot(con, snapshot_path(self.data_dir))
            con.close()
            await nc.close()

    async def _subscribe(self, js: JetStreamContext, con: duckdb.DuckDBPyConnection) -> Any:
        """The durable consumer starts after the position the views hold (DuckDB is the truth)."""
        held = con.execute("SELECT coalesce(max(position), 0) FROM events").fetchall()[0][0]
        self.stats.last_position = held
        start = await find_start_seq(js, STREAM, position=held + 1)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(STREAM, CONSUMER)
        config = jsapi.ConsumerConfig(
            durable_name=CONSUMER, ack_policy=jsapi.AckPolicy.EXPLICIT,
            deliver_policy=jsapi.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(start, 1),
            max_ack_pending=-1,
        )
        return await js.pull_subscribe("ledger.>", durable=CONSUMER, stream=STREAM, config=config)

    def _apply(self, con: duckdb.DuckDBPyConnection, msgs: list[Any]) -> None:
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
        if not events:
            return
        table = events_table(events)
        last = max(e.position for e in events)
        projections.apply_batch(con, table, datetime.now(UTC), consumer="follow", position=last)
        self.stats.applied += table.num_rows
        self.stats.last_position = last

    async def _after_checkpoint(self, js: JetStreamContext, con: duckdb.DuckDBPyConnection) -> None:
        if self.alerts:
            pending = pending_alerts(con)
            to_publish = pending
            if self._first_alert_pass:
                # After a restart, some of these may have been published before the crash.
                to_publish = [c for c in pending if not await _already_published(js, c)]
                self._first_alert_pass = False
            if to_publish:
                self.stats.alerts += await publish_alerts(js, to_publish)
            mark_alerted(con, pending)
        if self.snapshot and time.monotonic() - self._snapshot_at >= self.snapshot_every:
            # A snapshot copies the whole database: at most every `snapshot_every` seconds.
            projections.publish_snapshot(con, snapshot_path(self.data_dir))
            self._snapshot_at = time.monotonic()


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


def stream_batches(url: str, options: ConnectOptions | None = None, size: int = 50_000) -> list[pa.Table]:
    """The whole LEDGER stream as Arrow batches, for `views rebuild --from nats`."""

    async def collect() -> list[pa.Table]:
        nc = await connect(url, options)
        out: list[pa.Table] = []
        chunk: list[StreamEvent] = []

        def garbage(seq: int, subject: str, reason: str) -> None:
            print(f"views rebuild: skipped stream message {seq} on {subject}: {reason}", file=sys.stderr)

        try:
            async for e in read_events(nc.jetstream(), on_garbage=garbage):
                chunk.append(e)
                if len(chunk) >= size:
                    out.append(events_table(chunk))
                    chunk = []
        finally:
            await nc.close()
        if chunk:
            out.append(events_table(chunk))
        return out

    return asyncio.run(collect())


def follow(data_dir: Path, url: str, options: ConnectOptions | None = None, **kwargs: Any) -> FollowStats:
    run_kwargs = {k: kwargs.pop(k) for k in ("until_position", "max_seconds") if k in kwargs}
    return asyncio.run(Follower(data_dir, url, options, **kwargs).run(**run_kwargs))


def main(argv: list[str] | None = None) -> int:
    """python -m adapters.follower DATA_DIR URL [--until-position N] [--interval S] [--batch N]"""
    import argparse

    p = argparse.ArgumentParser(prog="python -m adapters.follower", description=main.__doc__)
    p.add_argument("data_dir", type=Path)
    p.add_argument("url")
    p.add_argument("--until-position", type=int, default=None)
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--interval", type=float, default=30.0)
    p.add_argument("--batch", type=int, default=1000)
    a = p.parse_args(argv)
    stats = follow(a.data_dir, a.url, interval=a.interval, batch=a.batch,
                   until_position=a.until_position, max_seconds=a.max_seconds)
    print(f"applied {stats.applied}, alerts {stats.alerts}, last position {stats.last_position}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
