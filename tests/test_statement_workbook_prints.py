"""The monthly statement's workbook as a finance officer prints and sums it (review of the XLSX
statement): every sheet one A4 page wide at a readable scale with its long text wrapped, restated
money as numbers that sum, and an interim month's sheets saying so on every printed page, within
Excel's 255 characters of a footer even for a long customer name. On the demo ledger (views
evaluated 2026-04-04 14:29 Beijing time), and on a contract with long party names."""

from __future__ import annotations

import io
from pathlib import Path

import msgspec
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from domain import events as ev

from .disputekit import recorded, run
from .domainkit import Desk

A4_LANDSCAPE_INCHES = 297 / 25.4


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("workbook") / "data"
    code, said = run(data, "demo", "--no-stream")
    assert code == 0, said
    return data


def workbook(data: Path, customer: str, month: str, *, values: bool = False) -> openpyxl.Workbook:
    out = data.parent / f"{customer}-{month}.xlsx"
    code, said = run(data, "--lang", "zh_CN", "statement", "--customer", customer, "--month", month,
                     "--out", str(out))
    assert code == 0, said
    return openpyxl.load_workbook(io.BytesIO(out.read_bytes()), data_only=values)


def print_scale(ws: object) -> float:
    """The scale Excel prints a sheet fitted to one page wide at: the page's width between the
    side margins over the columns' width (a column of width w is w * 7 pixels, 96 to the inch)."""
    pixels = sum(round(ws.column_dimensions[get_column_letter(i)].width * 7) for i in range(1, ws.max_column + 1))
    inches = A4_LANDSCAPE_INCHES - ws.page_margins.left - ws.page_margins.right
    return min(1.0, inches * 96 / pixels)


def column(ws: object, header: str) -> int:
    return [c.value for c in ws[1]].index(header) + 1


def test_every_sheet_prints_one_page_wide_at_a_readable_scale_with_long_text_wrapped(demo: Path) -> None:
    """费用 printed at 43 % (its columns ~605 mm wide), 超时的时限 at 71 %, 更正 at 85 %; 付费条款
    (60 wide) clipped its ~80 units of text and 更正's 原因 overflowed its column."""
    book = workbook(demo, "buyer-000", "2025-10")
    for ws in book.worksheets:
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape", ws.title
        # fitted to one page wide (1 is the attribute's default: left out), as many long as it takes
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1), ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title
        assert print_scale(ws) >= 0.70, (ws.title, print_scale(ws))
    money = book["费用"]
    assert [c.value for c in money[1]][3:8] == ["采购方支付", "供应商承担（按报价）", "索赔损失", "付款方未确定：涉及价值",
                                                 "供应商应赔损失"]  # the money columns stay in D to H
    clause = column(money, "付费条款")
    assert money.column_dimensions[get_column_letter(clause)].width <= 32
    long = [r[clause - 1] for r in money.iter_rows(min_row=2) if len(r[clause - 1].value or "") > 40]
    assert long and all(c.alignment.wrap_text and c.alignment.vertical == "top" for c in long)
    restated = book["更正"]
    because = column(restated, "原因")
    cells = [r[because - 1] for r in restated.iter_rows(min_row=2) if r[because - 1].value]
    assert cells and max(len(c.value) for c in cells) > 60
    assert all(c.alignment.wrap_text for c in cells)
    assert restated.column_dimensions[get_column_letter(because)].width <= 50


