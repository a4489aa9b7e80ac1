"""The monthly statement as the customer's finance officer reconciles it before paying: every charge
line printed (the page adds up to its totals), claimed losses told apart from the losses the
supplier owes, a month under way marked interim and one not begun refused, a visit period counted
once, overruns under a minute said so with the seconds that explain them, the contract in the
page margin, and each charge line's cause and payer clause. On the demo ledger (views evaluated
2026-04-04 14:29 Beijing time), whose buyer-000 reported 113 tickets in October 2025."""

from __future__ import annotations

import io
import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from .disputekit import run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("adds-up") / "data"
    code, said = run(data, "demo", "--no-stream")
    assert code == 0, said
    return data


def statement(data: Path, month: str, fmt: str, *more: str) -> tuple[Path, str]:
    out = data.parent / f"s-{month}.{fmt}"
    code, said = run(data, "--lang", "zh_CN", *more, "statement", "--customer", "buyer-000", "--month", month,
                     "--out", str(out))
    assert code == 0, said
    return out, said


def money_rows(html: str) -> list[list[str]]:
    table = html.split('<table class="money">')[1].split("</table>")[0]
    rows = re.findall(r'<tr><td class="id">(.*?)</tr>', table, re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", '<td class="id">' + r, re.S) for r in rows]


def yuan(cell: str) -> Decimal:
    return Decimal(re.search(r"¥([\d,]+\.\d\d)", cell).group(1).replace(",", ""))


def test_the_printed_statement_lists_every_charge_line_and_adds_up_to_its_totals(data: Path) -> None:
    """It printed 100 of 113 lines: ¥47,470.50 borne by the supplier on paper, ¥54,450.50 in 合计,
    and the month's one claimed loss (¥1,032.00) in the 13 lines left out."""
    html = statement(data, "2025-10", "html")[0].read_text()
    rows = money_rows(html)
    assert len(rows) == 113
    total = html.split('<table class="money">')[1].split('<tr class="total">')[1]
    sums = [yuan(c) for c in re.findall(r'<td class="num">(.*?)</td>', total)]
    assert sums == [Decimal("1993.50"), Decimal("54450.50"), Decimal("1032.00"), Decimal("1032.00")]
    assert sum(yuan(r[3]) for r in rows) == Decimal("1993.50")
    assert sum(yuan(r[4]) for r in rows) == Decimal("54450.50")
    assert sum(yuan(r[5]) for r in rows) == Decimal("1032.00")
    assert "显示 113 项中的 100 项" not in html and "--format xlsx" not in html
    # on paper too: every ticket of the month in the PDF's charges table
    pdf = statement(data, "2025-10", "pdf")[0]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    charges = text.split("本月报修工单的费用承担")[1].split("以前月份的更正")[0]
    assert len(set(re.findall(r"T-s7n3000-\d{6}", charges))) == 113
    assert "¥1,032.00" in charges and "应赔（原文第" in charges  # the cell wraps the clause's line number
    # every page says which contract it is about
    pages = [p for p in text.split("\f") if p.strip()]
    assert all("合同 K-000" in p for p in pages), [p[-200:] for p in pages if "合同 K-000" not in p]


def test_a_month_of_thousands_of_lines_prints_subtotals_that_add_up_and_the_disputed_lines(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A customer with thousands of tickets a month (the bench's: 9,076, 418 pages) gets its lines
    summed by coverage and cause on paper, the sums adding up to the same totals, and one by one
    the lines that move money: what the customer pays, a loss the supplier owes; the workbook keeps
    every line."""
    import replay.statement

    monkeypatch.setattr(replay.statement, "PRINTED_CHARGE_LINES", 50)  # October's 113 lines are "many"
    html = statement(data, "2025-10", "html")[0].read_text()
    money = html.split('<table class="money">')[1].split("</table>")[0]
    groups = [re.findall(r'<td class="num">(.*?)</td>', r) for r in re.findall(r"<tr><td>(.*?)</tr>", money, re.S)]
    assert 1 < len(groups) < 20 and sum(int(g[0]) for g in groups) == 113
    count, *total = [c for c in re.findall(r'<td class="num">(.*?)</td>', money.split('<tr class="total">')[1])]
    total = [yuan(c) for c in total]
    assert count == "113"
    assert total == [Decimal("1993.50"), Decimal("54450.50"), Decimal("1032.00"), Decimal("1032.00")]
    assert [sum(yuan(g[i]) for g in groups) for i in (1, 2, 3, 4)] == total
    assert "随附的 XLSX 对账单逐项列出全部" in html
    assert "上月数字按本对账单的截点计算" in html  # why the previous month's money may have moved
    # one by one: every line the customer pays for (¥1,993.50 in all) and the loss the supplier owes
    listed = money_rows(html.split("<h3>采购方需支付或供应商应赔损失的工单</h3>")[1])
    assert sum(yuan(r[3]) for r in listed) == Decimal("1993.50")
    assert any("¥1,032.00" in r[6] for r in listed)
    assert all(yuan(r[3]) > 0 or "应赔（" in r[6] for r in listed)


def test_claimed_losses_and_the_losses_the_supplier_owes_are_labelled_apart(data: Path) -> None:
    """February 2026: ¥4,666.00 claimed, of which the supplier owes ¥2,283.00; it read
    "索赔损失（供应商承担） ¥4,666.00 (¥2,283.00)" and the workbook "索赔损失 4666" alone."""
    html = statement(data, "2026-02", "html")[0].read_text()
    summary = html.split('<table class="summary">')[1].split("</table>")[0]
    assert re.search(r"<th[^>]*>索赔损失</th><td[^>]*>¥4,666.00</td>", summary), summary
    assert re.search(r"<th[^>]*>供应商应赔损失</th><td[^>]*>¥2,283.00</td>", summary), summary
    rows = money_rows(html)
    claimed = [r for r in rows if yuan(r[5])]
    owed = [r for r in claimed if "应赔（原文第65行）" in r[6]]
    not_owed = [r for r in claimed if "不应赔" in r[6]]
    assert owed and not_owed and len(owed) + len(not_owed) == len(claimed)
    assert sum(yuan(r[6]) for r in owed) == Decimal("2283.00") and all(yuan(r[6]) == 0 for r in not_owed)
    book = openpyxl.load_workbook(io.BytesIO(statement(data, "2026-02", "xlsx")[0].read_bytes()))
    summary = {r[0].value: r[1].value for r in book["概要"].iter_rows(min_row=2)}
    assert (summary["索赔损失"], summary["供应商应赔损失"]) == (4666, 2283)
    money = book["费用"]
    header = [c.value for c in money[1]]
    lines = [dict(zip(header, (c.value for c in r), strict=True)) for r in money.iter_rows(min_row=2)
             if r[0].value and r[0].value != "合计"]
    assert sum(x["供应商应赔损失"] for x in lines) == 2283
    assert {x["供应商是否应赔损失"] for x in lines if x["索赔损失"]} >= {"应赔（原文第65行）", "不应赔：损失条款所涉时限没有超时"}


def test_a_month_not_begun_is_refused_and_one_under_way_is_interim(data: Path) -> None:
    out = data.parent / "2027-01.pdf"
    code, said = run(data, "--lang", "en", "statement", "--customer", "buyer-000", "--month", "2027-01",
                     "--out", str(out))
    assert code == 2 and not out.exists()
    code, said = run(data, "--lang", "zh_CN", "statement", "--customer", "buyer-000", "--month", "2026-05",
                     "--out", str(out))
    assert code == 2 and not out.exists()
    html = statement(data, "2026-04", "html")[0].read_text()
    first = html.split("<h2>")[0]  # before any figure
    assert "本月尚未结束：本对账单为中期对账单，截至 2026-04-04 14:29（北京时间）" in first
    assert "数字仅截至 2026-04-04 14:29（本月尚未结束）" in first
    assert "合同 K-000 · 中期" in html.split("</style>")[0]  # every page's margin: a loose page says it too
    assert "<h2>评估时仍在计时的时限</h2>" in html and "<h2>月末仍在计时的时限</h2>" not in html
    assert "月末仍在计时的时限列于下文" not in html  # the legend does not promise a list the month has not got
    said = json.loads(statement(data, "2026-04", "xlsx", "--json")[1])
    assert said[0]["interim"] is True
    book = openpyxl.load_workbook(io.BytesIO((data.parent / "s-2026-04.xlsx").read_bytes()))
    summary = {r[0].value: r[1].value for r in book["概要"].iter_rows(min_row=2)}
    assert summary["中期对账单"].startswith("本月尚未结束")
    assert "本月尚未结束" not in statement(data, "2026-03", "html")[0].read_text()


def test_a_missed_visit_period_is_listed_once_in_the_month_it_ended(data: Path) -> None:
    """A-s7n3000-00014's period 4 Sept to 3 Dec 2025 was "已错过" in the September, October and
    November statements alike; it is December's, when it fell due."""
    seen = {}
    for month in ("2025-09", "2025-10", "2025-11", "2025-12"):
        book = openpyxl.load_workbook(io.BytesIO(statement(data, month, "xlsx")[0].read_bytes()))
        seen[month] = [(r[0], r[4].date().isoformat(), r[5].date().isoformat(), r[6])
                       for r in book["错过的回访与巡检周期"].iter_rows(min_row=2, values_only=True)]
        assert all(month <= end[:7] <= month for _, _, end, _ in seen[month]), month
    period = ("A-s7n3000-00014", "2025-09-04", "2025-12-03", "已错过")
    assert [m for m, rows in seen.items() if period in rows] == ["2025-12"]
    html = statement(data, "2025-12", "html")[0].read_text()
    assert "<h3>错过的回访与巡检周期（计入其结束的月份）</h3>" in html
    missed = html.split('<table class="missed">')[1].split("</table>")[0]
    assert "<th>状态</th>" in missed and "<td>已错过</td>" in missed


def test_an_overrun_under_a_minute_says_so_and_its_times_show_the_seconds(data: Path) -> None:
    """T-s7n3000-001724's remote resolution was due 10:34:01 and done 10:34:51: it read
    "10:34 10:34 超时 1 分钟", and the workbook 0.8 minutes beside "超时 5 分钟" elsewhere."""
    html = statement(data, "2025-10", "html")[0].read_text()
    row = html.split('<td class="id">T-s7n3000-001724</td><td>远程解决</td>')[1].split("</tr>")[0].replace("\u00a0", " ")
    assert "2025-10-18 10:34:01" in row and "2025-10-18 10:34:51" in row and "超时不足 1 分钟" in row
    book = openpyxl.load_workbook(io.BytesIO(statement(data, "2025-10", "xlsx")[0].read_bytes()))
    sheet = book["超时的时限"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    x = next(r for r in rows if r["工单"] == "T-s7n3000-001724" and r["时限"] == "远程解决")
    assert x["超时（与打印版相同）"] == "超时不足 1 分钟" and x["超时（秒，实测）"] == 50
    assert sheet.cell(2, header.index("实际停止（北京时间）") + 1).number_format == "yyyy-mm-dd hh:mm:ss"
    printed = dict(re.findall(r'<td class="id">(T-[^<]+)</td><td>远程解决</td>.*?<td>(超时[^<]*)</td>', html))
    assert all(printed[r["工单"]].replace("\u00a0", " ") == r["超时（与打印版相同）"].replace("\u00a0", " ")
               for r in rows if r["时限"] == "远程解决")


def test_running_now_and_running_at_month_end_say_which(data: Path) -> None:
    """The rates' "计时中" read 0 beside three clocks "月末仍在计时" whose column "现在" showed final verdicts."""
    html = statement(data, "2025-10", "html")[0].read_text()
    rates = html.split('<table class="rates">')[1].split("</thead>")[0]
    assert "<th>现仍计时</th>" in rates and "<th>计时中</th>" not in rates
    running = html.split('<table class="running">')[1].split("</table>")[0]
    assert "<th>评估时的结论</th>" in running and "<th>现在</th>" not in running
    assert running.count("<tr>") - 1 == 3 and "达标，提前 15 小时 23 分钟" in running


def test_each_charge_line_names_its_cause_and_payer_clause(data: Path) -> None:
    html = statement(data, "2025-10", "html")[0].read_text()
    assert all(re.search(r"；.+ · 原文第\d", r[2]) for r in money_rows(html) if "原文第" in r[2])
    assert sum("原文第" in r[2] for r in money_rows(html)) > 100
    book = openpyxl.load_workbook(io.BytesIO(statement(data, "2025-10", "xlsx")[0].read_bytes()))
    money = book["费用"]
    header = [c.value for c in money[1]]
    assert {"报修时间（北京时间）", "原因", "付费条款", "设备", "地点"} <= set(header)
    lines = [dict(zip(header, (c.value for c in r), strict=True)) for r in money.iter_rows(min_row=2)
             if r[0].value and r[0].value != "合计"]
    assert len(lines) == 113 and all(x["原因"] for x in lines) and sum(bool(x["付费条款"]) for x in lines) > 100
    assert money.print_title_rows == "$1:$1" and money.page_setup.paperSize == 9
    assert "合同 K-000" in money.oddFooter.left.text and "&P" in money.oddFooter.right.text


def test_a_deadline_at_the_end_of_a_day_keeps_24_00_when_seconds_are_shown() -> None:
    """Shown to the second (an overrun under a minute), a day's end still reads 24:00 (art. 203),
    as the rows around it do, not 00:00:00 of the next day."""
    from datetime import datetime

    from replay.i18n import texts
    from replay.statement import breach_times

    late = {"deadline": datetime(2025, 3, 11, 16, 0), "stopped_at": datetime(2025, 3, 11, 16, 0, 40),
            "breach_minutes": 40 / 60}
    assert breach_times(late, texts("zh_CN"), "Asia/Shanghai") == ("2025-03-11 24:00:00", "2025-03-12 00:00:40")


def test_summed_lines_no_payer_rule_decides_are_a_group_of_their_own_with_their_value(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """April 2025 holds two tickets before acceptance that no payer rule decides (¥709 of parts and
    labour): summed, they read as undetermined with that value, not as ¥0.00 paid by each side."""
    import replay.statement

    monkeypatch.setattr(replay.statement, "PRINTED_CHARGE_LINES", 20)
    html = statement(data, "2025-04", "html")[0].read_text()
    money = html.split('<table class="money">')[1].split("</table>")[0]
    undecided = [r for r in re.findall(r"<tr><td>(.*?)</tr>", money, re.S) if "undetermined" in r]
    assert len(undecided) == 1 and "¥709.00" in undecided[0] and ">2<" in undecided[0]
