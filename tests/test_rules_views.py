"""View-side rules of SPEC §9 and the seed clauses of §2, figures worked by hand.

Local times are Asia/Shanghai; `utc_naive` turns them into the UTC values the views hold.
"""

from __future__ import annotations

from datetime import date

from domain import events as ev
from tests.viewkit import Kit, clock, rows, utc_naive

SEED = "contracts/seed-{}.toml"


def _kit(tmp_path, seed: str, **asset_kw) -> Kit:
    k = Kit(tmp_path)
    cid = k.contract_file(SEED.format(seed))
    k.asset("A1", cid, customer=f"buyer-{seed}", **asset_kw)
    return k


def _liab(con, ticket):
    (r,) = rows(con, "SELECT * FROM liability WHERE ticket = ?", ticket)
    return r


def _warranty(con, asset):
    (r,) = rows(con, "SELECT * FROM warranty WHERE asset = ?", asset)
    return r


# --- seed 000 ------------------------------------------------------------------------------

def test_seed000_response_targets_per_severity(tmp_path):
    k = _kit(tmp_path, "000", asset_type="recorder", accepted="2025-01-20T10:00")
    for tid, sev in (("U", "urgent"), ("H", "technical_help"), ("N", "normal")):
        k.ticket(tid, "A1", "2025-03-03T09:00", severity=sev)
        k.do(k.f(ev.TicketAcknowledged, tid, "2025-03-03T09:12"))
    con = k.views("2025-03-03T12:00")
    u, h, n = clock(con, "U", "response"), clock(con, "H", "response"), clock(con, "N", "response")
    assert (u["deadline"], u["state"], u["breach_minutes"]) == (utc_naive("2025-03-03T09:10"), "breached", 2)
    assert (h["deadline"], h["state"]) == (utc_naive("2025-03-03T09:20"), "met")
    assert (n["deadline"], n["state"]) == (utc_naive("2025-03-03T09:15"), "met")
    assert "紧急 10分钟" in u["clause"]


def test_seed000_recorder_warranty_24_months_and_boundary_days(tmp_path):
    # 24 months from 2024-03-15 end with Sun 2026-03-15, a rest day: moved to Mon 2026-03-16 (art. 203)
    k = _kit(tmp_path, "000", asset_type="recorder", accepted="2024-03-15T10:00")
    k.asset("D1", "K-000", customer="buyer-000", asset_type="camera", accepted="2024-03-15T10:00")
    k.ticket("IN", "A1", "2026-03-16T23:59")
    k.ticket("OUT", "A1", "2026-03-17T00:00")
    con = k.views("2026-03-20T00:00")
    w = _warranty(con, "A1")
    assert w["warranty_end"] == utc_naive("2026-03-17T00:00")
    assert not w["provisional"]
    assert _warranty(con, "D1")["warranty_end"] == utc_naive("2027-03-16T00:00")  # 36 months, Mon 2027-03-15
    assert _warranty(con, "D1")["provisional"]  # 2027 is not recorded: weekends only
    assert _liab(con, "IN")["coverage"] == "warranty"
    assert _liab(con, "OUT")["coverage"] == "out"
    assert _liab(con, "OUT")["parts_rate"] == "cost"


def test_seed000_two_failed_repairs_trigger_replacement_but_not_for_human_damage(tmp_path):
    k = _kit(tmp_path, "000", asset_type="recorder", accepted="2025-01-20T10:00")
    k.asset("A2", "K-000", customer="buyer-000", asset_type="recorder", accepted="2025-01-20T10:00")
    for aid, tid in (("A1", "Q"), ("A2", "H")):
        k.ticket(tid, aid, "2025-03-01T10:00", category="no_power")
        k.do(k.f(ev.RepairAttempted, tid, "2025-03-01T12:00", fixed=False),
             k.f(ev.RepairAttempted, tid, "2025-03-02T12:00", fixed=False))
    k.do(k.f(ev.FaultCauseDetermined, "Q", "2025-03-02T13:00", cause="quality"),
         k.f(ev.FaultCauseDetermined, "H", "2025-03-02T13:00", cause="human"))
    con = k.views("2025-03-05T00:00")
    (r,) = rows(con, "SELECT * FROM replacement_obligations")
    assert (r["asset"], r["failures"], r["due_since"]) == ("A1", 2, utc_naive("2025-03-02T12:00"))
    assert _liab(con, "Q")["replacement_due"] and not _liab(con, "H")["replacement_due"]


# --- seed 001 ------------------------------------------------------------------------------

def test_seed001_three_working_days_across_national_day_2025(tmp_path):
    k = _kit(tmp_path, "001", accepted="2025-01-10T10:00")
    k.ticket("F", "A1", "2025-09-26T15:00", severity="general")  # Sun 09-28 (1), Mon 09-29 (2), Tue 09-30 (3)
    k.ticket("M", "A1", "2025-09-29T10:00", severity="general")  # 09-30 (1), Oct 1-8 off, 10-09 (2), 10-10 (3)
    con = k.views("2025-10-20T00:00")
    assert clock(con, "F", "arrival")["deadline"] == utc_naive("2025-10-01T00:00")
    assert clock(con, "M", "arrival")["deadline"] == utc_naive("2025-10-11T00:00")
    assert clock(con, "M", "arrival")["calendar_version"] == "CN-2025 v1"


