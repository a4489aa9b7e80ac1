"""The transparency log on NATS: signed checkpoints out, witnesses' cosignatures in (issue 16).

Streams (audit logs like LEDGER: file storage, no delete, no purge, direct get):
  CHECKPOINTS    subject `checkpoint.<tree size>`: the log's signed note (C2SP tlog-checkpoint),
                 verbatim, published by the relay at least every N events or T seconds
                 (`relay --checkpoint-every N --checkpoint-seconds T`). Not under `ledger.>`: the
                 relay's fence (Nats-Expected-Last-Sequence on LEDGER) stays the relay's alone.
                 Each customer stream LEDGER_<customer> sources it too, so a customer's scoped
                 reader receives the checkpoints beside its events.
  COSIGNATURES   subject `cosignature.<customer>` (`cosignature._` without one): a witness's
                 cosigned note (the checkpoint with its C2SP tlog-cosignature/v1 line added),
                 header `Ledger-Witness-Key` = its verifier key. `relay --follow` collects them.

Headers of a checkpoint message: Ledger-Tree-Size, Ledger-Log-Key (the key hash that signed).

Cosignatures collected are kept in the store's table
  ledger_cosignatures(tree_size, key_hash, vkey, name, time, line, received_at)
after checking each against the log's own checkpoint of that size; `explain` and the proof
service hand out checkpoints with the cosignatures they have (`cosigned_note`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from domain import cosignature as cs
from domain import signed_note as sn
from domain.errors import N_, Phrase

from .store import EventStoreApp
from .stream import DUPLICATE_WINDOW_S, ensure_stream
from .stream_guard import table_sql

CHECKPOINTS = "CHECKPOINTS"
CHECKPOINT_SUBJECTS = "checkpoint.>"
COSIGNATURES = "COSIGNATURES"
COSIGNATURE_SUBJECTS = "cosignature.>"
H_TREE_SIZE = "Ledger-Tree-Size"
H_LOG_KEY = "Ledger-Log-Key"
H_WITNESS_KEY = "Ledger-Witness-Key"
EVERY_EVENTS = 1000
EVERY_SECONDS = 60.0

_ = DUPLICATE_WINDOW_S  # (the streams share LEDGER's configuration: adapters.stream.stream_config)


def checkpoint_subject(size: int) -> str:
    return f"checkpoint.{size}"


def cosignature_subject(customer: str | None) -> str:
    return f"cosignature.{customer or '_'}"


async def ensure_tlog_streams(js: JetStreamContext, replicas: int = 1) -> None:
    await ensure_stream(js, replicas, CHECKPOINTS, CHECKPOINT_SUBJECTS)
    await ensure_stream(js, replicas, COSIGNATURES, COSIGNATURE_SUBJECTS)


# --- publishing checkpoints (the relay) -----------------------------------------------------------


@dataclass
class CheckpointPublisher:
    """Signs and publishes a checkpoint when the tree grew by `every` events since the last one
    published, or changed at all and `seconds` have passed; at once when CHECKPOINTS holds none;
    and at the end of a run when the tree changed."""

    app: EventStoreApp
    signer: sn.Signer
    every: int = EVERY_EVENTS
    seconds: float = EVERY_SECONDS
    published: list[int] = field(default_factory=list)  # tree sizes published by this relay
    _last_size: int | None = None
    _last_time: float = 0.0

    async def start(self, js: JetStreamContext, replicas: int = 1) -> None:
        await ensure_tlog_streams(js, replicas)
        if self._last_size is None:
            try:
                m = await js.get_last_msg(CHECKPOINTS, CHECKPOINT_SUBJECTS, direct=True)
                self._last_size = int((m.headers or {}).get(H_TREE_SIZE, "-1"))
            except (NotFoundError, ValueError):
                self._last_size = -1
            self._last_time = clock.monotonic()

    def _size(self) -> int:
        from .ledger_tree import LedgerTree

        return LedgerTree(self.app).size

    async def tick(self, js: JetStreamContext, *, final: bool = False) -> int | None:
        """Publish a checkpoint when one is due; the tree size published, or None."""
        size = await asyncio.to_thread(self._size)
        last = -1 if self._last_size is None else self._last_size
        if size == last:
            self._last_time = clock.monotonic()
            return None
        due = final or last < 0 or abs(size - last) >= self.every or clock.monotonic() - self._last_time >= self.seconds
        if not due:
            return None
        return await self.publish(js)

    async def publish(self, js: JetStreamContext) -> int:
        from .ledger_tree import LedgerTree

        cp = await asyncio.to_thread(LedgerTree(self.app).sign_checkpoint, self.signer)
        note = await asyncio.to_thread(cosigned_note, self.app, cp.note, cp.tree_size)
        await js.publish(checkpoint_subject(cp.tree_size), note.encode(), stream=CHECKPOINTS,
                         headers={H_TREE_SIZE: str(cp.tree_size), H_LOG_KEY: cp.key_hash,
                                  # one id per signed head: the same head twice is a duplicate,
                                  # another head at the same size (a split view) is not
                                  "Nats-Msg-Id": "checkpoint:" + hashlib.sha256(cp.note.encode()).hexdigest()})
        self._last_size, self._last_time = cp.tree_size, clock.monotonic()
        self.published.append(cp.tree_size)
        return cp.tree_size


def publisher_for(app: EventStoreApp, data_dir: str | Path, every: int = EVERY_EVENTS,
                  seconds: float = EVERY_SECONDS) -> tuple[CheckpointPublisher | None, Phrase | str]:
    """The relay's checkpoint publisher, or None and why (no log key, no tree yet)."""
    from . import log_key
    from .ledger_tree import LedgerTree

    try:
        signer = log_key.load(Path(data_dir))
    except log_key.KeyError_ as e:
        return None, Phrase(N_("no checkpoints published: {error}"), error=e)
    if not LedgerTree(app).is_complete():
        return None, Phrase(N_("no checkpoints published: the log's Merkle tree is not built (`ticketledger "
                               "checkpoint` builds it)"))
    return CheckpointPublisher(app, signer, every, seconds), ""


