"""Every verdict explained (issue 17): sentences rendered from hand-made view rows, in Chinese and
English. The rows are shaped as projections/README.md documents `sla_clocks`, `clock_inputs`,
`late_entries` and `liability`; the figures are those of the §9 cases of test_rules_views.py.
"""

from __future__ import annotations

from datetime import datetime

from replay.explanations import (
    clock_sentences,
    correction_sentences,
    liability_sentences,
    verdict_short,
)
from tests.viewkit import utc_naive

TZ = "Asia/Shanghai"


def clock_row(**kw):
    row = {"ticket": "X", "clock": "resolution", "contract": "K-004", "contract_version": 1,
           "clause": "§9 普通设备维修或更换不超过36小时", "severity": "major", "clock_severity": "major",
           "calendar": "7x24", "start": utc_naive("2025-07-01T09:00"), "target_unit": "hours",
           "target_amount": 36, "target_minutes": 2160, "paused_minutes": 0, "extension_minutes": 0,
           "deadline": utc_naive("2025-07-02T21:00"), "stopped_at": None, "state": "running",
           "breach_minutes": None, "counted_minutes": None, "provisional": False,
           "evaluated_at": utc_naive("2025-07-10T00:00")}
    row.update(kw)
    return row


def inp(kind, reason, **kw):
    row = {"ticket": "X", "clock": "resolution", "position": None, "kind": kind, "detail": None, "at": None,
           "until": None, "input_minutes": None, "minutes": None, "applied": True, "reason": reason,
           "clause": "§9", "awaits_year": None}
    row.update(kw)
    return row


def test_the_promise_quotes_its_clause_and_the_verdict_says_by_how_much() -> None:
    c = clock_row(state="breached", stopped_at=utc_naive("2025-07-02T22:05"), breach_minutes=65)
    en = clock_sentences(c, [], "en", TZ)
    zh = clock_sentences(c, [], "zh_CN", TZ)
    assert en[0] == ("Promise: resolution within 36 hours, around the clock (7×24), from the report at "
                     "2025-07-01 09:00 (severity major, contract K-004 version 1): «§9 普通设备维修或更换不超过36小时».")
    assert en[1] == "Breached by 1 h 5 min: the deadline was 2025-07-02 21:00 and the clock stopped at 2025-07-02 22:05."
    assert zh[1] == "超时 1 小时 5 分钟：期限为 2025-07-02 21:00，实际于 2025-07-02 22:05 停止计时。"
    assert "«§9 普通设备维修或更换不超过36小时»" in zh[0] and "36 小时" in zh[0]
    assert verdict_short(c, "zh_CN") == "超时 1 小时 5 分钟"


def test_a_deadline_at_local_midnight_is_the_last_day_s_24_00() -> None:
    c = clock_row(deadline=utc_naive("2025-07-05T00:00"), stopped_at=utc_naive("2025-07-04T20:00"), state="met")
    (_, verdict) = clock_sentences(c, [], "en", TZ)
    assert verdict == "Met: the clock stopped at 2025-07-04 20:00, 4 h before the deadline 2025-07-04 24:00."


def test_waits_that_paused_and_did_not_pause_name_the_reason_and_the_clause_s_list() -> None:
    # seed 004: a customer wait pauses resolution, a vendor wait does not (test_seed004_consented_…)
    c = clock_row(state="met", paused_minutes=180, deadline=utc_naive("2025-07-05T00:00"),
                  stopped_at=utc_naive("2025-07-04T20:00"))
    inputs = [
        inp("wait", "paused", position=5, detail="customer", at=utc_naive("2025-07-01T12:00"),
            until=utc_naive("2025-07-01T15:00"), input_minutes=180, minutes=180),
        inp("wait", "not_listed", position=7, detail="vendor", at=utc_naive("2025-07-01T16:00"),
            until=utc_naive("2025-07-01T18:00"), input_minutes=120, minutes=0, applied=False),
    ]
    en = clock_sentences(c, inputs, "en", TZ)
    assert ("The wait (waiting for the customer) from 2025-07-01 12:00 to 2025-07-01 15:00 (log position 5) "
            "paused this clock for 3 h: the clause lists that reason.") in en
    assert ("The wait (waiting for a vendor) from 2025-07-01 16:00 to 2025-07-01 18:00 (log position 7) did not "
            "pause this clock: the clause does not list that reason.") in en
    zh = clock_sentences(c, inputs, "zh_CN", TZ)
    assert any("等待采购方" in s and "暂停 3 小时" in s for s in zh)
    assert any("等待厂商" in s and "未暂停" in s for s in zh)


