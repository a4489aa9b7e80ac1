"""As-of replay and `explain` on the biggest generated ledger (issue 7 §6).

Runs the real command line (`python -m adapters.cli`, i.e. `ticketledger`) as a child
process and times it wall-clock, startup included, with its peak RSS:

  replay   `ticketledger replay --as-of-position P --out tmp.duckdb --json`: the views as
           the ledger stood half-way (P: the last position recorded at the recording time of
           N/2, see half_cut; a rebuild of ~N/2 events through the store's bulk reader). In
           `python -m bench` the scoped slot uses this replay as its full one (measured once)
  explain  `ticketledger explain TICKET --format json --out tmp.json` for one ticket in the
           middle of the ledger, with the ledger's current views present (the rebuild bench
           leaves them as views.duckdb beside the store): it must read only that ticket's,
           its asset's and its contract's rows. Target < 1 s.
  startup  `ticketledger --help`: the interpreter + import floor inside both figures.

    .venv/bin/python -m bench.audit_bench [--events N]   (default: the largest cached ledger)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .rebuild_bench import QUICK_SIZES, ROOT, _rss_mib, largest_cached, ledger, measure

TARGET_EXPLAIN_S = 1.0
MAX_RSS_MIB = 6 * 1024


def log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


IN_PROCESS = (  # parse (which imports every command module) timed apart from the command's own run
    "import sys, time, json; t0 = time.perf_counter(); from adapters.cli import build_parser; "
    "args = build_parser().parse_args(sys.argv[1:]); t1 = time.perf_counter(); "
    "code = int(args.func(args) or 0); t2 = time.perf_counter(); "
    "print(json.dumps({'import_s': round(t1 - t0, 3), 'command_s': round(t2 - t1, 3)}), file=sys.stderr); "
    "sys.exit(code)"
)


def timed(args: list[str], timeout: float = 600.0, max_rss_mib: int = MAX_RSS_MIB,
          in_process: bool = False, keep_stdout: bool = False) -> dict[str, Any]:
    """Wall time and peak RSS of one `ticketledger` invocation. A watchdog polls /proc and kills
    it after `timeout` s or above `max_rss_mib` (the machine is shared). `in_process`: the child
    also reports its import time and the command's own time (without interpreter start and imports)."""
    cmd = [sys.executable, "-c", IN_PROCESS, *args] if in_process else [sys.executable, "-m", "adapters.cli", *args]
    t = time.perf_counter()
    why: list[str] = []
    hwm = [0]
    with tempfile.TemporaryFile() as errf, tempfile.TemporaryFile() as outf:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=outf, stderr=errf)
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.1):
                hwm[0] = max(hwm[0], _rss_mib(proc.pid, "VmHWM"))
                if time.perf_counter() - t > timeout:
                    why.append(f"killed after {timeout:.0f} s")
                elif _rss_mib(proc.pid) > max_rss_mib:
                    why.append(f"killed: RSS above {max_rss_mib:,} MiB")
                else:
                    continue
                proc.kill()
                return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
        outf.seek(0)
        out = outf.read()
        errf.seek(0)
        err = errf.read()
    s = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    # CPU: the command's and its waited-for children's (Chromium), user + system; on a shared
    # machine it says what the work costs when the wall time says mostly what the others run
    r: dict[str, Any] = {"seconds": round(s, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
                         "peak_rss_mib": hwm[0] or round(usage.ru_maxrss / 1024), "exit": code}
    lines = err.decode(errors="replace").strip().splitlines()
    if in_process and lines and lines[-1].startswith("{"):
        r.update(json.loads(lines.pop()))
    if code != 0:
        r["error"] = why[0] if why else (lines or ["?"])[-1]
    r["stdout_tail"] = out.decode(errors="replace").strip()[-300:]
    if keep_stdout:  # e.g. a command's JSON summary
        r["stdout"] = out.decode(errors="replace")
    return r


def _views_current(d: Path, views: Path | None = None, upto: int | None = None) -> bool:
    """Whether `views` (default: the ledger's own views.duckdb) holds the ledger's log up to its
    last position, or up to `upto` when the views are of a prefix."""
    import sqlite3

    import duckdb

    v = views or d / "views.duckdb"
    if not v.exists():
        return False
    # a plain connection, only read, and asked again: right after the scoped slot's commands both a
    # mode=ro and a plain one failed once with "disk I/O error" (2026-12-07 13:45 and 15:27), each
    # time in the reports slot's first statement; a rerun a minute later read the store at once.
    # The likely cause, fixed since (adapters.store_arrow.the_driver_alone): `replay` held the store
    # through both Python's SQLite and the ADBC driver's own copy, and the driver's close dropped
    # the locks of the other; the retry stays, in case another cause remains.
    for attempt in range(3):
        con = sqlite3.connect(d / "events.sqlite")
        try:
            last = con.execute("SELECT max(position) FROM ledger_chain" + (" WHERE position <= ?" if upto else ""),
                               (upto,) if upto else ()).fetchall()[0][0]
            break
        except sqlite3.OperationalError as e:
            if attempt == 2:
                raise
            log(f"reading {d / 'events.sqlite'}: {e}; again in 1 s")
            time.sleep(1.0)
        finally:
            con.close()
    try:
        vc = duckdb.connect(str(v), read_only=True)
        held = vc.execute("SELECT max(position) FROM checkpoint").fetchall()[0][0]
        vc.close()
    except duckdb.Error:
        return False
    return held == last


def views_for(d: Path, meta: dict[str, Any], events: int | None = None, views: str | None = None) -> Path:
    """The views file a bench reads, built once when missing or stale: `views` (a file of one's
    own, kept across runs: a 10M build takes minutes and the ledger's folder is shared) else the
    ledger's views.duckdb. With `events` below the ledger's size, the views of that prefix
    (positions up to `events`), which only a file of one's own can hold (by default
    bench/results/views/<ledger>-upto<N>.duckdb)."""
    # a ledger generated for `events` holds a few more (its contracts and calendar): it is the
    # whole ledger, whose views the rebuild slot has just written, not a prefix to build again
    # (that second 10M build took ~170 s of every make bench)
    whole = not events or events >= meta["events"] or d.name.startswith(f"n{events}-g")
    upto = None if whole else events
    if upto and not views:  # a prefix's views never go into the ledger's folder: a file of this checkout's own
        views = str(Path(__file__).resolve().parent / "results" / "views" / f"{d.name}-upto{upto}.duckdb")
        Path(views).parent.mkdir(parents=True, exist_ok=True)
    v = Path(views) if views else d / "views.duckdb"
    if not _views_current(d, v, upto):
        log(f"building the views of {d.name}" + (f" up to position {upto:,}" if upto else "") + f" into {v} "
            "(once; reruns reuse it)")
        r = measure("rebuild", str(d / "events.sqlite"), str(v), *([upto] if upto else []))
        if "error" in r:
            raise SystemExit(f"views build failed: {r['error']}")
    return v


def half_cut(store: Path, n: int) -> tuple[int, str]:
    """The cut the as-of replays share: (P, T), T the recording time of position n // 2 and P
    the last position recorded at T. The generator stamps one recording time per transaction
    of many events, so `--as-of-recorded T` holds positions 1..P, not 1..n // 2: cut at P, the
    as-of-position and as-of-recorded replays hold the very same events, evaluated at the same
    time T (a replay as of a position is evaluated at its recording time)."""
    import sqlite3

    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        def rec(p: int) -> str | None:
            row = con.execute("SELECT recorded_at FROM ledger_chain WHERE position = ?", [p]).fetchone()
            return row[0] if row else None

        half = max(1, n // 2)
        t = rec(half)
        assert t is not None, f"no position {half} in {store}"
        lo, hi = half, n  # recording time never decreases along the log (SPEC §9.13): bisect
        while lo < hi:
            mid = (lo + hi + 1) // 2
            r = rec(mid)
            if r is not None and r <= t:
                lo = mid
            else:
                hi = mid - 1
        return lo, t
    finally:
        con.close()


def middle_ticket(d: Path, meta: dict[str, Any], views: Path, events: int | None = None) -> str:
    """A ticket in the middle of the ledger (of its prefix: the middle one the views hold)."""
    if not events or events >= meta["events"]:
        tag = meta["first_ticket"].rsplit("-", 1)[0]
        return f"{tag}-{meta['tickets'] // 2:07d}"
    import duckdb

    con = duckdb.connect(str(views), read_only=True)
    try:
        return con.execute("SELECT ticket FROM liability ORDER BY ticket LIMIT 1 "
                           "OFFSET (SELECT count(*) // 2 FROM liability)").fetchone()[0]
    finally:
        con.close()


def run(quick: bool = False, events: int | None = None, views: str | None = None) -> dict[str, Any]:
    if events is None and quick:
        events = max(QUICK_SIZES)
    if events:
        d, meta = ledger(events)
    else:
        found = largest_cached()
        if found is None:
            d, meta = ledger(100_000 if quick else 1_000_000)
        else:
            d, meta = found
    v = views_for(d, meta, events, views)
    n = min(events or meta["events"], meta["events"])
    ticket = middle_ticket(d, meta, v, events)
    out: dict[str, Any] = {"ledger_events": n, "ledger": d.name, "views": str(v), "ticket": ticket}
    with tempfile.TemporaryDirectory(prefix="tl-audit-") as tmp:
        base = ["--data-dir", str(d)]
        on = ["--views", str(v)]
        out["startup"] = timed(["--help"])
        log(f"audit: explain {ticket} on {n:,} events")
        out["explain"] = timed([*base, "explain", ticket, *on, "--format", "json", "--out", f"{tmp}/e.json"])
        if out["explain"]["exit"] == 0:
            rep = json.loads(Path(f"{tmp}/e.json").read_text())
            out["explain"]["timeline_events"] = len(rep.get("timeline", []))
            out["explain"]["clocks"] = len(rep.get("clocks", []))
        out["explain_again"] = timed([*base, "explain", ticket, *on, "--format", "json", "--out", f"{tmp}/e2.json"],
                                     in_process=True)
        # at the cut the scoped slot uses, which shares this replay as its full one (bench.scoped_bench)
        at, rec = half_cut(d / "events.sqlite", n)
        log(f"audit: replay --as-of-position {at:,}")
        out["replay"] = timed([*base, "--json", "replay", "--as-of-position", str(at), "--out", f"{tmp}/r.duckdb"],
                              in_process=True, keep_stdout=True)
        out["replay"].update(position=at, recorded=rec, ledger=d.name)
        if out["replay"]["exit"] == 0:
            out["replay"]["events_per_second"] = round(at / out["replay"]["seconds"])
    best = min(out["explain"]["seconds"], out["explain_again"]["seconds"])
    out["explain_best_s"] = best
    out["explain_command_s"] = out["explain_again"].get("command_s")  # without interpreter start and imports
    out["target_explain_s"] = TARGET_EXPLAIN_S
    # the target is on the command's own work; the whole invocation is reported beside it
    out["ok"] = out["explain"]["exit"] == 0 and (out["explain_command_s"] or best) < TARGET_EXPLAIN_S
    out["ok_wall"] = out["explain"]["exit"] == 0 and best < TARGET_EXPLAIN_S
    return out


def rows_of(r: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not r or "explain" not in r:
        return [{"benchmark": "audit", "figure": (r or {}).get("error", "not run"), "target": "", "ok": ""}]
    n = f"{r['ledger_events'] / 1e6:g}M"
    rp, ex = r["replay"], r["explain"]
    return [
        {"benchmark": f"replay --as-of-position {rp.get('position', 0):,} ({n} ledger)",
         "figure": (f"{rp['seconds']} s, {rp.get('events_per_second', 0):,} events/s, peak {rp['peak_rss_mib']:,} MiB"
                    if rp["exit"] == 0 else f"error: {rp.get('error')}"), "target": "", "ok": ""},
        {"benchmark": f"explain one ticket --format json ({n} ledger)",
         "figure": (f"{r.get('explain_command_s')} s in the command; {r['explain_best_s']} s wall "
                    f"(ticketledger --help alone: {r['startup']['seconds']} s)"
                    if ex["exit"] == 0 else f"error: {ex.get('error')}"),
         "target": f"< {TARGET_EXPLAIN_S:g} s", "ok": "yes" if r["ok"] else "NO"},
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.audit_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=None)
    p.add_argument("--views", metavar="FILE", default=None,
                   help="a views file of your own, built there once (the ledger's views.duckdb by default)")
    a = p.parse_args(argv)
    print(json.dumps(run(events=a.events, views=a.views), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
