"""The ledger on NATS JetStream: connection options, the LEDGER stream, subjects, headers,
and reading it back by the ledger's own position or recording time.

Subject of every event (SPEC §6): `ledger.<customer>.<aggregate>.<id>.<EventType>`, the
customer first so that permissions can scope a reader to one customer. Payload: the stored
state JSON bytes, unchanged. Headers:

  Nats-Msg-Id            <originator_id>:<originator_version>  (stable event id; dedupe)
  Ledger-Position        the store's notification id (the ledger's log position)
  Ledger-Recorded-At     the ledger's recording time (UTC ISO, Z)
  Ledger-Type            event type, e.g. TicketOpened
  Ledger-Schema-Version  the stored version of that type (old versions are upcast on read)
  Ledger-Topic           the stored topic `kind.Type.vN`
  Ledger-Link            the hash-chain link of this event
  Ledger-Sha256          sha256 of the payload (the chain's state digest)
  Ledger-Leaf-Index      the event's leaf in the transparency log's Merkle tree: the 0-based
                         count of earlier events (not the position: PostgreSQL positions have gaps)
  Ledger-Originator      the aggregate's originator id (32 hex digits)
  Ledger-Version         the aggregate's version this event made (originator version)
  Ledger-Withheld        only on an event larger than the server accepts in one message (one
                         recorded before TICKETLEDGER_MAX_EVENT_BYTES was enforced): `oversized`;
                         the payload is then empty and Ledger-Sha256 is that of the stored bytes

"Position" and "time" always mean these headers, never NATS's own sequence or timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js import api as jsapi
from nats.js.errors import NotFoundError

from domain import events as ev
from domain.contract import CALENDAR_CUSTOMER
from domain.errors import N_, Explained

from .store import LogRow, decode_stored

STREAM = "LEDGER"
SUBJECTS = "ledger.>"
ALERTS_STREAM = "ALERTS"
ALERT_SUBJECTS = "alert.>"
DUPLICATE_WINDOW_S = 120.0

H_MSG_ID = "Nats-Msg-Id"
H_POSITION = "Ledger-Position"
H_RECORDED_AT = "Ledger-Recorded-At"
H_TYPE = "Ledger-Type"
H_VERSION = "Ledger-Schema-Version"
H_TOPIC = "Ledger-Topic"
H_LINK = "Ledger-Link"
H_SHA = "Ledger-Sha256"
H_WITHHELD = "Ledger-Withheld"
H_LEAF_INDEX = "Ledger-Leaf-Index"
H_ORIGINATOR = "Ledger-Originator"
H_ORIGINATOR_VERSION = "Ledger-Version"

# --- what one message may hold ---------------------------------------------------------------

# the limits live in adapters.message_size (without NATS: the ledger imports them)

# --- connecting ----------------------------------------------------------------------------

ENV = {
    "url": "TICKETLEDGER_NATS_URL",
    "user": "TICKETLEDGER_NATS_USER",
    "password": "TICKETLEDGER_NATS_PASSWORD",
    "token": "TICKETLEDGER_NATS_TOKEN",
    "creds": "TICKETLEDGER_NATS_CREDS",
    "nkey_seed": "TICKETLEDGER_NATS_NKEY",
    "tls_ca": "TICKETLEDGER_NATS_TLS_CA",
    "tls_cert": "TICKETLEDGER_NATS_TLS_CERT",
    "tls_key": "TICKETLEDGER_NATS_TLS_KEY",
    "inbox_prefix": "TICKETLEDGER_NATS_INBOX_PREFIX",
}
SECRET = {"password", "token"}


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach NATS. Credentials pass through to nats-py and are never printed:
    `repr()` and `describe()` redact them."""

    url: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    creds: str | None = None  # a .creds file (JWT + NKey seed)
    nkey_seed: str | None = None  # an NKey seed file
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    inbox_prefix: str | None = None  # e.g. _INBOX_acme for a customer-scoped user

    @classmethod
    def from_env(cls, **given: str | None) -> ConnectOptions:
        """Options given explicitly win; the rest come from TICKETLEDGER_NATS_* variables."""
        values = {k: given.get(k) or os.environ.get(var) or None for k, var in ENV.items()}
        return cls(**values)

    def describe(self) -> str:
        """A printable summary: the URL without userinfo, and which credentials are set."""
        url = self.url or "(self-started)"
        if "@" in url:
            scheme, _, rest = url.partition("://")
            url = f"{scheme}://***@{rest.split('@', 1)[1]}"
        used = [k for k in ("user", "password", "token", "creds", "nkey_seed", "tls_cert") if getattr(self, k)]
        return f"{url}" + (f" (auth: {', '.join(used)})" if used else "")

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if self.user:
            kw["user"] = self.user
        if self.password:
            kw["password"] = self.password
        if self.token:
            kw["token"] = self.token
        if self.creds:
            kw["user_credentials"] = self.creds
        if self.nkey_seed:
            kw["nkeys_seed"] = self.nkey_seed
        if self.inbox_prefix:
            kw["inbox_prefix"] = self.inbox_prefix
        if self.tls_ca or self.tls_cert:
            ctx = ssl.create_default_context(cafile=self.tls_ca) if self.tls_ca else ssl.create_default_context()
            if self.tls_cert:
                ctx.load_cert_chain(self.tls_cert, self.tls_key)
            kw["tls"] = ctx
        return kw


