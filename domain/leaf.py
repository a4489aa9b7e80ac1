"""Leaf bytes v1: what one log entry contributes to the Merkle tree (domain/merkle.py), pure.

Everything in it travels with the stream message (headers Ledger-Leaf-Index, Ledger-Position,
Ledger-Recorded-At, Ledger-Originator, Ledger-Version, Ledger-Topic and the payload's SHA-256),
so a customer recomputes a leaf without our store. Fixed layout, big-endian integers:

    offset  size  field
    0       1     layout version: 0x01
    1       8     leaf index: 0-based count of earlier events (u64; NOT the log position,
                  PostgreSQL positions come from a sequence and have gaps)
    9       8     log position (u64)
    17      8     recording time: microseconds since 1970-01-01T00:00:00Z (i64)
    25      16    originator id: the aggregate's UUID, its 16 bytes
    41      8     originator version (u64)
    49      2     topic length in bytes (u16)
    51      L     topic, UTF-8, e.g. `ticket.TicketOpened.v1`
    51+L    32    SHA-256 of the event's stored bytes, verbatim

The tree hashes SHA-256(0x00 || leaf bytes). docs/transparency-log.md has a worked example
(tests/test_leaf.py checks it).
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from datetime import UTC, datetime, timedelta

import msgspec

from . import merkle

LAYOUT_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEAD = struct.Struct(">BQQq16sQH")


class LeafError(ValueError):
    """Leaf inputs that cannot be encoded, or bytes that are not a v1 leaf."""


class Leaf(msgspec.Struct, frozen=True, kw_only=True):
    """The inputs of one leaf, as a report or a stream message carries them."""

    index: int
    position: int
    recorded_at: str  # the ledger's recording time, ISO 8601 UTC (`…Z`)
    originator_id: str  # 32 hex digits
    originator_version: int
    topic: str
    state_sha256: str  # hex SHA-256 of the stored bytes


def micros(recorded_at: str) -> int:
    """The recording time as microseconds since the epoch; it must name its zone."""
    try:
        t = datetime.fromisoformat(recorded_at)
    except ValueError as e:
        raise LeafError(f"recording time {recorded_at!r} is not ISO 8601") from e
    if t.tzinfo is None:
        raise LeafError(f"recording time {recorded_at!r} has no zone")
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def state_sha256(stored: bytes) -> str:
    return hashlib.sha256(stored).hexdigest()


def encode(leaf: Leaf) -> bytes:
    """Leaf bytes v1 of `leaf`."""
    try:
        oid = uuid.UUID(hex=leaf.originator_id).bytes
        digest = bytes.fromhex(leaf.state_sha256)
        return pack(leaf.index, leaf.position, micros(leaf.recorded_at), oid, leaf.originator_version,
                    leaf.topic.encode(), digest)
    except (ValueError, struct.error) as e:
        raise LeafError(f"leaf {leaf.index} cannot be encoded: {e}") from e


def pack(index: int, position: int, recorded_us: int, originator: bytes, version: int, topic: bytes,
         digest: bytes) -> bytes:
    """Leaf bytes v1 from fields already in binary form (the recorder's path: one parse of the
    recording time per transaction, the UUID's own bytes)."""
    if len(digest) != 32:
        raise LeafError(f"leaf {index}: the stored bytes' SHA-256 has {len(digest)} bytes, not 32")
    return _HEAD.pack(LAYOUT_VERSION, index, position, recorded_us, originator, version, len(topic)) + topic + digest


def decode(data: bytes) -> Leaf:
    """The inputs of leaf bytes v1 (the recording time back as `YYYY-MM-DDTHH:MM:SS.ffffffZ`)."""
    if len(data) < _HEAD.size + 32 or data[0] != LAYOUT_VERSION:
        raise LeafError("not leaf bytes v1")
    version, index, position, us, oid, oversion, n = _HEAD.unpack_from(data)
    if len(data) != _HEAD.size + n + 32:
        raise LeafError("leaf bytes v1 of the wrong length for their topic")
    t = _EPOCH + timedelta(microseconds=us)
    return Leaf(index=index, position=position, recorded_at=t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                originator_id=uuid.UUID(bytes=oid).hex, originator_version=oversion,
                topic=data[_HEAD.size:_HEAD.size + n].decode(), state_sha256=data[-32:].hex())


def leaf_hash(leaf: Leaf) -> bytes:
    """The tree's hash of this leaf: SHA-256(0x00 || leaf bytes v1)."""
    return merkle.leaf_hash(encode(leaf))
