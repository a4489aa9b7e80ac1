"""What `ticketledger import` leaves and says (issue 14, items 15, 16, 17): the first import
records the official calendar years as `init` does; progress counts the file's rows against their
total and ends before the summary; refusals say what would be right, counted under whole reasons;
the exit code tells "all recorded" (0) from "some refused" (1) from "nothing could be read" (2)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pyte
import pytest

from adapters.cli import main
from adapters.ledger import open_ledger
from adapters.store import iter_log
from domain import events as ev

from .deskkit import UCI, uci_slice
from .domainkit import Desk

CLI = [sys.executable, "-m", "adapters.cli"]
needs_uci = pytest.mark.skipif(not UCI.exists(), reason="UCI 498 log not available")


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def jsonl(path: Path, facts: list[ev.Fact], extra: tuple[str, ...] = ()) -> Path:
    path.write_text("".join(ev.encode(f).decode() + "\n" for f in facts) + "".join(line + "\n" for line in extra))
    return path


def calendar_commands(data: Path) -> list[str]:
    return [json.loads(r.state)["command_id"] for r in iter_log(open_ledger(data)) if r.topic.startswith("calendar.")]


# --- item 15: the calendar --------------------------------------------------------------------------

def warranty_after_import(capsys: pytest.CaptureFixture[str], data: Path, export: Path) -> tuple:
    assert run(capsys, data, "import", str(export))[0] == 0
    assert run(capsys, data, "views", "rebuild")[0] == 0
    import duckdb

    con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    try:
        return con.execute("SELECT warranty_end, provisional FROM warranty WHERE asset = 'A1'").fetchone()
    finally:
        con.close()


def test_the_first_import_records_the_official_calendar_years_as_init_does(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    desk = Desk()
    # seed 000: 36 months of warranty from acceptance on 2022-06-01, ending on Sunday 2025-06-01; Monday
    # 2 June 2025 is the Dragon Boat holiday, so under the rest-day rule it ends with 3 June (art. 204)
    export = jsonl(tmp_path / "facts.jsonl", [desk.contract("000"), desk.asset("A1", at="2022-05-20T10:00"),
                                              desk.fact(ev.AssetAccepted, "A1", "2022-06-01T10:00")])
    end, provisional = warranty_after_import(capsys, tmp_path / "imported", export)
    assert (end.isoformat(), provisional) == ("2025-06-03T16:00:00", False)  # 24:00 Beijing time on 3 June

    assert run(capsys, tmp_path / "initialised", "init")[0] == 0
    assert calendar_commands(tmp_path / "imported") == calendar_commands(tmp_path / "initialised") != []
    # recorded before the file's facts, and once: a later import into the ledger adds none
    first = [r.topic for r in iter_log(open_ledger(tmp_path / "imported"))]
    assert all(t.startswith("calendar.") for t in first[:len(calendar_commands(tmp_path / "imported"))])
    more = jsonl(tmp_path / "more.jsonl", [desk.asset("A2")])
    code, out, _ = run(capsys, tmp_path / "imported", "import", str(more))
    assert code == 0 and "calendar" not in out
    assert len(calendar_commands(tmp_path / "imported")) == len(calendar_commands(tmp_path / "initialised"))


def test_an_import_of_another_ledgers_export_keeps_the_calendar_years_it_brings(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    year = ev.CalendarYearRecorded(command_id="cal-2025", id="CN-2025", occurred_at=Desk().contract().occurred_at,
                                   actor="other ledger", year=2025, days_off=[], days_on=[], source="export")
    code, out, err = run(capsys, tmp_path / "data", "import", str(jsonl(tmp_path / "export.jsonl", [year])))
    assert code == 0, err
    assert calendar_commands(tmp_path / "data") == ["cal-2025"]


# --- item 16: what import says ----------------------------------------------------------------------

def on_a_terminal(*argv: str, columns: int = 160) -> tuple[list[str], str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal: the screen a person sees after it,
    and all that was written to it (the progress bar's frames, which end erased)."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = subprocess.Popen([*CLI, *argv], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("the command printed nothing for 120 s")
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the other side closed: the command ended
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) in (0, 1), out.decode(errors="replace")
    screen = pyte.Screen(columns, 200)
    pyte.Stream(screen).feed(out.decode())
    return [line.rstrip() for line in screen.display if line.strip()], out.decode()


@needs_uci
def test_progress_counts_the_files_rows_against_their_total_and_ends_before_the_summary(tmp_path: Path) -> None:
    log = uci_slice(tmp_path / "slice.csv", 2000)
    rows = sum(1 for _ in log.open()) - 1
    screen, written = on_a_terminal("--data-dir", str(tmp_path / "data"), "import", "--format", "servicenow",
                                    str(log))
    assert f"/{rows}" in written  # the bar knew the total while it ran
    done = next(i for i, line in enumerate(screen) if line.startswith(f"import slice.csv: {rows:,} rows in "))
    assert screen[done - 1].startswith(f"check slice.csv: {log.stat().st_size:,} bytes in "), screen  # read whole
    summary = done + 1
    # the summary starts on lines of its own, after the progress line, none of it written over
    assert f"{log}: line " in screen[summary] and "update before the report time" in screen[summary]
    assert any(line.startswith(f"desk rows {rows:,}, tickets 2,000, rows implying no new fact ") for line in screen)
    assert any(line.startswith("read ") and line.endswith("refused 5") for line in screen)
    assert "  refused       5  update before the report time" in screen


def test_refusals_say_what_would_be_right_and_are_counted_under_whole_reasons(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    desk = Desk()
    good = [desk.contract("000"), desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00")]
    line = {"command_id": "c", "id": "T1", "occurred_at": "2025-10-01T10:00:00+08:00", "actor": "a"}
    bad = (
        json.dumps({**line, "type": "FaultCauseDetermined", "command_id": "c1", "cause": "consumable"}),
        json.dumps({**line, "type": "TicketAcknowledged", "command_id": "c2", "occurred_at": "2025-10-01T10:00:00"}),
        json.dumps({**line, "type": "TicketAcknowledged", "command_id": "c3", "occurred_at": "2025-10-01 10:00"}),
        json.dumps({**line, "type": "TicketAcknowledgd", "command_id": "c4"}),
        json.dumps({**line, "type": "WaitEnded", "command_id": "c5", "reason": "user"}),
    )
    code, out, err = run(capsys, tmp_path / "data", "import", str(jsonl(tmp_path / "in.jsonl", good, bad)))
    assert code == 1, err
    assert ("line 4: invalid command: cause 'consumable' is not allowed; use one of: environment, force_majeure, "
            "human, installation_workmanship, lightning, natural_disaster, quality, third_party, "
            "third_party_deliberate, unknown") in err
    assert ("line 5: invalid command: occurred_at '2025-10-01T10:00:00' has no offset, so it names no instant; "
            "add one, e.g. +08:00 (2025-10-01T10:00:00+08:00)") in err
    assert "line 6: invalid command: occurred_at '2025-10-01 10:00' has no offset" in err
    assert "line 7: invalid command: unknown type 'TicketAcknowledgd'; did you mean TicketAcknowledged?" in err
    assert "line 8: WaitEnded T1 (command c5): no 'user' wait is open" in err
    kinds = {line.split(None, 2)[2] for line in out.splitlines() if line.startswith("  refused ")}
    assert kinds == {"invalid cause", "invalid occurred_at", "unknown type", "no such wait is open"}, out


def test_refusals_are_listed_in_the_file_s_order(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A line that does not decode is refused as it is read, a command the ledger refuses when its
    batch is decided; the list a desk administrator works down follows the file all the same."""
    desk = Desk()
    good = [desk.contract("000"), desk.asset("A1")]
    lines = [ev.encode(f).decode() for f in (desk.open("T1", "A1", "2025-10-01T09:00", severity="catastrophic"),
                                             desk.open("T2", "A1", "2025-10-01T09:00", severity="nope"))]
    bad = (lines[0], "not json", lines[1], '{"type": "Nope"}')
    path = jsonl(tmp_path / "in.jsonl", good, bad)
    code, _, err = run(capsys, tmp_path / "data", "import", str(path))
    assert code == 1, err
    assert [int(line.split(": line ")[1].split(":")[0]) for line in err.splitlines() if ": line " in line] == [3, 4, 5, 6]
    code, out, _ = run(capsys, tmp_path / "data", "import", str(path), "--json")
    assert [r["where"] for r in json.loads(out)[0]["refusals"]] == ["line 3", "line 4", "line 5", "line 6"]