def test_seed001_downtime_extends_warranty(tmp_path):
    # SPEC §8: 12 months from 2025-05-31 end with Sun 2026-05-31 -> end of Mon 06-01; 10 days down -> end of Wed 06-10
    k = _kit(tmp_path, "001", accepted="2025-05-31T10:00")
    k.asset("A2", "K-001", customer="buyer-001", accepted="2025-05-31T10:00")
    k.ticket("D", "A1", "2025-07-01T09:00", severity="general", down=True)
    k.ticket("D2", "A1", "2025-07-05T09:00", severity="general", down=True)  # overlaps: the union counts once
    k.do(k.f(ev.TicketResolved, "D2", "2025-07-08T09:00"), k.f(ev.TicketResolved, "D", "2025-07-11T09:00"))
    con = k.views("2025-08-01T00:00")
    assert _warranty(con, "A2")["warranty_end"] == utc_naive("2026-06-02T00:00")
    w = _warranty(con, "A1")
    assert w["downtime_minutes"] == 10 * 24 * 60
    assert w["warranty_end"] == utc_naive("2026-06-11T00:00")


# --- seed 002 ------------------------------------------------------------------------------

def test_seed002_paid_period_lightning_covered_natural_disaster_excluded(tmp_path):
    k = _kit(tmp_path, "002", accepted="2024-01-10T10:00")
    part = ev.PartLine(part="board", quantity=1, quoted_price_fen=10000, cost_price_fen=6000)
    for tid, at, cause in (("L", "2024-06-01T10:00", "lightning"), ("N", "2024-06-02T10:00", "natural_disaster"),
                           ("P", "2025-06-01T10:00", "quality")):
        k.ticket(tid, "A1", at)
        k.do(k.f(ev.RepairAttempted, tid, at[:11] + "15:00", fixed=True, parts=[part], labour_fen=500),
             k.f(ev.FaultCauseDetermined, tid, at[:11] + "16:00", cause=cause))
    con = k.views("2025-07-01T00:00")
    w = _warranty(con, "A1")
    assert w["warranty_end"] == utc_naive("2025-01-11T00:00")  # Fri 2025-01-10 is a working day
    assert w["paid_end"] == utc_naive("2028-01-11T00:00")  # 36 months from the warranty's final end
    lightning, disaster, paid = _liab(con, "L"), _liab(con, "N"), _liab(con, "P")
    assert (lightning["coverage"], lightning["customer_pays_fen"], lightning["supplier_pays_fen"]) == ("warranty", 0, 10500)
    assert (disaster["coverage"], disaster["customer_pays_fen"], disaster["parts_payer"]) == ("warranty", 10500, "customer")
    assert (paid["coverage"], paid["parts_rate"], paid["customer_pays_fen"]) == ("paid", "market", 10500)


# --- seed 004 ------------------------------------------------------------------------------

def test_seed004_consented_extension_and_customer_wait_pause(tmp_path):
    k = _kit(tmp_path, "004", accepted="2025-01-10T10:00")
    k.ticket("X", "A1", "2025-07-01T09:00", severity="major")
    k.do(k.f(ev.WaitStarted, "X", "2025-07-01T12:00", reason="customer"),
         k.f(ev.WaitEnded, "X", "2025-07-01T15:00", reason="customer"),
         k.f(ev.WaitStarted, "X", "2025-07-01T16:00", reason="vendor"),  # vendor waits do not pause
         k.f(ev.WaitEnded, "X", "2025-07-01T18:00", reason="vendor"),
         k.f(ev.DeadlineExtended, "X", "2025-07-02T12:00", clock="resolution", add_minutes=60 * 60, consented_by="buyer"),
         k.f(ev.TicketResolved, "X", "2025-07-04T20:00"))
    con = k.views("2025-07-10T00:00")
    r = clock(con, "X", "resolution")
    # 36 h + 3 h customer wait -> 07-03 00:00; consent asks 60 h, capped at 48 h -> 07-05 00:00
    assert (r["paused_minutes"], r["extension_minutes"]) == (180, 48 * 60)
    assert r["deadline"] == utc_naive("2025-07-05T00:00")
    assert r["state"] == "met" and "capped" in r["extension_note"]


# --- §9 rules ------------------------------------------------------------------------------