def test_a_wait_after_the_deadline_is_ignored_under_9_3() -> None:
    c = clock_row(state="breached", breach_minutes=27 * 60, deadline=utc_naive("2025-07-02T21:00"))
    w = inp("wait", "after_deadline", position=9, detail="customer", at=utc_naive("2025-07-02T22:00"),
            until=utc_naive("2025-07-03T10:00"), minutes=0, applied=False)
    en = clock_sentences(c, [w], "en", TZ)
    assert any("started after the deadline and is ignored" in s and "(counting rule 9.3)" in s for s in en)
    assert en[1].startswith("Breached by 27 h so far")


def test_consents_applied_capped_and_after_the_deadline() -> None:
    c = clock_row(state="met", extension_minutes=48 * 60)
    capped = inp("consent", "capped", position=11, at=utc_naive("2025-07-02T12:00"), input_minutes=3600, minutes=2880)
    late = inp("consent", "after_deadline", position=12, at=utc_naive("2025-07-02T22:00"), input_minutes=600,
               minutes=0, applied=False)
    ok = inp("consent", "applied", position=13, at=utc_naive("2025-07-02T10:00"), input_minutes=60, minutes=60)
    en = clock_sentences(c, [capped, late, ok], "en", TZ)
    assert ("The consent of 2025-07-02 12:00 (log position 11) asked for 60 h (2 d 12 h) in all; the clause allows at "
            "most 48 h (2 d), so the target grew by 48 h (2 d) (counting rule 9.5).") in en
    assert any("(log position 12) was given after the deadline it would move" in s for s in en)
    assert any("(log position 13) added 1 h to the target" in s for s in en)
    zh = clock_sentences(c, [capped], "zh_CN", TZ)
    assert any("共申请延长 60 小时（2 天 12 小时）" in s and "最多允许 48 小时（2 天）" in s for s in zh)


def test_a_severity_change_that_did_and_did_not_move_the_target() -> None:
    c = clock_row(clock="response", state="breached", breach_minutes=3, severity="technical_help",
                  clock_severity="normal", target_unit="minutes", target_amount=15, target_minutes=15,
                  deadline=utc_naive("2025-03-03T09:15"), stopped_at=utc_naive("2025-03-03T09:18"))
    kept = inp("severity", "after_deadline", clock="response", position=4, detail="technical_help",
               at=utc_naive("2025-03-03T09:17"), input_minutes=20, minutes=15, applied=False)
    en = clock_sentences(c, [kept], "en", TZ)
    assert ("The change to severity technical help needed at 2025-03-03 09:17 (log position 4) came after the "
            "deadline had passed: the deadline and the breach stay (counting rule 9.4).") in en
    assert "severity normal" in en[0]  # the promise is the one of the severity the clock uses
    moved = inp("severity", "applied", clock="response", position=4, detail="urgent",
                at=utc_naive("2025-03-03T09:05"), input_minutes=10, minutes=10)
    zh = clock_sentences(c, [moved], "zh_CN", TZ)
    assert any("改为“紧急”" in s and "时限变为 10 分钟" in s for s in zh)


def test_a_severity_change_on_a_day_counted_clock_names_its_target_in_days() -> None:
    c = clock_row(clock="resolution", state="running", target_unit="working_days", target_amount=3,
                  target_minutes=None, calendar="workdays")
    moved = inp("severity", "applied", position=6, detail="major", at=utc_naive("2025-07-01T10:00"),
                input_minutes=None, minutes=None, target_unit="working_days", target_amount=3)
    en = clock_sentences(c, [moved], "en", TZ)
    assert ("The change to severity major at 2025-07-01 10:00 (log position 6) set the target to 3 working days, "
            "still measured from the report time (counting rule 9.4).") in en
    zh = clock_sentences(c, [moved], "zh_CN", TZ)
    assert any("3 个工作日" in s for s in zh)


