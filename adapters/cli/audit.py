"""Audit commands (SPEC §5): verify, explain, replay (as of / what-if), diff.

This module opens the store, the stream and DuckDB; `replay/` only computes over what it
is handed (rows, stream events, connections).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from ..store import ChainedPostgresRecorder, iter_log
from . import UserError
from .output import Progress


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = sub.add_parser(
        "verify",
        help="prove the log is unaltered: recompute the hash chain, check evidence files, compare with NATS",
        description="Recompute every event's digest and hash-chain link, check every attached evidence "
                    "file against its recorded hash, and compare the store with the NATS stream event by "
                    "event (count, order, payload sha256, position and link headers). Names the first "
                    "position that differs and exits 1 on any difference.",
    )
    p.add_argument("--nats-url", default=None, metavar="URL",
                   help="compare with the LEDGER stream on this server (default: $TICKETLEDGER_NATS_URL, "
                        "else a self-started server on the data folder's JetStream store if it has one)")
    p.add_argument("--no-stream", action="store_true", help="do not compare with the NATS stream")
    p.add_argument("--no-evidence", action="store_true", help="do not check evidence files")
    p.set_defaults(func=cmd_verify)


# --- verify ---------------------------------------------------------------------------------------


def chain_head(app: Any) -> tuple[int, str] | None:
    """(position, link) of the last row of the chain table, read independently of the events."""
    rec = app.recorder
    if isinstance(rec, ChainedPostgresRecorder):
        with rec.datastore.transaction(commit=False) as curs:
            curs.execute(f'SELECT position, link FROM "{rec.datastore.schema}".ledger_chain '
                         "ORDER BY position DESC LIMIT 1")
            r = curs.fetchone()
            return (int(r["position"]), r["link"]) if r else None
    with rec.datastore.transaction(commit=False) as c:
        c.execute("SELECT position, link FROM ledger_chain ORDER BY position DESC LIMIT 1")
        r = c.fetchone()
        return (int(r[0]), r[1]) if r else None


class StreamRow:
    """One stream message as verify compares it: the ledger's headers and the payload."""

    __slots__ = ("position", "data", "link", "topic", "recorded_at", "seq")

    def __init__(self, position: int, data: bytes, link: str, topic: str, recorded_at: str, seq: int) -> None:
        self.position, self.data, self.link, self.topic, self.recorded_at, self.seq = (
            position, data, link, topic, recorded_at, seq)

    @classmethod
    def of(cls, msg: Any) -> StreamRow:
        from ..stream import H_LINK, H_POSITION, H_RECORDED_AT, H_TOPIC

        h = msg.headers or {}
        try:
            position = int(h.get(H_POSITION, "-1"))
        except ValueError:
            position = -1
        return cls(position, msg.data or b"", h.get(H_LINK, ""), h.get(H_TOPIC, ""), h.get(H_RECORDED_AT, ""),
                   msg.metadata.sequence.stream)


def stream_events(data_dir: Path, url: str | None) -> list[Any] | None:
    """Every event of the LEDGER stream in stream order, or None when there is no stream to read."""
    from ..nats_server import server_for
    from ..stream import STREAM, SUBJECTS, ConnectOptions, connect

    url = url or os.environ.get("TICKETLEDGER_NATS_URL") or None
    if url is None and not (data_dir / "nats").exists():
        return None

    async def read(u: str) -> list[Any] | None:
        from nats.js import api as jsapi
        from nats.js.errors import NotFoundError

        nc = await connect(u, ConnectOptions.from_env(url=u))
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(STREAM)
            except NotFoundError:
                return None
            out: list[Any] = []
            if info.state.messages == 0:
                return out
            sub = await js.subscribe(SUBJECTS, stream=STREAM, ordered_consumer=True,
                                     deliver_policy=jsapi.DeliverPolicy.ALL)
            try:
                while True:
                    msg = await sub.next_msg(timeout=10.0)
                    out.append(StreamRow.of(msg))
                    if msg.metadata.num_pending == 0:
                        return out
            finally:
                await sub.unsubscribe()
        finally:
            await nc.close()

    with server_for(data_dir, url) as u:
        return asyncio.run(read(u))


def cmd_verify(args: argparse.Namespace) -> int:
    from replay.verify import verify_log

    from ..evidence import check_evidence
    from .core import ledger_for

    data_dir = Path(args.data_dir)
    if not data_dir.exists():
        raise UserError(f"no data folder {data_dir}")
    ledger = ledger_for(args)
    stream = None
    if not args.no_stream:
        try:
            stream = stream_events(data_dir, args.nats_url)
        except Exception as e:  # noqa: BLE001 - report why the stream could not be read, then fail
            raise UserError(f"cannot read the NATS stream ({type(e).__name__}: {e}); "
                            "use --no-stream to verify the store alone") from None
    progress = Progress("verify", total=ledger.position or None, every=20_000)
    report = verify_log(
        iter_log(ledger),
        evidence=None if args.no_evidence else (lambda sha: check_evidence(data_dir, sha)),
        head=chain_head(ledger),
        stream=stream,
        progress=progress.add,
    )
    progress.done()
    ledger.close()
    if args.json:
        sys.stdout.write(msgspec.json.encode(report.as_dict()).decode() + "\n")
    else:
        print(report.text())
    return 0 if report.ok else 1
