"""Write a realistic ledger of N events straight into the SQLite store, fast.

The facts are the synthetic generator's (adapters.synthetic: the four seed contracts, the
severity mix, pauses, extensions, late entries, corrections, National Day, repeated
failures, follow-ups and inspections), but they skip the Ledger's decisions: each chunk of
~50k events is encoded once (`domain.events.encode`), bound into the hash chain
(`adapters.store.chain_rows`) and written with `executemany` in one transaction into
`stored_events`, `ledger_chain` and `ledger_commands`, exactly as the Ledger would have
written them. The calendar years and the contracts go through the Ledger first, so the
store opens and continues like any other.

Order: contracts, then every asset's life (registration, delivery, acceptance, follow-ups,
inspections), then the tickets in time slices (each chunk's events sorted by recording time).

    python -m bench.generate DATA_DIR --events 1000000
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.persistence import StoredEvent

from adapters.ledger import open_ledger
from adapters.store import chain_rows
from adapters.synthetic import WINDOW_END, WINDOW_START, AssetInfo, Synth
from domain import events as ev
from domain import hashchain
from domain.base import aggregate_uuid

EVENTS_PER_TICKET = 11  # what the synthetic mix averages, asset events included
POOL = 5000  # distinct synthetic tickets used as templates


class _Writer:
    def __init__(self, con: sqlite3.Connection, chunk: int, progress: Callable[[int], None] | None) -> None:
        self.con, self.chunk, self.progress = con, chunk, progress
        row = con.execute("SELECT position, link, recorded_at FROM ledger_chain ORDER BY position DESC LIMIT 1").fetchone()
        self.position, self.link, self.time = (row[0], row[1], row[2]) if row else (0, hashchain.GENESIS, None)
        self.rows: list[tuple[str, int, str, bytes, str]] = []  # oid, version, topic, state, command id
        self.written = 0
        self.first_ticket: str | None = None

    def add(self, kind: str, agg_id: str, facts: list[ev.Fact], first_version: int = 1) -> None:
        oid = aggregate_uuid(kind, agg_id).hex
        for v, f in enumerate(facts, first_version):
            self.rows.append((oid, v, f"{kind}.{type(f).__name__}.v{f.v}", ev.encode(f), f.command_id))

    def flush(self, force: bool = False) -> None:
        while self.rows and (force or len(self.rows) >= self.chunk):
            part, self.rows = self.rows[: self.chunk], self.rows[self.chunk :]
            ids = range(self.position + 1, self.position + 1 + len(part))
            stored = [StoredEvent(originator_id=r[0], originator_version=r[1], topic=r[2], state=r[3]) for r in part]
            chain = chain_rows(self.link, self.time, ids, stored)
            con = self.con
            con.execute("BEGIN")
            # rows sorted by the primary key (originator_id, version): the index grows in order
            rows = sorted(zip(part, ids, strict=True), key=lambda x: (x[0][0], x[0][1]))
            con.executemany(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) VALUES (?,?,?,?,?)",
                [(p, r[0], r[1], r[2], r[3]) for r, p in rows],
            )
            con.executemany("INSERT INTO ledger_chain VALUES (?,?,?,?)", chain)
            # the command's content fingerprint is its normalised encoding's digest (= state digest here)
            con.executemany("INSERT INTO ledger_commands VALUES (?,?,?)",
                            sorted((r[4], c[2], c[0]) for r, c in zip(part, chain, strict=True)))
            con.execute("COMMIT")
            self.position += len(part)
            self.link, self.time = chain[-1][3], chain[-1][1]
            self.written += len(part)
            if self.progress:
                self.progress(len(part))


def generate(data_dir: str | Path, events: int, *, seed: int = 1, chunk: int = 50_000,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write about `events` events (at least that many) into the SQLite store in `data_dir`."""
    from adapters.cli.core import record_calendar

    t0 = time.perf_counter()
    tickets = max(50, int(events / EVENTS_PER_TICKET))
    synth = Synth(seed=seed, tickets=tickets, assets=max(24, tickets // 8))
    ledger = open_ledger(data_dir)
    if ledger.recorder.__class__.__name__ != "ChainedSQLiteRecorder":
        raise SystemExit("bench.generate writes SQLite stores only (unset TICKETLEDGER_POSTGRES)")
    record_calendar(ledger, None)
    outcomes = ledger.execute_many(synth.contract_facts())
    if any(o.status == "refused" for o in outcomes):
        raise SystemExit(f"contracts refused: {[o.error for o in outcomes if o.status == 'refused']}")
    path = str(Path(data_dir) / "events.sqlite")
    ledger.close()

    con = sqlite3.connect(path, isolation_level=None)
    # a bulk load: no journal while writing (a crash leaves a store to throw away), WAL after
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-1048576")  # 1 GiB
    w = _Writer(con, chunk, progress)
    start_position = w.position
    rng = synth.rng
    synth.repeat_pairs, synth.after_repair = [], []

    assets = synth.make_assets()
    for a in assets:
        life = [f for _, f in sorted(synth.asset_life(a, rng), key=lambda x: x[0])]
        w.add("asset", a.id, [synth.registration(a), *life])
        w.flush()
    n_asset_events = len(w.rows) + w.written

    # tickets: a pool of synthetic tickets (every ingredient of the mix) replayed as templates:
    # each new ticket copies one, on another asset of the same contract, shifted in time to
    # its slice of the window. structs.replace + encode is ~10x cheaper than deciding afresh.
    by_contract: dict[str, list[AssetInfo]] = {}
    for a in assets:
        by_contract.setdefault(a.contract.id, []).append(a)
    pool_size = min(tickets, POOL)
    pool = [synth.ticket(i, a, synth.report_time(a, rng), rng)
            for i in range(pool_size) for a in [assets[rng.randrange(len(assets))]]]
    synth.repeat_pairs.clear()
    synth.after_repair.clear()
    tag = f"b{seed}n{tickets}"
    per_chunk = max(1, int(chunk / EVENTS_PER_TICKET))
    span = (WINDOW_END - WINDOW_START) / max(1, tickets)
    slot = max(1, int(span.total_seconds()))
    n, target = 0, events - n_asset_events
    ticket_events = 0
    replace = msgspec.structs.replace
    while ticket_events < target or n < 1:
        timed: list[tuple[Any, int, str, int, str, ev.Fact]] = []
        for _ in range(per_chunk):
            template = pool[n % pool_size]
            opened = template[0][1]
            assert isinstance(opened, ev.TicketOpened)
            group = by_contract[opened.contract_id]
            a = group[rng.randrange(len(group))]
            t = WINDOW_START + span * (n % tickets) + timedelta(seconds=rng.randrange(slot))
            t = max(t, a.delivered + timedelta(hours=1)).replace(microsecond=0)
            shift = t - opened.occurred_at
            tid = f"T-{tag}-{n:07d}"
            oid = aggregate_uuid("ticket", tid).hex
            for v, (entry, f) in enumerate(template, 1):
                kw: dict[str, Any] = {"id": tid, "command_id": f"{tid}.{v}", "occurred_at": f.occurred_at + shift,
                                      "source_recorded_at": entry + shift}
                if v == 1:
                    kw.update(asset_id=a.id, site=a.site)
                elif isinstance(f, ev.FactCorrected):
                    fixed = datetime.fromisoformat(f.changes["occurred_at"]) + shift
                    kw["changes"] = {"occurred_at": fixed.isoformat().replace("+00:00", "Z")}
                timed.append((entry + shift, len(timed), oid, v, tid, replace(f, **kw)))
            if w.first_ticket is None:
                w.first_ticket = tid
            n += 1
            ticket_events += len(template)
            if ticket_events >= target:
                break
        timed.sort()
        for _, _, oid, v, _, f in timed:
            w.rows.append((oid, v, f"ticket.{type(f).__name__}.v{f.v}", ev.encode(f), f.command_id))
        w.flush()
    w.flush(force=True)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    seconds = time.perf_counter() - t0
    written = w.position - start_position
    return {"events": w.position, "written": written, "tickets": n, "assets": len(assets),
            "seconds": round(seconds, 2), "events_per_second": round(written / seconds),
            "first_ticket": w.first_ticket, "path": str(path)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if Path(args.data_dir, "events.sqlite").exists():
        print(f"{args.data_dir} already holds a store; the generator appends to it", file=sys.stderr)
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        sys.stderr.write(f"\rgenerate: {done[0]:,}/{args.events:,}")
        sys.stderr.flush()

    stats = generate(args.data_dir, args.events, seed=args.seed, progress=progress)
    sys.stderr.write("\n")
    print(stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