def test_rule_9_1_start_stop_and_not_applicable(tmp_path):
    k = _kit(tmp_path, "000", accepted="2025-01-20T10:00")
    k.ticket("R", "A1", "2025-03-03T09:00")  # fixed remotely: arrival and spare not applicable
    k.do(k.f(ev.RemoteFixAttempted, "R", "2025-03-03T09:20", fixed=True), k.f(ev.TicketResolved, "R", "2025-03-03T09:25"))
    k.ticket("D", "A1", "2025-03-03T09:00")  # dispatched within 30 min: remote resolution not applicable
    k.do(k.f(ev.TicketAcknowledged, "D", "2025-03-03T09:05"),
         k.f(ev.TechnicianDispatched, "D", "2025-03-03T09:20", technician="li"))
    k.ticket("C", "A1", "2025-03-03T09:00")  # cancelled after 20 min
    k.do(k.f(ev.TicketCancelled, "C", "2025-03-03T09:20"))
    k.ticket("O", "A1", "2025-03-03T09:00")  # resolved, reopened 10 h later, resolved again
    k.do(k.f(ev.TicketAcknowledged, "O", "2025-03-03T09:01"), k.f(ev.TicketResolved, "O", "2025-03-03T10:00"),
         k.f(ev.TicketReopened, "O", "2025-03-03T20:00"), k.f(ev.TicketResolved, "O", "2025-03-04T22:00"))
    k.ticket("L", "A1", "2025-03-03T09:00")  # remote session fails; the visit is decided 25 min after the target
    k.do(k.f(ev.TicketAcknowledged, "L", "2025-03-03T09:05"),
         k.f(ev.RemoteFixAttempted, "L", "2025-03-03T09:40", fixed=False),
         k.f(ev.TechnicianDispatched, "L", "2025-03-03T09:55", technician="li"),
         k.f(ev.TechnicianArrived, "L", "2025-03-03T12:00", technician="li"),
         k.f(ev.TicketResolved, "L", "2025-03-03T13:00"))
    con = k.views("2025-03-10T00:00")
    late = clock(con, "L", "remote_resolution")
    # the remote phase ends when the visit is decided: breached by 25 min, not growing until the evaluation
    assert (late["state"], late["stopped_at"], late["breach_minutes"]) == ("breached", utc_naive("2025-03-03T09:55"), 25)
    assert clock(con, "R", "response")["stopped_at"] == utc_naive("2025-03-03T09:25")  # the resolution stops it
    assert clock(con, "R", "remote_resolution")["state"] == "met"
    assert clock(con, "R", "arrival")["state"] == "not_applicable"
    assert clock(con, "R", "spare")["state"] == "not_applicable"
    assert clock(con, "D", "remote_resolution")["state"] == "not_applicable"
    c = clock(con, "C", "response")
    assert (c["state"], c["breach_minutes"]) == ("breached", 5)  # past its deadline: breach measured to the cancel
    assert clock(con, "C", "arrival")["state"] == "not_applicable"
    o = clock(con, "O", "resolution")
    # 36 h from 03-03 09:00 plus the 10 h between the undone resolution and the reopen -> 03-05 07:00
    assert (o["deadline"], o["stopped_at"], o["state"]) == (utc_naive("2025-03-05T07:00"), utc_naive("2025-03-04T22:00"), "met")


def test_rule_9_2_at_risk_and_breach_size_in_wall_clock_minutes(tmp_path):
    k = Kit(tmp_path)
    k.contract("K", {"name": "bh", "calendars": {"bh": {"kind": "business_hours", "hours": [["09:00", "17:00"]]}},
                     "clocks": {"normal": {"response": {"target": {"hours": 1}},
                                           "arrival": {"target": {"hours": 2}, "calendar": "bh"}}}})
    k.asset("A1", "K")
    k.ticket("T", "A1", "2025-03-07T16:00")  # Fri 16:00; arrival 2 business hours -> Mon 10:00
    assert clock(k.views("2025-03-07T16:47", name="a.duckdb"), "T", "response")["state"] == "running"
    assert clock(k.views("2025-03-07T16:48", name="b.duckdb"), "T", "response")["state"] == "at_risk"
    # 80 % of 2 business hours is 96 counted minutes: Friday's last hour, then Monday 09:00 + 36 min
    assert clock(k.views("2025-03-07T16:30", name="r.duckdb"), "T", "arrival")["at_risk_at"] == utc_naive("2025-03-10T09:36")
    k.do(k.f(ev.TechnicianDispatched, "T", "2025-03-07T16:30", technician="wang"),
         k.f(ev.TechnicianArrived, "T", "2025-03-10T11:30", technician="wang"))
    r = clock(k.views("2025-03-11T00:00", name="c.duckdb"), "T", "arrival")
    assert r["deadline"] == utc_naive("2025-03-10T10:00")
    assert (r["state"], r["breach_minutes"], r["counted_minutes"]) == ("breached", 90, 210)


def test_rule_9_2_a_day_counted_clock_is_at_risk_by_the_share_of_its_counted_days_used(tmp_path):
    """Neither the uncounted start day nor the rest days between are target used: from Fri 16:00,
    2 working days are Mon and Tue (to Tue 24:00), 80 % of them is 1.6 counted days, Tue 14:24;
    3 days are Sat, Sun, Mon, and 80 % is 2.4 days, Mon 09:36. The share of calendar time since
    Friday reached 80 % on Mon 19:12 and Mon 08:00: a dispatcher was warned a working day early."""
    k = Kit(tmp_path)
    k.contract("K", {"name": "wd", "clocks": {"normal": {"arrival": {"target": {"working_days": 2}},
                                                         "resolution": {"target": {"days": 3}}}}})
    k.asset("A1", "K")
    k.ticket("T", "A1", "2025-03-07T16:00")

    def state(at: str, name: str) -> str:
        return clock(k.views(at, name=f"{at}.duckdb"), "T", name)["state"]

    assert clock(k.views("2025-03-07T17:00"), "T", "arrival")["deadline"] == utc_naive("2025-03-12T00:00")
    assert [state(at, "arrival") for at in ("2025-03-10T20:00", "2025-03-11T14:23", "2025-03-11T14:24")] == \
        ["running", "running", "at_risk"]
    assert [state(at, "resolution") for at in ("2025-03-10T09:00", "2025-03-10T09:35", "2025-03-10T09:36")] == \
        ["running", "running", "at_risk"]
    assert clock(k.views("2025-03-08T09:00", name="r.duckdb"), "T", "arrival")["at_risk_at"] == \
        utc_naive("2025-03-11T14:24")


