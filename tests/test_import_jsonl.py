"""Batch import of JSON Lines commands through the CLI, as a service desk export arrives."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import msgspec

from adapters.ledger import open_ledger
from adapters.store import iter_log
from domain import events as ev
from domain import hashchain

from .domainkit import Desk

CLI = [sys.executable, "-m", "adapters.cli"]


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--data-dir", str(data), *args], capture_output=True, text=True, timeout=120)


def write_jsonl(path: Path, facts: list[ev.Fact], bad_lines: dict[int, str]) -> None:
    lines = [ev.encode(f).decode() for f in facts]
    for at, text in sorted(bad_lines.items()):
        lines.insert(at - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_bad_line_in_the_middle_is_reported_with_its_number_and_the_rest_recorded(tmp_path: Path) -> None:
    desk, data = Desk(), tmp_path / "data"
    good = [
        desk.contract("000"),
        desk.asset("A1"),
        desk.open("T1", "A1", "2025-10-01T09:00"),
        desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05"),
        desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T09:30", technician="li"),
        desk.fact(ev.TechnicianArrived, "T1", "2025-10-01T11:00", technician="li"),
    ]
    arrival_without_dispatch = desk.fact(ev.TechnicianArrived, "T2", "2025-10-01T11:00", technician="li")
    export = tmp_path / "export.jsonl"
    write_jsonl(export, good, {
        4: '{"type": "TicketAcknowledged", "id": "T1"',  # truncated JSON
        6: ev.encode(arrival_without_dispatch).decode(),  # refused by the model (unknown ticket T2)
        8: json.dumps({"type": "TicketOpened", "command_id": "x", "id": "bad id!", "occurred_at": "2025-10-01T09:00:00Z",
                       "actor": "a", "asset_id": "A1", "severity": "normal", "fault_category": "f"}),
    })

    first = run(data, "import", str(export))
    assert first.returncode == 1, first.stderr
    assert "line 4: not valid JSON" in first.stderr
    assert "line 6: TechnicianArrived T2" in first.stderr and "unknown ticket T2" in first.stderr
    assert "line 8: invalid command" in first.stderr and "$.id" in first.stderr
    assert "recorded 6" in first.stdout and "refused 3" in first.stdout

    ledger = open_ledger(data)
    rows = list(iter_log(ledger))
    calendar = [r for r in rows if r.topic.startswith("calendar.")]  # the first import records them, as init does
    stored = [msgspec.json.decode(r.state)["command_id"] for r in rows if r not in calendar]
    assert stored == [f.command_id for f in good]  # exactly the good lines, in order
    assert calendar and [r.position for r in calendar] == list(range(1, len(calendar) + 1))
    ledger.close()

    again = run(data, "--lang", "en", "import", str(export))  # (the contract's own: Chinese)
    assert again.returncode == 1  # some lines refused, the rest (already) recorded
    assert "recorded 0" in again.stdout and "already recorded 6" in again.stdout
    ledger = open_ledger(data)
    assert ledger.position == len(good) + len(calendar)
    ledger.close()


def test_import_json_summary_for_programs(tmp_path: Path) -> None:
    desk, data = Desk(), tmp_path / "data"
    export = tmp_path / "export.jsonl"
    write_jsonl(export, [desk.contract("001"), desk.asset("B1", contract="K-001", customer="buyer-001")], {})
    out = run(data, "--json", "import", str(export))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)[0]
    assert summary["recorded"] == 2 and summary["refused"] == 0 and summary["refusals"] == []


def test_concurrent_writers_keep_one_unbroken_chain(tmp_path: Path) -> None:
    """Two processes importing at once: positions 1..N with a valid link at every one."""
    desk, data = Desk(), tmp_path / "data"
    setup = tmp_path / "setup.jsonl"
    write_jsonl(setup, [desk.contract("000")] + [desk.asset(f"A{i}") for i in range(2)], {})
    assert run(data, "import", str(setup)).returncode == 0
    exports = []
    for w in range(2):
        wdesk = Desk(actor=f"desk:{w}")
        counter = itertools.count()
        wdesk._cid = lambda w=w, counter=counter: f"w{w}-{next(counter)}"  # type: ignore[method-assign]
        facts = []
        for t in range(150):
            tid = f"T{w}-{t}"
            facts += [wdesk.open(tid, f"A{w}", "2025-10-01T09:00"), wdesk.fact(ev.TicketAcknowledged, tid, "2025-10-01T09:05")]
        path = tmp_path / f"w{w}.jsonl"
        write_jsonl(path, facts, {})
        exports.append(path)
    procs = [subprocess.Popen([*CLI, "--data-dir", str(data), "import", "--batch", "10", str(p)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in exports]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    ledger = open_ledger(data)
    rows = list(iter_log(ledger))
    calendar = sum(r.topic.startswith("calendar.") for r in rows)  # recorded by the first import
    assert [r.position for r in rows] == list(range(1, calendar + 3 + 600 + 1))
    prev = hashchain.GENESIS
    for r in rows:
        prev = hashchain.link(prev, r.position, r.recorded_at, r.originator_id, r.originator_version, r.topic,
                              hashchain.state_digest(r.state))
        assert prev == r.link, f"chain broken at position {r.position}"
    ledger.close()
