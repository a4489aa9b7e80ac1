"""Audit replay (SPEC §5) on real SQLite and DuckDB files: as of a recording time, the
dispute report with corrections, byte-identical reports, what-if terms and diff."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig, iter_log
from domain import events as ev

from .domainkit import CONTRACTS, Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)
AT = "2026-01-01T00:00:00+00:00"  # a fixed evaluation time for "now" rebuilds


def run(data: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--data-dir", str(data), *argv])
    return code, out.getvalue()


def clocks(path: Path, ticket: str) -> dict[str, dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute("SELECT * FROM sla_clocks WHERE ticket = ?", [ticket])
        cols = [d[0] for d in cur.description]
        return {r[cols.index("clock")]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Seed 000 (arrival 24 h, resolution 36 h). T1: the arrival, in time, is recorded only later
    (its own transaction) and then corrected; T2 and T3 are resolved 40 h after the report."""
    data = tmp_path_factory.mktemp("audit") / "data"
    desk = Desk()
    app = Ledger.open(StoreConfig(data))

    def rec(*facts: ev.Fact) -> None:
        assert {o.status for o in app.execute_many(list(facts), now=NOW)} == {"recorded"}

    rec(desk.contract("000"), desk.asset("A1"), desk.fact(ev.AssetAccepted, "A1", "2025-01-01T10:00"))
    rec(desk.open("T1", "A1", "2025-10-01T09:00"), desk.fact(ev.TicketAcknowledged, "T1", "2025-10-01T09:05"),
        desk.fact(ev.TechnicianDispatched, "T1", "2025-10-01T10:00", technician="li"))
    before_arrival = app.position
    rec(desk.fact(ev.TechnicianArrived, "T1", "2025-10-02T08:00", technician="li"))
    rec(desk.fact(ev.FactCorrected, "T1", "2025-10-03T08:00", corrects_version=4,
                  changes={"occurred_at": "2025-10-02T07:30:00+08:00"}, reason="GPS log shows an earlier arrival"))
    rec(desk.fact(ev.TicketResolved, "T1", "2025-10-02T12:00"))
    for t in ("T2", "T3"):
        rec(desk.open(t, "A1", "2025-11-03T09:00"), desk.fact(ev.TicketAcknowledged, t, "2025-11-03T09:05"),
            desk.fact(ev.TechnicianDispatched, t, "2025-11-03T10:00", technician="wang"),
            desk.fact(ev.TechnicianArrived, t, "2025-11-03T20:00", technician="wang"),
            desk.fact(ev.SpareUnitLent, t, "2025-11-04T09:00", spare_serial="SPARE-1"),
            desk.fact(ev.TicketResolved, t, "2025-11-05T01:00"))  # 40 h after the report
    cut = next(r.recorded_at for r in iter_log(app) if r.position == before_arrival)
    app.close()
    return {"data": data, "cut": cut, "tmp": data.parent}