# How long the first connection may take before a command says no server answered
# (TICKETLEDGER_NATS_CONNECT_SECONDS): nats-py, asked to reconnect (for ever, or even "0" times:
# 0 never discards a server), would otherwise retry the first connection for ever, silently.
FIRST_CONNECT_SECONDS = 10.0


def first_connect_seconds() -> float:
    return float(os.environ.get("TICKETLEDGER_NATS_CONNECT_SECONDS") or FIRST_CONNECT_SECONDS)


class NatsUnreachable(Explained, TimeoutError):
    """No NATS server answered the first connection in time."""


# The oldest nats-server a ledger's readers work on. Each message of LEDGER keeps the relay's fence
# headers (Nats-Expected-Stream, Nats-Expected-Last-Sequence); a server before 2.10.14 checks them
# again when it sources the message into a customer's stream LEDGER_<customer>, refuses every one
# ("expected stream does not match", in its log only) and the customer's stream stays empty
# (fixed in nats-server 2.10.14, nats-io/nats-server pull request 5256).
MIN_SERVER_VERSION = (2, 10, 14)


class ServerTooOld(Explained):
    """The nats-server is older than MIN_SERVER_VERSION."""


def server_version(text: str) -> tuple[int, int, int] | None:
    """"2.10.14", "v2.9.10", "2.11.0-beta.2" as (major, minor, patch); None when it says no version."""
    m = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def refuse_old_server(version: str) -> None:
    """Raise ServerTooOld for a server older than MIN_SERVER_VERSION (an unreadable version passes:
    the server did not say)."""
    found = server_version(version)
    if found is not None and found < MIN_SERVER_VERSION:
        raise ServerTooOld(N_("nats-server {found} is too old: a customer's stream sourced from {stream} would "
                              "never receive an event (the server checks the relay's Nats-Expected-* headers "
                              "again when sourcing); use nats-server {minimum} or later"),
                           found=version, stream=STREAM, minimum=".".join(map(str, MIN_SERVER_VERSION)))


def connected_version(nc: NATS) -> str:
    """The version the connected server announced (its INFO), as major.minor.patch; "" when none."""
    v = nc.connected_server_version
    try:
        return f"{v.major}.{v.minor}.{v.patch}"
    except ValueError:  # "0.0.0-unknown" or a version nats-py cannot read
        return ""


async def connect(url: str, options: ConnectOptions | None = None, *,
                  errors: list[str] | None = None, **extra: Any) -> NATS:
    """Connect with the given credentials. Async errors (permission violations, slow
    consumers) are collected in `errors` instead of being printed with their context.
    Raises NatsUnreachable when no server answers within first_connect_seconds()."""
    options = options or ConnectOptions()

    async def error_cb(e: Exception) -> None:
        if errors is not None:
            errors.append(str(e))

    kw: dict[str, Any] = {"servers": [u.strip() for u in url.split(",")], "error_cb": error_cb,
                          "max_reconnect_attempts": -1, "reconnect_time_wait": 0.5,
                          "connect_timeout": 5, "allow_reconnect": True}
    kw.update(options.kwargs())
    kw.update(extra)
    seconds = first_connect_seconds()
    try:
        return await asyncio.wait_for(nats.connect(**kw), seconds)
    except TimeoutError:
        where = ConnectOptions(url=url).describe()
        raise NatsUnreachable(N_("no NATS server answered at {where} within {seconds} s; is it running "
                          "(`ticketledger nats serve`), and is the URL right?"),
                          where=where, seconds=f"{seconds:g}") from None


