"""The event store: eventsourcing's SQLite (default) or PostgreSQL recorder, extended so that
each recording transaction also stamps the recording time, binds every event into the hash
chain and remembers the command ids it carried (idempotency, §3).

Extra tables, written in the same transaction as `stored_events`:
  ledger_chain(position, recorded_at, state_sha256, link, leaf_index, tree)  (tree: adapters/tree_rows.py)
  ledger_commands(command_id, content_sha256, position)
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from domain import events as ev
from domain import hashchain
from domain.errors import N_, Explained
from domain.upcasting import upcast_state

from . import tree_rows

# --- recording time, chain and command ids in the recording transaction ---------------------


def now_iso(previous: str | None) -> str:
    """The recording time: now in UTC, never before the previous event's (§9.13)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return previous if previous is not None and previous > stamp else stamp


def chain_rows(previous_link: str, previous_time: str | None, ids: Sequence[int],
               stored: Sequence[StoredEvent]) -> list[tuple[int, str, str, str]]:
    rows, last = [], previous_link
    recorded_at = now_iso(previous_time)
    for position, s in zip(ids, stored, strict=True):
        digest = hashchain.state_digest(s.state)
        oid = s.originator_id.hex if hasattr(s.originator_id, "hex") else str(s.originator_id)
        last = hashchain.link(last, position, recorded_at, oid, s.originator_version, s.topic, digest)
        rows.append((position, recorded_at, digest, last))
    return rows


# The PostgreSQL recorder lives in adapters.store_postgres: importing it loads psycopg (~0.15 s
# of every command's start), so it is imported only when a store is configured on PostgreSQL.
POSTGRES_RECORDER_TOPIC = "adapters.store_postgres:ChainedPostgresRecorder"
POSTGRES_FACTORY_TOPIC = "adapters.store_postgres:LedgerPostgresFactory"


def on_postgres(recorder: Any) -> bool:
    """True for the PostgreSQL recorder (without importing it on SQLite)."""
    return bool(getattr(recorder, "on_postgres", False))


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    on_postgres = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tree_head: tree_rows.TreeHead | None = None  # after this recorder's last save

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS ledger_chain (position INTEGER PRIMARY KEY, "
            f"recorded_at TEXT NOT NULL, state_sha256 TEXT NOT NULL, link TEXT NOT NULL, {tree_rows.SQLITE_COLUMNS})",
            "CREATE TABLE IF NOT EXISTS ledger_commands (command_id TEXT PRIMARY KEY, "
            "content_sha256 TEXT NOT NULL, position INTEGER NOT NULL)",
        ]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if not stored_events:
            return ids
        # The inserts above hold SQLite's write lock, so this read sees the true last link (and
        # whether this ledger keeps the tree yet: a ledger older than it has no such columns).
        c.execute("SELECT * FROM ledger_chain ORDER BY position DESC LIMIT 1")
        names = [d[0] for d in c.sqlite_cursor.description]
        row = c.fetchone()
        row = dict(zip(names, row, strict=True)) if row else None
        prev, prev_time = (row["link"], row["recorded_at"]) if row else (hashchain.GENESIS, None)
        chain = chain_rows(prev, prev_time, ids, stored_events)
        head = None
        if "leaf_index" in names and (row is None or row["leaf_index"] is not None):
            size = row["leaf_index"] + 1 if row else 0
            cached = self._tree_head
            head = (cached.copy() if cached is not None and (cached.size, cached.link) == (size, prev)
                    else tree_rows.head_or_none(c, size, prev, None))
        if head is None:  # the tree is not built yet: `checkpoint` builds it
            c.executemany("INSERT INTO ledger_chain (position, recorded_at, state_sha256, link) VALUES (?,?,?,?)", chain)
        else:
            cells = tree_rows.extend(head, chain, stored_events)
            c.executemany("INSERT INTO ledger_chain VALUES (?,?,?,?,?,?)",
                          [(*r, i, t) for r, (i, t) in zip(chain, cells, strict=True)])
        self._tree_head = head  # checked against the last row before use: a rollback is noticed
        commands = kwargs.get("commands") or ()
        if commands:
            c.executemany("INSERT INTO ledger_commands VALUES (?,?,?)", [(cid, h, ids[0]) for cid, h in commands])
        return ids