def test_restated_money_is_numbers_a_finance_officer_can_sum(demo: Path) -> None:
    """T-s7n3000-000889's repair recorded late: 供应商承担 ¥1,760.00 → ¥1,990.00 was text alone."""
    book, values = workbook(demo, "buyer-000", "2026-02"), workbook(demo, "buyer-000", "2026-02", values=True)
    text = [r for r in book["更正"].iter_rows(values_only=True) if r[0] == "T-s7n3000-000889" and r[2] == "费用承担"]
    assert text and text[0][3:5] == ("采购方支付 ¥0.00；供应商承担（按报价）¥1,760.00",
                                     "采购方支付 ¥0.00；供应商承担（按报价）¥1,990.00")
    assert "工作表“更正的金额”" in book["更正"]["D1"].comment.text  # where the text points for the numbers
    ws, cached = book["更正的金额"], values["更正的金额"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["工单", "月份", "采购方支付：原为", "采购方支付：现在", "采购方支付：变动"]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "T-s7n3000-000889")
    got = {h: c.value for h, c in zip(header, row, strict=True)}
    assert (got["供应商承担（按报价）：原为"], got["供应商承担（按报价）：现在"], got["供应商承担（按报价）：变动"]) == (1760, 1990, 230)
    assert got["采购方支付：变动"] == 0 and got["供应商应赔损失：现在"] == 0
    assert all(isinstance(c.value, int | float) and "¥" in c.number_format for c in row[2:])
    change = header.index("供应商承担（按报价）：变动") + 1
    total = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "合计")[change - 1]
    letter = get_column_letter(change)
    assert total.value == f"=SUM({letter}2:{letter}2)"
    assert cached.cell(total.row, change).value == 230  # the value Excel shows before it recalculates
    assert print_scale(ws) >= 0.70


def test_an_interim_month_says_so_on_every_printed_page(demo: Path) -> None:
    """April 2026 (under way at the evaluation time) named its sheet "月末仍在计时", and no page
    footer said its figures could still change."""
    book = workbook(demo, "buyer-000", "2026-04")
    assert "评估时仍在计时的时限" in book.sheetnames and "月末仍在计时" not in book.sheetnames
    for ws in book.worksheets:
        assert "中期对账单，截至 2026-04-04 14:29" in ws.oddFooter.right.text, ws.title
        assert "合同 K-000" in ws.oddFooter.left.text and "&P" in ws.oddFooter.right.text
    book = workbook(demo, "buyer-000", "2026-03")
    assert "月末仍在计时" in book.sheetnames and "评估时仍在计时的时限" not in book.sheetnames
    assert all("中期" not in ws.oddFooter.right.text for ws in book.worksheets)


@pytest.fixture(scope="module")
def long_names(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A contract whose parties' names are 120 characters each, its views evaluated mid-May 2025."""
    data = tmp_path_factory.mktemp("long-names") / "data"
    desk = Desk()
    contract = desk.contract("001")
    contract = msgspec.structs.replace(contract, terms={
        **contract.terms, "customer_name": "某某市第一人民医院" * 13 + "后勤保障部",
        "supplier_name": "某某智能科技股份有限公司" * 10})
    recorded(data, [contract, desk.asset("A-1", contract="K-001", customer="buyer-001", at="2024-03-01T10:00"),
                    desk.fact(ev.AssetAccepted, "A-1", "2024-03-02T10:00"),
                    desk.open("T-1", "A-1", "2025-05-10T10:00", severity="general")])
    code, out = run(data, "views", "rebuild", "--at", "2025-05-20T00:00:00+08:00")
    assert code == 0, out
    return data


def test_a_long_customer_name_keeps_every_footer_within_excel_s_limit(long_names: Path) -> None:
    """A footer over 255 characters is dropped (xlsxwriter warns; the page says nothing of whose it
    is): the names are shortened instead, the contract, period, interim note and page kept."""
    book = workbook(long_names, "buyer-001", "2025-05")
    for ws in book.worksheets:
        left, right = ws.oddFooter.left.text or "", ws.oddFooter.right.text or ""
        assert len("&L" + left + "&R" + right) <= 255, ws.title
        assert left.startswith("月度服务对账单 2025-05：某某市第一人民医院") and "…" in left, left
        assert "合同 K-001" in left and "2025-05-01 00:00 至 2025-05-31 24:00" in left, left
        assert "中期对账单，截至 2025-05-20 00:00" in right and "&P" in right, right
