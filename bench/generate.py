"""Write a realistic ledger of N events straight into the SQLite store, fast.

The facts are the synthetic generator's (adapters.synthetic: the four seed contracts, the
severity mix, pauses, extensions, late entries, corrections, National Day, repeated
failures, follow-ups and inspections), but they skip the Ledger's decisions and are written
exactly as the Ledger would have written them: `stored_events` (the fact's `domain.events`
encoding, topic `kind.Type.vN`), `ledger_chain` (recording time, state digest and hash-chain
link, as `adapters.store.chain_rows` computes them) and `ledger_commands` (command id, content
digest, position). The calendar years and the contracts go through the Ledger first, so the
store opens and continues like any other (`ticketledger verify` says OK on it).

Order: one stream in recording time. Asset lives (registration, delivery, installation,
acceptance, follow-ups, inspections) and tickets are merged by their desk recording time, so
every prefix of the log (`rowid <= N`) is the ledger as it stood then: a 1M prefix of a 10M
ledger is a realistic 1M ledger (the first weeks of the window, after the deliveries).

Tickets are copies of a pool of synthetic tickets (every ingredient of the mix), each on
another asset of the same contract, shifted in time to its slot of the window:
`structs.replace` + `encode` is ~10x cheaper than deciding afresh. Where the time goes:
worker processes (`workers`, fork) build chunks of rows (facts, encoding, state digests) and
the main process merges them in time order, links the chain (sequential by nature) and
inserts plain tuples with `executemany`, in position order (the tables' rowid order), in one
journal-less bulk transaction. Each chunk has its own seeded RNG, so the rows are the same for
any number of workers.

Customers (issue 15): by default 48 customers, 12 on each seed contract's terms. A contract binds
one customer (the Ledger refuses an asset of another customer), so each customer holds its own
contract, a copy of a seed contract under its own id (K-000-c03 for buyer-000-c03), with its
assets spread over its own sites; a customer then holds about 2 % of the log, as in real life.
`customers=0` (`--customers 0`, `BENCH_CUSTOMERS=0` in the bench) keeps the old shape, one
customer per seed contract, so older figures still compare.

    python -m bench.generate DATA_DIR --events 1000000 [--workers 2] [--customers 48]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import os
import queue
import random
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from adapters.ledger import open_ledger
from adapters.store import now_iso
from adapters.synthetic import CONTRACT_TIME, WINDOW_END, WINDOW_START, Synth
from domain import events as ev
from domain import hashchain
from domain.base import aggregate_uuid

EVENTS_PER_TICKET = 11  # what the synthetic mix averages, asset events included (sizes the asset count)
POOL = 5000  # distinct synthetic tickets used as templates
ASSETS_PER_CHUNK = 2000

# a row: (key, originator id, version, topic, state, command id, state digest); the key orders
# the log: recording time in seconds, then the aggregate (ticket number or 2**31 + asset index),
# then the version, packed into one int so sorting compares ints only
Row = tuple[int, str, int, str, bytes, str, str]
ASSET_BASE = 1 << 31
_uuid = aggregate_uuid.__wrapped__  # uncached: each ticket id is used once, the cache would only churn


def _s(t: datetime) -> int:
    return int(t.timestamp())


@dataclass
class _Template:
    opened_s: int
    contract_id: str
    facts: list[tuple[int, int, str, ev.Fact, datetime]]  # entry offset s, version, topic, fact, entry


@dataclass
class _Plan:
    """What every worker needs (inherited through fork, or used in-process)."""

    seed: int
    tag: str
    synth: Synth
    assets: list[Any]
    pool: list[_Template]
    by_contract: dict[str, list[tuple[str, str, int]]]  # contract -> (asset id, site, delivered s)


_PLAN: _Plan | None = None


def _row(key: int, oid: str, v: int, topic: str, fact: ev.Fact) -> Row:
    state = ev.encode(fact)
    return (key, oid, v, topic, state, fact.command_id, hashlib.sha256(state).hexdigest())


def _asset_rows(c: int) -> list[Row]:
    """Chunk `c` of the assets: each one's registration and life, its own RNG per chunk."""
    p = _PLAN
    assert p is not None
    rng = random.Random(f"bench-{p.seed}-assets-{c}")
    rows: list[Row] = []
    for i in range(c * ASSETS_PER_CHUNK, min(len(p.assets), (c + 1) * ASSETS_PER_CHUNK)):
        a = p.assets[i]
        oid = _uuid("asset", a.id).hex
        reg = p.synth.registration(a)
        life = sorted(p.synth.asset_life(a, rng), key=lambda x: x[0])
        low = (ASSET_BASE + i) << 8
        rows.append(_row(_s(reg.occurred_at) << 40 | low | 1, oid, 1, f"asset.AssetRegistered.v{reg.v}", reg))
        for v, (entry, f) in enumerate(life, 2):
            rows.append(_row(_s(entry) << 40 | low | v, oid, v, f"asset.{type(f).__name__}.v{f.v}", f))
    return rows


