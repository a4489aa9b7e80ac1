"""`ticketledger demo`: records a synthetic year, prints the summary, and records nothing twice."""

from __future__ import annotations

import re
import subprocess
import sys


def run(tmp_path, *extra):
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", "--lang", "en", "--data-dir", str(tmp_path / "data"), *extra,
         "demo", "--tickets", "200", "--no-stream"],
        capture_output=True, text=True, timeout=120,
    )


def test_demo_records_then_records_nothing_twice(tmp_path):
    first = run(tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "ledger summary:" in out and "refusals 0" in out
    assert re.search(r"\b200 tickets\b", out)
    for kind in ("TicketOpened", "TechnicianArrived", "FactCorrected", "DeadlineExtended", "FollowUpDone"):
        assert kind in out
    position = re.search(r"log position ([\d,]+)", out).group(1)

    second = run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "recorded 0 new" in second.stdout
    assert f"log position {position}" in second.stdout


def test_the_demo_counts_compliance_and_breach_rates_as_the_views_do(tmp_path):
    # compliance counted upcoming periods as kept (83 % where 59 % of the closed ones were done),
    # and the breach table's clock count held clocks that do not apply
    out = run(tmp_path).stdout
    lines = out[out.index("follow-up and inspection compliance"):].splitlines()[1:]
    for label in ("follow-up", "inspection"):
        row = next(line for line in lines if line.startswith(label))
        done, missed, _open, rate = row.split()[1:]
        done, missed = (int(x.replace(",", "")) for x in (done, missed))
        assert rate == f"{done / (done + missed):.1%}", row
    table = out[out.index("breach rate by clock and severity"):out.index("follow-up and inspection")]
    rows = [line.split() for line in table.splitlines() if line.endswith("%")]
    assert rows and all(r[-1] == f"{int(r[-2].replace(',', '')) / int(r[-3].replace(',', '')):.1%}" for r in rows)