def test_rule_9_2_a_day_counted_clock_reaches_a_whole_day_share_at_that_day_s_end_and_a_short_day_before_it_closes(
        tmp_path):
    """Half of 2 working days from Thursday is all of Friday: at risk from Friday 24:00, not Monday
    (the weekend is not counted). One working day that ends at the close of business (17:00) is at
    risk at 80 % of its counted span, 13:36, before it closes: measured on 24 h it fell after the
    deadline, and the clock went from running to breached."""
    k = Kit(tmp_path)
    k.contract("K", {"name": "wd", "at_risk_share": 0.5,
                     "clocks": {"normal": {"arrival": {"target": {"working_days": 2}}}}})
    k.contract("B", {"name": "cob", "calendars": {"bh": {"kind": "business_hours", "hours": [["09:00", "17:00"]]}},
                     "clocks": {"normal": {"arrival": {"target": {"working_days": 1}, "calendar": "bh"}}}})
    k.asset("A1", "K")
    k.asset("A2", "B")
    k.ticket("H", "A1", "2025-03-06T10:00")
    k.ticket("C", "A2", "2025-03-07T16:00")
    con = k.views("2025-03-08T12:00")
    half = clock(con, "H", "arrival")
    assert (half["at_risk_at"], half["state"]) == (utc_naive("2025-03-08T00:00"), "at_risk")
    short = clock(con, "C", "arrival")
    assert (short["deadline"], short["at_risk_at"]) == (utc_naive("2025-03-10T17:00"), utc_naive("2025-03-10T13:36"))
    assert clock(k.views("2025-03-10T13:36", name="cob.duckdb"), "C", "arrival")["state"] == "at_risk"


def test_rule_9_3_pauses_only_listed_reasons_and_not_after_the_deadline(tmp_path):
    k = _kit(tmp_path, "004", accepted="2025-01-10T10:00")
    k.ticket("L", "A1", "2025-07-01T09:00")  # 36 h -> 07-02 21:00
    k.do(k.f(ev.WaitStarted, "L", "2025-07-02T22:00", reason="customer"),  # after the deadline: ignored
         k.f(ev.WaitEnded, "L", "2025-07-03T10:00", reason="customer"))
    k.ticket("O", "A1", "2025-07-01T09:00")
    k.do(k.f(ev.WaitStarted, "O", "2025-07-01T10:00", reason="customer"))  # open wait: runs to the evaluation time
    con = k.views("2025-07-01T12:00")
    assert clock(con, "O", "resolution")["deadline"] == utc_naive("2025-07-02T23:00")
    assert clock(con, "O", "arrival")["paused_minutes"] == 0
    con = k.views("2025-07-04T00:00", name="later.duckdb")
    r = clock(con, "L", "resolution")
    assert (r["deadline"], r["paused_minutes"], r["breach_minutes"]) == (utc_naive("2025-07-02T21:00"), 0, 27 * 60)


def test_rule_9_4_severity_change_keeps_a_passed_deadline_and_summaries_use_final_severity(tmp_path):
    k = _kit(tmp_path, "000", accepted="2025-01-20T10:00")
    k.ticket("S", "A1", "2025-03-03T09:00", severity="normal")  # response 15 min -> 09:15
    k.do(k.f(ev.SeverityChanged, "S", "2025-03-03T09:17", severity="technical_help"),  # 20 min, but 09:15 had passed
         k.f(ev.TicketAcknowledged, "S", "2025-03-03T09:18"))
    con = k.views("2025-03-04T00:00")
    r = clock(con, "S", "response")
    assert (r["deadline"], r["state"], r["breach_minutes"], r["severity"], r["clock_severity"]) == (
        utc_naive("2025-03-03T09:15"), "breached", 3, "technical_help", "normal")
    s = rows(con, "SELECT * FROM sla_summary WHERE dimension = 'severity' AND clock = 'response'")
    assert [(x["key"], x["breached"]) for x in s] == [("technical_help", 1)]
    # the customer's monthly statement counts it the same way, beside the promise of that severity
    from replay.statement import figures

    month = figures(con, r["customer"], None, "2025-03", "Asia/Shanghai")
    (rate,) = [x for x in month["rates"] if x["clock"] == "response"]
    assert (rate["severity"], rate["breached"], rate["target_amount"]) == ("technical_help", 1, 20)


