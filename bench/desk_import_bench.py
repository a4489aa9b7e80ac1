"""Desk import speed vs the eventsourcing library alone, and the whole-file figures (issue 8).

For each desk file (the whole ServiceNow log, the whole Volvo XES log):

1. import it through the batched path (`import --format ... --batch 1000`) into a fresh SQLite
   ledger, timed from opening the file to the last commit;
2. let a plain `eventsourcing.application.Application` (default Aggregates, default JSON
   transcoder, SQLite) append **the very events the import recorded**: the same aggregates,
   each with the same number of events in the same order, the same events per save (one save
   per import transaction, read back from the ledger's `ledger_commands`), each event
   carrying the same fact fields as its payload. Built before the clock starts, so the
   library is timed on appending alone. A second baseline appends the same shape with empty
   payloads (the library's best case);
3. repeat 1–2 alternately (`--repeat`, default 3) and compare the best of each: the machine
   is shared, and the best run is the one least disturbed by others;
4. on the last imported ledger: `ticketledger views rebuild` (the replay) timed as a user
   runs it, and for ServiceNow `ticketledger report compare-sla` (agreement with made_sla).

    .venv/bin/python bench/desk_import_bench.py [--only servicenow|xes] [--limit N] [--repeat 3] [--no-replay]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SN = Path("/work/shared/data/uci-incident-event-log/incident_event_log.csv.gz")
XES = Path("/work/shared/data/bpic2013-volvo-incidents/BPI_Challenge_2013_incidents.xes.gz")
MAPPING = ROOT / "contracts" / "volvo-mapping.toml"
BATCH = 1000


def desk_import(fmt: str, path: Path, limit: int | None, data_dir: Path) -> tuple[float, float, dict]:
    """Wall and CPU seconds for the whole import through the batched path, and its summary."""
    from adapters.desks import FORMATS
    from adapters.ledger import open_ledger

    args = Namespace(file=str(path), mapping=str(MAPPING) if fmt == "xes" else None, contract=None,
                     timezone=None, limit=limit, batch=BATCH, data_dir=str(data_dir), json=True)
    t0, c0 = time.perf_counter(), time.process_time()
    ledger = open_ledger(data_dir)
    summary = FORMATS[fmt](ledger, args)
    return time.perf_counter() - t0, time.process_time() - c0, summary.as_dict()


Transactions = list[list[tuple[str, int, dict]]]


def recorded_transactions(data_dir: Path) -> Transactions:
    """The events the import recorded, as (aggregate, version, fact fields), one list per save."""
    con = sqlite3.connect(data_dir / "events.sqlite")
    try:
        starts = [r[0] for r in con.execute("SELECT DISTINCT position FROM ledger_commands ORDER BY position")]
        rows = con.execute("SELECT rowid, originator_id, originator_version, state FROM stored_events ORDER BY rowid")
        out: Transactions = []
        nxt = 0
        for pos, oid, version, state in rows:
            if nxt < len(starts) and pos >= starts[nxt]:
                out.append([])
                nxt += 1
            out[-1].append((str(oid), version, msgspec.json.decode(state)))
    finally:
        con.close()
    return out


class Item(Aggregate):
    """A plain library aggregate carrying one desk fact's fields per event."""

    def __init__(self, fact: dict) -> None:
        self.fact = fact

    @event("Noted")
    def note(self, fact: dict) -> None:
        self.fact = fact


def library_alone(transactions: Transactions, db: Path, empty: bool = False) -> tuple[float, float]:
    """Plain eventsourcing appends the same events in the same saves; wall and CPU seconds."""
    os.environ.update({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)})
    try:
        app = Application()
        live: dict[str, Item] = {}  # aggregates stay in memory across saves, as in the import's cache
        t0, c0 = time.perf_counter(), time.process_time()
        for tx in transactions:
            touched: dict[str, Item] = {}
            for oid, version, fact in tx:
                payload = {} if empty else fact
                if version == 1:
                    agg = live[oid] = Item(fact=payload)
                else:
                    agg = live[oid]
                    agg.note(fact=payload)
                touched[oid] = agg
            app.save(*touched.values())
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        for key in ("PERSISTENCE_MODULE", "SQLITE_DBNAME"):
            os.environ.pop(key, None)


