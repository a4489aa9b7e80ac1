"""The LEDGER stream's identity, kept in the store (issue 16, settled after review).

The stream is the ledger's independent copy only while it is the *same* stream. A stream
deleted and created again, a `nats/` folder moved away (a self-started server then starts
empty), limits that drop old messages, or a sealed stream all look, to the stream alone,
like a stream that is simply there. So the relay records, in the store's own database, the
stream it created or first saw:

  ledger_stream(stream, created, first_seq, messages, seen_at)

  created    the server's creation time of the stream (stream info `created`)
  first_seq  its first sequence (it moves when old messages are dropped or purged)
  messages   the most messages the relay has seen it hold (a high-water mark)
  seen_at    when the relay first saw it (UTC)

`relay` and `verify` then refuse (TL-E180) a stream whose creation time or first sequence
changed, that is sealed, that gained limits (max_msgs, max_bytes, max_age) or lost its deny
flags, or that holds fewer messages than the relay saw it hold. `verify` also refuses a
stream that is gone while the store holds events, unless told `--no-stream`.

The same stream can still carry another history than the store: a store restored from an
older backup (its new events take positions the stream already holds with the events recorded
after the backup), or another ledger's stream on a shared server. So the relay, before it
publishes or signs, checks that the stream's last event agrees with the store (`agreement`):
its `Ledger-Position` is one the store holds and its `Ledger-Link` is the store's chain link
there; otherwise it refuses (TL-E180) naming the position and both links.

NATS permissions are what protect the stream (docs/nats-permissions.md); this guard makes a
replaced or shortened stream visible instead of silently compared as "the" copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import OperationalError
from nats.js import api as jsapi

from domain.errors import N_, Explained, Phrase

from .store import EventStoreApp, last_position, on_postgres, read_log

CODE = "TL-E180"
LIMITS = ("max_msgs", "max_bytes", "max_age")
DENY_FLAGS = ("deny_delete", "deny_purge")


class StreamChanged(Explained):
    """The stream is not the one the ledger recorded (or is gone, sealed, shortened): every
    problem found, each a phrase said in the reader's language."""

    code = CODE

    def __init__(self, found: list[Phrase]) -> None:
        self.found = found
        super().__init__("; ".join(found))

    def said(self, _: Callable[..., str]) -> str:
        return _(N_("; ")).join(p.said(_) for p in self.found)


@dataclass(frozen=True)
class StreamIdentity:
    stream: str
    created: str  # ISO 8601 UTC, as the server reports it
    first_seq: int
    messages: int = 0
    seen_at: str = ""

    @classmethod
    def of(cls, info: jsapi.StreamInfo, seen_at: str = "") -> StreamIdentity:
        return cls(info.config.name or "", created_text(info), first_sequence(info),
                   int(info.state.messages), seen_at)


def first_sequence(info: jsapi.StreamInfo) -> int:
    """The sequence of the stream's first message; of an empty stream, the one its next message
    gets (a new stream reports 0 until its first message, a purged one its last + 1)."""
    state = info.state
    return int(state.first_seq) if state.messages else int(state.last_seq) + 1


def created_text(info: jsapi.StreamInfo) -> str:
    created = info.created
    if created is None:
        return ""
    if isinstance(created, datetime):
        return created.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(created)


# --- the table -----------------------------------------------------------------------------------


def table_sql(app: EventStoreApp, name: str, create: str, sql: str, params: tuple[Any, ...], *,
              write: bool) -> list[tuple[Any, ...]]:
    """One statement on a side table `name` of the store's database (SQLite or PostgreSQL; `{t}`
    in `create` and `sql` names it, `?` marks parameters). The table is created by the first
    write; a read of a store without it answers no rows."""
    rec = app.recorder
    if on_postgres(rec):
        table = f'"{rec.datastore.schema}".{name}'
        with rec.datastore.transaction(commit=write) as curs:
            if write:
                curs.execute(create.format(t=table))
            else:
                curs.execute("SELECT to_regclass(%s) AS t", (table,))
                if curs.fetchone()["t"] is None:
                    return []
            curs.execute(sql.replace("?", "%s").format(t=table), params)
            return [tuple(r.values()) for r in curs.fetchall()] if curs.description else []
    for attempt in range(50):
        try:
            with rec.datastore.transaction(commit=write) as c:  # type: ignore[attr-defined]
                if write:
                    c.execute(create.format(t=name))
                else:
                    c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
                    if c.fetchone() is None:
                        return []
                c.execute(sql.format(t=name), params)
                return [tuple(r) for r in c.fetchall()]
        except OperationalError as e:
            # A deferred transaction that read first cannot take the write lock once a writer
            # committed after its read (SQLITE_BUSY_SNAPSHOT: "database is locked" at once, no
            # busy wait): run it again. Seen at 10M with the ledger's writer at 1,000 events/s.
            if not write or "locked" not in str(e) or attempt == 49:
                raise
            time.sleep(0.02)
    raise AssertionError("unreachable")