def test_rule_9_5_consent_after_the_deadline_moves_nothing(tmp_path):
    k = _kit(tmp_path, "004", accepted="2025-01-10T10:00")
    k.ticket("X", "A1", "2025-07-01T09:00", severity="major")  # 36 h -> 07-02 21:00
    k.do(k.f(ev.DeadlineExtended, "X", "2025-07-02T22:00", clock="resolution", add_minutes=600, consented_by="buyer"))
    r = clock(k.views("2025-07-03T00:00"), "X", "resolution")
    assert (r["deadline"], r["extension_minutes"], r["state"]) == (utc_naive("2025-07-02T21:00"), 0, "breached")
    assert "after the deadline" in r["extension_note"]


def test_rule_9_6_coverage_pre_acceptance_and_replacement_keeps_remaining_warranty(tmp_path):
    k = _kit(tmp_path, "004")  # not yet accepted
    k.ticket("P", "A1", "2025-02-01T10:00")
    k.do(k.f(ev.RepairAttempted, "P", "2025-02-01T12:00", fixed=True,
             parts=[ev.PartLine(part="psu", quantity=1, quoted_price_fen=999, cost_price_fen=500)]))
    k.do(k.f(ev.AssetAccepted, "A1", "2025-03-01T10:00"))
    k.asset("B1", "K-004", customer="buyer-004", replaces="A1", accepted="2026-01-05T10:00", at="2026-01-05T09:00")
    con = k.views("2026-02-01T00:00")
    p = _liab(con, "P")
    assert (p["coverage"], p["customer_pays_fen"], p["supplier_pays_fen"]) == ("pre_acceptance", 0, 999)
    assert _warranty(con, "A1")["warranty_end"] == utc_naive("2028-03-02T00:00")  # Wed 2028-03-01 (weekends only)
    assert _warranty(con, "B1")["warranty_end"] == _warranty(con, "A1")["warranty_end"]


def test_rule_9_7_downtime_is_a_union_clipped_to_the_warranty(tmp_path):
    k = _kit(tmp_path, "001", accepted="2025-05-31T10:00")
    k.ticket("D", "A1", "2026-05-30T09:00", severity="general", down=True)  # down past the unextended end
    k.do(k.f(ev.TicketResolved, "D", "2026-06-03T09:00"))
    w = _warranty(k.views("2026-06-20T00:00"), "A1")
    # clipped to the end of 2026-05-31 (arts. 201-202): 1 day 15 h counted
    assert w["downtime_minutes"] == (24 + 15) * 60
    assert w["warranty_end"] == utc_naive("2026-06-02T15:00")


def test_rule_9_8_schedule_periods_from_the_anchor_never_chained(tmp_path):
    k = Kit(tmp_path)
    k.contract("K", {"name": "q", "warranty": {"default": {"months": 12}},
                     "schedules": [{"obligation": "inspection", "kind": "onsite", "anchor": "acceptance",
                                    "every": {"months": 3}, "until": {"months": 12}},
                                   {"obligation": "follow_up", "kind": "phone", "anchor": "acceptance",
                                    "every": {"months": 6}, "until": {"months": 12}}]})
    k.asset("A1", "K", site="S9", accepted="2025-11-30T10:00")
    k.asset("A2", "K", site="S9", accepted="2025-11-30T10:00")
    k.do(k.f(ev.InspectionDone, "A1", "2025-11-30T15:00"),  # the anchor day counts for period 0
         k.f(ev.FollowUpDone, "A1", "2026-03-05T10:00", kind="onsite", scope="site"))  # covers A2, and a phone duty
    con = k.views("2026-06-01T00:00")
    got = rows(con, "SELECT period, start, \"end\", status FROM visit_periods WHERE asset = 'A1' "
                    "AND obligation = 'inspection' ORDER BY period")
    assert [(g["start"], g["end"]) for g in got] == [
        (date(2025, 12, 1), date(2026, 2, 28)), (date(2026, 3, 1), date(2026, 5, 30)),
        (date(2026, 5, 31), date(2026, 8, 30)), (date(2026, 8, 31), date(2026, 11, 30))]
    assert [g["status"] for g in got] == ["done", "missed", "due", "upcoming"]
    fu = rows(con, "SELECT asset, status FROM visit_periods WHERE obligation = 'follow_up' AND period = 0 ORDER BY asset")
    assert [f["status"] for f in fu] == ["done", "done"]


def test_rule_9_9_repeat_window_reopen_and_first_time_fix(tmp_path):
    k = _kit(tmp_path, "002", accepted="2025-01-10T10:00")
    k.ticket("T1", "A1", "2025-03-01T10:00", category="display")
    k.do(k.f(ev.TechnicianDispatched, "T1", "2025-03-01T10:10", technician="li"),
         k.f(ev.TechnicianArrived, "T1", "2025-03-01T11:00", technician="li"), k.f(ev.TicketResolved, "T1", "2025-03-01T12:00"))
    k.ticket("T2", "A1", "2025-04-01T10:00", category="display")  # within 90 days of the resolution
    k.do(k.f(ev.TicketResolved, "T2", "2025-04-01T12:00"), k.f(ev.TicketReopened, "T2", "2025-04-02T09:00"))
    con = k.views("2025-04-10T00:00")
    kinds = [r["kind"] for r in rows(con, "SELECT kind FROM repeat_failures ORDER BY n")]
    assert kinds == ["new_report_within_window", "resolution_reopened"]
    (r,) = rows(con, "SELECT * FROM replacement_obligations")
    assert r["failures"] == 2 and "2次" in r["clause"]
    ftf = {r["ticket"]: r["first_time_fix"] for r in rows(con, "SELECT * FROM first_time_fix")}
    assert ftf == {"T1": True, "T2": False}