# --- facts in and out of the library's stored events ------------------------------------------


class FactMapper(Mapper):
    """Stores a fact as its own plain JSON (no wrapped types), topic `kind.Type.vN`."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fact = domain_event.fact
        kind = type(domain_event).__qualname__.split(".")[0].lower()
        kind = {"calendaryear": "calendar"}.get(kind, kind)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=ev.topic_of(fact, kind),
            state=ev.encode(fact),
        )

    def to_domain_event(self, stored: StoredEvent) -> Any:
        kind, _, _ = ev.parse_topic(stored.topic)
        fact = decode_stored(stored.topic, stored.state)
        cls = AGGREGATE_CLASSES[kind]
        if stored.originator_version == 1:
            return cls.Opened(
                originator_id=stored.originator_id, originator_version=1, timestamp=fact.occurred_at,
                originator_topic=get_topic(cls), fact=fact,
            )
        return cls.Recorded(
            originator_id=stored.originator_id, originator_version=stored.originator_version,
            timestamp=fact.occurred_at, fact=fact,
        )


def decode_stored(topic: str, state: bytes) -> ev.AnyFact:
    """A stored or streamed event as the current version of its fact."""
    _, name, v = ev.parse_topic(topic)
    return ev.decode(upcast_state(name, v, state))


def _aggregate_classes() -> dict[str, type[Aggregate]]:
    from domain.asset import Asset
    from domain.contract import CalendarYear, Contract
    from domain.ticket import Ticket

    return {"ticket": Ticket, "asset": Asset, "contract": Contract, "calendar": CalendarYear}


AGGREGATE_CLASSES = _aggregate_classes()


class _UnusedTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:  # pragma: no cover - FactMapper encodes itself
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:  # pragma: no cover
        raise NotImplementedError


# --- configuration ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoreConfig:
    """Where the events live: an SQLite file in the data folder, or a PostgreSQL database."""

    data_dir: Path
    postgres_dsn: str | None = None  # e.g. "host=127.0.0.1 port=5432 dbname=test user=postgres"
    postgres_schema: str = "public"

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike[str]) -> StoreConfig:
        return cls(
            Path(data_dir),
            os.environ.get("TICKETLEDGER_POSTGRES") or None,
            os.environ.get("TICKETLEDGER_POSTGRES_SCHEMA", "public"),
        )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    def marker(self) -> StoreMarker:
        """The store this configuration names, as a data folder's store.json records it."""
        if not self.postgres_dsn:
            return StoreMarker("sqlite")
        host, port, dbname = effective_postgres(self.postgres_dsn)
        return StoreMarker("postgres", host, port, dbname, self.postgres_schema)

    def env(self, *, create_tables: bool = True) -> dict[str, str]:
        """The eventsourcing environment of this store. On PostgreSQL the DSN goes to every
        connection whole (adapters.store_postgres.LedgerPostgresFactory): sslmode, sslrootcert,
        application_name, options… are libpq's to apply, none dropped."""
        create = "y" if create_tables else "n"
        if self.postgres_dsn:
            parts = postgres_params(self.postgres_dsn)
            return {
                "PERSISTENCE_MODULE": POSTGRES_FACTORY_TOPIC,
                "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER_TOPIC,
                "POSTGRES_CONNINFO": self.postgres_dsn,
                # eventsourcing requires these; the connections take the DSN above instead
                "POSTGRES_DBNAME": parts.get("dbname", ""),
                "POSTGRES_HOST": parts.get("host", ""),
                "POSTGRES_PORT": parts.get("port", "5432"),
                "POSTGRES_USER": parts.get("user", ""),
                "POSTGRES_PASSWORD": "",
                **({"POSTGRES_CONNECT_TIMEOUT": parts["connect_timeout"]} if "connect_timeout" in parts else {}),
                "POSTGRES_SCHEMA": self.postgres_schema,
                "CREATE_TABLE": create,
            }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": get_topic(ChainedSQLiteRecorder),
            "SQLITE_DBNAME": str(self.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "CREATE_TABLE": create,
        }