# --- the stream ------------------------------------------------------------------------------


def stream_config(replicas: int = 1, name: str = STREAM, subjects: str = SUBJECTS) -> jsapi.StreamConfig:
    """An audit log: file storage, nothing deleted, purged or rolled up; direct get on."""
    return jsapi.StreamConfig(
        name=name,
        subjects=[subjects],
        storage=jsapi.StorageType.FILE,
        retention=jsapi.RetentionPolicy.LIMITS,
        discard=jsapi.DiscardPolicy.OLD,
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
        allow_direct=True,
        duplicate_window=DUPLICATE_WINDOW_S,
        description="ticketledger: every recorded event, in log order (audit log)",
    )


async def ensure_stream(js: JetStreamContext, replicas: int = 1, name: str = STREAM,
                        subjects: str = SUBJECTS) -> jsapi.StreamInfo:
    try:
        return await js.stream_info(name)
    except NotFoundError:
        return await js.add_stream(stream_config(replicas, name, subjects))


def customer_stream_name(customer: str) -> str:
    return f"{STREAM}_{customer}"


async def ensure_customer_stream(js: JetStreamContext, customer: str, replicas: int = 1) -> jsapi.StreamInfo:
    """A stream of one customer's events, sourced from LEDGER with a subject filter (SPEC §7),
    and of the log's signed checkpoints, sourced from CHECKPOINTS (issue 16), so a reader
    scoped to this customer receives both. A customer stream made before checkpoints existed
    gains the CHECKPOINTS source here (a stream update: docs/nats-permissions.md, ledger-admin).

    A reader limited to one customer gets the consumer and direct-get APIs of this stream
    only (docs/nats-permissions.md): LEDGER's own APIs would read any customer's message.
    """
    from .tlog_stream import ensure_tlog_streams

    await ensure_tlog_streams(js, replicas)
    name = customer_stream_name(customer)
    sources = customer_sources(customer)
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        pass
    else:
        have = {(src.name, src.filter_subject or None) for src in (info.config.sources or [])}
        missing = [src for src in sources if (src.name, src.filter_subject) not in have]
        if not missing:
            return info
        cfg = info.config
        cfg.sources = [*(cfg.sources or []), *missing]
        return await js.update_stream(cfg)
    cfg = jsapi.StreamConfig(
        name=name,
        storage=jsapi.StorageType.FILE,
        retention=jsapi.RetentionPolicy.LIMITS,
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
        allow_direct=True,
        sources=sources,
        description=f"ticketledger: the events of customer {customer}, the calendars (no customer's) and the "
                    f"log's checkpoints, sourced from {STREAM} and CHECKPOINTS",
    )
    return await js.add_stream(cfg)


def customer_sources(customer: str) -> list[jsapi.StreamSource]:
    """What a customer's stream holds: its own events, the calendar data its clocks count on
    (`ledger._public.>`, no customer's), and the log's signed checkpoints."""
    from .tlog_stream import CHECKPOINTS

    return [jsapi.StreamSource(name=STREAM, filter_subject=f"ledger.{customer}.>"),
            jsapi.StreamSource(name=STREAM, filter_subject=f"ledger.{CALENDAR_CUSTOMER}.>"),
            jsapi.StreamSource(name=CHECKPOINTS)]


async def customer_events(js: JetStreamContext, stream: str, customer: str) -> int:
    """How many messages of `stream` are events of `customer` (`ledger.<customer>.>`)."""
    info = await js.stream_info(stream, subjects_filter=f"ledger.{customer}.>")
    return sum((info.state.subjects or {}).values())


async def customer_stream_flowing(js: JetStreamContext, customer: str, seconds: float = 10.0) -> tuple[int, int, str]:
    """(events of `customer` in LEDGER, of them in its stream, the sources' errors) once the first
    arrived, or after `seconds`: a source the server refuses to fill is otherwise silent."""
    expected = await customer_events(js, STREAM, customer)
    name = customer_stream_name(customer)
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        got = await customer_events(js, name, customer)
        if got or not expected or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.25)
    info = await js.stream_info(name)
    errors = "; ".join(str(src.error.get("description") or src.error) for src in (info.sources or []) if src.error)
    return expected, got, errors


