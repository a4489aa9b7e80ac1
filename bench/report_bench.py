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
Target: under 2 s wall each (interpreter start and imports included; the command's own time is
shown beside it). Each figure is set beside a naive way measured in the same run:

  PDF        the HTML first, then Chromium started through Playwright to print it (as the commands
             did before adapters.printing.Printer): the --format html run's wall time plus a child
             that only starts Playwright's driver and Chromium and prints that HTML (its own time,
             no imports); it also says whether that PDF is byte for byte the command's
  statement  its data read sequentially (replay.statement.build_statement, then the restatements)
             against adapters.statements.statement_data, the figures read on a thread beside the
             restatements: both in one child, best of two each

The machine is shared: the load average before and after the run is kept with the figures.

    .venv/bin/python -m bench.report_bench [--events N] [--views FILE]   (default: the largest cached ledger)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .audit_bench import log, middle_ticket, timed, views_for
from .rebuild_bench import QUICK_SIZES, ROOT, largest_cached, ledger

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
    out["load_before"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tl-reports-") as tmp:
        for fmt in ("json", "html", "pdf"):
            log(f"reports: explain {ticket} --format {fmt}")
            out[f"explain_{fmt}"] = timed([*base, "explain", ticket, "--views", str(v), "--format", fmt,
                                           "--out", f"{tmp}/r.{fmt}"], in_process=True)
        log(f"reports: report sla --customer {customer} --month {month} --json (the naive way)")
        out["report_sla_json"] = timed([*base, "--json", "report", "sla", "--customer", customer, "--month", month,
                                        "--limit", "1000000", "--views", str(v)], in_process=True)
        for fmt in ("html", "xlsx", "pdf"):
            log(f"reports: statement --customer {customer} --month {month} --format {fmt}")
            out[f"statement_{fmt}"] = timed([*base, "statement", "--customer", customer, "--month", month,
                                             "--format", fmt, "--out", f"{tmp}/s.{fmt}", "--views", str(v)],
                                            in_process=True)
        log("reports: naive PDFs (the HTML, then Playwright's driver and Chromium started to print it)")
        for doc, stem in (("explain", f"{tmp}/r"), ("statement", f"{tmp}/s")):
            if out[f"{doc}_html"]["exit"] == 0 and out[f"{doc}_pdf"]["exit"] == 0:
                out[f"{doc}_pdf_naive"] = _naive_pdf(out[f"{doc}_html"], f"{stem}.html", f"{stem}.pdf")
        log("reports: the statement's data, sequential and with the figures on a thread")
        out["statement_data"] = _child(STATEMENT_DATA, str(d), str(v), customer, month)
    out["load_after"] = os.getloadavg()[0]
    own = {k: v.get("command_s") for k, v in out.items() if isinstance(v, dict) and "command_s" in v}
    out["command_seconds"] = own
    out["target_s"] = TARGET_S
    out["ok"] = all(out[k]["exit"] == 0 and out[k]["seconds"] < TARGET_S for k in TARGETED)
    return out


NAIVE_PDF = "the HTML, then Playwright starting Chromium to print it"
TARGETED = ("explain_html", "explain_pdf", "statement_html", "statement_xlsx", "statement_pdf")

PRINT_ONLY = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from adapters.printing import browser, with_dates
html, printed = Path(sys.argv[1]).read_text(), Path(sys.argv[2]).read_bytes()
t = time.perf_counter()
with browser() as b:  # Playwright's driver and Chromium, started once the HTML exists
    page = b.new_page()
    page.set_content(html, wait_until="load")
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True, display_header_footer=False,
                   tagged=True, outline=True)
s = time.perf_counter() - t
same = with_dates(pdf, datetime(2000, 1, 1)) == with_dates(printed, datetime(2000, 1, 1))
print(json.dumps({"seconds": s, "same_pdf": same}))
"""

STATEMENT_DATA = """
import contextlib, json, sys, time
import duckdb
from adapters import statements as sts
from adapters.ledger import open_ledger
from replay import statement as st
data_dir, views, customer, month = sys.argv[1:5]
ledger = lambda: contextlib.closing(open_ledger(data_dir))
con = duckdb.connect(views, read_only=True)
def sequential():
    data = st.build_statement(con, customer, month)
    data["restatements"] = sts.restatements(con, data, customer, None, month, ledger)
    return data
