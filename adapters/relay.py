"""The relay: the store's log -> the LEDGER stream, exactly once (transactional outbox).

Recording never waits on NATS: commands are recorded in the store whatever NATS does, and
this relay follows the store's global log by polling `read_log` (every 20 ms when idle: another
process's commit gives no signal, and a query on the position index costs ~0.1 ms). It publishes in log
order, pipelined (windows of publishes whose acks come back on one reply subscription, `Acks`),
and fences every message with `Nats-Expected-Last-Sequence` = the sequence it expects the
stream to be at.

Exactly once, without relying on the duplicate window:
  * resume point = the `Ledger-Position` header of the stream's last ledger message, and
    the expected sequence = the stream's last sequence; both read from the stream itself,
    so a relay killed at any instant (kill -9 mid-batch) resumes with no gap and no double;
  * a second, stale relay (or anything else publishing on ledger.>) makes the server
    reject the fenced publish (err 10071); the relay then re-reads the stream's end and
    goes on from there;
  * `Nats-Msg-Id` (`originator_id:version`) lets the server drop a duplicate inside the
    duplicate window as a second line of defence.

Run: `ticketledger relay [--follow]`, `python -m adapters.relay --data-dir D [--nats-url U]`,
or from Python `relay_all(ledger, nats_url)`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from eventsourcing.persistence import InterfaceError
from eventsourcing.persistence import OperationalError as StoreUnavailable
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as jsapi
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from domain.errors import N_, Explained, Phrase

from .message_size import DEFAULT_MAX_EVENT_BYTES
from .store import EventStoreApp, LogRow, on_postgres, read_log
from .stream import (
    H_WITHHELD,
    STREAM,
    ConnectOptions,
    NotLedgerEvent,
    connect,
    connected_version,
    header_bytes,
    headers_for,
    parse_message,
    refuse_old_server,
    subject_for,
)
from .stream_guard import check_agrees, open_guarded, saw_messages
from .tlog_stream import CheckpointPublisher, publisher_for

WRONG_LAST_SEQUENCE = 10071


@dataclass
class Resume:
    position: int  # the last ledger position in the stream (0: none)
    last_seq: int  # the stream's last sequence (what the next publish expects)
    leaf: int | None = None  # the next event's leaf index (None: the stream does not say)
    link: str = ""  # the Ledger-Link of the stream's last event ("" : none)


async def resume_point(js: JetStreamContext, stream: str = STREAM) -> Resume:
    """Read the stream's end: its last sequence, the ledger position of its last event, and
    the leaf index after it when its message carries one."""
    info = await js.stream_info(stream)
    last = info.state.last_seq
    seq = last
    while seq >= max(1, info.state.first_seq):
        try:
            m = await js.get_msg(stream, seq, direct=True)
        except NotFoundError:
            seq -= 1
            continue
        try:
            event = parse_message(m.subject, m.data, m.headers, seq)
            return Resume(event.position, last, None if event.leaf_index is None else event.leaf_index + 1,
                          event.link)
        except NotLedgerEvent:
            seq -= 1  # a message that is not a ledger event: look further back
    return Resume(0, last, 0)


async def checked_resume(app: EventStoreApp, js: JetStreamContext, stream: str = STREAM) -> Resume:
    """The stream's end (`resume_point`), refused (StreamChanged) when its last event is not the
    store's (adapters.stream_guard.agreement): resuming there would skip the store's own events."""
    at = await resume_point(js, stream)
    await asyncio.to_thread(check_agrees, app, stream, at.position, at.link)
    if at.leaf is None:
        at.leaf = await asyncio.to_thread(events_through, app, at.position)
    return at


def events_through(app: EventStoreApp, position: int) -> int:
    """How many events the log holds up to `position`: the leaf index of the next one (read from
    the Merkle tree's leaf index when it reaches there, else counted)."""
    from .ledger_tree import LedgerTree, TreeNotBuilt
    from .store import on_postgres

    if position == 0:
        return 0
    with contextlib.suppress(LookupError, TreeNotBuilt):
        return LedgerTree(app).leaf_index(position) + 1
    rec = app.recorder
    if on_postgres(rec):
        with rec.datastore.transaction(commit=False) as curs:
            curs.execute(f'SELECT count(*) AS n FROM "{rec.datastore.schema}".{rec.events_table_name} '
                         "WHERE notification_id <= %s", (position,))
            return int(curs.fetchone()["n"])
    with rec.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        c.execute("SELECT count(*) FROM stored_events WHERE rowid <= ?", (position,))
        return int(c.fetchone()[0])


class Fenced(Exception):
    """The stream was not where this relay expected it: re-read its end."""


class PoisonEvent(Explained):
    """The stream refuses one event whatever is retried: the relay names its position (the
    events after it wait) rather than blaming NATS."""

    def __init__(self, row: LogRow, error: BaseException) -> None:
        self.position = row.position
        super().__init__(N_("position {position} ({subject}) cannot be published: {kind}: {error}; the events "
                            "after it wait until it can"), position=row.position, subject=subject_for(row),
                         kind=type(error).__name__, error=error)


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    fenced: int = 0
    position: int = 0  # the last position whose publish this relay saw acknowledged
    sent: int = 0  # the last position handed to NATS (ahead of `position` while acks are awaited)
    withheld: list[int] = field(default_factory=list)  # positions published without their payload
    checkpoints: int | None = None  # the tree size of the last checkpoint this relay published
    new_stream_recorded: bool = False  # `--new-stream` done (in the first session only)

    def resumed_at(self, stream_position: int) -> None:
        """A session starts where the stream ends. Publishes still in flight when the previous
        session lost NATS may have been stored without their acks reaching this relay: those
        up to the stream's end were published by this relay, and are counted."""
        if self.sent > self.position:
            landed = min(stream_position, self.sent) - self.position
            if landed > 0:
                self.published += landed
                self.position += landed
        self.sent = self.position


def message_for(row: LogRow, expected_last: int, max_payload: int,
                leaf_index: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The payload and headers of a row's message. An event larger than the server accepts (one
    recorded before the size bound existed) is withheld: its headers, `Ledger-Sha256` of the
    stored bytes included, with an empty payload and `Ledger-Withheld: oversized`, so the stream
    stays complete by position and never stalls on it (verify reads it as withheld, not altered)."""
    headers = {**headers_for(row, leaf_index), "Nats-Expected-Last-Sequence": str(expected_last)}
    if len(row.state) + header_bytes(headers) <= max_payload:
        return row.state, headers
    return b"", {**headers, H_WITHHELD: "oversized"}


class Acks:
    """JetStream publishes whose acks (or refusals) come back as futures, on one reply subscription.

    `js.publish` is a request each (a task, a timer and an inbox lookup per message: the relay
    ran at ~0.45x bare `publish_async`), and nats-py 2.16's `publish_async` never resolves the
    future of a message the server refuses (nats.py #985, notes/nats.md): a fenced relay would
    wait for its timeout instead of re-reading the stream's end. Here a refusal fails its future."""

    def __init__(self, nc: nats.NATS) -> None:
        self._nc = nc
        self._prefix = ""
        self._sub: Any = None
        self._pending: dict[str, asyncio.Future[jsapi.PubAck]] = {}
        self._tokens = itertools.count()

    async def start(self) -> Acks:
        self._prefix = self._nc.new_inbox() + "."
        self._sub = await self._nc.subscribe(self._prefix + "*", cb=self._answered)
        return self

    async def stop(self) -> None:
        for f in self._pending.values():
            f.cancel()
        self._pending.clear()
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> asyncio.Future[jsapi.PubAck]:
        token = str(next(self._tokens))
        future: asyncio.Future[jsapi.PubAck] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        try:
            await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
        except BaseException:
            del self._pending[token]
            raise
        return future

    def forget(self, futures: list[asyncio.Future[jsapi.PubAck]]) -> None:
        """Stop waiting for these (a window that timed out): a late answer is then ignored."""
        for f in futures:
            f.cancel()
        self._pending = {t: f for t, f in self._pending.items() if not f.done()}

    async def _answered(self, msg: Msg) -> None:
        future = self._pending.pop(msg.subject[len(self._prefix):], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get(jsapi.Header.STATUS) == "503":
            future.set_exception(NoStreamResponseError())
            return
        answer = json.loads(msg.data)
        if "error" not in answer:
            future.set_result(jsapi.PubAck.from_response(answer))
            return
        try:
            APIError.from_error(answer["error"])  # raises the error's own class (BadRequestError ...)
        except APIError as e:
            future.set_exception(e)


async def publish_rows(js: JetStreamContext, rows: list[LogRow], expected_last: int, window: int,
                       stats: RelayStats, stream: str = STREAM, timeout: float = 10.0,
                       max_payload: int | None = None, first_leaf: int | None = None,
                       acks: Acks | None = None) -> int:
    """Publish `rows` in order with pipelined acks; return the stream's new last sequence.
    `first_leaf`: the leaf index of rows[0] (the rows are consecutive events of the log).
    `acks`: the session's reply subscription (one is opened for the call when not given).

    Each message carries the sequence the stream must be at before it. On the first
    rejection the remaining ones are rejected too (they expect a sequence that never
    came), and Fenced is raised after the window's accepted ones are counted; a message the
    stream refuses for what it is raises PoisonEvent, naming its position."""
    if acks is None:
        acks = await Acks(js._nc).start()  # the connection the context publishes on
        try:
            return await publish_rows(js, rows, expected_last, window, stats, stream, timeout, max_payload,
                                      first_leaf, acks)
        finally:
            await acks.stop()
    most = max_payload or getattr(getattr(js, "_nc", None), "max_payload", None) or DEFAULT_MAX_EVENT_BYTES
    seq = expected_last
    for i in range(0, len(rows), window):
        chunk = rows[i : i + window]
        stats.sent = chunk[-1].position
        messages = [message_for(r, seq + k, most, None if first_leaf is None else first_leaf + i + k)
                    for k, r in enumerate(chunk)]
        futures: list[asyncio.Future[jsapi.PubAck]] = []
        refused: tuple[LogRow, BaseException] | None = None
        for r, (payload, headers) in zip(chunk, messages, strict=True):
            try:
                futures.append(await acks.publish(subject_for(r), payload,
                                                  {**headers, jsapi.Header.EXPECTED_STREAM: stream}))
            except nats.errors.MaxPayloadError as e:  # refused before sending: the ones before it count
                refused = (r, e)
                break
        try:
            results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), timeout)
        except TimeoutError:
            acks.forget(futures)
            raise
        if refused is not None:
            results.append(refused[1])
        for r, (_, headers), res in zip(chunk, messages, results, strict=False):
            if isinstance(res, BaseException):
                if isinstance(res, APIError) and res.err_code == WRONG_LAST_SEQUENCE:
                    stats.fenced += 1
                    raise Fenced(str(res))
                if isinstance(res, APIError | nats.errors.MaxPayloadError):
                    raise PoisonEvent(r, res) from res  # the server answered: it is this message
                raise res
            if res.duplicate:
                stats.duplicates += 1
            else:
                stats.published += 1
                if H_WITHHELD in headers:
                    stats.withheld.append(r.position)
            seq = res.seq
            stats.position = r.position
    return seq


async def relay(app: EventStoreApp, js: JetStreamContext, *, follow: bool = False, batch: int = 1000,
                window: int = 256, poll: float = 0.02, stop: asyncio.Event | None = None,
                stream: str = STREAM, replicas: int = 1,
                on_batch: Callable[[RelayStats], None] | None = None,
                on_withheld: Callable[[int], None] | None = None,
                stats: RelayStats | None = None, checkpoints: CheckpointPublisher | None = None,
                new_stream: bool = False) -> RelayStats:
    """Publish every event the stream lacks; with `follow`, keep following until `stop`.
    `on_withheld(position)`: an event was published without its payload (message_for).
    `checkpoints`: also publish signed checkpoints on CHECKPOINTS when due (and at the end of a run).
    Counts into `stats` when given (a reconnecting relay's one total across its sessions)."""
    stats = stats if stats is not None else RelayStats()
    # refuses a replaced or shortened stream (unless told it is new: recorded once, then guarded)
    identity = await open_guarded(app, js, replicas, stream, new_stream and not stats.new_stream_recorded)
    stats.new_stream_recorded = stats.new_stream_recorded or new_stream  # once, not at every reconnection
    at = await checked_resume(app, js, stream)  # before anything is published or signed
    stats.resumed_at(at.position)
    if checkpoints is not None:
        await checkpoints.start(js, replicas)
    looked = time.monotonic()
    acks = await Acks(js._nc).start()  # the connection the context publishes on
    try:
        while True:
            if stop is not None and stop.is_set():
                return stats
            rows = await asyncio.to_thread(read_log, app, at.position + 1, batch)
            if checkpoints is not None and (rows or time.monotonic() - looked > 0.5 or not follow):
                looked = time.monotonic()
                if await checkpoints.tick(js, final=not rows and not follow) is not None:
                    stats.checkpoints = checkpoints.published[-1]
            if not rows:
                if not follow:
                    return stats
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait() if stop else asyncio.sleep(poll), poll)
                continue
            try:
                before = len(stats.withheld)
                at.last_seq = await publish_rows(js, rows, at.last_seq, window, stats, stream,
                                                 first_leaf=at.leaf, acks=acks)
                at.position = rows[-1].position
                at.leaf = (at.leaf or 0) + len(rows)
                # nothing is ever deleted from the stream: it holds every sequence from its first
                await asyncio.to_thread(saw_messages, app, stream, at.last_seq - identity.first_seq + 1)
                if on_withheld is not None:
                    for position in stats.withheld[before:]:
                        on_withheld(position)
            except Fenced:  # another relay published: what the stream gained is not this relay's
                stats.sent = stats.position
                at = await checked_resume(app, js, stream)
            if on_batch:
                on_batch(stats)
    finally:
        await acks.stop()


