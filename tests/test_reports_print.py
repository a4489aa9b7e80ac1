"""The dispute report and the monthly statement as people meet them (issue 17): rendered in the
system's headless Chromium (Playwright, /usr/bin/chromium), PDFs read back page by page with
pdftotext, the statement's XLSX opened with openpyxl as Excel would."""

from __future__ import annotations

import io
import os
import re
import subprocess
from contextlib import redirect_stdout
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from adapters.cli import main
from adapters.printing import browser
from domain import events as ev
from tests.disputekit import EVALUATED, TICKET, dispute_ledger

from .domainkit import Desk, local


def run(data: Path, *argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--data-dir", str(data), *argv]) == 0
    return out.getvalue()


def pdf_pages(path: Path) -> list[str]:
    """The PDF's text page by page (pdftotext: it reads 页 and 小 right)."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    return text.split("\f")[:-1]


def page_sizes(path: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(path)], check=True, capture_output=True,
                          text=True).stdout
    return re.findall(r"Page\s+\d+ size:\s+([\d.]+ x [\d.]+ pts)", info)


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The disputed ticket, a long ticket (a table over two pages), a June ticket whose arrival the
    desk recorded in July (a restatement), rendered once."""
    tmp = tmp_path_factory.mktemp("docs")
    data = dispute_ledger(tmp / "data")
    from adapters.ledger import Ledger
    from adapters.store import StoreConfig

    desk = Desk(actor="desk:hotline")
    desk._n = iter(range(1000, 2000))  # command ids the scenario did not use
    app = Ledger.open(StoreConfig(data))
    long = [desk.open("T-2000", "A-7", "2025-07-20T08:00")]
    for i in range(30):
        long += [desk.fact(ev.WaitStarted, "T-2000", f"2025-07-20T{8 + i // 6:02d}:{(i % 6) * 10:02d}", reason="parts"),
                 desk.fact(ev.WaitEnded, "T-2000", f"2025-07-20T{8 + i // 6:02d}:{(i % 6) * 10 + 5:02d}", reason="parts")]
    june = [desk.open("T-0630", "A-7", "2025-06-30T20:00"),
            desk.fact(ev.TechnicianDispatched, "T-0630", "2025-06-30T20:30", technician="wang"),
            ev.TechnicianArrived(command_id="j-arr", id="T-0630", occurred_at=local("2025-06-30T23:00"),
                                 actor="desk:field", technician="wang", source_recorded_at=local("2025-07-02T09:00")),
            desk.fact(ev.TicketResolved, "T-0630", "2025-07-01T02:00")]
    for f in (*long, *june):  # imported from the desk: recorded there a minute later unless said otherwise
        if f.source_recorded_at is None:
            f = msgspec.structs.replace(f, source_recorded_at=f.occurred_at + timedelta(minutes=1))
        (outcome,) = app.execute_many([f])
        assert outcome.status == "recorded", outcome
    app.close()
    views = str(tmp / "at-evaluation.duckdb")
    run(data, "replay", "--at", EVALUATED, "--out", views)
    out = {"data": data, "tmp": tmp, "views": views}
    for lang in ("zh_CN", "en"):
        for fmt in ("html", "pdf"):
            path = tmp / f"{TICKET}.{lang}.{fmt}"
            run(data, "explain", TICKET, "--views", views, "--format", fmt, "--lang", lang, "--out", str(path))
            out[f"report.{lang}.{fmt}"] = path
    path = tmp / "long.pdf"
    run(data, "explain", "T-2000", "--views", views, "--format", "pdf", "--lang", "zh_CN", "--out", str(path))
    out["long.pdf"] = path
    run(data, "views", "rebuild", "--at", "2025-08-01T00:00:00+08:00")
    for fmt in ("html", "pdf", "xlsx"):
        path = tmp / f"statement.{fmt}"
        run(data, "statement", "--customer", "buyer-000", "--month", "2025-07", "--format", fmt, "--out", str(path))
        out[f"statement.{fmt}"] = path
    return out


def test_the_pdf_is_a4_with_page_numbers_in_the_reader_s_language(docs: dict) -> None:
    for key, number in (("report.zh_CN.pdf", "第 {} 页 / 共 {} 页"), ("report.en.pdf", "Page {} of {}")):
        sizes = page_sizes(docs[key])
        assert sizes and set(sizes) == {"594.96 x 841.92 pts"}, sizes  # A4, every page
        pages = pdf_pages(docs[key])
        assert len(pages) == len(sizes) >= 2
        for i, text in enumerate(pages, 1):
            # pdftotext drops the spaces around CJK characters
            assert number.format(i, len(pages)).replace(" ", "") in re.sub(r"\s+", "", text), (key, i)
        assert "about:blank" not in "".join(pages)  # no browser header or footer


def test_the_first_page_holds_the_verdicts_and_the_yuan_amounts(docs: dict) -> None:
    first = re.sub(r"[ \t]+", " ", pdf_pages(docs["report.zh_CN.pdf"])[0])
    for text in ("争议报告：工单 T-1042", "种子 000 投标供应商", "种子 000 采购人", "A-7", "K-000",
                 "响应", "远程解决", "到达现场", "故障解决", "备用机", "超时 40 分钟", "超时 20 分钟", "超时 38 分钟",
                 "¥686.00", "¥759.00", "¥5,000.00", "«原文第65行 24小时内到达现场»", "2025-07-02 09:00"):
        assert text in first, text
    en = re.sub(r"[ \t\u00a0]+", " ", pdf_pages(docs["report.en.pdf"])[0])
    for text in ("Dispute report: ticket T-1042", "breached by 40 min", "¥686.00", "¥5,000.00", "Proof"):
        assert text in en, text


def test_table_headers_repeat_on_every_page_of_a_long_table(docs: dict) -> None:
    pages = pdf_pages(docs["long.pdf"])
    with_rows = [p for p in pages if re.search(r"^\s*\d+\s+(等待开始|等待结束)\s+2025-07-20", p, re.M)]
    assert len(with_rows) >= 2  # the events table runs over two pages or more
    for p in with_rows:
        assert re.search(r"位置\s+事件\s+发生时间\s+记录时间\s+详情", p), p[:400]


def _measure(b, path: Path) -> dict:
    page = b.new_page(viewport={"width": 794, "height": 1123})
    try:
        page.goto(path.as_uri())
        page.emulate_media(media="print")
        return page.evaluate("""() => {
            const over = [];
            for (const el of document.querySelectorAll('body *')) {
                if (el.closest('svg')) continue;
                const s = getComputedStyle(el);
                if (s.display === 'inline' || s.display === 'none') continue;
                if (el.scrollWidth > el.clientWidth + 1) over.push(el.tagName + ' ' + el.textContent.slice(0, 60));
            }
            const svg = document.querySelector('figure svg');
            const vb = svg.viewBox.baseVal;
            const outside = [], boxes = [];
            for (const t of svg.querySelectorAll('text')) {
                const r = t.getBBox();
                if (r.x < vb.x - 0.5 || r.y < vb.y - 0.5 || r.x + r.width > vb.x + vb.width + 0.5
                    || r.y + r.height > vb.y + vb.height + 0.5) outside.push(t.textContent);
                boxes.push([r.x, r.y, r.x + r.width, r.y + r.height, t.textContent]);
            }
            const collide = [];
            for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                const [a, b] = [boxes[i], boxes[j]];
                if (a[0] < b[2] - 0.5 && b[0] < a[2] - 0.5 && a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5)
                    collide.push(a[4] + ' / ' + b[4]);
            }
            const clocks = [...document.querySelectorAll('table.verdicts tr[data-clock]')].map(r => r.dataset.clock);
            const explained = Object.fromEntries(clocks.map(c => [c,
                document.querySelectorAll(`#why .clock[data-clock="${c}"] li`).length]));
            return {over, outside, collide, clocks, explained};
        }""")
    finally:
        page.close()


def test_no_text_overflows_its_box_and_the_timeline_labels_neither_collide_nor_clip(docs: dict) -> None:
    with browser() as b:
        for key in ("report.zh_CN.html", "report.en.html"):
            m = _measure(b, docs[key])
            assert m["over"] == [], (key, m["over"])
            assert m["outside"] == [], (key, m["outside"])
            assert m["collide"] == [], (key, m["collide"])


def test_every_clock_row_has_its_explanation(docs: dict) -> None:
    with browser() as b:
        m = _measure(b, docs["report.zh_CN.html"])
    assert m["clocks"] == ["response", "remote_resolution", "arrival", "resolution", "spare"]
    assert all(n >= 2 for n in m["explained"].values()), m["explained"]  # the promise and the verdict at least


def test_chinese_and_english_state_the_same_numbers(docs: dict) -> None:
    def numbers(path: Path) -> dict[str, list[str]]:
        text = "\n".join(pdf_pages(path))
        return {"money": sorted(set(re.findall(r"¥[\d,]+\.\d\d", text))),
                "times": sorted(set(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", text))),
                "positions": sorted(set(re.findall(r"\b[0-9a-f]{64}\b", text)))}

    zh, en = numbers(docs["report.zh_CN.pdf"]), numbers(docs["report.en.pdf"])
    assert zh == en
    assert "¥5,000.00" in zh["money"] and "2025-07-02 21:38" in zh["times"]


def test_renders_are_byte_identical_and_dated_by_the_evaluation_time(docs: dict, tmp_path: Path) -> None:
    again = tmp_path / "again.pdf"
    run(docs["data"], "explain", TICKET, "--views", docs["views"], "--format", "pdf", "--lang", "zh_CN",
        "--out", str(again))
    assert again.read_bytes() == docs["report.zh_CN.pdf"].read_bytes()
    info = subprocess.run(["pdfinfo", str(again)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"CreationDate:\s+Wed Jul\s+9 16:00:00 2025 UTC", info), info
    assert re.search(r"Tagged:\s+yes", info)
    for fmt in ("xlsx", "pdf"):
        path = tmp_path / f"statement-again.{fmt}"
        run(docs["data"], "statement", "--customer", "buyer-000", "--month", "2025-07", "--format", fmt,
            "--out", str(path))
        assert path.read_bytes() == docs[f"statement.{fmt}"].read_bytes(), fmt


def test_the_statement_xlsx_sums_in_excel_to_the_statement_s_totals(docs: dict) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(docs["statement.xlsx"])  # formulas
    values = openpyxl.load_workbook(docs["statement.xlsx"], data_only=True)  # their stored values
    money = wb["费用"]
    rows = [r for r in money.iter_rows(min_row=2) if r[0].value and r[0].value != "合计"]
    customer = sum(r[3].value for r in rows)
    supplier = sum(r[4].value for r in rows)
    assert (round(customer, 2), round(supplier, 2)) == (686.00, 759.00)
    assert all(r[3].number_format.startswith("¥") and isinstance(r[3].value, float | int) for r in rows)
    total = next(r for r in money.iter_rows(min_row=2) if r[0].value == "合计")
    assert total[3].value.startswith("=SUM(")
    vtotal = next(r for r in values["费用"].iter_rows(min_row=2) if r[0].value == "合计")
    assert (vtotal[3].value, vtotal[4].value, vtotal[5].value) == (686.0, 759.0, 5000.0)
    from datetime import datetime

    assert all(isinstance(r[1].value, datetime) and r[1].number_format == "yyyy-mm-dd hh:mm" for r in rows)
    summary = {r[0].value: r[1].value for r in values["概要"].iter_rows(min_row=2)}
    assert summary["采购方支付"] == 686.0 and summary["日志位置"] is not None


def test_the_markdown_report_marks_a_desk_s_recording_time_as_the_html_does(docs: dict) -> None:
    for fmt in ("md", "html"):
        said = run(docs["data"], "--lang", "en", "explain", "T-0630", "--views", docs["views"], "--format", fmt)
        assert "2025-07-02 09:00 (source desk)" in said, fmt  # the arrival the desk recorded on 2 July


def test_a_document_is_written_in_the_format_its_file_name_says(docs: dict, tmp_path: Path, capsys) -> None:
    run(docs["data"], "explain", TICKET, "--views", docs["views"], "--out", str(tmp_path / "r.html"))
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")  # not Markdown in an .html file
    run(docs["data"], "statement", "--customer", "buyer-000", "--month", "2025-07", "--out", str(tmp_path / "s.xlsx"))
    assert (tmp_path / "s.xlsx").read_bytes()[:2] == b"PK"  # a workbook
    assert main(["--data-dir", str(docs["data"]), "--lang", "en", "statement", "--customer", "buyer-000", "--month",
                 "2025-07", "--format", "xlsx", "--out", str(tmp_path / "s2.html")]) == 2
    assert "--format xlsx but --out" in capsys.readouterr().err and not (tmp_path / "s2.html").exists()
    # --json: what was written, for a program
    said = msgspec.json.decode(run(docs["data"], "--json", "statement", "--customer", "buyer-000", "--month",
                                   "2025-07", "--out", str(tmp_path / "j.html")))
    assert said[0]["file"].endswith("j.html") and said[0]["format"] == "html" and said[0]["applicable"] > 0
    statement_at = said[0]["evaluated_at"]
    said = msgspec.json.decode(run(docs["data"], "--json", "explain", TICKET, "--views", docs["views"],
                                   "--out", str(tmp_path / "j.md")))
    assert said[0]["format"] == "md" and said[0]["ticket"] == TICKET and said[0]["clocks"] > 0
    # times to the second with Z, as every other JSON time (the statement wrote `…01.000000Z`)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", statement_at), statement_at
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", said[0]["evaluated_at"])


def test_the_english_statement_pdf_keeps_each_header_word_whole(docs: dict) -> None:
    path = docs["tmp"] / "statement.en.pdf"
    run(docs["data"], "--lang", "en", "statement", "--customer", "buyer-000", "--month", "2025-07",
        "--format", "pdf", "--out", str(path))
    text = "\n".join(pdf_pages(path))
    assert re.search(r"Applicable\s+Met\s+Breached\s+Running", text), text[:3000]


def test_the_statement_command_says_its_evaluation_time_in_the_contract_s_zone(docs: dict) -> None:
    said = run(docs["data"], "--lang", "en", "statement", "--customer", "buyer-000", "--month", "2025-07",
               "--out", str(docs["tmp"] / "again.html"))
    assert "evaluated at 2025-08-01 00:00 Beijing time" in said  # the views were rebuilt --at that local time


def test_a_statement_of_a_month_without_facts_is_written_with_a_warning(docs: dict, capsys) -> None:
    assert main(["--data-dir", str(docs["data"]), "--lang", "en", "statement", "--customer", "buyer-000",
                 "--month", "1999-01", "--out", str(docs["tmp"] / "1999-01.html")]) == 0
    err = capsys.readouterr().err
    assert "warning: buyer-000 has no facts in 1999-01" in err and "the statement holds nothing" in err
    # a month after the views' evaluation time is not a statement holding nothing yet: refused, nothing written
    assert main(["--data-dir", str(docs["data"]), "--lang", "en", "statement", "--customer", "buyer-000",
                 "--month", "2030-01", "--out", str(docs["tmp"] / "2030-01.html")]) == 2
    err = capsys.readouterr().err
    assert "TL-E041: --month 2030-01: the month has not begun at the views' evaluation time" in err
    assert not (docs["tmp"] / "2030-01.html").exists()
    run(docs["data"], "--lang", "en", "statement", "--customer", "buyer-000", "--month", "2025-07",
        "--out", str(docs["tmp"] / "july.html"))
    assert "warning" not in capsys.readouterr().err


def test_the_statement_xlsx_lists_every_missed_visit_period_the_printed_one_points_to(docs: dict) -> None:
    import duckdb
    import openpyxl

    with duckdb.connect(str(docs["data"] / "views.duckdb"), read_only=True) as con:
        missed = con.execute("""SELECT asset, start, "end" FROM visit_periods WHERE customer = 'buyer-000'
                                AND status = 'missed' AND "end" BETWEEN DATE '2025-07-01' AND DATE '2025-07-31'
                                ORDER BY asset, start""").fetchall()
    assert missed  # the ledger has some, or this test proves nothing
    sheet = openpyxl.load_workbook(docs["statement.xlsx"])["错过的回访与巡检周期"]
    listed = [(r[0].value, r[4].value.date(), r[5].value.date()) for r in sheet.iter_rows(min_row=2)]
    assert listed == missed


def test_the_statement_names_its_cut_and_marks_a_restated_earlier_month(docs: dict) -> None:
    pages = pdf_pages(docs["statement.pdf"])
    text = re.sub(r"[ \t]+", " ", "\n".join(pages))
    assert re.search(r"依据账本日志截至位置 \d+ 的内容", text)
    assert "第1页/共" in text.replace(" ", "") and "按时限与故障等级的超时率" in text and "¥686.00" in text
    html = docs["statement.html"].read_text()
    # T-0630 was reported in June; its arrival occurred that night but the desk recorded it on 2 July,
    # after the June statement: June's arrival figure is restated. "Was" is what the June statement
    # showed at its cut (1 July 00:00): the clock still running. Without the late fact but evaluated
    # today it would read a breach of weeks, which no statement ever showed.
    restated = re.findall(r'<tr class="restated"><td[^>]*>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>',
                          html)
    assert ("T-0630", "2025-06", "到达现场") in [r[:3] for r in restated]
    row = next(r for r in restated if r[:3] == ("T-0630", "2025-06", "到达现场"))
    assert row[3] == "计时中" and row[4].startswith("达标")


def test_the_printer_prints_what_playwright_prints_of_the_same_html(docs: dict) -> None:
    """adapters.printing.Printer speaks to Chromium without Playwright's driver, with its switches
    and page settings copied: its PDF must stay Playwright's, byte for byte (a Playwright upgrade
    that changes them shows here)."""
    from datetime import datetime

    from adapters.printing import with_dates

    dated = datetime(2025, 7, 9, 16, 0)
    for html, printed in (("report.zh_CN.html", "report.zh_CN.pdf"), ("statement.html", "statement.pdf")):
        with browser() as b:
            page = b.new_page()
            page.set_content(docs[html].read_text(), wait_until="load")
            pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True,
                           display_header_footer=False, tagged=True, outline=True)
        assert with_dates(pdf, dated) == with_dates(docs[printed].read_bytes(), dated), printed


def _processes_of(profile: str) -> list[str]:
    """The command lines of the running processes started with this Chromium profile folder
    (Chromium's helpers write their switches into one string: read as text)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
        except OSError:
            continue
        if profile in args:
            found.append(args)
    return found


def test_the_printer_s_chromium_runs_no_renderer_for_browser_ui_nobody_sees() -> None:
    """Headless Chromium is the whole browser in a hidden window: left to itself it loads its address
    bar's WebUI popup in a renderer of its own (`--top-chrome-webui`, ~400 script modules) while it
    prints, ~0.6 s of CPU beside every PDF on a two-core machine. The printer turns that popup off."""
    from adapters.printing import Printer

    with Printer() as printer:
        pdf = printer.print(b"<!DOCTYPE html><html><body><p>x</p></body></html>", None)
        launched = _processes_of(printer._profile)
    assert pdf.startswith(b"%PDF")
    assert any("--type=renderer" in args for args in launched)  # the page's renderer was seen
    assert not [args for args in launched if "--top-chrome-webui" in args]


def test_the_printer_lays_the_document_out_for_print_only(docs: dict) -> None:
    """Chromium would lay the statement out for a 1280-px screen nobody sees, then again at A4: the
    printer hides it on screen (the PDF is Playwright's all the same, see above), so the page it
    printed holds no screen box."""
    from adapters.printing import Printer

    with Printer() as printer:
        pdf = printer.print(docs["statement.html"].read_bytes(), None)
        shown = printer._send("Runtime.evaluate", {"expression": "document.documentElement.getClientRects().length"},
                              session=True)["result"]["value"]
    assert pdf.startswith(b"%PDF") and shown == 0


def test_the_printer_leaves_no_process_and_no_profile_folder_behind() -> None:
    """Every PDF starts a Chromium with a profile folder of its own: after the print nothing of it
    may stay (a console prints many). Its helpers stop with it, so none writes into the profile
    after the folder is removed (that left empty folders in /dev/shm)."""
    import time

    from adapters.printing import Printer

    profiles = []
    for _ in range(3):
        with Printer() as printer:
            assert printer.print(b"<!DOCTYPE html><html><body><p>x</p></body></html>", None).startswith(b"%PDF")
            assert _processes_of(printer._profile)  # its helpers were running
            profiles.append(printer._profile)
        assert _processes_of(printer._profile) == []
    time.sleep(0.5)  # what a late helper would have written by now
    assert [p for p in profiles if os.path.exists(p)] == []
