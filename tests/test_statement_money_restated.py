"""A repair of an earlier month that the desk recorded after that month's statement changes what
each side owes for it: the next statement lists it as a restatement (was → now, and the fact),
as it lists a clock's changed verdict (review of the billing clerk's statement run, item 1)."""

from __future__ import annotations

import io
from pathlib import Path

import msgspec
import openpyxl
import pytest

from domain import events as ev

from .disputekit import recorded_by_the_desk, run
from .domainkit import Desk, k001_asset, local


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """T-1 reported 10 April 2025 on an accepted asset; its repair (a disk, ¥1,800.00 quoted, and
    ¥200.00 of labour) on the 11th the desk recorded on 2 May, after April's statement."""
    data = tmp_path_factory.mktemp("money") / "data"
    desk = Desk()
    facts = [
        *k001_asset(desk),
        # T-0: a late acknowledgement that changes no figure (a second ticket with facts recorded since)
        desk.open("T-0", "A-1", "2025-04-09T10:00", severity="general"),
        msgspec.structs.replace(desk.fact(ev.TicketAcknowledged, "T-0", "2025-04-09T10:10"),
                                source_recorded_at=local("2025-05-02T09:00")),
        desk.open("T-1", "A-1", "2025-04-10T10:00", severity="general"),
        desk.fact(ev.TicketAcknowledged, "T-1", "2025-04-10T10:20"),
        msgspec.structs.replace(
            desk.fact(ev.RepairAttempted, "T-1", "2025-04-11T15:00", fixed=True, technician="li", labour_fen=20000,
                      parts=[ev.PartLine(part="硬盘", quantity=1, quoted_price_fen=180000, cost_price_fen=90000)]),
            source_recorded_at=local("2025-05-02T09:30")),
    ]
    recorded_by_the_desk(data, facts)
    code, out = run(data, "views", "rebuild", "--at", "2025-05-20T00:00:00+08:00")
    assert code == 0, out
    return data


def statement(data: Path, fmt: str, *more: str) -> Path:
    out = data.parent / f"s.{fmt}"
    code, said = run(data, "--lang", "zh_CN", *more, "statement", "--customer", "buyer-001", "--month", "2025-05",
                     "--out", str(out))
    assert code == 0, said
    return out


def test_money_changed_by_a_late_repair_is_restated_with_was_and_now(data: Path) -> None:
    html = statement(data, "html").read_text()
    rows = [r for r in html.split("<tr") if 'class="restated"><td class="id">T-1' in r]
    money = [r for r in rows if "费用承担" in r]
    assert len(money) == 1, rows
    was, now = money[0].split("</td><td>")[3:5]
    assert was == "采购方支付 ¥0.00；供应商承担（按报价）¥0.00"
    assert now == "采购方支付 ¥900.00；供应商承担（按报价）¥1,100.00"  # as the views hold it now
    assert "“维修”" in money[0] and "于 2025-05-02 09:30（来源服务台）记录" in money[0]
    assert "无：自上期对账单以来记录的事实未改变以前月份的数字" not in html


def test_the_workbook_lists_the_money_restatement_too(data: Path) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(statement(data, "xlsx").read_bytes()))
    ws = next(ws for ws in wb.worksheets if ws.title == "更正")
    cells = list(ws.iter_rows(values_only=True))
    money = [r for r in cells if r[0] == "T-1" and r[2] == "费用承担"]
    assert money and money[0][1] == "2025-04"
    assert money[0][3:5] == ("采购方支付 ¥0.00；供应商承担（按报价）¥0.00", "采购方支付 ¥900.00；供应商承担（按报价）¥1,100.00")


def test_a_cut_list_of_restated_tickets_says_so(data: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Beyond RESTATED_TICKETS_MAX tickets the rest are not replayed: the statement, the warning
    on stderr and --json say so, not a list that reads as the whole."""
    import json

    from adapters import statements

    monkeypatch.setattr(statements, "RESTATED_TICKETS_MAX", 1)
    capsys.readouterr()
    html = statement(data, "html").read_text()
    assert "自上期对账单以来有新记录事实的工单共 2 张，只核对了其中前 1 张（按工单号）有无更正；其余工单的更正未列出。" in html
    assert 'class="restated"><td class="id">T-1' not in html  # T-1 sorts after T-0: cut
    assert "只核对了其中前 1 张" in capsys.readouterr().err
    out = data.parent / "cut.html"
    code, said = run(data, "--json", "statement", "--customer", "buyer-001", "--month", "2025-05", "--out", str(out))
    assert code == 0 and json.loads(said)[0]["restatements_cut"] == {"tickets": 2, "replayed": 1}


@pytest.fixture(scope="module")
def downtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """K-001 (12 months' warranty, extended by downtime, §14): A-2 accepted 2 March 2024, down a
    month from 1 February 2025 (T-3), so its warranty runs into April; T-4, reported 20 March 2025
    with a disk under that extended warranty (free to the customer), had its acknowledgement
    recorded at the desk on 2 May: a late fact that changes no money."""
    data = tmp_path_factory.mktemp("downtime") / "data"
    desk = Desk()
    facts = [
        desk.contract("001"),
        desk.asset("A-2", contract="K-001", customer="buyer-001", at="2024-03-01T10:00"),
        desk.fact(ev.AssetAccepted, "A-2", "2024-03-02T10:00"),
        desk.open("T-3", "A-2", "2025-02-01T10:00", severity="general", asset_down=True),
        desk.fact(ev.TicketResolved, "T-3", "2025-03-03T10:00", summary="修复"),
        desk.open("T-4", "A-2", "2025-03-20T10:00", severity="general"),
        desk.fact(ev.RepairAttempted, "T-4", "2025-03-20T15:00", fixed=True, technician="li", labour_fen=20000,
                  parts=[ev.PartLine(part="硬盘", quantity=1, quoted_price_fen=180000, cost_price_fen=90000)]),
        msgspec.structs.replace(desk.fact(ev.TicketAcknowledged, "T-4", "2025-03-20T10:20"),
                                source_recorded_at=local("2025-05-02T09:00")),
    ]
    recorded_by_the_desk(data, facts)
    code, out = run(data, "views", "rebuild", "--at", "2025-05-20T00:00:00+08:00")
    assert code == 0, out
    return data


def test_a_ticket_s_money_is_replayed_with_its_asset_s_other_tickets(downtime: Path) -> None:
    """The warranty that makes T-4's disk free is extended by T-3's downtime: replayed without T-3,
    T-4 would read out of warranty (the customer paying) and be listed as a restatement that no
    fact made."""
    import duckdb

    con = duckdb.connect(str(downtime / "views.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT coverage, customer_pays_fen FROM liability WHERE ticket = 'T-4'").fetchone() == (
            "warranty", 0)
    finally:
        con.close()
    out = downtime.parent / "s.html"
    code, said = run(downtime, "--lang", "zh_CN", "statement", "--customer", "buyer-001", "--month", "2025-05",
                     "--out", str(out))
    assert code == 0, said
    assert "<td>费用承担</td>" not in "".join(r for r in out.read_text().split("<tr") if 'class="restated"' in r)
