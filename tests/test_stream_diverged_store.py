"""A store whose log diverged from the stream (a restore from an older backup) is refused.

An operator restores the ledger from last night's backup and records again: the new events
take the positions the stream already holds with the events recorded after the backup. The
relay used to read the stream's end, find nothing in the store beyond it, say "relayed 0
events", exit 0 and sign a checkpoint of the restored store, while its new events never
reached the stream. Now it compares the stream's last event with the store (its position held,
its Ledger-Link the store's link there) before publishing or signing, and refuses with TL-E180
naming the position and both links; a stream beyond the store's end is refused the same way.
Two real SQLite ledgers, one real nats-server.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from adapters.cli import main
from adapters.ledger import open_ledger
from adapters.nats_server import NatsServer
from adapters.store import read_log
from adapters.stream import connect
from adapters.tlog_stream import CHECKPOINTS

from .natskit import make_ledger, nats_single, ticket_facts  # noqa: F401 - fixture


def cli(data: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--data-dir", str(data), *args])
    return code, out.getvalue(), err.getvalue()


def record_tickets(data: Path, prefix: str) -> int:
    """Three tickets (6 events) more; the store's last position."""
    app = open_ledger(data)
    try:
        assert all(o.status == "recorded" for o in app.execute_many(ticket_facts(3, prefix=prefix)))
        return int(app.position)
    finally:
        app.close()


def link_at(data: Path, position: int) -> str:
    app = open_ledger(data)
    try:
        return read_log(app, position, 1, position)[0].link
    finally:
        app.close()


async def _checkpoints(url: str) -> int:
    nc = await connect(url)
    try:
        return int((await nc.jetstream().stream_info(CHECKPOINTS)).state.messages)
    finally:
        await nc.close()


def checkpoints(url: str) -> int:
    return asyncio.run(_checkpoints(url))


def backed_up_ledger(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """Ledger A, relayed (with checkpoints: init made its log key), and B, a copy of A's folder
    taken then: the backup, restored."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli(a, "init")[0] == 0
    make_ledger(a, 3).close()
    assert cli(a, "relay", "--nats-url", url)[0] == 0
    shutil.copytree(a, b)
    return a, b


def test_a_restored_store_that_recorded_again_is_refused_naming_the_position_and_both_links(
        tmp_path: Path, nats_single: NatsServer) -> None:  # noqa: F811
    url = nats_single.url
    a, b = backed_up_ledger(tmp_path, url)
    end = record_tickets(a, "after-backup-")
    assert cli(a, "relay", "--nats-url", url)[0] == 0
    assert record_tickets(b, "after-restore-") == end  # B's new events take A's positions
    signed = checkpoints(url)

    code, out, err = cli(b, "relay", "--nats-url", url)
    assert code == 2 and "TL-E180" in err and "refusing to publish" in err, (out, err)
    assert f"ends at position {end}" in err, err
    assert link_at(a, end) in err and link_at(b, end) in err, err
    assert "relay --new-stream" in err and "--no-stream" not in err, err
    assert "checkpoint" not in out and checkpoints(url) == signed  # nothing signed for the diverged store
    # verify says it too (as a finding of the whole comparison)
    assert cli(b, "verify", "--nats-url", url)[0] == 1
    # ledger A, whose stream it is, goes on
    assert cli(a, "relay", "--nats-url", url)[0] == 0


def test_a_stream_beyond_the_store_s_end_is_refused(tmp_path: Path, nats_single: NatsServer) -> None:  # noqa: F811
    url = nats_single.url
    a, b = backed_up_ledger(tmp_path, url)
    end = record_tickets(a, "after-backup-")
    assert cli(a, "relay", "--nats-url", url)[0] == 0
    signed = checkpoints(url)

    code, out, err = cli(b, "relay", "--nats-url", url)
    assert code == 2 and "TL-E180" in err, (out, err)
    assert f"ends at position {end}, which the store does not hold (the store ends at {end - 6})" in err, err
    assert checkpoints(url) == signed
    code, out, err = cli(b, "--lang", "zh_CN", "relay", "--nats-url", url)  # in the reader's language
    assert code == 2 and "TL-E180" in err and str(end) in err and "存储" in err, err