def test_late_recorded_arrival_breached_as_of_earlier_recording_and_met_now(
        site: dict, capsys: pytest.CaptureFixture[str]) -> None:
    data, tmp = site["data"], site["tmp"]
    then, now = tmp / "then.duckdb", tmp / "now.duckdb"
    code, out = run(data, "replay", "--as-of-recorded", site["cut"].replace("Z", "+00:00"), "--out", str(then))
    assert code == 0, out
    code, out = run(data, "replay", "--at", AT, "--out", str(now))
    assert code == 0, out
    # what the ledger knew then: no arrival recorded, deadline long past -> breached as of then
    assert clocks(then, "T1")["arrival"]["state"] == "breached"
    assert clocks(then, "T1")["arrival"]["stopped_at"] is None
    # now: the arrival (corrected to 07:30) is known and within 24 h
    assert clocks(now, "T1")["arrival"]["state"] == "met"
    # diff names the row that changed, both ways of printing
    code, out = run(data, "--json", "diff", str(then), str(now), "--table", "sla_clocks")
    assert code == 1
    rows = json.loads(out)
    arrival = next(r for r in rows if r["key"] == {"ticket": "T1", "clock": "arrival"})
    assert arrival["change"] == "changed" and arrival["columns"]["state"] == ["breached", "met"]
    code, out = run(data, "diff", str(now), str(now))
    assert code == 0 and "0 row(s) differ" in out
    code, _ = run(data, "diff", str(then), str(now), "--table", "sla_clock")  # a typo: the file's tables are listed
    assert code == 2 and f"'sla_clock' is not in {then}; its tables: " in capsys.readouterr().err
    # the same SQL and reports work on an as-of file
    code, out = run(data, "--json", "sql", "SELECT state FROM sla_clocks WHERE ticket = 'T1' AND clock = 'arrival'",
                    "--views", str(then))
    assert code == 0 and json.loads(out) == [{"state": "breached"}]
    code, out = run(data, "--json", "report", "sla", "--state", "breached", "--views", str(then))
    assert code == 0 and any(r["ticket"] == "T1" and r["clock"] == "arrival" for r in json.loads(out))
    # the dispute report as of then says the same, from the views it rebuilt for that time
    code, out = run(data, "explain", "T1", "--as-of-recorded", site["cut"].replace("Z", "+00:00"),
                    "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["as_of_recorded"] is not None
    assert [c["state"] for c in report["clocks"] if c["clock"] == "arrival"] == ["breached"]
    assert "TechnicianArrived" not in [e["type"] for e in report["timeline"]]
    # the views it rebuilt for that time are gone once the report is written (no file per call)
    assert not [p.name for p in (data / "replay").glob("*.duckdb*")]


def test_correction_shown_with_both_values(site: dict) -> None:
    code, out = run(site["data"], "explain", "T1", "--at", AT, "--format", "json", "--lang", "en")
    assert code == 0
    report = json.loads(out)
    (corr,) = report["corrections"]
    assert corr["corrects_type"] == "TechnicianArrived" and corr["reason"] == "GPS log shows an earlier arrival"
    assert corr["original"] == {"occurred_at": "2025-10-02T00:00:00Z"}
    # recorded as 07:30+08:00, stored in UTC like every other time (issue 14, item 21)
    assert corr["corrected"] == {"occurred_at": "2025-10-01T23:30:00Z"}
    assert corr["actor"] == "desk:test"
    # the views used the corrected value: the arrival clock stopped at 07:30 local
    arrival = next(c for c in report["clocks"] if c["clock"] == "arrival")
    assert arrival["stopped_at"] == "2025-10-01T23:30:00Z"
    code, md = run(site["data"], "explain", "T1", "--at", AT, "--format", "md", "--lang", "en")
    assert "occurred: 2025-10-02 08:00 → 2025-10-02 07:30" in md  # both values, in local time
    assert "GPS log shows an earlier arrival" in md
    # the correction's effect: the arrival verdict without it beside the verdict with it
    assert any(s.startswith("Correction at log position") and "on-site arrival" in s
               for s in report["explanations"]["corrections"][str(corr["position"])])


def test_reports_are_byte_identical_across_two_rebuilds(site: dict, tmp_path: Path) -> None:
    data = site["data"]
    for fmt in ("html", "md", "json"):
        a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        assert run(data, "explain", "T1", "--at", AT, "--format", fmt, "--out", str(a))[0] == 0
        assert run(data, "explain", "T1", "--at", AT, "--format", fmt, "--out", str(b))[0] == 0
        assert a.read_bytes() == b.read_bytes(), fmt
    # two separate replays into two files give the same report too
    v1, v2 = tmp_path / "v1.duckdb", tmp_path / "v2.duckdb"
    assert run(data, "replay", "--at", AT, "--out", str(v1))[0] == 0
    assert run(data, "replay", "--at", AT, "--out", str(v2))[0] == 0
    r1 = run(data, "explain", "T2", "--views", str(v1), "--format", "html")[1]
    r2 = run(data, "explain", "T2", "--views", str(v2), "--format", "html")[1]
    assert r1 == r2
    html = (tmp_path / "a.html").read_text()
    # one self-contained printable file with an inline SVG picture: no script, nothing fetched
    assert "<svg" in html and "<script" not in html and "@page" in html and "size:A4" in html
    assert not re.search(r'(src|href)="https?://', html)
    for word in ("工程师到场", "原文第65行 24小时内到达现场", "K-000", "迟录"):
        assert word in html


def test_what_if_48h_resolution_turns_breaches_into_met(site: dict, tmp_path: Path) -> None:
    data = site["data"]
    text = (CONTRACTS / "seed-000.toml").read_text()
    changed = text.replace('resolution = { target = { hours = 36 }', 'resolution = { target = { hours = 48 }')
    assert changed != text
    terms = tmp_path / "k000-48h.toml"
    terms.write_text(changed)
    base, what_if = tmp_path / "base.duckdb", tmp_path / "whatif.duckdb"
    assert run(data, "replay", "--at", AT, "--out", str(base))[0] == 0
    code, out = run(data, "replay", "--at", AT, "--terms", str(terms), "--out", str(what_if))
    assert code == 0, out
    for t in ("T2", "T3"):
        assert clocks(base, t)["resolution"]["state"] == "breached"
        assert clocks(what_if, t)["resolution"]["state"] == "met"
    code, out = run(data, "--json", "diff", str(base), str(what_if), "--table", "sla_clocks")
    changed_rows = {(r["key"]["ticket"], r["key"]["clock"]): r for r in json.loads(out)}
    assert changed_rows[("T2", "resolution")]["columns"]["state"] == ["breached", "met"]
    assert changed_rows[("T3", "resolution")]["columns"]["state"] == ["breached", "met"]
    code, out = run(data, "diff", str(base), str(what_if), "--table", "sla_clocks")
    assert code == 1 and "breached" in out and "met" in out


def test_as_of_position_and_occurred(site: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = site["data"]
    p = tmp_path / "pos.duckdb"
    code, out = run(data, "--json", "replay", "--as-of-position", "6", "--out", str(p))
    assert code == 0 and json.loads(out)[0]["events"] == 6
    assert set(clocks(p, "T1")) and not clocks(p, "T2")
    for bad in ("0", "999999"):  # outside the log: refused, naming the positions it holds, no file written
        code, _ = run(data, "replay", "--as-of-position", bad, "--out", str(tmp_path / f"bad{bad}.duckdb"))
        assert code == 2 and not (tmp_path / f"bad{bad}.duckdb").exists()
        assert "the log holds positions 1-" in capsys.readouterr().err
    o = tmp_path / "occ.duckdb"
    code, out = run(data, "--json", "replay", "--as-of-occurred", "2025-10-02T08:30:00+08:00", "--out", str(o))
    assert code == 0, out
    # by then the arrival had happened (07:30 corrected; recorded 08:00) but not the resolution
    c = clocks(o, "T1")
    assert c["arrival"]["state"] == "met" and c["resolution"]["stopped_at"] is None
    assert not clocks(o, "T2")


def test_explain_with_views_replayed_before_the_ticket_is_refused(
        site: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the reviewer's repro: a views file without the ticket gave an empty report (`0 clocks`) and exit 0
    data, then, out = site["data"], tmp_path / "then.duckdb", tmp_path / "T2.md"
    code, _ = run(data, "replay", "--as-of-recorded", site["cut"].replace("Z", "+00:00"), "--out", str(then))
    assert code == 0 and not clocks(then, "T2")  # T2 was recorded after the cut
    capsys.readouterr()
    code, printed = run(data, "--lang", "en", "explain", "T2", "--views", str(then), "--format", "md",
                        "--out", str(out))
    err = capsys.readouterr().err
    assert code == 2 and not out.exists() and printed == ""
    assert f"ticketledger explain: TL-E040: --views {then} holds no clocks of ticket T2: it was replayed " in err
    assert "`replay --tickets FILE`" in err and "Traceback" not in err
    code, _ = run(data, "--lang", "zh_CN", "explain", "T2", "--views", str(then), "--format", "md", "--out", str(out))
    assert code == 2 and f"--views {then} 中没有工单 T2 的时限" in capsys.readouterr().err
    # a ticket the file holds is explained from it, as before
    assert run(data, "explain", "T1", "--views", str(then), "--format", "md", "--out", str(out))[0] == 0


def test_positions_and_recording_times_beyond_the_log_are_refused_alike(
        site: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the reviewer's repro: `log --from 999999` printed nothing, and a recording time in 2030 was
    # replayed and evaluated in 2030, where `--as-of-position` beyond the log is refused (TL-E021)
    data, out = site["data"], tmp_path / "future.duckdb"
    assert run(data, "log", "--from", "999999")[0] == 2
    assert "ticketledger log: TL-E021: --from 999999: the log holds positions 1-" in capsys.readouterr().err
    for argv in (["replay", "--out", str(out)], ["views", "rebuild"], ["explain", "T1", "--format", "md"]):
        code, printed = run(data, *argv, "--as-of-recorded", "2030-01-01T00:00+08:00", "--lang", "en")
        err = capsys.readouterr().err
        assert code == 2 and printed == "" and "TL-E021: --as-of-recorded 2030-01-01T00:00:00+08:00: later than now" in err
    assert not out.exists()
