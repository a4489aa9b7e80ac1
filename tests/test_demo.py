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
