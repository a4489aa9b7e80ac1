"""How long one dispute report and one monthly statement take to render on the big ledger (issue 17).

Runs the real command line as a child process (bench.audit_bench.timed: wall time, peak RSS,
and the command's own time without interpreter start and imports), with the ledger's current
views present (the rebuild slot leaves them):

  report     `explain TICKET --format html` and `--format pdf` (the PDF printed by the system's
             headless Chromium, its start included) for one ticket in the middle of the ledger;
             beside it `--format json`, the same report without the people's rendering
  statement  `statement --customer C --month M --format html|xlsx|pdf` for the busiest
             customer-month of the views; beside it the naive way a service manager had before:
             `report sla --customer C --month M --json` (the clock rows only, to be summed by hand)
Target: under 2 s each (the command's own time).

    .venv/bin/python -m bench.report_bench [--events N]   (default: the largest cached ledger)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .audit_bench import log, middle_ticket, timed, views_for
from .rebuild_bench import QUICK_SIZES, largest_cached, ledger

TARGET_S = 2.0


def busiest_month(views: Path) -> tuple[str, str]:
    import duckdb

    con = duckdb.connect(str(views), read_only=True)
    try:
        return con.execute("SELECT customer, month FROM sla_clocks GROUP BY ALL ORDER BY count(*) DESC, 1, 2 "
                           "LIMIT 1").fetchone()
    finally:
        con.close()


def run(quick: bool = False, events: int | None = None, views: str | None = None) -> dict[str, Any]:
    if events is None and quick:
        events = max(QUICK_SIZES)
    found = ledger(events) if events else (largest_cached() or ledger(100_000 if quick else 1_000_000))
    d, meta = found
    v = views_for(d, meta, events, views)
    ticket = middle_ticket(d, meta, v, events)
    customer, month = busiest_month(v)
    out: dict[str, Any] = {"ledger_events": min(events or meta["events"], meta["events"]), "ledger": d.name,
                           "views": str(v), "ticket": ticket, "customer": customer, "month": month}
    base = ["--data-dir", str(d)]
    with tempfile.TemporaryDirectory(prefix="tl-reports-") as tmp:
        for fmt in ("json", "html", "pdf"):
            log(f"reports: explain {ticket} --format {fmt}")
            out[f"explain_{fmt}"] = timed([*base, "explain", ticket, "--views", str(v), "--format", fmt, "--out", f"{tmp}/r.{fmt}"],
                                         in_process=True)
        log(f"reports: report sla --customer {customer} --month {month} --json (the naive way)")
        out["report_sla_json"] = timed([*base, "--json", "report", "sla", "--customer", customer, "--month", month,
                                        "--limit", "1000000", "--views", str(v)], in_process=True)
        for fmt in ("html", "xlsx", "pdf"):
            log(f"reports: statement --customer {customer} --month {month} --format {fmt}")
            out[f"statement_{fmt}"] = timed([*base, "statement", "--customer", customer, "--month", month,
                                             "--format", fmt, "--out", f"{tmp}/s.{fmt}", "--views", str(v)], in_process=True)
    own = {k: v.get("command_s") for k, v in out.items() if isinstance(v, dict)}
    out["command_seconds"] = own
    out["target_s"] = TARGET_S
    out["ok"] = all(out[k]["exit"] == 0 and (own[k] or 99) < TARGET_S
                    for k in ("explain_html", "explain_pdf", "statement_html", "statement_xlsx", "statement_pdf"))
    return out


def rows_of(r: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not r or "explain_html" not in r:
        return [{"benchmark": "reports", "figure": (r or {}).get("error", "not run"), "target": "", "ok": ""}]
    n = f"{r['ledger_events'] / 1e6:g}M"

    def fig(k: str) -> str:
        x = r[k]
        return (f"{x.get('command_s')} s in the command, {x['seconds']} s wall, peak {x['peak_rss_mib']:,} MiB"
                if x["exit"] == 0 else f"error: {x.get('error')}")

    def ok(k: str) -> str:
        return "yes" if r[k]["exit"] == 0 and (r[k].get("command_s") or 99) < TARGET_S else "NO"

    rows = [{"benchmark": f"explain one ticket --format {f} ({n} ledger)", "figure": fig(f"explain_{f}"),
             "target": f"< {TARGET_S:g} s" if f != "json" else "", "ok": ok(f"explain_{f}") if f != "json" else ""}
            for f in ("json", "html", "pdf")]
    rows.append({"benchmark": f"report sla --customer --month --json, the naive statement ({n})",
                 "figure": fig("report_sla_json"), "target": "", "ok": ""})
    rows += [{"benchmark": f"statement {r['month']} --format {f} ({n} ledger)", "figure": fig(f"statement_{f}"),
              "target": f"< {TARGET_S:g} s", "ok": ok(f"statement_{f}")} for f in ("html", "xlsx", "pdf")]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--views", metavar="FILE", default=None,
                   help="a views file of your own, built there once (the ledger's views.duckdb by default)")
    a = p.parse_args(argv)
    r = run(quick=a.quick, events=a.events, views=a.views)
    from adapters.cli.output import table

    print(table(rows_of(r)))
    print(json.dumps(r, indent=1, default=str), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