def _ticket_rows(c: int, tickets: int, per_chunk: int, span_s: float) -> list[Row]:
    """Chunk `c` of the tickets, sorted by key; each ticket copies pool[n % len(pool)] and starts
    in its slot of the window (`span_s` seconds per ticket)."""
    p = _PLAN
    assert p is not None
    start_s, slot = _s(WINDOW_START), max(1, int(span_s))
    rng = random.Random(f"bench-{p.seed}-tickets-{c}")
    replace, encode, sha = msgspec.structs.replace, ev.encode, hashlib.sha256
    corrected = ev.FactCorrected
    rows: list[Row] = []
    for n in range(c * per_chunk, min(tickets, (c + 1) * per_chunk)):
        tpl = p.pool[n % len(p.pool)]
        group = p.by_contract[tpl.contract_id]
        asset_id, site, delivered_s = group[rng.randrange(len(group))]
        t = max(start_s + int(span_s * n) + rng.randrange(slot), delivered_s + 3600)
        shift_s = t - tpl.opened_s
        shift = timedelta(seconds=shift_s)
        tid = f"T-{p.tag}-{n:07d}"
        oid = _uuid("ticket", tid).hex
        low = n << 8
        for off, v, topic, f, entry in tpl.facts:
            cid = f"{tid}.{v}"
            if v == 1:
                new = replace(f, id=tid, command_id=cid, occurred_at=f.occurred_at + shift,
                              source_recorded_at=entry + shift, asset_id=asset_id, site=site)
            elif type(f) is corrected:
                fixed = datetime.fromisoformat(f.changes["occurred_at"]) + shift
                new = replace(f, id=tid, command_id=cid, occurred_at=f.occurred_at + shift,
                              source_recorded_at=entry + shift,
                              changes={"occurred_at": fixed.isoformat().replace("+00:00", "Z")})
            else:
                new = replace(f, id=tid, command_id=cid, occurred_at=f.occurred_at + shift,
                              source_recorded_at=entry + shift)
            state = encode(new)
            rows.append(((tpl.opened_s + shift_s + off) << 40 | low | v, oid, v, topic, state, cid,
                         sha(state).hexdigest()))
    rows.sort()
    return rows


class _Chunks:
    """Results of `fn(0..n-1)` in order, from a process pool with a bounded number in flight
    (the writer is the slower side: unbounded prefetch would hold the whole ledger in memory)."""

    def __init__(self, workers: int) -> None:
        self.pool = None
        if workers > 0:
            import gc
            import multiprocessing

            gc.freeze()  # the plan is shared copy-on-write: keep the children's GC off its pages
            self.pool = multiprocessing.get_context("fork").Pool(workers)
        self.depth = max(2, 2 * workers)

    def map(self, fn: Callable[..., list[Row]], n: int, *args: Any) -> Iterator[list[Row]]:
        if self.pool is None:
            for c in range(n):
                yield fn(c, *args)
            return
        inflight: deque[Any] = deque()
        nxt = 0
        while nxt < n or inflight:
            while nxt < n and len(inflight) < self.depth:
                inflight.append(self.pool.apply_async(fn, (nxt, *args)))
                nxt += 1
            yield inflight.popleft().get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


