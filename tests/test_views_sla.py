"""SLA clocks view: the worked cases of shared/examples and the view-side rules of SPEC §9.1-9.5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain import events as ev
from tests.viewkit import Kit, clock, utc_naive

WORKED = Path("/work/shared/examples/worked-cases.json")
CLOCK_CASES = [c for c in json.loads(WORKED.read_text())["cases"] if "clock" in c]


def _terms_for(case: dict) -> dict:
    c = case["clock"]
    cal = c.get("calendar", "7x24")
    calendars = {}
    name = "7x24"
    if isinstance(cal, dict):
        calendars["bh"] = {"kind": "business_hours", "hours": [cal["business_hours"]]}
        name = "bh"
    elif "working_days" in c["target"]:
        calendars["wd"] = {"kind": "working_days"}
        name = "wd"
    term = {"target": c["target"], "calendar": name}
    if c.get("pausable"):
        term["paused_by"] = ["customer"]
    if "consent" in c:
        term["max_extension"] = {"hours": 48}
    high = dict(term)
    if "severity_change" in c:
        high["target"] = c["severity_change"]["target"]
    return {"name": case["name"], "severities": ["normal", "high"], "calendars": calendars,
            "clocks": {"normal": {"response": term}, "high": {"response": high}}}


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    k = Kit(tmp_path_factory.mktemp("worked"))
    for i, case in enumerate(CLOCK_CASES):
        c = case["clock"]
        k.contract(f"K{i}", _terms_for(case))
        k.asset(f"A{i}", f"K{i}")
        k.ticket(f"T{i}", f"A{i}", c["start"])
        for a, b in c.get("waits", []):
            k.do(k.f(ev.WaitStarted, f"T{i}", a, reason="customer"))
            k.do(k.f(ev.WaitEnded, f"T{i}", b, reason="customer"))
        if "consent" in c:
            k.do(k.f(ev.DeadlineExtended, f"T{i}", c["consent"]["at"], clock="response",
                     add_minutes=c["consent"]["add_hours"] * 60, consented_by="buyer"))
        if "severity_change" in c:
            k.do(k.f(ev.SeverityChanged, f"T{i}", c["severity_change"]["at"], severity="high"))
        if "stop" in c:
            k.do(k.f(ev.TicketAcknowledged, f"T{i}", c["stop"]))
    return k


@pytest.mark.parametrize("i", range(len(CLOCK_CASES)), ids=[c["name"] for c in CLOCK_CASES])
def test_worked_clock_cases(worked, i):
    case = CLOCK_CASES[i]
    at = case.get("evaluate_at", "2026-11-01T00:00")
    con = worked.views(at, name=f"w{i}.duckdb")
    r = clock(con, f"T{i}", "response")
    exp = case["expect"]
    assert r["deadline"] == utc_naive(exp["deadline"]), case["why"] if "why" in case else case["name"]
    if "state" in exp:
        assert r["state"] == exp["state"]
    if "breach_minutes" in exp:
        assert r["breach_minutes"] == exp["breach_minutes"]
    assert r["evaluated_at"] == utc_naive(at)


WARRANTY_CASES = [c for c in json.loads(WORKED.read_text())["cases"] if "warranty" in c]
SCHEDULE_CASES = [c for c in json.loads(WORKED.read_text())["cases"] if "schedule" in c]


def test_worked_warranty_and_schedule_cases(tmp_path):
    k = Kit(tmp_path)
    for i, case in enumerate(WARRANTY_CASES):
        k.contract(f"W{i}", {"name": "w", "warranty": {"default": {"months": case["warranty"]["months"]}}})
        k.asset(f"WA{i}", f"W{i}", accepted=case["warranty"]["accepted"] + "T10:00")
    for i, case in enumerate(SCHEDULE_CASES):
        s = case["schedule"]
        k.contract(f"S{i}", {"name": "s", "schedules": [{"obligation": "follow_up", "every": {"months": s["every_months"]},
                                                        "until": {"months": 4 * s["every_months"]}}]})
        k.asset(f"SA{i}", f"S{i}", accepted=s["anchor"] + "T10:00")
    con = k.views("2026-11-01T00:00")
    for i, case in enumerate(WARRANTY_CASES):
        (end,) = con.execute("SELECT warranty_end FROM warranty WHERE asset = ?", [f"WA{i}"]).fetchall()[0]
        assert end == utc_naive(case["expect"]["ends"]), case["name"]
    for i, case in enumerate(SCHEDULE_CASES):
        got = con.execute("SELECT strftime(start, '%Y-%m-%d'), strftime(\"end\", '%Y-%m-%d') FROM visit_periods "
                          "WHERE asset = ? ORDER BY period", [f"SA{i}"]).fetchall()
        assert [list(g) for g in got] == case["expect"]["periods"], case["name"]