# --- from a log row to a message ---------------------------------------------------------------


class _Envelope(msgspec.Struct):
    id: str
    customer: str = ""


_envelope = msgspec.json.Decoder(_Envelope)


def subject_for(row: LogRow) -> str:
    kind, name, _ = ev.parse_topic(row.topic)
    env = _envelope.decode(row.state)
    return f"ledger.{env.customer or '_none'}.{kind}.{env.id}.{name}"


def header_bytes(headers: dict[str, str]) -> int:
    """The size of a header block on the wire ("NATS/1.0" line, one line per header, blank
    line): nats-server's max_payload counts it with the payload."""
    return len(b"NATS/1.0\r\n\r\n") + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())


def headers_for(row: LogRow, leaf_index: int | None = None) -> dict[str, str]:
    """The headers of a row's message; with `leaf_index`, also every input of its leaf (the
    leaf bytes v1 of domain.leaf: leaf index, position, recording time, originator, version,
    topic, sha256 of the stored bytes), so a stream reader can recompute it."""
    _, name, v = ev.parse_topic(row.topic)
    leaf = {} if leaf_index is None else {
        H_LEAF_INDEX: str(leaf_index), H_ORIGINATOR: row.originator_id,
        H_ORIGINATOR_VERSION: str(row.originator_version)}
    return {
        H_MSG_ID: f"{row.originator_id}:{row.originator_version}",
        H_POSITION: str(row.position),
        H_RECORDED_AT: row.recorded_at,
        H_TYPE: name,
        H_VERSION: str(v),
        H_TOPIC: row.topic,
        H_LINK: row.link,
        H_SHA: row.state_sha256,
        **leaf,
    }


# --- from a message back to an event -------------------------------------------------------------


class NotLedgerEvent(ValueError):
    """A message on a ledger subject that is not a valid ledger event."""


@dataclass(frozen=True)
class StreamEvent:
    seq: int  # the stream's own sequence: for diagnostics only
    subject: str
    position: int
    recorded_at: str
    topic: str
    type: str
    version: int
    link: str
    msg_id: str
    data: bytes  # the payload as published (the stored state); empty when withheld
    fact: ev.AnyFact | None  # decoded, upcast to the current version; None when withheld
    withheld: str = ""  # why the payload is not in the stream (`oversized`): the store holds it
    sha256: str = ""  # Ledger-Sha256: sha256 of the stored bytes
    leaf_index: int | None = None  # Ledger-Leaf-Index (None: published before the headers existed)
    originator: str = ""  # Ledger-Originator
    originator_version: int | None = None  # Ledger-Version

    @property
    def aggregate(self) -> str:
        return self.topic.split(".", 1)[0]

    def row(self) -> dict[str, Any]:
        if self.fact is None:  # withheld: what the subject and headers say
            _, customer, _, id_, _ = self.subject.split(".")
            return {"position": self.position, "recorded_at": self.recorded_at, "customer": customer,
                    "aggregate": self.aggregate, "id": id_, "type": self.type, "version": self.version,
                    "occurred_at": "", "actor": f"(payload withheld: {self.withheld})"}
        return {
            "position": self.position, "recorded_at": self.recorded_at, "customer": self.fact.customer,
            "aggregate": self.aggregate, "id": self.fact.id, "type": self.type, "version": self.version,
            "occurred_at": ev.utc(self.fact.occurred_at).isoformat().replace("+00:00", "Z"),
            "actor": self.fact.actor,
        }

    def json(self) -> dict[str, Any]:
        return {
            "position": self.position, "recorded_at": self.recorded_at, "subject": self.subject,
            "stream_seq": self.seq, "topic": self.topic, "type": self.type, "stored_version": self.version,
            "link": self.link, "msg_id": self.msg_id,
            "event": msgspec.to_builtins(self.fact) if self.fact is not None else None,
            **({"withheld": self.withheld, "sha256": self.sha256} if self.withheld else {}),
            **({"leaf_index": self.leaf_index, "originator": self.originator,
                "originator_version": self.originator_version} if self.leaf_index is not None else {}),
        }