class _Writer:
    """Positions, chain links and the three tables, for rows already in log order.

    The inserts run in a thread of their own: sqlite3 lets go of the GIL while SQLite works, so
    the B-tree work of one batch overlaps the merging and chain hashing of the next."""

    def __init__(self, con: sqlite3.Connection, progress: Callable[[int], None] | None) -> None:
        self.con, self.progress = con, progress
        row = con.execute("SELECT position, link, recorded_at FROM ledger_chain ORDER BY position DESC LIMIT 1").fetchone()
        self.position, self.link, self.time = (row[0], row[1], row[2]) if row else (0, hashchain.GENESIS, None)
        self.written = 0
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.error: list[BaseException] = []
        self.thread = threading.Thread(target=self._insert, daemon=True)
        self.thread.start()

    def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        if self.error:
            raise self.error[0]
        sha = hashlib.sha256
        rec = now_iso(self.time)  # one recording time per transaction, as the Ledger stamps a save
        pos, last = self.position, self.link
        events, chain, commands = [], [], []
        for _, oid, v, topic, state, cid, digest in rows:
            pos += 1
            # hashchain.link, inlined: the one sequential step of the whole load
            last = sha(f"{last}|{pos}|{rec}|{oid}|{v}|{topic}|{digest}".encode()).hexdigest()
            events.append((pos, oid, v, topic, state))
            chain.append((pos, rec, digest, last))
            # the command's content fingerprint is its normalised encoding's digest (= state digest here)
            commands.append((cid, digest, pos))
        self.queue.put((events, chain, commands))
        self.written += pos - self.position
        self.position, self.link, self.time = pos, last, rec

    def _insert(self) -> None:
        # One transaction for the whole load: the primary-key index of stored_events grows at
        # random places (uuid keys), so a commit every chunk rewrote most of its pages each time
        # and the load slowed as it grew. Without a journal there is nothing to bound.
        con = self.con
        con.execute("BEGIN")
        while (item := self.queue.get()) is not None:
            if self.error:
                continue
            events, chain, commands = item
            try:
                con.executemany("INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                                "VALUES (?,?,?,?,?)", events)
                con.executemany("INSERT INTO ledger_chain (position, recorded_at, state_sha256, link) "
                                "VALUES (?,?,?,?)", chain)  # no tree: `checkpoint` builds it (migration)
                con.executemany("INSERT INTO ledger_commands VALUES (?,?,?)", commands)
            except BaseException as e:  # noqa: BLE001 - handed to the producing thread
                self.error.append(e)
                continue
            if self.progress:
                self.progress(len(events))
        if not self.error:
            con.execute("COMMIT")

    def close(self) -> None:
        """Wait until every batch is in the store."""
        self.queue.put(None)
        self.thread.join()
        if self.error:
            raise self.error[0]


def _templates(synth: Synth, assets: list[Any], size: int) -> list[_Template]:
    rng = synth.rng
    out = []
    for i in range(size):
        a = assets[rng.randrange(len(assets))]
        facts = synth.ticket(i, a, synth.report_time(a, rng), rng)
        opened = facts[0][1]
        assert isinstance(opened, ev.TicketOpened) and len(facts) < 256
        o = _s(opened.occurred_at)
        out.append(_Template(o, opened.contract_id, [
            (_s(entry) - o, v, f"ticket.{type(f).__name__}.v{f.v}", f, entry)
            for v, (entry, f) in enumerate(facts, 1)
        ]))
    return out


def _write_evidence(data_dir: Path, pool: list[_Template]) -> int:
    """The files the pool's EvidenceAttached facts name (content = what the synthetic digest hashes),
    so `verify` finds every attached file; the copies of a template share its report."""
    from adapters.evidence import evidence_path

    n = 0
    for tpl in pool:
        for _, _, _, f, _ in tpl.facts:
            if isinstance(f, ev.EvidenceAttached):
                content = f"{f.id}/service-report".encode()
                if hashlib.sha256(content).hexdigest() != f.sha256:
                    continue  # not the synthetic report: nothing we could write
                path = evidence_path(data_dir, f.sha256)
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
                    n += 1
    return n


CUSTOMERS = 48  # the default shape: 12 customers on each of the four seed contracts' terms


def spread_customers(synth: Synth, assets: list[Any], customers: int) -> list[ev.ContractRegistered]:
    """Give each asset one of `customers` customers, each with its own copy of its seed contract
    (same terms, own id and customer) and its own sites; returns the copies' contract facts."""
    import dataclasses

    per = max(1, customers // len(synth.contracts))
    copies = {c.id: [dataclasses.replace(c, id=f"{c.id}-c{j:02d}", customer=f"{c.customer}-c{j:02d}")
                     for j in range(per)] for c in synth.contracts}
    rng = random.Random(f"bench-customers-{customers}")
    for a in assets:
        group = copies[a.contract.id]
        # uneven shares, as customers are: a few large ones, many small ones
        j = min(int(rng.paretovariate(1.2)) - 1, per - 1) if rng.random() < 0.5 else rng.randrange(per)
        a.contract = group[j]
        a.site = f"{a.contract.customer}-site-{a.site.rsplit('-', 1)[-1]}"
    return [
        ev.ContractRegistered(
            command_id=f"bench-contract-{c.id}", id=c.id, occurred_at=CONTRACT_TIME, actor="ticketledger bench",
            channel="cli", customer=c.customer, supplier=c.supplier, customer_id=c.customer,
            name=f"{c.name} ({c.customer})", terms=c.data["terms"])
        for group in copies.values() for c in group
    ]


def default_workers() -> int:
    return min(2, os.cpu_count() or 1)


def generate(data_dir: str | Path, events: int, *, seed: int = 1, chunk: int = 50_000, workers: int | None = None,
             progress: Callable[[int], None] | None = None, customers: int = CUSTOMERS) -> dict[str, Any]:
    """Write about `events` events (at least that many) into the SQLite store in `data_dir`.

    `workers` processes build the rows (default: up to 2; 0 = all in this process); the rows
    do not depend on it. `customers`: see the module doc (0: one per seed contract)."""
    from adapters.calendar_data import record_calendar

    global _PLAN
    t0 = time.perf_counter()
    workers = default_workers() if workers is None else workers
    tickets_est = max(50, int(events / EVENTS_PER_TICKET))
    synth = Synth(seed=seed, tickets=tickets_est, assets=max(24, tickets_est // 8))
    synth.repeat_pairs, synth.after_repair = [], []
    ledger = open_ledger(data_dir)
    if ledger.recorder.__class__.__name__ != "ChainedSQLiteRecorder":
        raise SystemExit("bench.generate writes SQLite stores only (unset TICKETLEDGER_POSTGRES)")
    record_calendar(ledger, None)
    assets = synth.make_assets()
    contracts = synth.contract_facts()
    if customers:
        contracts = spread_customers(synth, assets, customers)
    outcomes = ledger.execute_many(contracts)
    if any(o.status == "refused" for o in outcomes):
        raise SystemExit(f"contracts refused: {[o.error for o in outcomes if o.status == 'refused']}")
    path = str(Path(data_dir) / "events.sqlite")
    ledger.close()

    pool = _templates(synth, assets, min(tickets_est, POOL))
    synth.repeat_pairs.clear()
    synth.after_repair.clear()  # the pool's calls after repair belong to no written ticket
    by_contract: dict[str, list[tuple[str, str, int]]] = {}
    for a in assets:
        by_contract.setdefault(a.contract.id, []).append((a.id, a.site, _s(a.delivered)))
    _PLAN = _Plan(seed=seed, tag=f"b{seed}n{tickets_est}", synth=synth, assets=assets, pool=pool,
                  by_contract=by_contract)
    evidence = _write_evidence(Path(data_dir), pool)

    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # a bulk load: no journal while writing (a crash leaves a store to throw away), WAL after
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA locking_mode=EXCLUSIVE")
    con.execute("PRAGMA cache_size=-1048576")  # 1 GiB: the primary-key index of stored_events stays in memory
    w = _Writer(con, progress)
    start_position = w.position
    chunks = _Chunks(workers)
    try:
        # 1. every asset's life (sorted by time; written as the tickets' time reaches it)
        asset_rows: list[Row] = []
        for part in chunks.map(_asset_rows, -(-len(assets) // ASSETS_PER_CHUNK)):
            asset_rows += part
        asset_rows.sort()
        # 2. exactly as many tickets as reach `events`, cycling through the pool
        need = events - start_position - len(asset_rows)
        sizes = [len(t.facts) for t in pool]
        cycle = sum(sizes)
        full, rest = divmod(max(need, 1), cycle)
        acc, k = 0, 0
        while acc < rest:
            acc += sizes[k]
            k += 1
        tickets = max(1, full * len(pool) + k)
        per_chunk = max(1, int(chunk * len(pool) / cycle))
        start_s, span_s = _s(WINDOW_START), (WINDOW_END - WINDOW_START).total_seconds() / tickets
        # 3. tickets chunk by chunk, merged with the asset rows in time order: a row is written
        #    once no later ticket can come before it (every ticket of chunk c+1 starts after
        #    the watermark start + span * its first number)
        n_chunks = -(-tickets // per_chunk)
        pending: list[Row] = []
        ai = 0
        for c, rows in enumerate(chunks.map(_ticket_rows, n_chunks, tickets, per_chunk, span_s)):
            nxt = (c + 1) * per_chunk
            mark = ((start_s + int(span_s * nxt)) << 40) if nxt < tickets else 1 << 100
            aj = bisect.bisect_left(asset_rows, (mark,), ai)
            pending += rows
            pending += asset_rows[ai:aj]
            ai = aj
            pending.sort()  # runs already sorted: timsort merges them
            i = bisect.bisect_left(pending, (mark,))
            out, pending = pending[:i], pending[i:]
            for j in range(0, len(out), chunk):
                w.write(out[j : j + chunk])
        w.write(pending + asset_rows[ai:])
        w.close()
    finally:
        chunks.close()
        _PLAN = None
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    seconds = time.perf_counter() - t0
    written = w.position - start_position
    return {"events": w.position, "written": written, "tickets": tickets, "assets": len(assets),
            "asset_events": len(asset_rows), "evidence_files": evidence, "workers": workers,
            "seconds": round(seconds, 2), "events_per_second": round(written / seconds),
            "first_ticket": f"T-b{seed}n{tickets_est}-0000000", "path": str(path),
            "customers": len({a.contract.customer for a in assets}), "contracts": len(contracts)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=None, help="row-building processes (default up to 2; 0 = none)")
    p.add_argument("--customers", type=int, default=CUSTOMERS,
                   help=f"customers, each with its own copy of a seed contract (default {CUSTOMERS}; 0 = the old "
                        "shape, one customer per seed contract)")
    args = p.parse_args(argv)
    if Path(args.data_dir, "events.sqlite").exists():
        print(f"{args.data_dir} already holds a store; the generator appends to it", file=sys.stderr)
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        sys.stderr.write(f"\rgenerate: {done[0]:,}/{args.events:,}")
        sys.stderr.flush()

    stats = generate(args.data_dir, args.events, seed=args.seed, workers=args.workers, progress=progress,
                     customers=args.customers)
    sys.stderr.write("\n")
    print(stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