async def relay_with_retry(app: EventStoreApp, url: str, options: ConnectOptions | None = None, *,
                           follow: bool = False, stop: asyncio.Event | None = None,
                           log: Callable[[Phrase], None] | None = None, replicas: int = 1,
                           **kw: object) -> RelayStats:
    """`relay`, reconnecting and resuming from the stream when NATS goes away (with
    `follow`); run once, an unreachable NATS is an error. The stats count every session: what
    a session published before NATS went away is counted when it ends in an error too."""
    total = RelayStats()
    while True:
        nc = None
        try:
            connecting = asyncio.ensure_future(connect(url, options, max_reconnect_attempts=0 if not follow else -1))
            if stop is not None:  # a stop signal while NATS is unreachable ends the wait at once
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not connecting.done():
                    connecting.cancel()
                    return total
            nc = await connecting
            refuse_old_server(connected_version(nc))  # not retried: the server will not get younger
            js = nc.jetstream(timeout=10)
            return await relay(app, js, follow=follow, stop=stop, replicas=replicas, stats=total, **kw)  # type: ignore[arg-type]
        except (StoreUnavailable, InterfaceError) as e:  # the store's connection dropped, not NATS
            if not follow or not on_postgres(app.recorder):  # SQLite's are not outages: said as before
                raise
            if log:
                log(Phrase(N_("relay: PostgreSQL unavailable: {error}; retrying in 5 s"), error=_first_line(e)))
            if await _stopped_within(stop, 5.0):
                return total
        except (PoisonEvent, TimeoutError, nats.errors.Error, APIError, OSError) as e:
            if not follow:
                raise
            # NATS answered and refused one event: say which (and wait longer), not "unavailable"
            poison = isinstance(e, PoisonEvent)
            if log:
                log(Phrase(N_("relay: {error}; retrying in 5 s"), error=e) if poison else
                    Phrase(N_("relay: NATS unavailable ({kind}: {error}); retrying"), kind=type(e).__name__, error=e))
            if stop is not None and stop.is_set():
                return total
            await asyncio.sleep(5.0 if poison else 1.0)
        finally:
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()