def test_rule_9_10_money_in_fen_per_line_half_up_customer_pays_the_lower(tmp_path):
    k = _kit(tmp_path, "000", accepted="2025-01-20T10:00")
    k.ticket("H", "A1", "2025-03-01T10:00")
    k.do(k.f(ev.RepairAttempted, "H", "2025-03-01T12:00", fixed=True, labour_fen=3000, parts=[
        ev.PartLine(part="fuse", quantity=3, quoted_price_fen=101, cost_price_fen=50, consumable=True),  # cost 150 < half 152
        ev.PartLine(part="lamp", quantity=1, quoted_price_fen=101, cost_price_fen=80, consumable=True),  # half 50.5 -> 51 < 80
        ev.PartLine(part="board", quantity=1, quoted_price_fen=2001, cost_price_fen=1200)]),  # not consumable: cost
        k.f(ev.FaultCauseDetermined, "H", "2025-03-01T13:00", cause="human"))
    r = _liab(k.views("2025-03-02T00:00"), "H")
    assert r["customer_pays_fen"] == 150 + 51 + 1200  # labour free for human damage (§1.2)
    assert r["supplier_pays_fen"] == 303 + 101 + 2001 + 3000 - 1401


def test_rule_9_11_terms_in_force_at_report_time_and_what_if(tmp_path):
    from domain.terms import load_contract_file

    k = _kit(tmp_path, "000", accepted="2025-01-20T10:00")
    terms = load_contract_file(SEED.format("000"))["terms"]
    amended = {**terms, "clocks": {**terms["clocks"], "normal": {**terms["clocks"]["normal"],
                                                                 "response": {"target": {"minutes": 30}}}}}
    k.do(ev.ContractAmended(command_id="amend-1", id="K-000", occurred_at=ev.datetime(2025, 5, 1, tzinfo=ev.UTC),
                            actor="test", effective_from=ev.datetime(2025, 6, 1, tzinfo=ev.UTC), terms=amended))
    k.ticket("B", "A1", "2025-05-20T10:00")
    k.ticket("A", "A1", "2025-06-20T10:00")
    con = k.views("2025-07-01T00:00")
    assert clock(con, "B", "response")["deadline"] == utc_naive("2025-05-20T10:15")
    assert clock(con, "A", "response")["deadline"] == utc_naive("2025-06-20T10:30")
    con = k.views("2025-07-01T00:00", name="whatif.duckdb", terms_override=amended)
    assert clock(con, "B", "response")["deadline"] == utc_naive("2025-05-20T10:30")


def test_rule_9_12_late_entries_against_the_source_recording_time(tmp_path):
    k = _kit(tmp_path, "004", accepted="2025-01-10T10:00")
    k.ticket("T", "A1", "2025-07-01T09:00")
    k.do(ev.TechnicianDispatched(command_id="d1", id="T", occurred_at=ev.datetime(2025, 7, 1, 2, tzinfo=ev.UTC),
                                 actor="desk", technician="li", source_recorded_at=ev.datetime(2025, 7, 1, 3, tzinfo=ev.UTC)),
         ev.TechnicianArrived(command_id="a1", id="T", occurred_at=ev.datetime(2025, 7, 1, 4, tzinfo=ev.UTC),
                              actor="desk", technician="li", source_recorded_at=ev.datetime(2025, 7, 3, 4, tzinfo=ev.UTC)))
    con = k.views("2025-07-05T00:00")
    late = {r["type"] for r in rows(con, "SELECT type FROM late_entries WHERE id = 'T'")}
    assert "TechnicianArrived" in late and "TechnicianDispatched" not in late


def test_rule_9_14_placeholder_assets_have_unknown_coverage(tmp_path):
    k = _kit(tmp_path, "004", accepted="2025-01-10T10:00")
    k.asset("CI-1", "K-004", customer="buyer-004", placeholder=True)
    k.ticket("T", "CI-1", "2025-07-01T09:00")
    # labour to pay: with nothing to pay there is no payer question (payer "none")
    k.do(k.f(ev.RepairAttempted, "T", "2025-07-01T15:00", fixed=True, labour_fen=3000))
    r = _liab(k.views("2025-07-05T00:00"), "T")
    assert (r["coverage"], r["labour_payer"]) == ("unknown", "undetermined")