_CREATE = ("CREATE TABLE IF NOT EXISTS {t} (stream TEXT PRIMARY KEY, created TEXT NOT NULL, "
           "first_seq BIGINT NOT NULL, messages BIGINT NOT NULL, seen_at TEXT NOT NULL)")


def _execute(app: EventStoreApp, sql: str, params: tuple[Any, ...], *, write: bool) -> list[tuple[Any, ...]]:
    return table_sql(app, "ledger_stream", _CREATE, sql, params, write=write)


def recorded(app: EventStoreApp, stream: str) -> StreamIdentity | None:
    """The identity the relay recorded for `stream` (None: it never saw one)."""
    rows = _execute(app, "SELECT stream, created, first_seq, messages, seen_at FROM {t} WHERE stream = ?",
                    (stream,), write=False)
    if not rows:
        return None
    s, created, first_seq, messages, seen_at = rows[0]
    return StreamIdentity(str(s), str(created), int(first_seq), int(messages), str(seen_at))


def record(app: EventStoreApp, identity: StreamIdentity) -> StreamIdentity:
    """Record a stream the relay created or saw for the first time."""
    seen = identity.seen_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    _execute(app, "INSERT INTO {t} (stream, created, first_seq, messages, seen_at) VALUES (?,?,?,?,?)",
             (identity.stream, identity.created, identity.first_seq, identity.messages, seen), write=True)
    return StreamIdentity(identity.stream, identity.created, identity.first_seq, identity.messages, seen)


def saw_messages(app: EventStoreApp, stream: str, messages: int) -> None:
    """Raise the high-water mark of messages the relay saw the stream hold."""
    _execute(app, "UPDATE {t} SET messages = ? WHERE stream = ? AND messages < ?",
             (messages, stream, messages), write=True)


# --- the checks ----------------------------------------------------------------------------------


def problems(info: jsapi.StreamInfo, known: StreamIdentity | None) -> list[Phrase]:
    """What is wrong with the stream `info` describes, given the identity recorded for it."""
    cfg, name = info.config, info.config.name
    found: list[Phrase] = []
    if known is not None:
        now = created_text(info)
        if now != known.created:
            found.append(Phrase(N_("stream {name} was created at {now}, but the relay recorded one created at "
                                   "{created} (first seen {seen}): it was deleted and made again, or the server's "
                                   "store was replaced"), name=name, now=now, created=known.created,
                                seen=known.seen_at))
        if first_sequence(info) != known.first_seq:
            found.append(Phrase(N_("stream {name} now starts at sequence {first}, but it started at {was}: "
                                   "messages were dropped from its start"), name=name, first=first_sequence(info),
                                was=known.first_seq))
        if int(info.state.messages) < known.messages:
            found.append(Phrase(N_("stream {name} holds {messages} messages, fewer than the {seen} the relay saw "
                                   "it hold: messages were removed"), name=name, messages=info.state.messages,
                                seen=known.messages))
    if cfg.sealed:
        found.append(Phrase(N_("stream {name} is sealed: it takes no more events"), name=name))
    for limit in LIMITS:
        value = getattr(cfg, limit, None)
        if value not in (None, 0, -1):
            found.append(Phrase(N_("stream {name} has gained a limit {limit}={value} (an audit log keeps every "
                                   "message: it must have none)"), name=name, limit=limit, value=value))
    for flag in DENY_FLAGS:
        if not getattr(cfg, flag, False):
            found.append(Phrase(N_("stream {name} has lost {flag} (an audit log refuses deletes and purges)"),
                                name=name, flag=flag))
    return found


