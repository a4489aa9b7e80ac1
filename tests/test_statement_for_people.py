"""What a manager reads on a monthly statement: when a restated fact was recorded (the desk's time,
as it was selected), a day's-end deadline written alike in HTML and XLSX, long durations with days."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .disputekit import recorded_by_the_desk, run
from .domainkit import Desk, april_resolution_entered_late, k001_asset


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """K-001 (arrival in 3 working days): T-2 reported Monday 7 April 2025, arrival due Thursday
    10 April 24:00, the engineer arrived on the 14th; its resolution, on the 14th, the desk
    recorded on 2 May (the ledger imported it today): the April statement's figure is restated."""
    data = tmp_path_factory.mktemp("people") / "data"
    desk = Desk()
    facts = [
        *k001_asset(desk),
        *april_resolution_entered_late(desk),
    ]
    recorded_by_the_desk(data, facts)
    code, out = run(data, "views", "rebuild", "--at", "2025-05-20T00:00:00+08:00")
    assert code == 0, out
    return data


def statement(data: Path, month: str, fmt: str) -> Path:
    out = data.parent / f"s-{month}.{fmt}"
    code, said = run(data, "--lang", "zh_CN", "statement", "--customer", "buyer-001", "--month", month,
                     "--out", str(out))
    assert code == 0, said
    return out


def test_a_restatement_says_when_the_desk_recorded_the_fact_not_when_the_ledger_imported_it(data: Path) -> None:
    html = statement(data, "2025-05", "html").read_text()
    row = next(r for r in html.split("<tr") if 'class="restated"><td class="id">T-2' in r)
    assert "于 2025-05-02 09:30（来源服务台）记录" in row
    assert "2026-" not in row and "2027-" not in row  # the ledger's import time, after the statement's own


def test_a_day_s_end_deadline_reads_24_00_in_the_workbook_as_in_the_html(data: Path) -> None:
    html = statement(data, "2025-04", "html").read_text()
    assert "2025-04-10 24:00" in html
    book = openpyxl.load_workbook(io.BytesIO(statement(data, "2025-04", "xlsx").read_bytes()))
    sheet = book["超时的时限"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "T-2" and r[1] == "到达现场")
    assert row[header.index("期限（北京时间）")] == "2025-04-10 24:00"
    assert row[header.index("期限（日期时间值：某日 24:00 记作次日 00:00）")].isoformat() == "2025-04-11T00:00:00"


def test_a_breach_of_days_is_said_in_days_beside_its_hours(data: Path) -> None:
    html = statement(data, "2025-04", "html").read_text().replace("\u00a0", " ")  # a number kept with its unit
    # due 10 April 24:00, arrived 14 April 09:00: 81 hours late
    assert "超时 81 小时（3 天 9 小时）" in html
    out = data.parent / "r.md"
    assert run(data, "--lang", "en", "explain", "T-2", "--out", str(out))[0] == 0
    assert "breached by 81 h (3 d 9 h)" in out.read_text()


def test_durations_read_as_people_write_them() -> None:
    from replay.i18n import texts

    zh, en = texts("zh_CN"), texts("en")
    assert zh.duration(1440) == "24 小时" and en.duration(1440) == "24 h"  # no "0 分钟"
    assert zh.duration(405528) == "6,758 小时 48 分钟（281 天 14 小时 48 分钟）"  # the hours kept: contracts count them
    assert zh.duration(2880) == "48 小时（2 天）" and en.duration(2879) == "47 h 59 min"
    assert zh("breached by {duration}", duration=zh.duration(0.3)) == "超时不足 1 分钟"
    assert zh("breached by {duration}", duration=zh.duration(61)) == "超时 1 小时 1 分钟"


def test_the_statement_says_what_the_supplier_bears_is_not_money_it_pays_out(data: Path) -> None:
    html = statement(data, "2025-04", "html").read_text()
    assert "<th>供应商承担（按报价）</th>" in html and "<th>供应商承担</th>" not in html
    assert "是按合同采购方无需支付的配件和人工的报价金额，并非供应商向外支付的款项" in html
    book = openpyxl.load_workbook(io.BytesIO(statement(data, "2025-04", "xlsx").read_bytes()))
    assert "供应商承担（按报价）" in [c.value for c in book["费用"][1]]


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1))
def test_the_change_of_a_breach_rate_is_the_change_of_the_rates_printed(now: float, before: float) -> None:
    """A reader of "15.9% | 15.9% | -0.1 个百分点" sees a change the two figures beside it deny: the
    change is taken between the rates as printed (one decimal)."""
    from decimal import Decimal

    from replay.i18n import texts
    from replay.statement import _delta, _points

    t = texts("zh_CN")
    shown = [Decimal(t.percent(x).rstrip("%").replace(",", "")) for x in (now, before)]
    assert _delta(_points(now), _points(before), str) in (str(shown[0] - shown[1]), "+" + str(shown[0] - shown[1]))


def test_the_reasons_for_a_restatement_are_words_in_either_language(data: Path) -> None:
    """English read "TicketResolved of 2025-04-14 12:00", and Chinese joined words with "; "."""
    for lang, event, cell in (("en", "“ticket resolved” at 2025-04-14 12:00", "; "), ("zh_CN", "的“故障解决”，", "；")):
        pages = {}
        for month in ("2025-04", "2025-05"):  # May restates April's figure
            out = data.parent / f"because-{lang}-{month}.html"
            code, said = run(data, "--lang", lang, "statement", "--customer", "buyer-001", "--month", month,
                             "--out", str(out))
            assert code == 0, said
            pages[month] = out.read_text()
        assert event in pages["2025-05"] and "TicketResolved" not in pages["2025-05"], lang
        money_row = pages["2025-04"].split('<td class="id">T-2<br>')[-1].split("</tr>")[0]
        assert cell in money_row, (lang, money_row)
