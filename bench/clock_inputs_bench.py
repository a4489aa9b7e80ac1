"""What writing `clock_inputs` costs (issue 17): a full rebuild of the views and a re-evaluation
(the follower's timer: every clock not yet final recomputed at a later evaluation time) of one
generated ledger (bench.generate, cached as the rebuild bench's), each done twice in the same
run: with the statements that write `clock_inputs` and without them (projections.sla's
WRITE_CLOCK_INPUTS off: the clock statements alone, as they compute `sla_clocks`). The ratio
with / without is the figure; the modes alternate and the best of `--repeat` runs is kept, so
the shared machine's load falls on both alike.

    .venv/bin/python -m bench.clock_inputs_bench [--events N] [--repeat R]   (default 300,000 events)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from .rebuild_bench import EVALUATE_AT, ledger, log

DEFAULT_EVENTS, QUICK_EVENTS = 300_000, 100_000


def _once(sqlite: Path, views: Path, with_inputs: bool, events: int) -> dict[str, Any]:
    from adapters.store_arrow import rebuild_from_store
    from projections import open_views, sla
    from projections.apply import reevaluate

    sla.WRITE_CLOCK_INPUTS = with_inputs
    try:
        views.unlink(missing_ok=True)
        t = time.perf_counter()
        rebuild_from_store(sqlite, views, EVALUATE_AT, as_of_position=events)  # the N-event prefix
        rebuilt = time.perf_counter() - t
        con = open_views(views)
        try:
            t = time.perf_counter()
            reevaluate(con, EVALUATE_AT + timedelta(hours=1))
            reevaluated = time.perf_counter() - t
            clocks, inputs = con.execute("SELECT (SELECT count(*) FROM sla_clocks), "
                                         "(SELECT count(*) FROM clock_inputs)").fetchone()
        finally:
            con.close()
    finally:
        sla.WRITE_CLOCK_INPUTS = True
    return {"rebuild_s": rebuilt, "reevaluate_s": reevaluated, "clocks": clocks, "clock_inputs": inputs}


def run(quick: bool = False, events: int | None = None, repeat: int = 2) -> dict[str, Any]:
    events = events or (QUICK_EVENTS if quick else DEFAULT_EVENTS)
    d, meta = ledger(events)
    sqlite = d / "events.sqlite"
    best: dict[bool, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tl-clock-inputs-") as tmp:
        for r in range(repeat):
            for with_inputs in ((False, True) if r % 2 == 0 else (True, False)):
                log(f"clock_inputs: run {r + 1}/{repeat}, {'with' if with_inputs else 'without'} clock_inputs")
                got = _once(sqlite, Path(tmp) / "views.duckdb", with_inputs, events)
                old = best.get(with_inputs)
                best[with_inputs] = got if old is None else {
                    **got, "rebuild_s": min(old["rebuild_s"], got["rebuild_s"]),
                    "reevaluate_s": min(old["reevaluate_s"], got["reevaluate_s"])}
    without, with_ = best[False], best[True]
    return {
        "ledger_events": min(events, meta["events"]), "ledger": d.name, "repeat": repeat, "clocks": with_["clocks"],
        "clock_inputs_rows": with_["clock_inputs"],
        "rebuild_without_s": round(without["rebuild_s"], 2), "rebuild_with_s": round(with_["rebuild_s"], 2),
        "rebuild_ratio": round(with_["rebuild_s"] / without["rebuild_s"], 3),
        "reevaluate_without_s": round(without["reevaluate_s"], 2),
        "reevaluate_with_s": round(with_["reevaluate_s"], 2),
        "reevaluate_ratio": round(with_["reevaluate_s"] / without["reevaluate_s"], 3),
    }


def rows_of(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"benchmark": f"clock_inputs: rows ({r['ledger_events']:,} events)",
         "figure": f"{r['clock_inputs_rows']:,} inputs for {r['clocks']:,} clocks", "target": "", "ok": ""},
        {"benchmark": "clock_inputs: rebuild with / without",
         "figure": f"{r['rebuild_ratio']} ({r['rebuild_with_s']} s / {r['rebuild_without_s']} s)", "target": "",
         "ok": ""},
        {"benchmark": "clock_inputs: re-evaluate with / without",
         "figure": f"{r['reevaluate_ratio']} ({r['reevaluate_with_s']} s / {r['reevaluate_without_s']} s)",
         "target": "", "ok": ""},
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.clock_inputs_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=DEFAULT_EVENTS, help=f"ledger size (default {DEFAULT_EVENTS:,})")
    p.add_argument("--repeat", type=int, default=2, help="runs of each mode; the best is kept (default 2)")
    args = p.parse_args(argv)
    r = run(events=args.events, repeat=args.repeat)
    from adapters.cli.output import table

    print(table(rows_of(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