# --- cosignatures (the ledger side) ----------------------------------------------------------------

_CREATE = ("CREATE TABLE IF NOT EXISTS {t} (tree_size BIGINT NOT NULL, key_hash TEXT NOT NULL, vkey TEXT NOT NULL, "
           "name TEXT NOT NULL, time BIGINT NOT NULL, line TEXT NOT NULL, received_at TEXT NOT NULL, "
           "PRIMARY KEY (tree_size, vkey, time))")


def _sql(app: EventStoreApp, sql: str, params: tuple[Any, ...] = (), *, write: bool = False) -> list[tuple[Any, ...]]:
    return table_sql(app, "ledger_cosignatures", _CREATE, sql, params, write=write)


class CosignatureRow(cs.Cosignature, frozen=True, kw_only=True):
    tree_size: int
    line: str
    received_at: str


def cosignatures_of(app: EventStoreApp, tree_size: int | None = None) -> list[CosignatureRow]:
    where, params = ("WHERE tree_size = ?", (tree_size,)) if tree_size is not None else ("", ())
    rows = _sql(app, f"SELECT tree_size, key_hash, vkey, name, time, line, received_at FROM {{t}} {where} "
                     "ORDER BY tree_size, time, vkey", params)
    return [CosignatureRow(tree_size=int(a), key_hash=b, vkey=c, name=d, time=int(e), line=f, received_at=g)
            for a, b, c, d, e, f, g in rows]


def cosigned_note(app: EventStoreApp, note: str, tree_size: int) -> str:
    """The log's signed note with every cosignature collected for it (those of its text only)."""
    text = sn.parse(note).text
    lines = []
    for row in cosignatures_of(app, tree_size):
        try:
            w = cs.WitnessVerifier.parse(row.vkey)
            if cs.cosignatures(text + "\n" + row.line, [w]):
                lines.append(row.line)
        except (cs.CosignatureError, sn.NoteError):
            continue  # a cosignature of another head of this size: not this note's
    return cs.merge(note, lines) if lines else note