def threaded():
    return sts.statement_data(con, customer, month, None, ledger)
out = {}
for name, f in (("sequential", sequential), ("threaded", threaded)) * 2:
    t = time.perf_counter(); f(); s = time.perf_counter() - t
    out[name] = round(min(s, out.get(name, s)), 3)
print(json.dumps(out))
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _naive_pdf(html_run: dict[str, Any], html: str, pdf: str) -> dict[str, Any]:
    printed = _child(PRINT_ONLY, html, pdf)
    if "error" in printed:
        return printed
    return {"print_s": round(printed["seconds"], 3), "seconds": round(html_run["seconds"] + printed["seconds"], 3),
            "same_pdf": printed["same_pdf"]}


def rows_of(r: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each figure beside its target, each followed by the naive way measured in the same run."""
    if not r or "explain_html" not in r:
        return [{"benchmark": "reports", "figure": (r or {}).get("error", "not run"), "target": "", "ok": ""}]
    n = f"{r['ledger_events'] / 1e6:g}M"
    target = f"< {TARGET_S:g} s wall"

    def row(name: str, k: str, targeted: bool = True) -> dict[str, Any]:
        x = r[k]
        fig = (f"{x['seconds']} s wall ({x.get('command_s')} s in the command, {x.get('cpu_s')} s CPU), "
               f"peak {x['peak_rss_mib']:,} MiB" if x["exit"] == 0 else f"error: {x.get('error')}")
        ok = "yes" if x["exit"] == 0 and x["seconds"] < TARGET_S else "NO"
        return {"benchmark": name, "figure": fig, "target": target if targeted else "", "ok": ok if targeted else ""}

    def naive_pdf(name: str, k: str) -> list[dict[str, Any]]:
        x = r.get(f"{k}_naive") or {}
        if "seconds" not in x or r[k]["exit"] != 0:
            return []
        same = "the same PDF" if x.get("same_pdf") else "a DIFFERENT PDF"
        return [{"benchmark": f"  naive: {name}", "target": "", "ok": "",
                 "figure": f"{x['seconds']} s ({x['print_s']} s of it printing, {same}): "
                           f"{x['seconds'] / r[k]['seconds']:.2f}x the command's wall"}]

    rows = [row(f"explain one ticket --format json ({n} ledger)", "explain_json", targeted=False),
            row(f"explain one ticket --format html ({n} ledger)", "explain_html"),
            row(f"explain one ticket --format pdf ({n} ledger)", "explain_pdf"),
            *naive_pdf(NAIVE_PDF, "explain_pdf"),
            row(f"report sla --customer --month --json, the naive statement ({n})", "report_sla_json", targeted=False)]
    sd = r.get("statement_data") or {}
    rows.append(row(f"statement {r['month']} --format html ({n} ledger)", "statement_html"))
    if "threaded" in sd:
        rows.append({"benchmark": "  naive: its data read sequentially (the restatements after the figures)",
                     "figure": f"{sd['sequential']} s against {sd['threaded']} s with the figures on a thread: "
                               f"{sd['sequential'] / sd['threaded']:.2f}x", "target": "", "ok": ""})
    rows.append(row(f"statement {r['month']} --format xlsx ({n} ledger)", "statement_xlsx"))
    rows.append(row(f"statement {r['month']} --format pdf ({n} ledger)", "statement_pdf"))
    rows += naive_pdf(NAIVE_PDF, "statement_pdf")
    rows.append({"benchmark": "load average (1 min) before / after the run (2 cores, shared)",
                 "figure": f"{r.get('load_before', 0):.1f} / {r.get('load_after', 0):.1f}", "target": "", "ok": ""})
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