def test_not_applicable_says_why_instead_of_a_verdict() -> None:
    c = clock_row(clock="arrival", state="not_applicable", deadline=None)
    why = inp("not_applicable", "fixed_remotely", clock="arrival", position=3, at=utc_naive("2025-03-03T09:20"),
              detail="RemoteFixAttempted")
    en = clock_sentences(c, [why], "en", TZ)
    assert en[1] == ("Not applicable: the fault was fixed remotely at 2025-03-03 09:20 (log position 3), so this "
                     "was never needed (counting rule 9.1).")
    assert not any(s.startswith("Not applicable.") for s in en)
    zh = clock_sentences(c, [why], "zh_CN", TZ)
    assert zh[1].startswith("不适用：故障已于 2025-03-03 09:20 远程修复")
    no_target = inp("not_applicable", "no_target", clock="arrival", detail="technical_help")
    assert "severity technical help needed" in clock_sentences(c, [no_target], "en", TZ)[1]


def test_provisional_names_the_year_it_waits_for() -> None:
    c = clock_row(provisional=True, calendar="workdays", target_unit="working_days", target_amount=3,
                  target_minutes=None)
    cal = inp("calendar", "year_missing", awaits_year=2027)
    en = clock_sentences(c, [cal], "en", TZ)
    assert any("depends on 2027" in s for s in en)
    assert "3 working days, on the contract's calendar “workdays”" in en[0]
    assert any("2027 年" in s for s in clock_sentences(c, [cal], "zh_CN", TZ))
    # views written before clock_inputs existed: the row's own flag, without a year
    assert any(s.startswith("Provisional: the result depends on a calendar year") for s in clock_sentences(c, [], "en", TZ))


def test_a_late_entry_among_a_clock_s_inputs_is_told_with_its_tolerance() -> None:
    c = clock_row(clock="arrival", state="met", stopped_at=utc_naive("2025-07-01T12:00"),
                  deadline=utc_naive("2025-07-03T09:00"))
    stop = inp("stop", "arrived", clock="arrival", position=8, at=utc_naive("2025-07-01T12:00"),
               detail="TechnicianArrived")
    late = {"position": 8, "type": "TechnicianArrived", "occurred_at": utc_naive("2025-07-01T12:00"),
            "source_recorded_at": utc_naive("2025-07-03T12:00"), "lateness_minutes": 2880, "tolerance_minutes": 1440}
    en = clock_sentences(c, [stop], "en", TZ, late=[late])
    assert ("technician arrived (log position 8) occurred at 2025-07-01 12:00 but the source desk recorded it "
            "48 h (2 d) later, beyond the contract's tolerance of 24 h (counting rule 9.12).") in en
    assert "The clock stopped at 2025-07-01 12:00 when the technician arrived (log position 8)." in en


def test_a_correction_s_effect_is_the_verdict_without_it_beside_the_verdict_with_it() -> None:
    with_ = [clock_row(state="breached", breach_minutes=38, stopped_at=utc_naive("2025-07-02T21:38"))]
    without = [clock_row(state="breached", breach_minutes=65, stopped_at=utc_naive("2025-07-02T22:05"))]
    (s,) = correction_sentences({"position": 14}, without, with_, "en")
    assert s == ("Correction at log position 14: without it, resolution would be breached by 1 h 5 min; with it, "
                 "breached by 38 min.")
    (z,) = correction_sentences({"position": 14}, without, with_, "zh_CN")
    assert z == "日志位置 14 的更正：若无此更正，故障解决为超时 1 小时 5 分钟；更正后为超时 38 分钟。"
    (same,) = correction_sentences({"position": 14}, with_, with_, "en")
    assert "did not change the resolution verdict" in same


