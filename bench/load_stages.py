"""Where the load's time goes (issue 15 follow-up): the 1M prefix's load in isolated stages.

  scan    the ADBC stream alone (DuckDB counts its rows and sums the JSON's length)
  parse   the load's SELECT (apply._ingest_sql) into a TEMP table (in memory)
  insert  that temp table INSERTed into the file's `events`
  commit  the COMMIT (checkpoint of the file)
  direct  the load's INSERT as apply._load runs it: stream -> INSERT -> COMMIT, on a fresh file
  load    apply._load itself (INSERT, corrections, bounds, COMMIT), each statement timed

    python -m bench.load_stages [STORE] [--upto N] [--stages scan,staged,direct]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

STORE = "bench/results/ledgers/n10000000-g5ba18ba835/events.sqlite"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store", nargs="?", default=STORE)
    p.add_argument("--upto", type=int, default=1_000_000)
    p.add_argument("--stages", default="scan,staged,direct")
    a = p.parse_args()
    from adapters.store_arrow import sqlite_reader
    from projections import apply

    out: dict[str, float] = {}

    def cpu() -> float:  # the process's CPU (every DuckDB thread): steadier than wall time on a shared machine
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    for stage in a.stages.split(","):
        with tempfile.TemporaryDirectory(dir="/tmp/tl") as d:
            con = apply.open_views(Path(d) / "v.duckdb")
            with sqlite_reader(a.store, 1, a.upto) as reader:
                con.register("_stream", apply._upcast_stream(reader))
                t, c = time.perf_counter(), cpu()
                if stage == "scan":
                    con.execute("SELECT count(*), sum(length(state)) FROM _stream").fetchall()
                    out["scan"] = time.perf_counter() - t
                elif stage == "staged":
                    sql = apply._ingest_sql("_stream").replace("INSERT INTO events", "CREATE TEMP TABLE _p AS", 1)
                    con.execute(sql)
                    out["parse"] = time.perf_counter() - t
                    t = time.perf_counter()
                    con.execute("BEGIN")
                    con.execute("INSERT INTO events SELECT * FROM _p")
                    out["insert"] = time.perf_counter() - t
                    t = time.perf_counter()
                    con.execute("COMMIT")
                    out["commit"] = time.perf_counter() - t
                elif stage == "load":
                    from bench.rebuild_bench import _Timed

                    timed = _Timed(con)
                    apply._load(timed, reader)  # type: ignore[arg-type]
                    out["load"] = time.perf_counter() - t
                    for sql, (_, spent) in sorted(timed.spent.items(), key=lambda kv: -kv[1][1])[:4]:
                        out[sql.split(" (")[0][:40].replace(" ", "_")] = spent
                elif stage == "direct":
                    con.execute("BEGIN")
                    con.execute(apply._ingest_sql("_stream"))
                    out["d_insert"] = time.perf_counter() - t
                    t2 = time.perf_counter()
                    con.execute("COMMIT")
                    out["d_commit"] = time.perf_counter() - t2
                    out["direct"] = time.perf_counter() - t
                    out["mb"] = os.path.getsize(Path(d) / "v.duckdb") / 1e6
                out[f"{stage}_cpu"] = cpu() - c
            con.close()
    print(" ".join(f"{k}={v:.2f}" for k, v in out.items()), f"loadavg={os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
