"""Issue 14 item 18: what the desks knew at a time, by their own recording time.

An imported desk history is recorded by the ledger at import time, so `--as-of-recorded` before
the import sees none of it. `--as-of-source-recorded T` counts an imported fact from its desk's
recording time (`source_recorded_at`) and any other fact from the ledger's; contracts, calendar
years and the import's placeholder assets always count. Tested on a slice of the real UCI
ServiceNow log, beside a fact the ledger recorded itself (no desk time).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from adapters.cli import main
from adapters.ledger import open_ledger
from adapters.store import decode_stored, iter_log
from domain import events as ev

from .deskkit import UCI, uci_slice

pytestmark = pytest.mark.skipif(not UCI.exists(), reason="UCI 498 log not available")


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str]:
    code = main(["--data-dir", str(data), *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture(scope="module")
def desk_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, datetime]:
    """A ledger holding 60 incidents of the UCI log, and one ticket the ledger recorded itself,
    reported in the middle of the desk's history; with the log's rows decoded, and the middle time."""
    tmp = tmp_path_factory.mktemp("src")
    data = tmp / "data"
    log = uci_slice(tmp / "slice.csv", 60)
    assert main(["--data-dir", str(data), "import", "--format", "servicenow", str(log)]) in (0, 1)
    ledger = open_ledger(data)
    try:
        facts = [(r, decode_stored(r.topic, r.state)) for r in iter_log(ledger)]
        opened_times = sorted(f.source_recorded_at for _, f in facts if isinstance(f, ev.TicketOpened))
        middle = opened_times[len(opened_times) // 2]  # half the incidents were known to the desk then
        asset = next(f.id for _, f in facts if isinstance(f, ev.AssetRegistered))
        (o,) = ledger.execute_many([ev.TicketOpened(
            command_id="own-1", id="OWN-1", occurred_at=middle - timedelta(days=1), actor="supervisor",
            asset_id=asset, severity=next(f.severity for _, f in facts if isinstance(f, ev.TicketOpened)),
            fault_category="power")])
        assert o.status == "recorded", o
        facts = [(r, decode_stored(r.topic, r.state)) for r in iter_log(ledger)]
    finally:
        ledger.close()
    return data, facts, middle


def known_to_the_desks(facts: list, t: datetime) -> set[int]:
    """The positions the rule of item 18 keeps, from the decoded facts (the oracle)."""
    keep = set()
    for r, f in facts:
        if r.topic.startswith(("contract.", "calendar.")) or (isinstance(f, ev.AssetRegistered) and f.placeholder) or (f.source_recorded_at or datetime.fromisoformat(r.recorded_at)) <= t:
            keep.add(r.position)
    return keep


def positions(path: Path) -> set[int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {p for (p,) in con.execute("SELECT position FROM events").fetchall()}
    finally:
        con.close()


def tickets(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t for (t,) in con.execute("SELECT DISTINCT ticket FROM sla_clocks").fetchall()}
    finally:
        con.close()


def test_replay_as_of_the_desks_recording_time_keeps_what_the_desks_knew(
        desk_ledger: tuple[Path, list, datetime], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data, facts, middle = desk_ledger
    out = tmp_path / "desk.duckdb"
    code, said = run(capsys, data, "--json", "replay", "--as-of-source-recorded", middle.isoformat(), "--out", str(out))
    assert code == 0, said
    summary = json.loads(said)[0]
    kept = known_to_the_desks(facts, middle)
    assert positions(out) == kept
    # evaluated then, said as JSON says times: UTC, ISO 8601 with Z
    assert summary["evaluated_at"].startswith(middle.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))
    assert summary["evaluated_at"].endswith("Z")
    opened = {f.id for r, f in facts if isinstance(f, ev.TicketOpened) and r.position in kept}
    later = {f.id for r, f in facts if isinstance(f, ev.TicketOpened) and r.position not in kept}
    assert opened and later and "OWN-1" in later  # the ledger's own ticket: recorded today, after T
    assert tickets(out) == opened
    # by the ledger's recording time the whole history was unknown then: only the terms count
    before = tmp_path / "ledger.duckdb"
    assert run(capsys, data, "replay", "--as-of-recorded", middle.isoformat(), "--out", str(before))[0] == 0
    assert tickets(before) == set()


def test_views_rebuild_and_explain_take_the_desks_recording_time(
        desk_ledger: tuple[Path, list, datetime], capsys: pytest.CaptureFixture[str]) -> None:
    data, facts, middle = desk_ledger
    now = datetime.now(UTC) + timedelta(minutes=1)
    code, said = run(capsys, data, "views", "rebuild", "--as-of-source-recorded", now.isoformat())
    assert code == 0, said
    assert positions(data / "views.duckdb") == {r.position for r, _ in facts}  # everything was known by now
    assert run(capsys, data, "views", "rebuild", "--as-of-source-recorded", middle.isoformat(),
               "--at", middle.isoformat())[0] == 0
    assert positions(data / "views.duckdb") == known_to_the_desks(facts, middle)
    kept = known_to_the_desks(facts, middle)
    # a ticket the desk knew, with rows it recorded only later
    first = next(f.id for r, f in facts if isinstance(f, ev.TicketOpened) and r.position in kept and any(
        g.id == f.id and g.source_recorded_at > middle for q, g in facts if q.topic.startswith("ticket.")))
    last = next(f.id for r, f in reversed(facts) if isinstance(f, ev.TicketOpened) and r.position not in kept
                and f.source_recorded_at)
    code, said = run(capsys, data, "explain", first, "--as-of-source-recorded", middle.isoformat(), "--format", "json")
    assert code == 0, said
    report = json.loads(said)
    assert report["as_of_source_recorded"] == middle.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    desk_times = [datetime.fromisoformat(e["source_recorded_at"]) for e in report["timeline"]]
    assert desk_times and max(desk_times) <= middle  # none of the desk's later rows
    code, said = run(capsys, data, "--lang", "en", "explain", first, "--as-of-source-recorded", middle.isoformat(),
                     "--format", "html")
    assert code == 0 and "as the desks had recorded it by" in said
    code, said = run(capsys, data, "explain", last, "--as-of-source-recorded", middle.isoformat())
    assert code != 0 and "not yet recorded" in said
    assert not list((data / "replay").glob(".explain-*"))  # no views file left behind


def test_a_recording_time_cut_counts_its_events_for_the_progress_total(desk_ledger: tuple[Path, list, datetime]) -> None:
    """The total a rebuild's progress shows for `--as-of-recorded T`: the events recorded by T,
    found by bisection over the log (recording time never decreases)."""
    from adapters.cli.audit import events_in_cut

    data, facts, _ = desk_ledger
    ledger = open_ledger(data)
    try:
        stamps = sorted({r.recorded_at for r, _ in facts})
        assert len(stamps) > 2  # the import's transactions, then the ledger's own ticket
        for stamp in [*stamps, "2000-01-01T00:00:00.000000Z", "9999-01-01T00:00:00.000000Z"]:
            expected = max((r.position for r, _ in facts if r.recorded_at <= stamp), default=0)
            assert events_in_cut(ledger, None, stamp) == expected, stamp
            assert events_in_cut(ledger, 5, stamp) == min(expected, 5)
    finally:
        ledger.close()
