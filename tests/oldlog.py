"""Ledgers recorded before today's checks: stored rows written the old way.

A ledger recorded before a bound existed may hold what today's commands refuse (issue 14, settled
after review: it must stay readable). `record_the_old_way` appends facts as the store held them
then: the fact's own JSON under its topic, through the recorder (so the hash chain and the
recording time are the store's own), with none of today's domain checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import StoredEvent

from adapters.ledger import Ledger
from domain import events as ev
from domain.base import aggregate_uuid

KINDS = {"contract": "contract", "calendar": "calendar", "asset": "asset", "ticket": "ticket"}


def record_the_old_way(ledger: Ledger, facts: Sequence[tuple[str, ev.Fact]]) -> list[int]:
    """Append (aggregate kind, fact) pairs in one transaction, each as the next version of its
    aggregate; returns their positions. The facts are stored exactly as given (fill `customer`)."""
    versions: dict[str, int] = {}
    stored = []
    for kind, fact in facts:
        oid = aggregate_uuid(kind, fact.id)
        if oid.hex not in versions:
            versions[oid.hex] = len(ledger.recorder.select_events(oid))
        versions[oid.hex] += 1
        stored.append(StoredEvent(originator_id=oid, originator_version=versions[oid.hex],
                                  topic=ev.topic_of(fact, KINDS[kind]), state=ev.encode(fact)))
    return list(ledger.recorder.insert_events(stored) or [])