def test_a_reason_kind_is_never_cut_inside_a_word() -> None:
    from adapters.importer import reason_kind

    assert reason_kind("WaitEnded T1 (command c5): no 'user' wait is open; start it first") == "no such wait is open"
    assert reason_kind("X T1 (command c): ticket T1 is closed; reopen it first") == "ticket is closed"
    # one kind for every such time, not one per message (the times in it differ ticket by ticket)
    assert reason_kind("TechnicianArrived T9 (command c9): occurred_at 2026-02-04T01:00:00+00:00 is before the "
                       "report time 2026-02-05T01:00:00+00:00; record …") == "time before the report time"
    long = "X T1 (command c): " + " ".join(f"word{i}" for i in range(30)) + "; what would be right"
    assert reason_kind(long) == " ".join(f"word{i}" for i in range(10)) + " …"


# --- item 17: exit codes ----------------------------------------------------------------------------

def test_exit_codes_tell_all_recorded_from_some_refused_from_nothing_read(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    desk, data = Desk(), tmp_path / "data"
    clean = jsonl(tmp_path / "clean.jsonl", [desk.contract("000"), desk.asset("A1")])
    assert run(capsys, data, "import", str(clean))[0] == 0  # all recorded
    assert run(capsys, data, "import", str(clean))[0] == 0  # all already recorded
    partly = jsonl(tmp_path / "partly.jsonl", [desk.asset("A2")], ('{"type": "TicketOpened"',))
    assert run(capsys, data, "import", str(partly))[0] == 1  # some refused, the rest recorded
    assert run(capsys, data, "import", str(partly))[0] == 1  # and again: the refused line is still refused
    before = open_ledger(data).position
    refused = jsonl(tmp_path / "refused.jsonl", [desk.fact(ev.TicketAcknowledged, "T-nobody", "2025-10-01T09:00")])
    code, _, err = run(capsys, data, "--lang", "en", "import", str(refused))  # (the contract's own: Chinese)
    assert code == 2  # nothing of the file could be recorded
    assert err.splitlines()[-1] == (f"ticketledger import: TL-E103: {refused}: nothing recorded: its one item was "
                                    "refused (reasons above); exit 2")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    code, _, err = run(capsys, data, "--lang", "en", "import", str(empty))
    assert code == 2 and err == f"ticketledger import: TL-E103: {empty} is empty (no command in it); nothing " \
                                "recorded; give a JSON Lines file (one command per line)\n"
    assert open_ledger(data).position == before


@needs_uci
def test_the_real_logs_odd_rows_exit_1_on_every_import_and_the_json_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log, data = uci_slice(tmp_path / "slice.csv", 300), tmp_path / "data"
    for again in (False, True):
        code, out, err = run(capsys, data, "--json", "import", "--format", "servicenow", str(log))
        summary = json.loads(out)[0]
        assert code == summary["exit"] == 1, err
        assert summary["refused_by_reason"] == {"update before the report time": 5}  # all 5 of the log's
        if again:  # recorded nothing, refused the same rows: still 1
            assert summary["recorded"] == 0 and summary["already_recorded"] > 0
            assert summary["calendar_years_recorded"] == []
        else:
            assert summary["recorded"] > 0 and summary["calendar_years_recorded"]
