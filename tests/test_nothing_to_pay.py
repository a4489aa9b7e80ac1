"""A ticket without parts or labour has nothing to pay, so no payer question: it is not counted as
payer undetermined (totals, statements, the console) and reads ¥0.00 / nothing to pay; the cause
not determined reads 原因未认定, apart from the payer's 未确定 (reviewer's words item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain import events as ev

from .disputekit import recorded, run
from .domainkit import Desk


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """K-001 (no payer rule before acceptance): T-1 repaired with parts and labour, T-2 with none."""
    data = tmp_path_factory.mktemp("nothing") / "data"
    desk = Desk()
    recorded(data, [
        desk.contract("001"),
        desk.asset("A-1", contract="K-001", customer="buyer-001", at="2025-03-01T10:00"),
        desk.open("T-1", "A-1", "2025-04-04T10:00", severity="general"),
        desk.fact(ev.RepairAttempted, "T-1", "2025-04-04T15:00", fixed=True, technician="li", labour_fen=20000,
                  parts=[ev.PartLine(part="硬盘", quantity=1, quoted_price_fen=180000, cost_price_fen=90000)]),
        desk.fact(ev.TicketResolved, "T-1", "2025-04-04T15:30", summary="换硬盘"),
        desk.open("T-2", "A-1", "2025-04-10T10:00", severity="general"),
        desk.fact(ev.TicketResolved, "T-2", "2025-04-10T11:30", summary="重启"),
    ])
    code, out = run(data, "views", "rebuild", "--at", "2025-05-01T00:00:00+08:00")
    assert code == 0, out
    return data


def test_report_totals_leave_a_ticket_with_nothing_to_pay_out_of_the_undetermined(data: Path) -> None:
    code, out = run(data, "--json", "report", "totals")
    assert code == 0, out
    row = json.loads(out)[0]
    assert (row["tickets"], row["undetermined_tickets"], row["undetermined_value_fen"]) == (2, 1, 200000)
    code, out = run(data, "--lang", "zh_CN", "report", "totals")
    assert "付款方未确定（不计入任何一方合计）：1 张工单，涉及配件和人工 ¥2,000.00" in out


def test_the_liability_row_of_a_ticket_with_nothing_to_pay_reads_settled(data: Path) -> None:
    code, out = run(data, "--lang", "zh_CN", "report", "liability", "--columns",
                    "ticket,cause,parts_payer,labour_payer,customer_pays_fen,supplier_pays_fen")
    assert code == 0, out
    row = next(line for line in out.splitlines() if line.startswith("T-2"))
    assert row.split() == ["T-2", "原因未认定", "无需付款", "无需付款", "¥0.00", "¥0.00"]


def test_the_dispute_report_says_there_is_nothing_to_pay(data: Path) -> None:
    out = data.parent / "r2.md"
    assert run(data, "--lang", "zh_CN", "explain", "T-2", "--out", str(out))[0] == 0
    md = out.read_text()
    assert "| 无需付款 | ¥0.00 |" in md and "未收取配件和人工费用：无需付款" in md
    assert "付款方未确定" not in md and "原因：原因未认定" in md
    out = data.parent / "r2en.md"
    assert run(data, "--lang", "en", "explain", "T-2", "--out", str(out))[0] == 0
    md = out.read_text()
    assert "| Nothing to pay | ¥0.00 |" in md and "cause not determined" in md


def test_the_statement_counts_only_the_ticket_with_something_to_pay(data: Path) -> None:
    out = data.parent / "s.html"
    assert run(data, "--lang", "zh_CN", "statement", "--customer", "buyer-001", "--month", "2025-04",
               "--out", str(out))[0] == 0
    assert "1 张工单，涉及配件和人工 ¥2,000.00" in out.read_text()