def parse_message(subject: str, data: bytes | None, headers: dict[str, str] | None, seq: int) -> StreamEvent:
    """Check and decode one message; raise NotLedgerEvent with the reason when it is not one.
    A withheld message (relay.message_for) is an event without its fact (`withheld` says why)."""
    h = headers or {}
    try:
        position = int(h[H_POSITION])
        topic = h[H_TOPIC]
        kind, name, v = ev.parse_topic(topic)
        recorded_at = h[H_RECORDED_AT]
    except (KeyError, ValueError) as e:
        raise NotLedgerEvent(f"missing or bad ledger header ({e})") from None
    if name not in ev.FACT_TYPES:
        raise NotLedgerEvent(f"unknown event type {name!r}")
    if h.get(H_WITHHELD):
        parts = subject.split(".")
        if data or len(parts) != 5 or parts[2] != kind or parts[4] != name or not h.get(H_SHA):
            raise NotLedgerEvent(f"a withheld message must have no payload, a Ledger-Sha256 and the subject "
                                 f"of its event ({kind}/{name})")
        return StreamEvent(seq, subject, position, recorded_at, topic, name, v, h.get(H_LINK, ""),
                           h.get(H_MSG_ID, ""), b"", None, h[H_WITHHELD], h[H_SHA], *_leaf_headers(h))
    try:
        fact = decode_stored(topic, data or b"")
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError, TypeError) as e:
        raise NotLedgerEvent(f"payload is not a valid {name} v{v}: {e}") from None
    parts = subject.split(".")
    if len(parts) != 5 or parts[2] != kind or parts[3] != fact.id or parts[4] != name:
        raise NotLedgerEvent(f"subject {subject} does not match the event ({kind}/{fact.id}/{name})")
    return StreamEvent(seq, subject, position, recorded_at, topic, name, v, h.get(H_LINK, ""),
                       h.get(H_MSG_ID, ""), data or b"", fact, "", h.get(H_SHA, ""), *_leaf_headers(h))


def _leaf_headers(h: dict[str, str]) -> tuple[int | None, str, int | None]:
    """Ledger-Leaf-Index, Ledger-Originator, Ledger-Version (None/"" when absent or not numbers)."""
    try:
        leaf = int(h[H_LEAF_INDEX]) if H_LEAF_INDEX in h else None
        version = int(h[H_ORIGINATOR_VERSION]) if H_ORIGINATOR_VERSION in h else None
    except ValueError:
        raise NotLedgerEvent(f"bad {H_LEAF_INDEX} or {H_ORIGINATOR_VERSION} header") from None
    return leaf, h.get(H_ORIGINATOR, ""), version


def filter_subject(customer: str | None = None, aggregate: str | None = None, id: str | None = None,
                   type: str | None = None) -> str:
    parts = [customer, aggregate, id, type]
    if not any(parts):
        return SUBJECTS
    return "ledger." + ".".join(p or "*" for p in parts)