def test_coverage_payer_and_losses_with_the_rule_that_matched() -> None:
    li = {"coverage": "warranty", "reported_at": utc_naive("2025-03-01T10:00"),
          "warranty_end": utc_naive("2027-01-21T00:00"), "paid_end": None, "cause": "human",
          "payer_clause": "§1.2 若人为损坏，只收取成本费", "parts_payer": "customer", "parts_rate": "cost",
          "labour_payer": "supplier", "labour_rate": "free", "parts_value_fen": 2405, "labour_value_fen": 3000,
          "customer_pays_fen": 1401, "supplier_pays_fen": 4004, "losses_claimed_fen": 500000,
          "supplier_liable_for_losses": True, "replacement_due": False, "provisional": False}
    breached = [clock_row(clock="arrival", state="breached", breach_minutes=90)]
    en = liability_sentences(li, "en", TZ, breached=breached, losses_clause="§3 承担由此给用户带来的损失")
    assert en[0] == ("Coverage at the report time 2025-03-01 10:00: in warranty, which runs to 2027-01-20 24:00.")
    assert "«§1.2 若人为损坏，只收取成本费»" in en[1] and "human damage" in en[1]
    assert en[2] == ("Parts worth ¥24.05: at cost, borne by the customer. Labour worth ¥30.00: free of charge, "
                     "borne by the supplier.")
    assert en[3] == "The customer pays ¥14.01; the supplier bears ¥40.04."
    assert "¥5,000.00" in en[4] and "on-site arrival breached by 1 h 30 min" in en[4]
    zh = liability_sentences(li, "zh_CN", TZ, breached=breached, losses_clause="§3 承担由此给用户带来的损失")
    assert zh[3] == "采购方支付 ¥14.01；供应商承担（按报价）¥40.04。"
    assert "至 2027-01-20 24:00" in zh[0]
    li_no = {**li, "supplier_liable_for_losses": False}
    assert "not liable" in liability_sentences(li_no, "en", TZ, losses_clause="§3")[4]
    assert "no clause" in liability_sentences(li_no, "en", TZ, losses_clause="")[4]
    # a consumable line may be priced at the contract's other rate, the lower (counting rule 9.10, resting on Civil Code art. 498): the sentence
    # does not name one rate for a payment that used the other
    consumable = liability_sentences(li, "en", TZ, consumable_lines=True)
    assert consumable[2].startswith("Parts worth ¥24.05: at cost; a consumable line at the contract's rate for "
                                    "consumables where that is lower (counting rule 9.10, resting on Civil Code art. 498), borne by the customer.")


def test_instants_may_come_as_the_report_s_iso_text() -> None:
    c = clock_row(state="breached", breach_minutes=65, deadline="2025-07-02T13:00:00Z",
                  stopped_at="2025-07-02T14:05:00Z", start="2025-07-01T01:00:00Z")
    assert clock_sentences(c, [], "en", TZ)[1].endswith("2025-07-02 21:00 and the clock stopped at 2025-07-02 22:05.")
    assert isinstance(c["start"], str) and not isinstance(c["start"], datetime)


def test_a_day_counted_deadline_moved_by_an_extension_is_not_said_to_be_a_rest_day_move() -> None:
    from replay.explanations import day_count_sentence

    # one week from Tuesday 2025-03-04 (Beijing) ends Tuesday 03-11 24:00, a working day
    clock = {"target_unit": "weeks", "target_amount": 1, "start": datetime(2025, 3, 4, 1, 0),
             "deadline": datetime(2025, 3, 11, 16, 0), "paused_minutes": 0, "extension_minutes": 0}
    assert "rest day" not in day_count_sentence(clock, "en", "Asia/Shanghai")
    # the same week extended by two days with consent: the later end is the extension's, not art. 203's
    extended = {**clock, "deadline": datetime(2025, 3, 13, 16, 0), "extension_minutes": 2880}
    assert "rest day" not in day_count_sentence(extended, "en", "Asia/Shanghai")
    # without an extension, an end past the count is the rest-day rule's
    assert "was a rest day" in day_count_sentence({**extended, "extension_minutes": 0}, "en", "Asia/Shanghai")