def cli(data_dir: Path, *argv: str) -> tuple[float, str]:
    """Run `ticketledger` as a user does; seconds and stdout."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(data_dir), *argv],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"ticketledger {' '.join(argv)} failed: {done.stderr.strip()[-2000:]}")
    return secs, done.stdout


def run_desk(fmt: str, path: Path, limit: int | None, repeat: int, replay: bool, tmp: Path) -> dict[str, Any]:
    # (wall, cpu) seconds per run
    ours: list[tuple[float, float]] = []
    same: list[tuple[float, float]] = []
    empty: list[tuple[float, float]] = []
    summary: dict = {}
    ledger_dir = tmp / "ledger"
    transactions: Transactions = []
    for k in range(repeat):
        ledger_dir = tmp / f"ledger-{k}"
        wall, cpu, summary = desk_import(fmt, path, limit, ledger_dir)
        ours.append((wall, cpu))
        if not transactions:
            transactions = recorded_transactions(ledger_dir)
        same.append(library_alone(transactions, tmp / f"lib-{k}.sqlite"))
        empty.append(library_alone(transactions, tmp / f"lib-empty-{k}.sqlite", empty=True))
        for k_old in range(k):  # keep the disk modest: only the last ledger is replayed
            for f in (tmp / f"lib-{k_old}.sqlite", tmp / f"lib-empty-{k_old}.sqlite"):
                f.unlink(missing_ok=True)
    events = sum(len(tx) for tx in transactions)
    assert events == summary["recorded"], (events, summary["recorded"])
    def best(runs: list[tuple[float, float]], i: int) -> float:
        return min(r[i] for r in runs)

    result: dict[str, Any] = {
        "format": fmt, "file": path.name, **summary, "events": events, "saves": len(transactions),
        "import_s": [r[0] for r in ours], "import_cpu_s": [r[1] for r in ours],
        "library_same_events_s": [r[0] for r in same], "library_same_events_cpu_s": [r[1] for r in same],
        "library_empty_events_s": [r[0] for r in empty], "library_empty_events_cpu_s": [r[1] for r in empty],
        # ours/library as rates = library seconds / our seconds, best run of each
        "ratio_same_events": best(same, 0) / best(ours, 0), "ratio_empty_events": best(empty, 0) / best(ours, 0),
        "ratio_same_events_cpu": best(same, 1) / best(ours, 1),
        "ratio_empty_events_cpu": best(empty, 1) / best(ours, 1),
        "ratio_same_events_per_run": [b[0] / a[0] for a, b in zip(ours, same, strict=True)],
        "ratio_same_events_cpu_per_run": [b[1] / a[1] for a, b in zip(ours, same, strict=True)],
    }
    if replay:
        secs, out = cli(ledger_dir, "views", "rebuild")
        result["replay_s"] = secs
        result["replay_out"] = out.strip()
        if fmt == "servicenow":
            secs, out = cli(ledger_dir, "--json", "report", "compare-sla", "--file", str(path))
            result["compare_sla_s"] = secs
            result["compare_sla"] = json.loads(out)[0]
    return result


def show(r: dict[str, Any]) -> None:
    fmt, ev = r["format"], r["events"]
    best, same, empty = min(r["import_s"]), min(r["library_same_events_s"]), min(r["library_empty_events_s"])
    runs = ", ".join(f"{x:.2f}" for x in r["import_s"])
    print(f"{fmt}: {r['file']}: {r['rows']:,} rows, {r['tickets']:,} tickets, {ev:,} events in {r['saves']} saves")
    print(f"{fmt}: import (best of {len(r['import_s'])}: {runs} s) {best:.2f} s = {ev / best:,.0f} events/s "
          f"(CPU {min(r['import_cpu_s']):.2f} s)")
    print(f"{fmt}: eventsourcing alone, same events     {same:.2f} s = {ev / same:,.0f} events/s "
          f"(CPU {min(r['library_same_events_cpu_s']):.2f} s); ratio ours/library = {r['ratio_same_events']:.2f} "
          f"wall, {r['ratio_same_events_cpu']:.2f} CPU")
    for unit, key in (("wall", "ratio_same_events_per_run"), ("CPU", "ratio_same_events_cpu_per_run")):
        runs_r = r[key]
        print(f"{fmt}:   per run ({unit}) {', '.join(f'{x:.2f}' for x in runs_r)}; "
              f"median {statistics.median(runs_r):.2f}, lowest {min(runs_r):.2f}")
    print(f"{fmt}: eventsourcing alone, empty payloads  {empty:.2f} s = {ev / empty:,.0f} events/s "
          f"(CPU {min(r['library_empty_events_cpu_s']):.2f} s); ratio ours/library = "
          f"{r['ratio_empty_events']:.2f} wall, {r['ratio_empty_events_cpu']:.2f} CPU")
    print(f"{fmt}: refused {r['refused']} rows: {r['refused_by_reason']}; rows implying no new fact {r['no_fact_rows']:,}")
    if "replay_s" in r:
        print(f"{fmt}: replay (`views rebuild`, process wall time) {r['replay_s']:.1f} s: {r['replay_out']}")
    if "compare_sla" in r:
        print(f"{fmt}: made_sla agreement (`report compare-sla`, {r['compare_sla_s']:.1f} s):")
        for row in r["compare_sla"]["agreement"]:
            print(f"  {row['priority'] or 'all':<14} incidents {row['incidents']:>6,}  decided {row['decided']:>6,}  "
                  f"agreement {row['agreement_pct']} %")


SUITE_REPEAT = 2  # the suite's runs of each (alternating, best kept); this command's --repeat defaults to 3


def run(quick: bool = False, events: int | None = None, repeat: int = SUITE_REPEAT) -> dict[str, Any]:
    """Both whole files (`python -m bench`'s desk slot, best of 2 alternating runs: a third took
    ~30 s of the suite's 15 minutes); --quick: the first 3,000 incidents/traces, once."""
    out: dict[str, Any] = {}
    for fmt, path in (("servicenow", SN), ("xes", XES)):
        with tempfile.TemporaryDirectory() as tmp:
            out[fmt] = run_desk(fmt, path, 3000 if quick else None, 1 if quick else repeat, True, Path(tmp))
    return out


def rows_of(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite's table rows: import rate beside the library's append of the same events, replay time."""
    rows = []
    for fmt, r in res.items():
        best = min(r["import_s"])
        ratio = r["ratio_same_events"]
        rows.append({"benchmark": f"desk import {fmt} / library append of the same events",
                     "figure": f"{ratio:.2f} ({r['events'] / best:,.0f} vs {r['events'] / min(r['library_same_events_s']):,.0f}"
                               f" events/s; {r['events']:,} events, best of {len(r['import_s'])})",
                     "target": ">= 0.5", "ok": "yes" if ratio >= 0.5 else "NO"})
        if "replay_s" in r:
            rows.append({"benchmark": f"desk {fmt}: import / replay (views rebuild) seconds",
                         "figure": f"{best:.1f} / {r['replay_s']:.1f}; refused {r['refused_by_reason']}",
                         "target": "", "ok": ""})
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=("servicenow", "xes"))
    p.add_argument("--limit", type=int, default=None, help="only the first N incidents/traces")
    p.add_argument("--repeat", type=int, default=3, help="alternate import and library runs this often; best of each")
    p.add_argument("--no-replay", action="store_true", help="skip the views rebuild and compare-sla")
    p.add_argument("--out", type=Path, help="also write the figures as JSON here")
    a = p.parse_args()
    results = []
    for fmt, path in (("servicenow", SN), ("xes", XES)):
        if a.only and fmt != a.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            r = run_desk(fmt, path, a.limit, max(1, a.repeat), not a.no_replay, Path(tmp))
        show(r)
        results.append(r)
    if a.out:
        a.out.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