def note_cosignatures(app: EventStoreApp, note: str, tree_size: int) -> list[dict[str, Any]]:
    """The cosignatures on `note` by witnesses the ledger has heard from, for a report: who, with
    which key, and when (UTC) — the only evidence of *when* that does not come from the operator."""
    witnesses = {r.vkey: cs.WitnessVerifier.parse(r.vkey) for r in cosignatures_of(app, tree_size)}
    try:
        found = cs.cosignatures(note, witnesses.values())
    except (cs.CosignatureError, sn.NoteError):
        return []
    return [{"witness": c.name, "key": c.vkey,
             "time": datetime.fromtimestamp(c.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")} for c in found]


class RefusedCosignature(ValueError):
    """A cosignature message that is not a valid cosignature of one of this log's checkpoints."""


def accept_cosignature(app: EventStoreApp, data: bytes, witness_key: str, now: datetime | None = None) -> CosignatureRow:
    """Check a COSIGNATURES message against the log's own checkpoint of its size and keep it."""
    from .ledger_tree import LedgerTree

    try:
        w = cs.WitnessVerifier.parse(witness_key)
        note = sn.parse(data)
        cp = sn.parse_checkpoint(note.text)
    except (cs.CosignatureError, sn.NoteError) as e:
        raise RefusedCosignature(f"not a cosigned checkpoint: {e}") from None
    ours = [c for c in LedgerTree(app).checkpoints() if c.tree_size == cp.size and sn.parse(c.note).text == note.text]
    if not ours:
        raise RefusedCosignature(f"a cosignature of a size-{cp.size} checkpoint this log did not sign")
    try:
        found = cs.cosignatures(data, [w])
    except cs.CosignatureError as e:
        raise RefusedCosignature(str(e)) from None
    if not found:
        raise RefusedCosignature(f"no cosignature by {w.vkey} on it")
    c = found[0]
    line = next(s for s in data.decode().splitlines() if s.startswith(f"{sn.DASH} {w.name} ")
                and _line_key(s) == w.key_hash)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    row = CosignatureRow(tree_size=cp.size, key_hash=c.key_hash, vkey=c.vkey, name=c.name, time=c.time,
                         line=line + "\n", received_at=stamp)
    _sql(app, "INSERT INTO {t} (tree_size, key_hash, vkey, name, time, line, received_at) VALUES (?,?,?,?,?,?,?) "
              "ON CONFLICT DO NOTHING",
         (row.tree_size, row.key_hash, row.vkey, row.name, row.time, row.line, row.received_at), write=True)
    return row


def _line_key(line: str) -> bytes:
    import base64

    try:
        return base64.b64decode(line.split(" ")[2])[:4]
    except Exception:  # noqa: BLE001 - a line that does not read is nobody's
        return b""


async def collect_cosignatures(app: EventStoreApp, js: JetStreamContext, stop: asyncio.Event,
                               say: Callable[[Phrase], None] | None = None) -> int:
    """Follow COSIGNATURES from the start and keep every valid cosignature (duplicates are free)."""
    from nats.js import api as jsapi

    kept = 0
    sub = await js.subscribe(COSIGNATURE_SUBJECTS, stream=COSIGNATURES, ordered_consumer=True,
                             config=jsapi.ConsumerConfig(deliver_policy=jsapi.DeliverPolicy.ALL))
    try:
        while not stop.is_set():
            try:
                msg = await sub.next_msg(timeout=0.5)
            except Exception:  # noqa: BLE001 - a timeout: look at `stop` again
                continue
            key = (msg.headers or {}).get(H_WITNESS_KEY, "")
            try:
                row = await asyncio.to_thread(accept_cosignature, app, msg.data, key)
                kept += 1
                if say:
                    say(Phrase(N_("relay: cosignature of tree size {size} by witness {name} (time {time})"),
                               size=row.tree_size, name=row.name, time=row.time))
            except RefusedCosignature as e:
                if say:
                    say(Phrase(N_("relay: cosignature message on {subject} refused: {error}"), subject=msg.subject,
                               error=e))
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return kept
