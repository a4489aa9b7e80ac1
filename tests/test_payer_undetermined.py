"""A ticket whose payer no rule decides (the liability view holds NULL) shows as undetermined with the
value in question, never as ¥0.00 / ¥0.00, and the totals name it apart (reviewer's item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain import events as ev

from .disputekit import recorded, run
from .domainkit import Desk


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """K-001 (seed 001: no payer rule before acceptance) with a repair on an asset not yet accepted."""
    data = tmp_path_factory.mktemp("undetermined") / "data"
    desk = Desk()
    recorded(data, [
        desk.contract("001"),
        desk.asset("A-1", contract="K-001", customer="buyer-001", at="2025-03-01T10:00"),
        desk.open("T-1", "A-1", "2025-04-04T10:00", severity="general"),
        desk.fact(ev.TicketAcknowledged, "T-1", "2025-04-04T10:20"),
        desk.fact(ev.RepairAttempted, "T-1", "2025-04-04T15:00", fixed=True, technician="li", labour_fen=20000,
                  parts=[ev.PartLine(part="硬盘", quantity=1, quoted_price_fen=180000, cost_price_fen=90000)]),
        desk.fact(ev.TicketResolved, "T-1", "2025-04-04T15:30", summary="换硬盘"),
    ])
    code, out = run(data, "views", "rebuild", "--at", "2025-05-01T00:00:00+08:00")
    assert code == 0, out
    return data


def test_the_statement_shows_an_undetermined_payer_with_its_value_and_totals_it_apart(data: Path) -> None:
    out = data.parent / "s.html"
    code, said = run(data, "--lang", "zh_CN", "statement", "--customer", "buyer-001", "--month", "2025-04",
                     "--out", str(out))
    assert code == 0, said
    html = out.read_text()
    row = html.split('<td class="id">T-1<br>')[1].split("</tr>")[0]
    # neither side's share reads ¥0.00: the one ¥0.00 is the loss claimed
    assert "未确定" in row and "¥2,000.00" in row and row.count("¥0.00") == 1
    assert "付款方未确定（不计入任何一方合计）" in html and "1 张工单，涉及配件和人工 ¥2,000.00" in html


def test_report_totals_count_undetermined_tickets_and_value(data: Path) -> None:
    code, out = run(data, "--json", "report", "totals")
    assert code == 0, out
    row = json.loads(out)[0]
    assert (row["undetermined_tickets"], row["undetermined_value_fen"]) == (1, 200000)
    assert (row["customer_pays_fen"], row["supplier_pays_fen"]) == (0, 0)
    code, out = run(data, "--lang", "zh_CN", "report", "totals")
    assert "付款方未确定（不计入任何一方合计）：1 张工单，涉及配件和人工 ¥2,000.00" in out


def test_the_dispute_report_says_the_payer_is_undetermined(data: Path) -> None:
    out = data.parent / "r.md"
    assert run(data, "--lang", "zh_CN", "explain", "T-1", "--out", str(out))[0] == 0
    md = out.read_text()
    assert "| 付款方未确定 | ¥2,000.00 |" in md and "合同没有匹配的付款规则" in md
    assert "| 供应商承担（按报价） | ¥0.00 |" not in md and "（未注明条款）" not in md


def test_the_console_dashboard_counts_undetermined_tickets_apart(data: Path) -> None:
    """The dashboard's money table is the same sum as `report totals`: a ticket no payer rule
    decides is neither side's ¥0.00 but a count and a value of its own."""
    import duckdb

    from adapters.web.queries import dashboard
    from adapters.web.scope import Scope

    con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    try:
        money = dashboard(con, Scope("c", "customer", None, frozenset({"buyer-001"})), {})["money"]
    finally:
        con.close()
    assert [(r["tickets"], r["undetermined_tickets"], r["undetermined_value_fen"]) for r in money] == [(1, 1, 200000)]
    assert money[0]["customer_pays_fen"] is None and money[0]["supplier_pays_fen"] is None


def test_one_word_for_the_payer_and_one_vocabulary_for_who_bears_what(data: Path) -> None:
    """付款方 throughout (not 付费方 beside it), and the money named as the statement names it:
    采购方支付 / 供应商承担（按报价）, customer pays / borne by supplier (at quoted price) (words item 5)."""
    out = data.parent / "r5.md"
    assert run(data, "--lang", "zh_CN", "explain", "T-1", "--out", str(out))[0] == 0
    md = out.read_text()
    assert "付费" not in md and "付款方未确定" in md and "也不计入任何一方的合计" in md
    zh = run(data, "--lang", "zh_CN", "report", "totals")[1]
    assert "采购方支付" in zh and "供应商承担（按报价）" in zh and "采购方承担" not in zh
    en = run(data, "--lang", "en", "report", "totals", "--wide")[1]
    assert "supplier pays" not in en and "borne by supplier" in en


def test_a_month_without_undetermined_tickets_shows_a_dash_not_zero_tickets(data: Path) -> None:
    """May holds no ticket, April one undetermined: the summary's row reads "—" for May, where it
    read "0 张工单，涉及配件和人工 ¥0.00", a figure about nothing."""
    out = data.parent / "may.html"
    code, said = run(data, "--lang", "zh_CN", "statement", "--customer", "buyer-001", "--month", "2025-05",
                     "--out", str(out))
    assert code == 0, said
    html = out.read_text()
    row = html.split("付款方未确定（不计入任何一方合计）</th>")[1].split("</tr>")[0]
    assert "—" in row and "1 张工单，涉及配件和人工 ¥2,000.00" in row and "0 张工单" not in row, row


def test_views_written_before_the_what_if_file_was_recorded_still_explain(data: Path, tmp_path: Path) -> None:
    """A views file of the version before (no terms.what_if_file, what_if_sha256) is read as it is:
    explain opens views read-only and cannot add the columns; it stopped with a DuckDB Binder Error."""
    import shutil

    import duckdb

    old = tmp_path / "old.duckdb"
    shutil.copy(data / "views.duckdb", old)
    con = duckdb.connect(str(old))
    try:
        con.execute("ALTER TABLE terms DROP COLUMN what_if_file")
        con.execute("ALTER TABLE terms DROP COLUMN what_if_sha256")
    finally:
        con.close()
    code, out = run(data, "--lang", "zh_CN", "explain", "T-1", "--views", str(old), "--format", "md")
    assert code == 0, out
    assert "- 供应商：" in out and "- 合同：K-001" in out  # the language's own colon, too