def iso_utc(t: datetime) -> str:
    """A time in the Ledger-Recorded-At format, comparable as a string."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- reading by the ledger's position or time -----------------------------------------------------


async def _header_at(js: JetStreamContext, stream: str, seq: int, last: int, key: str,
                     probe: int = 64) -> tuple[int, str] | None:
    """The first ledger event at or after `seq` (within `probe` messages) and its header
    `key`; messages that are not valid ledger events are stepped over."""
    s = seq
    while s <= min(last, seq + probe):
        try:
            m = await js.get_msg(stream, s, direct=True)
        except NotFoundError:
            s += 1
            continue
        try:
            parse_message(m.subject, m.data, m.headers, s)
        except NotLedgerEvent:
            s += 1
            continue
        return s, m.headers[key]
    return None


async def find_start_seq(js: JetStreamContext, stream: str, *, position: int | None = None,
                         recorded_at: str | None = None) -> int:
    """The stream sequence of the first event at or after a ledger position or recording
    time: a binary search over direct gets (positions and recording times are monotone
    in the stream; messages without ledger headers are stepped over)."""
    info = await js.stream_info(stream)
    first, last = info.state.first_seq, info.state.last_seq
    if info.state.messages == 0:
        return last + 1
    if position is not None:
        key, target = H_POSITION, position

        def before(v: str) -> bool:
            return int(v) < target
    else:
        key, target_t = H_RECORDED_AT, recorded_at or ""

        def before(v: str) -> bool:
            return v < target_t
    lo, hi = first, last + 1  # answer in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        found = await _header_at(js, stream, mid, last, key)
        if found is None:
            hi = mid
            continue
        s, v = found
        if before(v):
            lo = s + 1
        else:
            hi = mid
    return lo


class _Stalled(Exception):
    """The consumer has pending messages but delivers none (lost in a failover)."""


async def read_events(js: JetStreamContext, *, stream: str = STREAM, subject: str = SUBJECTS,
                      start_seq: int = 1, follow: bool = False,
                      on_garbage: Callable[[int, str, str], None] | None = None,
                      idle_timeout: float = 5.0) -> AsyncIterator[StreamEvent]:
    """Every ledger event of `stream` matching `subject` from `start_seq`, in order, through
    an ordered consumer. Messages that are not ledger events are passed to `on_garbage(seq,
    subject, reason)` and skipped. Without `follow`, ends at the stream's end.

    With `follow`, a lost consumer (server restart, cluster failover, nats.py #504) is
    recreated from the stream sequence after the last message seen: each message once,
    in order."""
    next_seq = max(1, start_seq)
    while True:
        sub = None
        try:
            info = await js.stream_info(stream)
            if not follow and next_seq > info.state.last_seq:
                return
            sub = await js.subscribe(
                subject, stream=stream, ordered_consumer=True, idle_heartbeat=2.0,
                config=jsapi.ConsumerConfig(deliver_policy=jsapi.DeliverPolicy.BY_START_SEQUENCE,
                                            opt_start_seq=next_seq),
            )
            if not follow:
                ci = await sub.consumer_info()
                if ci.num_pending == 0 and ci.delivered.stream_seq == 0:
                    return
            while True:
                try:
                    msg = await sub.next_msg(timeout=idle_timeout)
                except nats.errors.TimeoutError:
                    if not follow:
                        return
                    ci = await sub.consumer_info()  # raises when the consumer is gone
                    if ci.num_pending > 0:
                        raise _Stalled from None
                    continue
                md = msg.metadata
                if md.sequence.stream < next_seq:
                    continue  # seen before the consumer was recreated
                next_seq = md.sequence.stream + 1
                try:
                    event = parse_message(msg.subject, msg.data, msg.headers, md.sequence.stream)
                except NotLedgerEvent as e:
                    if on_garbage:
                        on_garbage(md.sequence.stream, msg.subject, str(e))
                else:
                    yield event
                if not follow and md.num_pending == 0:
                    return
        except (nats.errors.Error, TimeoutError, OSError, _Stalled):
            if not follow:
                raise
            await asyncio.sleep(0.5)
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):  # closing a consumer on a dying connection
                    await sub.unsubscribe()


# --- alerts (SPEC §6) ------------------------------------------------------------------------------


async def ensure_alert_stream(js: JetStreamContext, replicas: int = 1) -> jsapi.StreamInfo:
    return await ensure_stream(js, replicas, ALERTS_STREAM, ALERT_SUBJECTS)


async def publish_alerts(js: JetStreamContext, changes: list[dict[str, Any]], window: int = 256) -> int:
    """Publish clock state changes on `alert.<customer>.<ticket>.<clock>` in stream ALERTS.

    Each change is a dict with at least customer, ticket, clock, state and a stable `key`
    (e.g. f"{ticket}:{clock}:{state}:{evaluated_at or position}") used as Nats-Msg-Id, so a
    follower that re-publishes after a crash does not double an alert inside the duplicate
    window. Keys starting with `_` are bookkeeping, not published. Returns how many were new
    (not duplicates)."""
    new = 0
    for i in range(0, len(changes), window):
        chunk = changes[i : i + window]
        acks = await asyncio.gather(*(
            js.publish(f"alert.{c['customer']}.{c['ticket']}.{c['clock']}",
                       msgspec.json.encode({k: v for k, v in c.items() if not k.startswith("_")}),
                       headers={H_MSG_ID: str(c["key"])}, stream=ALERTS_STREAM)
            for c in chunk
        ))
        new += sum(1 for a in acks if not a.duplicate)
    return new
