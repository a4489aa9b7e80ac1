"""Every stream message carries every input of its Merkle leaf (issue 16, settled after review):
Ledger-Leaf-Index (the 0-based count of earlier events, not the position), Ledger-Originator
and Ledger-Version, beside the position, recording time, topic and sha256 headers. A relay that
resumes, or follows a stream an older relay started without these headers, goes on counting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.nats_server import NatsServer
from adapters.relay import relay_all
from adapters.store import iter_log
from adapters.stream import STREAM, connect, ensure_stream, headers_for, subject_for

from .natskit import make_ledger, nats_single, ticket_facts  # noqa: F401 - fixture


async def _headers(url: str) -> list[dict[str, str]]:
    nc = await connect(url)
    try:
        js = nc.jetstream(timeout=10)
        n = (await js.stream_info(STREAM)).state.messages
        return [dict((await js.get_msg(STREAM, seq, direct=True)).headers or {}) for seq in range(1, n + 1)]
    finally:
        await nc.close()


def test_each_message_names_its_leaf_originator_and_version(tmp_path: Path, nats_single: NatsServer) -> None:  # noqa: F811
    ledger = make_ledger(tmp_path / "data", 5)
    try:
        assert relay_all(ledger, nats_single.url) == ledger.position
        # more events, relayed by a second run: the count goes on from the stream's last message
        assert all(o.status == "recorded" for o in ledger.execute_many(ticket_facts(3, prefix="L")))
        assert relay_all(ledger, nats_single.url) == 6
        rows = list(iter_log(ledger))
    finally:
        ledger.close()
    got = asyncio.run(_headers(nats_single.url))
    assert [h["Ledger-Leaf-Index"] for h in got] == [str(i) for i in range(len(rows))]
    assert [(h["Ledger-Originator"], h["Ledger-Version"]) for h in got] == [
        (r.originator_id, str(r.originator_version)) for r in rows]
    assert [h["Ledger-Position"] for h in got] == [str(r.position) for r in rows]


async def _publish_the_old_way(url: str, rows: list) -> None:  # type: ignore[type-arg]
    nc = await connect(url)
    try:
        js = nc.jetstream(timeout=10)
        await ensure_stream(js)
        for r in rows:
            await js.publish(subject_for(r), r.state, headers=headers_for(r), stream=STREAM)
    finally:
        await nc.close()


def test_a_stream_started_without_leaf_headers_is_continued_by_count(tmp_path: Path, nats_single: NatsServer) -> None:  # noqa: F811
    ledger = make_ledger(tmp_path / "data", 4)
    try:
        rows = list(iter_log(ledger))
        asyncio.run(_publish_the_old_way(nats_single.url, rows[:5]))  # an older relay: no leaf headers
        assert relay_all(ledger, nats_single.url) == len(rows) - 5
    finally:
        ledger.close()
    got = asyncio.run(_headers(nats_single.url))
    assert ["Ledger-Leaf-Index" in h for h in got] == [False] * 5 + [True] * (len(rows) - 5)
    assert [h["Ledger-Leaf-Index"] for h in got[5:]] == [str(i) for i in range(5, len(rows))]


def test_the_leaf_index_counts_events_where_positions_have_gaps(tmp_path: Path, postgres_schema: str) -> None:
    """PostgreSQL positions come from a sequence: a rolled-back recording leaves a gap. The leaf
    index counts events, so it has none."""
    import psycopg

    from adapters.ledger import Ledger
    from adapters.store import StoreConfig

    from .conftest import PG_DSN
    from .natskit import setup_facts

    ledger = Ledger.open(StoreConfig(tmp_path / "data", PG_DSN, postgres_schema))
    try:
        ledger.execute_many(setup_facts())
        with psycopg.connect(PG_DSN, autocommit=True) as con:  # burn sequence numbers: a gap
            table = f'"{postgres_schema}".{ledger.recorder.events_table_name}'
            seq = con.execute("SELECT pg_get_serial_sequence(%s, 'notification_id')", (table,)).fetchone()[0]
            con.execute(f"SELECT nextval('{seq}') FROM generate_series(1, 7)")
        assert all(o.status == "recorded" for o in ledger.execute_many(ticket_facts(2)))
        rows = list(iter_log(ledger))
        with NatsServer(tmp_path / "nats") as server:
            assert relay_all(ledger, server.url) == len(rows)
            got = asyncio.run(_headers(server.url))
    finally:
        ledger.close()
    positions = [int(h["Ledger-Position"]) for h in got]
    assert positions != list(range(positions[0], positions[0] + len(positions)))  # there is a gap
    assert [h["Ledger-Leaf-Index"] for h in got] == [str(i) for i in range(len(rows))]