def postgres_params(dsn: str) -> dict[str, str]:
    """The DSN's parameters as libpq reads them: key=value pairs (values may be quoted) or a
    postgresql:// URI. Raises psycopg.ProgrammingError for one libpq would refuse."""
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}


def _libpq_defaults() -> dict[str, str]:
    """libpq's defaults for what a DSN leaves out: the PG* environment variables (PGHOST,
    PGPORT, PGDATABASE, PGUSER…), else the compiled-in ones (port 5432, the user's login)."""
    from psycopg import pq

    return {o.keyword.decode(): o.val.decode() for o in pq.Conninfo.get_defaults() if o.val is not None}


def _port_text(port: str) -> str:
    """A port as one text: "05432" and 5432 alike are "5432" (a list of ports, one per host, too)."""
    parts = [p.strip() for p in port.split(",")]
    return ",".join(str(int(p)) if p.isdigit() else p for p in parts)


def effective_postgres(dsn: str) -> tuple[str, str, str]:
    """The host, port and database a DSN connects to, as libpq fills what it leaves out: the PG*
    environment variables, else port 5432 and a database named as the user. The host stays ""
    where neither the DSN nor PGHOST/PGHOSTADDR names one (libpq's local socket)."""
    p = postgres_params(dsn)
    return _filled(p.get("host") or p.get("hostaddr") or "", p.get("port") or "", p.get("dbname") or "",
                   p.get("user") or "")


def _filled(host: str, port: str, dbname: str, user: str = "") -> tuple[str, str, str]:
    """(host, port, dbname) with what is left out filled as libpq fills it (`effective_postgres`)."""
    d = _libpq_defaults()
    return (host or d.get("host") or d.get("hostaddr") or "", _port_text(port or d.get("port") or "5432"),
            dbname or d.get("dbname") or user or d.get("user") or "")


# --- which store a data folder belongs to ---------------------------------------------------

MARKER_FILE = "store.json"