def test_warranty_ending_2029_is_provisional_until_the_year_is_recorded(tmp_path):
    k = _kit(tmp_path, "004", accepted="2026-02-10T10:00")  # 36 months -> Sat 2029-02-10
    w = _warranty(k.views("2026-03-01T00:00"), "A1")
    assert (w["warranty_end"], w["provisional"]) == (utc_naive("2029-02-13T00:00"), True)  # weekends only: Mon 02-12
    k.do(ev.CalendarYearRecorded(command_id="cal-2029", id="CN-2029", occurred_at=ev.datetime(2028, 12, 1, tzinfo=ev.UTC),
                                 actor="test", year=2029, days_off=[date(2029, 2, d) for d in range(12, 17)],
                                 days_on=[], source="test"))
    w = _warranty(k.views("2026-03-01T00:00", name="after.duckdb"), "A1")
    assert (w["warranty_end"], w["provisional"]) == (utc_naive("2029-02-20T00:00"), False)  # Spring Festival: Mon 02-19


def test_warranty_is_not_provisional_when_the_rest_day_rule_is_off(tmp_path):
    """Issue 14 item 19 (art. 204): with `rest_day_rule = false` no calendar lookup decides the
    warranty's end, so a warranty ending in a year not yet recorded is final, like paid_end."""
    from domain.terms import load_contract_file

    k = Kit(tmp_path)
    data = load_contract_file(SEED.format("004"))
    terms = {**data["terms"], "rest_day_rule": False, "warranty": {**data["terms"]["warranty"], "default": {"months": 12}}}
    k.contract("K-NR", terms, "buyer-nr", data["supplier"])
    k.asset("A1", "K-NR", customer="buyer-nr", accepted="2026-03-10T10:00")
    k.ticket("T", "A1", "2026-11-20T09:00")
    con = k.views("2026-12-01T00:00")
    w = _warranty(con, "A1")
    assert (w["warranty_end"], w["provisional"]) == (utc_naive("2027-03-11T00:00"), False)  # 2027 not recorded
    assert _liab(con, "T")["provisional"] is False
    # the same warranty under the rest-day rule waits for 2027 (Wed 2027-03-10 may be a day off)
    k2 = Kit(tmp_path / "rule")
    k2.contract("K-R", {**terms, "rest_day_rule": True}, "buyer-r", data["supplier"])
    k2.asset("A1", "K-R", customer="buyer-r", accepted="2026-03-10T10:00")
    assert _warranty(k2.views("2026-12-01T00:00"), "A1")["provisional"] is True


def test_liability_is_provisional_only_where_the_missing_year_could_change_the_verdict(tmp_path):
    """§8: a result is provisional when it depends on a day of a year not recorded. The rest-day
    rule (art. 203) only moves a warranty's end later, so a fault reported before the end as
    counted by arts. 201-202 is in warranty whatever 2027 brings; one reported after it is not."""
    # recorder, 24 months from 2025-03-13: ends with Sat 2027-03-13; weekends only: Mon 03-15
    k = _kit(tmp_path, "000", asset_type="recorder", accepted="2025-03-13T10:00")
    k.ticket("EARLY", "A1", "2025-06-02T09:00")
    k.ticket("WINDOW", "A1", "2027-03-14T10:00")  # Sunday: in warranty unless Sat 03-13 is a 调休 working day
    k.ticket("PRE", "A1", "2025-03-01T10:00")  # before acceptance: no end decides it
    con = k.views("2027-03-20T00:00")
    w = _warranty(con, "A1")
    assert (w["warranty_end"], w["provisional"]) == (utc_naive("2027-03-16T00:00"), True)
    assert w["provisional_from"] == utc_naive("2027-03-14T00:00")
    early, window, pre = _liab(con, "EARLY"), _liab(con, "WINDOW"), _liab(con, "PRE")
    assert (early["coverage"], early["provisional"]) == ("warranty", False)
    assert (window["coverage"], window["provisional"]) == ("warranty", True)
    assert (pre["coverage"], pre["provisional"]) == ("pre_acceptance", False)


def test_liability_not_provisional_when_only_the_paid_period_end_waits_for_a_year(tmp_path):
    # seed 002: 12 months' warranty, then a 36-month paid period ending in a year not recorded
    k = _kit(tmp_path, "002", accepted="2025-03-10T10:00")
    k.ticket("T", "A1", "2025-06-02T09:00")
    con = k.views("2025-07-01T00:00")
    assert _warranty(con, "A1")["provisional"] is True
    assert (_liab(con, "T")["coverage"], _liab(con, "T")["provisional"]) == ("warranty", False)


