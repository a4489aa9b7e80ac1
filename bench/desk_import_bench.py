"""Desk import speed vs the eventsourcing library alone (issue 8).

Imports the whole ServiceNow log and the whole Volvo XES log through the batched path
(`import --format ... --batch 1000`) into fresh SQLite ledgers, then lets a plain
`eventsourcing.application.Application` with default Aggregates on SQLite append the same
number of events (same events per aggregate, 100 aggregates per save) and prints the ratio.

    .venv/bin/python bench/desk_import_bench.py [--only servicenow|xes] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SN = Path("/work/shared/data/uci-incident-event-log/incident_event_log.csv.gz")
XES = Path("/work/shared/data/bpic2013-volvo-incidents/BPI_Challenge_2013_incidents.xes.gz")


def desk_import(fmt: str, path: Path, limit: int | None, data_dir: Path) -> tuple[int, int, float, dict]:
    from adapters.desks import FORMATS
    from adapters.ledger import open_ledger

    args = Namespace(file=str(path), mapping=str(ROOT / "contracts" / "volvo-mapping.toml") if fmt == "xes" else None,
                     contract=None, timezone=None, limit=limit, batch=1000, data_dir=str(data_dir), json=True)
    ledger = open_ledger(data_dir)
    t0 = time.perf_counter()
    summary = FORMATS[fmt](ledger, args)
    return summary.recorded, summary.tickets, time.perf_counter() - t0, summary.as_dict()


class Item(Aggregate):
    def __init__(self, n: int) -> None:
        self.n = n

    @event("Noted")
    def note(self, what: str) -> None:
        self.last = what


def library_alone(n_events: int, n_aggregates: int, db: Path) -> float:
    """Plain eventsourcing: default Aggregates, SQLite, 100 aggregates per save."""
    os.environ.update({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)})
    app = Application()
    per = max(1, round(n_events / max(n_aggregates, 1)))  # events per aggregate, the created one included
    done = 0
    t0 = time.perf_counter()
    while done < n_events:
        batch = []
        for _ in range(100):
            if done >= n_events:
                break
            k = min(per, n_events - done)
            a = Item(n=k)
            for j in range(k - 1):
                a.note(what=f"note {j}")
            batch.append(a)
            done += k
        app.save(*batch)
    for key in ("PERSISTENCE_MODULE", "SQLITE_DBNAME"):
        os.environ.pop(key, None)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=("servicenow", "xes"))
    p.add_argument("--limit", type=int, default=None, help="only the first N incidents/traces")
    a = p.parse_args()
    runs = [("servicenow", SN), ("xes", XES)]
    for fmt, path in runs:
        if a.only and fmt != a.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            events, tickets, secs, summary = desk_import(fmt, path, a.limit, Path(tmp) / "ledger")
            lib = library_alone(events, tickets, Path(tmp) / "lib.sqlite")
        ours, theirs = events / secs, events / lib
        print(f"{fmt}: {summary['rows']:,} rows, {tickets:,} tickets, {events:,} events recorded in {secs:.1f} s "
              f"= {ours:,.0f} events/s; refused {summary['refused_by_reason']}")
        print(f"{fmt}: eventsourcing alone appends {events:,} events in {lib:.1f} s = {theirs:,.0f} events/s; "
              f"ratio ours/library = {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