class StoreMarker(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a data folder's events are in: `init` writes it as store.json (never a password), so a
    command run with another TICKETLEDGER_POSTGRES, or none, is refused instead of making or
    reading another ledger beside the folder's evidence, NATS store and views."""

    kind: str  # "sqlite" or "postgres"
    host: str = ""
    port: str = ""
    dbname: str = ""
    schema: str = ""

    def effective(self) -> StoreMarker:
        """This marker as libpq reads it: a store.json written before markers recorded the
        effective store may leave the port or database out (libpq's defaults then)."""
        if self.kind != "postgres":
            return self
        return StoreMarker(self.kind, *_filled(self.host, self.port, self.dbname), self.schema)

    def place(self, folder: Path) -> str:
        """Where the events are, for people."""
        if self.kind == "sqlite":
            return str(folder / "events.sqlite")
        return (f"on PostgreSQL {self.host or 'localhost'}:{self.port or '5432'}/{self.dbname or 'postgres'}, "
                f"schema {self.schema}")


class StoreMismatch(Explained, ValueError):
    """A data folder whose store.json names another store than the environment does."""


def folder_marker(folder: Path) -> StoreMarker | None:
    """The store the data folder belongs to: its store.json; an SQLite ledger's events.sqlite
    where there is none; None for a folder that says nothing (new, or made before store.json)."""
    path = folder / MARKER_FILE
    if path.is_file():
        try:
            return msgspec.json.decode(path.read_bytes(), type=StoreMarker)
        except msgspec.DecodeError:
            raise StoreMismatch(N_("{path} does not say which store the data folder belongs to; restore it from "
                                   "a backup, or delete it to let the next command write it again"),
                                path=path) from None
    return StoreMarker("sqlite") if (folder / "events.sqlite").exists() else None


def check_store(config: StoreConfig) -> None:
    """Refuse a configuration that names another store than the data folder belongs to."""
    held = folder_marker(config.data_dir)
    named = config.marker()
    if held is None or held == named or held.effective() == named:
        return
    folder = config.data_dir
    if named.kind == "sqlite":
        raise StoreMismatch(N_("the data folder {folder} belongs to the ledger {held}, but TICKETLEDGER_POSTGRES is "
                               "not set (so the events would be looked for in SQLite); set TICKETLEDGER_POSTGRES to "
                               "that database and TICKETLEDGER_POSTGRES_SCHEMA={schema}, or name another --data-dir"),
                            folder=folder, held=held.place(folder), schema=held.schema)
    if held.kind == "sqlite":
        raise StoreMismatch(N_("the data folder {folder} holds an SQLite ledger ({held}), not the ledger {named} that "
                               "TICKETLEDGER_POSTGRES names; unset TICKETLEDGER_POSTGRES to use it, or name "
                               "another --data-dir"), folder=folder, held=held.place(folder), named=named.place(folder))
    raise StoreMismatch(N_("the data folder {folder} belongs to the ledger {held}, not to the ledger {named} that "
                           "TICKETLEDGER_POSTGRES and TICKETLEDGER_POSTGRES_SCHEMA name; point them at the folder's, or "
                           "name another --data-dir"), folder=folder, held=held.place(folder), named=named.place(folder))


def mark_store(config: StoreConfig) -> None:
    """Write the data folder's store.json for a ledger on PostgreSQL, unless it has one (an
    SQLite folder is known by its events.sqlite)."""
    path = config.data_dir / MARKER_FILE
    if not config.postgres_dsn or path.exists() or not config.data_dir.is_dir():
        return
    part = path.with_name(f".{MARKER_FILE}.{os.getpid()}")
    try:
        part.write_bytes(msgspec.json.encode(config.marker()) + b"\n")
        part.replace(path)
    except OSError:  # a folder this host may only read: checked again at the next opening
        part.unlink(missing_ok=True)


class EventStoreApp(Application):
    """The eventsourcing application with our mapper and recorders. The Ledger builds on it."""

    name = "ledger"

    def construct_mapper(self) -> Mapper:
        return FactMapper(transcoder=_UnusedTranscoder())


# --- reading the log --------------------------------------------------------------------


class LogRow(msgspec.Struct, frozen=True, array_like=True):
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    recorded_at: str
    state_sha256: str
    link: str


def fingerprint(fact: ev.Fact) -> str:
    """The content of a command, to tell "already recorded" from "same id, other content".

    Every instant is normalised to UTC first (ev.in_utc: effective_from and the times a
    correction's changes name included), so a retry written in another zone is the same command."""
    return hashlib.sha256(ev.encode(ev.in_utc(fact))).hexdigest()


def earlier_fingerprint(fact: ev.Fact) -> str:
    """The fingerprint as it was computed before every instant was normalised (only occurred_at
    and source_recorded_at were): a command recorded then, retried unchanged, is still known."""
    normal = msgspec.structs.replace(
        fact, occurred_at=ev.utc(fact.occurred_at),
        source_recorded_at=ev.utc(fact.source_recorded_at) if fact.source_recorded_at else None,
    )
    return hashlib.sha256(ev.encode(normal)).hexdigest()


def earlier_fingerprints(fact: ev.Fact) -> set[str]:
    """Every fingerprint an earlier ledger may have stored for this command: taken the earlier way
    (`earlier_fingerprint`) and, for a correction, as FactCorrected v1 (v2 differs only by `v`
    and by its times being in UTC), so a correction recorded before v2 and retried is still known."""
    forms = [fact]
    if isinstance(fact, ev.FactCorrected) and fact.v == 2:
        forms.append(msgspec.structs.replace(fact, v=1))
    return {fp for f in forms for fp in (fingerprint(f), earlier_fingerprint(f))}


def iter_log(app: EventStoreApp, start: int = 1, stop: int | None = None, batch: int = 5000) -> Iterator[LogRow]:
    """Every stored event with its chain row, in log order, from `start` (a position)."""
    while True:
        rows = read_log(app, start, batch, stop)
        yield from rows
        if len(rows) < batch:
            return
        start = rows[-1].position + 1


def read_log(app: EventStoreApp, start: int, limit: int, stop: int | None = None) -> list[LogRow]:
    rec = app.recorder
    if on_postgres(rec):
        table = f'"{rec.datastore.schema}".{rec.events_table_name}'
        chain = f'"{rec.datastore.schema}".ledger_chain'
        sql = (
            f"SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state, "
            f"c.recorded_at, c.state_sha256, c.link FROM {table} e JOIN {chain} c ON c.position = e.notification_id "
            f"WHERE e.notification_id >= %s AND e.notification_id <= %s ORDER BY e.notification_id LIMIT %s"
        )
        with rec.datastore.transaction(commit=False) as curs:
            curs.execute(sql, (start, stop if stop is not None else 2**62, limit))
            return [
                LogRow(r["notification_id"], r["originator_id"].replace("-", ""), r["originator_version"], r["topic"],
                       bytes(r["state"]), r["recorded_at"], r["state_sha256"], r["link"])
                for r in curs.fetchall()
            ]
    sql = (
        "SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, c.recorded_at, c.state_sha256, c.link "
        "FROM stored_events e JOIN ledger_chain c ON c.position = e.rowid "
        "WHERE e.rowid >= ? AND e.rowid <= ? ORDER BY e.rowid LIMIT ?"
    )
    with rec.datastore.transaction(commit=False) as c:
        c.execute(sql, (start, stop if stop is not None else 2**62, limit))
        return [LogRow(*tuple(r)) for r in c.fetchall()]


def last_position(app: EventStoreApp) -> int:
    return app.recorder.max_notification_id() or 0


def read_for_batch(app: EventStoreApp, ids: Sequence[Any], after: Mapping[Any, int] | None = None,
                   command_ids: Sequence[str] = ()) -> tuple[dict[str, list[StoredEvent]], dict[str, str]]:
    """What a batch of commands reads before deciding, in one transaction: the aggregates'
    events (after the versions held in memory), then which command ids are known, 500 at a time.
    One transaction, not two: on PostgreSQL each is a round trip a single command waits for.

    The command ids are read after every aggregate: a command another writer recorded in between
    is then either seen as known, or its aggregate was read without it and the save conflicts
    (and the batch is decided again). Read the other way round, or in a transaction per chunk,
    a contract registered in between was seen registered but its command unknown, and the same
    command was refused as "already registered" instead of being "already recorded"."""
    rec = app.recorder
    after = after or {}
    ids, command_ids = list(ids), list(command_ids)
    events: dict[str, list[StoredEvent]] = {}
    known: dict[str, str] = {}
    pg = on_postgres(rec)
    rows: list[tuple[Any, ...]] = []
    with rec.datastore.transaction(commit=False) as cur:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            versions = [after.get(x, 0) for x in chunk]
            if pg:
                cur.execute(
                    f'SELECT e.originator_id, e.originator_version, e.topic, e.state '
                    f'FROM "{rec.datastore.schema}".{rec.events_table_name} e '
                    "JOIN unnest(%s::uuid[], %s::bigint[]) AS k(id, v) "
                    "ON e.originator_id = k.id AND e.originator_version > k.v "
                    "ORDER BY e.originator_id, e.originator_version",
                    ([str(x) for x in chunk], versions),
                )
                rows += [(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                         for r in cur.fetchall()]
            else:
                cur.execute(
                    f"WITH k(id, v) AS (VALUES {','.join(['(?, ?)'] * len(chunk))}) "
                    "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM k "
                    "JOIN stored_events e ON e.originator_id = k.id AND e.originator_version > k.v "
                    "ORDER BY e.originator_id, e.originator_version",
                    [v for x, ver in zip(chunk, versions, strict=True) for v in (x.hex, ver)],
                )
                rows += [tuple(r) for r in cur.fetchall()]
        for i in range(0, len(command_ids), 500):
            cmds = command_ids[i : i + 500]
            if pg:
                cur.execute(f'SELECT command_id, content_sha256 FROM "{rec.datastore.schema}".ledger_commands '
                            "WHERE command_id = ANY(%s)", (cmds,))
                known.update({r["command_id"]: r["content_sha256"] for r in cur.fetchall()})
            else:
                cur.execute("SELECT command_id, content_sha256 FROM ledger_commands "
                            f"WHERE command_id IN ({','.join('?' * len(cmds))})", cmds)
                known.update({r[0]: r[1] for r in cur.fetchall()})
    for oid, version, topic, state in rows:
        uid = oid if isinstance(oid, uuid.UUID) else uuid.UUID(str(oid))
        events.setdefault(uid.hex, []).append(StoredEvent(originator_id=uid, originator_version=version,
                                                      topic=topic, state=state))
    return events, known