async def _stopped_within(stop: asyncio.Event | None, seconds: float) -> bool:
    """Wait `seconds`, or less when a stop signal comes: whether it came."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def relay_all(ledger: EventStoreApp, nats_url: str | None = None, *,
              data_dir: str | Path | None = None, options: ConnectOptions | None = None) -> int:
    """Publish every event the LEDGER stream lacks and return how many were published now.

    With `nats_url` None a local nats-server is started in the data folder (taken from
    `data_dir`, or the ledger's SQLite file) for the call and stopped afterwards; the
    stream survives on disk. For the demo:
        n = relay_all(ledger, args.nats_url)   # -> events that reached the stream now
    """
    from .nats_server import server_for

    if nats_url is None and data_dir is None:
        data_dir = Path(ledger.env.get("SQLITE_DBNAME", "./ledger-data/events.sqlite")).parent
    with server_for(data_dir or ".", nats_url) as url:
        return asyncio.run(relay_with_retry(ledger, url, options)).published


async def stream_count(url: str, options: ConnectOptions | None = None, stream: str = STREAM) -> int:
    nc = await connect(url, options, max_reconnect_attempts=0)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


# --- command line (also used by tests as a killable subprocess) -----------------------------------


def run(args: argparse.Namespace, options: ConnectOptions) -> int:
    from .ledger import open_ledger
    from .nats_server import server_for

    ledger = open_ledger(args.data_dir)

    from .cli.output import speak

    _ = speak()

    def say(m: Phrase) -> None:
        print(m.said(_), file=sys.stderr, flush=True)

    async def main(url: str) -> RelayStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        t0 = time.monotonic()
        last = [t0]

        def on_batch(s: RelayStats) -> None:
            if getattr(args, "verbose", False) or time.monotonic() - last[0] > 5:
                last[0] = time.monotonic()
                say(Phrase(N_("relay: published {published}, at position {position}"), published=s.published,
                           position=s.position))

        def on_withheld(position: int) -> None:
            say(Phrase(N_("relay: position {position} is larger than the NATS server accepts in one message; "
                          "published withheld (headers and Ledger-Sha256, no payload: Ledger-Withheld: oversized); "
                          "the store keeps it"), position=position))

        checkpoints, why_not = publisher_for(ledger, args.data_dir, args.checkpoint_every, args.checkpoint_seconds)
        if checkpoints is None:
            say(Phrase(N_("relay: {why}"), why=why_not))
        relaying = relay_with_retry(ledger, url, options, follow=args.follow, stop=stop, log=say,
                                    batch=args.batch, window=args.window, on_batch=on_batch,
                                    replicas=args.replicas, on_withheld=on_withheld, checkpoints=checkpoints,
                                    new_stream=args.new_stream)
        if not args.follow or args.no_proofs:
            return await relaying
        serving = asyncio.ensure_future(host_proofs(ledger, url, options, stop, say))
        try:
            return await relaying
        finally:
            stop.set()
            await asyncio.wait({serving}, timeout=2)
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await serving

    with server_for(args.data_dir, options.url) as url:
        if args.follow:
            say(Phrase(N_("relay: following {data} -> {server} (Ctrl-C stops)"), data=args.data_dir,
                       server=ConnectOptions(url=url).describe()))
        stats = asyncio.run(main(url))
    if getattr(args, "json", False):
        import msgspec

        print(msgspec.json.encode({"published": stats.published, "duplicates": stats.duplicates,
                                   "fenced": stats.fenced, "position": stats.position,
                                   "withheld": stats.withheld, "checkpoint": stats.checkpoints}).decode())
    else:
        withheld = _("; withheld (too large for one message): positions {positions}",
                     positions=stats.withheld) if stats.withheld else ""
        checkpoint = _("; checkpoint of tree size {size} published on CHECKPOINTS",
                       size=stats.checkpoints) if stats.checkpoints is not None else ""
        print(_("relayed {published} events (duplicates dropped by the server: {duplicates}, fence re-syncs: "
                "{fenced}); stream at ledger position {position}", published=stats.published,
                duplicates=stats.duplicates, fenced=stats.fenced, position=stats.position or _("unchanged"))
              + withheld + checkpoint)
    return 0


async def host_proofs(app: EventStoreApp, url: str, options: ConnectOptions | None, stop: asyncio.Event,
                      say: Callable[[Phrase], None]) -> None:
    """`relay --follow`'s second job: the `ticketledger-proofs` service (adapters.proof_service)
    and the witnesses' cosignatures collected from COSIGNATURES (adapters.tlog_stream)."""
    from .proof_service import SERVICE, start_proof_service
    from .tlog_stream import collect_cosignatures, ensure_tlog_streams

    while not stop.is_set():
        nc = None
        try:
            connecting = asyncio.ensure_future(connect(url, options, max_reconnect_attempts=-1))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not connecting.done():  # stopped while NATS is away
                connecting.cancel()
                return
            nc = await connecting
            js = nc.jetstream(timeout=10)
            await ensure_tlog_streams(js)
            svc = await start_proof_service(nc, app)
            say(Phrase(N_("relay: serving proofs as NATS service {service} on "
                          "proof.<customer>.checkpoint|inclusion|consistency"), service=SERVICE))
            try:
                await collect_cosignatures(app, js, stop, say)
            finally:
                with contextlib.suppress(Exception):
                    await svc.stop()
        except Exception as e:  # noqa: BLE001 - NATS or PostgreSQL away: the relay goes on, the service retries
            if isinstance(e, StoreUnavailable | InterfaceError) and on_postgres(app.recorder):  # not NATS
                say(Phrase(N_("relay: proof service: PostgreSQL unavailable: {error}; retrying"), error=_first_line(e)))
                await _stopped_within(stop, 5.0)
                continue
            say(Phrase(N_("relay: proof service: NATS unavailable ({kind}: {error}); retrying"),
                       kind=type(e).__name__, error=e))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m adapters.relay", description="relay the ledger to NATS JetStream")
    p.add_argument("--data-dir", default="./ledger-data")
    p.add_argument("--nats-url", default=None)
    p.add_argument("--verbose", action="store_true")
    from .relay_options import add_relay_arguments

    add_relay_arguments(p)
    args = p.parse_args(argv)
    return run(args, ConnectOptions.from_env(url=args.nats_url))


if __name__ == "__main__":
    sys.exit(main())