def test_seed001_losses_answer_for_the_23_promises_not_the_46_spare(tmp_path):
    """Seed 001 §23: "…在1小时内响应…3个工作日内到达…48小时内解决…否则卖方赔偿用户的相应损失" —
    the losses clause follows the §23 promises (response, arrival, resolution); the spare unit is
    §46's own promise, and its breach alone does not make the supplier liable for losses."""
    k = _kit(tmp_path, "001", accepted="2025-01-10T10:00")
    for tid, ack in (("SPARE", "2025-03-03T09:30"), ("RESP", "2025-03-03T11:00")):
        k.ticket(tid, "A1", "2025-03-03T09:00", severity="general")
        k.do(k.f(ev.TicketAcknowledged, tid, ack),
             k.f(ev.TechnicianDispatched, tid, "2025-03-03T12:00", technician="li"),
             k.f(ev.TechnicianArrived, tid, "2025-03-04T10:00", technician="li"),
             k.f(ev.TicketResolved, tid, "2025-03-05T08:00"),  # within 48 h, but no spare after 24 h
             k.f(ev.LossClaimed, tid, "2025-03-06T08:00", amount_fen=100_000))
    con = k.views("2025-03-10T00:00")
    assert clock(con, "SPARE", "spare")["state"] == "breached"
    assert clock(con, "SPARE", "response")["state"] == "met"
    spare, resp = _liab(con, "SPARE"), _liab(con, "RESP")
    assert (spare["supplier_liable_for_losses"], spare["breaches_cited"]) == (False, None)
    assert resp["supplier_liable_for_losses"] is True
    assert resp["breaches_cited"].startswith("response breached by 60") and "spare" not in resp["breaches_cited"]
    (terms,) = rows(con, "SELECT losses_clause, losses_clocks FROM terms WHERE contract = 'K-001'")
    assert terms["losses_clause"].startswith("原文第23行 我公司对用户的服务要求在1小时内响应")
    assert terms["losses_clause"].endswith("否则卖方赔偿用户的相应损失")
    assert terms["losses_clocks"] == ["response", "arrival", "resolution"]


def test_seed004_out_of_warranty_payer_rule_quotes_the_seed(tmp_path):
    k = _kit(tmp_path, "004", accepted="2021-01-10T10:00")
    k.ticket("OUT", "A1", "2025-03-03T09:00")
    r = _liab(k.views("2025-03-10T00:00"), "OUT")
    assert r["coverage"] == "out"
    assert r["payer_clause"] == "原文第10行 本项目系统与设备的保质期后的维护工作完全可以由我公司继续负责，我公司承诺提供优质的服务和优惠的费用"


def test_losses_clocks_must_name_clocks():
    import pytest

    from domain.terms import TermsError, terms_from_mapping
    with pytest.raises(TermsError, match="losses_clocks: unknown clock 'repsonse'"):
        terms_from_mapping({"name": "x", "losses_liable": True, "losses_clocks": ["repsonse"]})


def test_losses_verdict_waiting_for_a_calendar_year_is_provisional(tmp_path):
    """§8: the supplier is liable for losses only through a breach; when the only breach is of a
    clock counted over a year not recorded (2027: weekends only, New Year's Day counted as a
    working day), the verdict is provisional; a final breach of another clock settles it."""
    k = _kit(tmp_path, "001", accepted="2025-06-03T10:00")  # warranty ends Wed 2026-06-03: final
    for tid, ack in (("ARR", "2026-12-30T09:30"), ("BOTH", "2026-12-30T11:00")):
        k.ticket(tid, "A1", "2026-12-30T09:00", severity="major")
        k.do(k.f(ev.TicketAcknowledged, tid, ack),
             k.f(ev.TechnicianDispatched, tid, "2026-12-30T12:00", technician="li"),
             k.f(ev.TechnicianArrived, tid, "2027-01-05T10:00", technician="li"),  # 3 working days: 12-31, 01-01?, 01-04
             k.f(ev.TicketResolved, tid, "2027-01-05T12:00"),  # within the week
             k.f(ev.LossClaimed, tid, "2027-01-06T08:00", amount_fen=100_000))
    con = k.views("2027-01-07T00:00")
    arr = clock(con, "ARR", "arrival")
    assert (arr["state"], arr["provisional"]) == ("breached", True)
    assert _warranty(con, "A1")["provisional"] is False
    a, b = _liab(con, "ARR"), _liab(con, "BOTH")
    assert (a["supplier_liable_for_losses"], a["provisional"]) == (True, True)
    assert (b["supplier_liable_for_losses"], b["provisional"]) == (True, False)  # the response breach is final


def test_report_liability_cites_what_the_views_breaches_cited_holds(tmp_path, capsys):
    """`report liability`'s breaches_cited column, said in the reader's words, is the view's: a
    breach of seed 001's §46 spare unit, which the §23 losses clause does not answer for, is not
    cited for a ticket where only the spare was late."""
    from adapters.cli import main

    k = _kit(tmp_path, "001", accepted="2025-01-10T10:00")
    for tid, ack in (("SPARE", "2025-03-03T09:30"), ("RESP", "2025-03-03T11:00")):
        k.ticket(tid, "A1", "2025-03-03T09:00", severity="general")
        k.do(k.f(ev.TicketAcknowledged, tid, ack),
             k.f(ev.TechnicianDispatched, tid, "2025-03-03T12:00", technician="li"),
             k.f(ev.TechnicianArrived, tid, "2025-03-04T10:00", technician="li"),
             k.f(ev.TicketResolved, tid, "2025-03-05T08:00"),
             k.f(ev.LossClaimed, tid, "2025-03-06T08:00", amount_fen=100_000))
    k.views("2025-03-10T00:00").close()
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path), "--lang", "en", "report", "liability", "--contract", "K-001",
                 "--columns", "ticket,breaches_cited"]) == 0
    cited = {line.split()[0]: " ".join(line.split()[1:]) for line in capsys.readouterr().out.splitlines()
             if line.startswith(("SPARE", "RESP"))}
    assert cited["SPARE"] == "", cited
    assert cited["RESP"].startswith("response breached by 1 h") and "spare" not in cited["RESP"], cited