def check(info: jsapi.StreamInfo, known: StreamIdentity | None, *, events: int | None = None) -> None:
    """Raise StreamChanged naming every problem; `events`: the stream must hold at least this many."""
    found = problems(info, known)
    if events is not None and int(info.state.messages) < events:
        found.append(Phrase(N_("stream {name} holds {messages} messages, fewer than the {events} events the "
                               "relay has published"), name=info.config.name, messages=info.state.messages,
                            events=events))
    if found:
        raise StreamChanged(found)


# What the operator can do about a stream that is gone, said per command: the relay cannot
# publish without a stream (a deliberate move is `relay --new-stream`); verify can check the
# store alone (`verify --no-stream`).
RELAY_WAY_OUT = N_("give the server that holds it (--nats-url), or relay --new-stream to move to a new stream on "
                   "purpose")
VERIFY_WAY_OUT = N_("give the server that holds it (--nats-url), or verify --no-stream to verify the store alone")


def gone(stream: str, known: StreamIdentity | None, events: int, way_out: str = VERIFY_WAY_OUT) -> StreamChanged:
    """The error for a stream that is not found while the store holds events (or it was recorded);
    `way_out`: what the command's user can do (RELAY_WAY_OUT, VERIFY_WAY_OUT)."""
    was = (Phrase(N_("the relay recorded it (created {created}, first seen {seen})"), created=known.created,
                  seen=known.seen_at) if known is not None
           else Phrase(N_("the store holds {events} event(s)"), events=events))
    return StreamChanged([Phrase(N_("no stream {stream} found, but {was}: the stream was deleted, or its server's "
                                    "store moved away; {way_out}"), stream=stream, was=was,
                                 way_out=Phrase(way_out))])


# --- the stream's end against the store ------------------------------------------------------------


def agreement(app: EventStoreApp, stream: str, position: int, link: str) -> Phrase | None:
    """What is wrong when the stream's last event (at `position`, with `link`; 0: the stream holds
    none) is not the store's event there: a position the store does not hold, or another chain
    link. None: they agree (or the stream holds no event yet)."""
    if position <= 0:
        return None
    rows = read_log(app, position, 1, position)
    if not rows:
        found = Phrase(N_("stream {name} ends at position {position}, which the store does not hold (the store "
                          "ends at {end})"), name=stream, position=position, end=last_position(app))
    elif link and rows[0].link != link:
        found = Phrase(N_("stream {name} ends at position {position} with link {stream_link}, but the store's link "
                          "at that position is {store_link}"), name=stream, position=position, stream_link=link,
                       store_link=rows[0].link)
    else:
        return None
    return Phrase(N_("{found}: the stream carries another history than this store (a store restored from an older "
                     "backup, or another ledger's stream); nothing is published and no checkpoint signed until "
                     "they agree: give the server of this store's stream (--nats-url), or move to a new stream "
                     "on purpose with relay --new-stream on a server that does not hold that one"), found=found)


def check_agrees(app: EventStoreApp, stream: str, position: int, link: str) -> None:
    """Raise StreamChanged when the stream's last event disagrees with the store (`agreement`)."""
    found = agreement(app, stream, position, link)
    if found is not None:
        raise StreamChanged([found])


def forget(app: EventStoreApp, stream: str) -> None:
    """Drop the recorded identity (`relay --new-stream`: the operator says the stream is new)."""
    _execute(app, "DELETE FROM {t} WHERE stream = ?", (stream,), write=True)


async def open_guarded(app: EventStoreApp, js: Any, replicas: int = 1, stream: str = "LEDGER",
                       new_stream: bool = False) -> StreamIdentity:
    """The relay's way in: the recorded stream, checked; created (and recorded) when the store
    has none recorded and the server none; refused (StreamChanged) when it changed or is gone.
    `new_stream`: the operator moved the ledger to another stream on purpose (a new server, a
    restore): whatever was recorded is replaced by this stream (customers' witnesses still see
    whether the log it carries extends the one they cosigned)."""
    import asyncio

    from nats.js.errors import NotFoundError

    from .stream import ensure_stream

    if new_stream:
        await asyncio.to_thread(forget, app, stream)
    known = await asyncio.to_thread(recorded, app, stream)
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        if known is not None:
            raise gone(stream, known, 0, RELAY_WAY_OUT) from None
        info = await ensure_stream(js, replicas)
        return await asyncio.to_thread(record, app, StreamIdentity.of(info))
    check(info, known)
    if known is None:
        return await asyncio.to_thread(record, app, StreamIdentity.of(info))
    return known
