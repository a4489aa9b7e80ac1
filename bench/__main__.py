"""`python -m bench [--events N] [--quick]`: run every benchmark that exists, print a table,
write JSON to bench/results/latest.json.

Benchmarks (issue 7); a slot whose module is not installed yet reports "not available":
  generate   bench.generate: N synthetic events straight into a store (events/s)
  write      bench.writepath: Ledger single / batched vs the library's own append rate
  scan       bare ADBC Arrow scan and naive Python fold of the generated store (baselines)
  rebuild    bench.rebuild_bench: store_arrow.rebuild_from_store at 1M / 3M / 10M (--quick 100k / 300k,
             --events N: N only) on cached ledgers, beside a bare ADBC scan of the same rows and the
             naive fold measured in the same run; peak RSS; linearity
  relay      bench/relay_bench.py (relay vs bare publish_async)
  desk       bench/desk_import_bench.py
  live       bench.live_bench: recording -> visible in the views at a steady 1,000 events/s (p50, p99)
  asof       bench.audit_bench: replay --as-of-position N/2 and explain on the largest ledger
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _optional(module: str, *attrs: str) -> Any:
    """The attribute (or module) if installed, else None."""
    try:
        obj: Any = importlib.import_module(module)
    except ImportError:
        return None
    for a in attrs:
        obj = getattr(obj, a, None)
        if obj is None:
            return None
    return obj


# --- slots ----------------------------------------------------------------------------------


def bench_generate(data_dir: Path, events: int) -> dict[str, Any]:
    from .generate import generate

    return generate(data_dir, events)


def bench_write(quick: bool) -> dict[str, Any]:
    from .writepath import run

    return run(quick=quick, log=lambda m: print(f"  {m}", file=sys.stderr))


def bench_scan(data_dir: Path, naive_limit: int) -> dict[str, Any]:
    """The floor (bare Arrow scan of the stored rows) and the naive fold (one event at a time)."""
    import sqlite3

    import msgspec

    path = str(data_dir / "events.sqlite")
    out: dict[str, Any] = {}
    try:
        import adbc_driver_sqlite.dbapi as adbc

        t = time.perf_counter()
        n = 0
        with adbc.connect(path) as con, con.cursor() as cur:
            cur.execute("SELECT rowid, originator_id, originator_version, topic, state FROM stored_events")
            for batch in cur.fetch_record_batch():
                n += batch.num_rows
        s = time.perf_counter() - t
        out["bare_scan"] = {"events": n, "seconds": round(s, 2), "events_per_second": round(n / s)}
    except ImportError:
        out["bare_scan"] = None
    # naive fold: Python loop, decode per event, update dicts (a slice)
    t = time.perf_counter()
    con = sqlite3.connect(path)
    tickets: dict[str, dict[str, Any]] = {}
    n = 0
    for _, _, topic, state in con.execute(
        "SELECT rowid, originator_id, topic, state FROM stored_events ORDER BY rowid LIMIT ?", (naive_limit,)
    ):
        n += 1
        if topic.startswith("ticket."):
            f = msgspec.json.decode(state)
            tk = tickets.setdefault(f["id"], {})
            tk.setdefault(f["type"], f["occurred_at"])
    con.close()
    s = time.perf_counter() - t
    out["naive_fold"] = {"events": n, "seconds": round(s, 2), "events_per_second": round(n / s) if s else None}
    return out


def bench_rebuild(quick: bool, events: int | None) -> dict[str, Any]:
    from .rebuild_bench import run

    return run(quick=quick, sizes=[events] if events else None)


def _module_run(module: str, quick: bool, events: int) -> dict[str, Any] | None:
    run = _optional(module, "run")
    if run is None:
        return None
    try:
        return run(quick=quick, events=events)
    except TypeError:
        return run()


def bench_relay(quick: bool, events: int) -> dict[str, Any] | None:
    return _module_run("bench.relay_bench", quick, events)


def bench_desk(quick: bool, events: int) -> dict[str, Any] | None:
    return _module_run("bench.desk_import_bench", quick, events)


def bench_live(quick: bool, events: int) -> dict[str, Any] | None:
    from .live_bench import run

    return run(quick=quick)


def bench_asof(quick: bool, events: int | None) -> dict[str, Any] | None:
    from .audit_bench import run

    # the largest ledger the rebuild step left (with its current views), else one of `events`
    return run(quick=quick, events=events)


# --- the table ------------------------------------------------------------------------------


def rows_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: Any, target: str = "", ok: Any = "") -> None:
        rows.append({"benchmark": name, "figure": value, "target": target, "ok": ok})

    g = results.get("generate")
    if g:
        add("generate (straight into SQLite)", f"{g['events_per_second']:,} events/s ({g['written']:,} in {g['seconds']} s)")
    w = results.get("write") or {}
    for backend in ("sqlite", "postgres"):
        r = w.get(backend)
        if not r:
            add(f"write {backend}", "skipped" if backend in w else "not run")
            continue
        for k in ("ledger_single", "library_single", "ledger_batched", "library_batched", "ledger_mix"):
            if k in r:
                add(f"write {backend} {k.replace('_', ' ')}", f"{r[k]['events_per_second']:,} events/s")
        add(f"write {backend} single / library", r["ratio_single"], ">= 0.5", "yes" if r["single_ok"] else "NO")
        add(f"write {backend} batched / library (100/save)", r["ratio_batched"], ">= 0.5", "yes" if r["batched_ok"] else "NO")
    sc = results.get("scan") or {}
    for k in ("bare_scan", "naive_fold"):
        if sc.get(k):
            add(k.replace("_", " "), f"{sc[k]['events_per_second']:,} events/s")
    from . import audit_bench, live_bench, rebuild_bench

    own = {"rebuild": rebuild_bench.rows_of, "live": live_bench.rows_of, "asof": audit_bench.rows_of}
    for slot in ("rebuild", "relay", "desk", "live", "asof"):
        v = results.get(slot)
        if v is None:
            add(slot, "not run" if slot in own else "not available yet")
        elif isinstance(v, dict) and "error" in v:
            add(slot, f"error: {v['error']}"[:120])
        elif slot in own:
            rows.extend(own[slot](v))
        else:
            add(slot, json.dumps(v, default=str)[:120])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=None, help="events in the generated ledger (default 1M; --quick 100k)")
    p.add_argument("--quick", action="store_true", help="small sizes, a couple of minutes")
    p.add_argument("--only", default=None, help="comma-separated: generate,write,scan,rebuild,relay,desk,live,asof")
    p.add_argument("--keep", metavar="DIR", default=None, help="generate into DIR and keep it")
    p.add_argument("--out", default=str(RESULTS / "latest.json"))
    args = p.parse_args(argv)
    events = args.events or (100_000 if args.quick else 1_000_000)
    gen_events = min(events, 100_000 if args.quick else 300_000)  # generator speed and the write-path baselines
    only = set(args.only.split(",")) if args.only else None

    def want(name: str) -> bool:
        return only is None or name in only

    from adapters.cli.output import table

    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "events": events, "quick": args.quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count()},
    }
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tl-bench-"))
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("generate", lambda: bench_generate(tmp, gen_events)),
        ("write", lambda: bench_write(args.quick)),
        ("scan", lambda: bench_scan(tmp, min(gen_events, 500_000)) if (tmp / "events.sqlite").exists() else None),
        ("rebuild", lambda: bench_rebuild(args.quick, args.events)),
        ("relay", lambda: bench_relay(args.quick, events)),
        ("desk", lambda: bench_desk(args.quick, events)),
        ("live", lambda: bench_live(args.quick, events)),
        ("asof", lambda: bench_asof(args.quick, args.events)),
    ]
    try:
        for name, fn in steps:
            if not want(name):
                continue
            print(f"bench: {name} ...", file=sys.stderr)
            t = time.perf_counter()
            try:
                results[name] = fn()
            except Exception as e:  # one broken benchmark does not hide the others
                results[name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"bench: {name} done in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows_of(results)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
