"""Labels people read beside the figures say what the figures are (arbitrator review)."""

from __future__ import annotations

from replay.i18n import word


def test_visit_kind_words_name_the_mode_not_the_obligation():
    # the statement prints "巡检 · <kind>": a kind that says 回访 made an inspection a follow-up
    for obligation in ("follow_up", "inspection"):
        row = f"{word('zh_CN', 'obligation', obligation)} · {word('zh_CN', 'visit_kind', 'onsite')}"
        assert row == {"follow_up": "回访 · 上门", "inspection": "巡检 · 上门"}[obligation]
    assert word("zh_CN", "visit_kind", "phone") == "电话"


def _kit000(tmp_path):
    from tests.viewkit import Kit
    k = Kit(tmp_path)
    k.contract_file("contracts/seed-000.toml")
    k.asset("A1", "K-000", customer="buyer-000", asset_type="recorder", accepted="2025-01-20T10:00")
    return k


def _report(k, capsys, *argv: str) -> str:
    from adapters.cli import main
    capsys.readouterr()
    assert main(["--data-dir", str(k.dir), "--lang", "zh_CN", "report", *argv]) == 0
    return capsys.readouterr().out


def test_liability_says_the_consumables_rate_where_it_priced_a_line(tmp_path, capsys):
    """Seed 000 §1.2: human damage in warranty, parts at cost, consumables at half the quoted price;
    a consumable quoted ¥35.00 costing ¥18.00 is paid at ¥17.50 (the lower, §9.10), so the report
    cannot say only '按成本价'."""
    from domain import events as ev
    from tests.viewkit import rows
    k = _kit000(tmp_path)
    part = ev.PartLine(part="belt", quantity=1, quoted_price_fen=3500, cost_price_fen=1800, consumable=True)
    for tid, p in (("C", part), ("P", ev.PartLine(part="board", quantity=1, quoted_price_fen=3500, cost_price_fen=1800))):
        k.ticket(tid, "A1", "2025-03-03T09:00")
        k.do(k.f(ev.FaultCauseDetermined, tid, "2025-03-03T10:00", cause="human"),
             k.f(ev.RepairAttempted, tid, "2025-03-03T11:00", fixed=True, parts=[p]))
    con = k.views("2025-03-10T00:00")
    got = {r["ticket"]: r for r in rows(con, "SELECT ticket, parts_rate, consumables_rate, customer_pays_fen FROM liability")}
    assert (got["C"]["parts_rate"], got["C"]["consumables_rate"], got["C"]["customer_pays_fen"]) == ("cost", "half", 1750)
    assert (got["P"]["parts_rate"], got["P"]["consumables_rate"], got["P"]["customer_pays_fen"]) == ("cost", None, 1800)
    con.close()
    out = _report(k, capsys, "liability")
    assert "耗材" in out
    line_c = next(line for line in out.splitlines() if line.startswith("C "))
    assert "按成本价" in line_c and "半价" in line_c and "¥17.50" in line_c


def _severity_changed_after_response(tmp_path):
    from domain import events as ev
    k = _kit000(tmp_path)
    k.ticket("S", "A1", "2025-03-03T09:00", severity="normal")  # normal: respond within 15 min
    k.do(k.f(ev.TicketAcknowledged, "S", "2025-03-03T09:12"),
         k.f(ev.SeverityChanged, "S", "2025-03-03T09:30", severity="severe"))  # severe: 10 min, after the stop
    return k


def test_report_sla_shows_the_severity_the_deadline_is_of(tmp_path, capsys):
    """§9.4: the response ran under 普通's 15 minutes (deadline 09:15); the ticket ended 严重 (10 min).
    The row beside the deadline names the severity of the clock, and the final one where it differs."""
    from tests.viewkit import clock, utc_naive
    k = _severity_changed_after_response(tmp_path)
    con = k.views("2025-03-10T00:00")
    c = clock(con, "S", "response")
    assert (c["severity"], c["clock_severity"], c["deadline"]) == ("severe", "normal", utc_naive("2025-03-03T09:15"))
    con.close()
    line = next(x for x in _report(k, capsys, "sla").splitlines() if x.startswith("S ") and "响应" in x)
    assert "普通（后改为严重）" in line and "09:15" in line


def test_statement_promise_says_how_many_clocks_ran_under_the_earlier_target(tmp_path):
    """§9.4: summaries group by the final severity (严重, 10 min); a clock counted there but judged at
    普通's 15 minutes is said beside the promise, so the promise column is true of every clock."""
    from replay.statement import build_statement, render_html
    k = _severity_changed_after_response(tmp_path)
    con = k.views("2025-03-10T00:00")
    s = build_statement(con, "buyer-000", "2025-03")
    (r,) = [r for r in s["current"]["rates"] if r["clock"] == "response"]
    assert (r["severity"], r["target_amount"], r["other_target"]) == ("severe", 10, 1)
    page = render_html(s, "zh_CN").decode()
    assert "10 分钟（其中 1 个按变更前等级的时限）" in page
