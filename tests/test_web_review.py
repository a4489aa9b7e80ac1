"""What a reviewer met in the console, in Chinese and English, as a supplier and as a customer:
overdue clocks missing from the queue, a countdown that rounded to "0 min", severity codes and
English errors on Chinese pages, bare "not found" text, statements of months no one can state
yet, and English punctuation in Chinese statements (tests/webkit.py's world and browser)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from replay import statement as st

from . import webkit

pytestmark = pytest.mark.slow
MMSS = re.compile(r"^\d{2}:\d{2}$")


console = webkit.module_console
browser = webkit.module_browser


def _rows(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all("#queue tbody tr", """rows => rows.map(r => ({key: r.dataset.key,
        state: r.dataset.state, ms: r.cells[0].dataset.ms, left: r.cells[0].innerText, severity: r.cells[9].innerText}))""")


def test_an_overdue_clock_still_running_leads_the_queue_by_how_much_it_is_overdue(console, browser) -> None:
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "sup4", lang="zh_CN")
    rows = _rows(page)
    # T4-late's response: due 90 min ago, never acknowledged, so breached and still running
    assert rows[0]["key"] == "T4-late|response", rows
    assert rows[0]["state"] == "breached" and float(rows[0]["ms"]) < 0
    assert rows[0]["left"] == "已超时 1 小时 30 分钟", rows[0]
    assert [float(r["ms"]) for r in rows] == sorted(float(r["ms"]) for r in rows)
    page.context.close()


def test_the_countdown_shows_minutes_and_seconds_within_the_hour_and_ticks_each_second(console, browser) -> None:
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4")
    cell = 'tr[data-key="T4-risk|response"] td.left'
    first = page.inner_text(cell)
    assert MMSS.match(first), first  # ~10 min left: "09:58", not "10 min"
    page.wait_for_timeout(1200)
    assert page.inner_text(cell) != first, "the countdown did not move within a second"
    assert page.inner_text('tr[data-key="T4-late|response"] td.left') == "overdue 1 h 30 min"
    page.context.close()


def test_severity_is_written_in_the_reader_s_language_in_queue_and_charts(console, browser) -> None:
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "sup4", lang="zh_CN")
    assert {r["severity"] for r in _rows(page)} == {"普通"}
    offered = page.eval_on_selector_all('select[name="severity"] option', "os => os.map(o => [o.value, o.text])")
    assert ["normal", "普通"] in offered, offered  # the value filtered on stays the code
    page.goto(f"{console.url}/dashboard")
    spec = page.text_content('script[data-target="chart-by-month"]')
    assert "普通" in spec and '"normal"' not in spec
    status = page.text_content("p.status")
    assert "。超时率：" in status and "违约率" not in status and ". " not in status, status
    page.context.close()


def test_a_bad_as_of_is_refused_in_the_page_s_language_and_a_typed_offset_is_read(console) -> None:
    http = webkit.Http(console, "cust4")
    r = http.get("/queue?as_of=garbage&lang=zh_CN")
    assert r.status_code == 400 and "as_of：请写成" in r.text, r.text
    # said as a time that cannot be used, not as a page refused, with the way back to the page
    assert "“截至”时间无法使用" in r.text and "无法访问" not in r.text and 'href="/queue"' in r.text
    r = http.get("/queue?as_of=2099-01-01T00:00")
    assert r.status_code == 400 and "将来" in r.text
    earlier = (datetime.now(UTC) - timedelta(hours=3)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    r = http.get(f"/tickets/T4-run?as_of={earlier}+08:00")  # a + typed in the address arrives as a space
    assert r.status_code != 400, r.text


def test_what_is_not_there_or_not_yours_gets_the_one_not_found_page(console) -> None:
    http = webkit.Http(console, "cust4")
    http.get("/queue?lang=zh_CN")
    page = http.get("/tickets/NOPE-1")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    this_month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    for path in ("/statements/buyer-004/2026-13.pdf", f"/statements/buyer-004/{this_month}.html?contract=K-999",
                 f"/statements/buyer-000/{this_month}.html", "/tickets/NOPE-1/report.pdf",
                 "/tickets/T0-secret/report.pdf", "/nope",
                 # months no statement can state: after the views' evaluation time, before any fact
                 f"/statements/buyer-004/{int(this_month[:4]) + 5}-05.html", "/statements/buyer-004/1999-01.html"):
        r = http.get(path)
        assert (r.status_code, r.text) == (404, page.text), path
    assert "此地址没有您可查看的内容" in page.text, page.text
    assert http.get(f"/statements/buyer-004/{this_month}.html").status_code == 200


def test_a_chinese_statement_is_written_with_chinese_punctuation_and_amounts(console) -> None:
    http = webkit.Http(console, "cust4")
    http.get("/queue?lang=zh_CN")
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    text = http.get(f"/statements/buyer-004/{month}.html").text
    assert re.search(rf"{month}（\S+ 00:00 至 \S+ 24:00，北京时间）", text), text[:3000]
    assert "±0" not in text and " pp<" not in text and "¥0.00" in text
    more = st.WHERE_ALL["console"]
    assert "--format" not in more


def test_a_cut_list_in_the_console_points_to_the_download_not_a_cli_flag() -> None:
    assert "--format xlsx" not in st._more(st.LIST_ROWS + 1, "zh_CN", "console")
    assert "对账单" in st._more(st.LIST_ROWS + 1, "zh_CN", "console")
    # the CLI's statement is read by the customer, who has no command line: the workbook sent with it
    assert "--format" not in st._more(st.LIST_ROWS + 1, "zh_CN", "cli")
    assert "附带的 XLSX 对账单列出全部" in st._more(st.LIST_ROWS + 1, "zh_CN", "cli")


def test_near_a_deadline_the_time_left_is_written_in_seconds_never_0_min() -> None:
    from replay.i18n import texts

    en, zh = texts("en"), texts("zh_CN")
    assert (en.countdown(25), en.countdown(-25), en.countdown(-59)) == ("00:25", "overdue 00:25", "overdue 00:59")
    assert (en.countdown(3599), en.countdown(3600 + 59 * 60 + 59)) == ("59:59", "1 h 59 min")
    assert zh.countdown(-5410) == "已超时 1 小时 30 分钟"
    # long overdue: days and hours, not "9,991 h"
    assert (en.countdown(-(47 * 3600 + 59 * 60)), en.countdown(-(416 * 86400 + 7 * 3600 + 5))) == (
        "overdue 47 h 59 min", "overdue 416 d 7 h")
    assert zh.countdown(-(416 * 86400 + 7 * 3600)) == "已超时 416 天 7 小时"


def test_deadlines_a_few_days_off_keep_their_minutes_so_they_are_told_apart() -> None:
    from replay.i18n import texts

    en, zh = texts("en"), texts("zh_CN")
    # three deadlines 2 d and some minutes off were all "2 d 0 h" (dispatcher review, item 5)
    assert [en.countdown(2 * 86400 + m * 60 + 30) for m in (5, 25, 50)] == [
        "2 d 0 h 5 min", "2 d 0 h 25 min", "2 d 0 h 50 min"]
    assert zh.countdown(3 * 86400 + 4 * 3600 + 7 * 60) == "3 天 4 小时 7 分钟"
    assert en.countdown(8 * 86400 + 3 * 3600 + 59 * 60) == "8 d 3 h"  # from a week on: days and hours


def test_a_breached_clock_reads_red_on_its_ticket_page_and_the_asset_page_speaks_words(console, browser) -> None:
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4", lang="zh_CN")
    page.goto(f"{console.url}/tickets/T4-late")
    cell = page.locator('#clocks tr[data-clock="response"] td.state')
    assert cell.inner_text() == "已超时"
    assert cell.evaluate("td => getComputedStyle(td).color") == "rgb(179, 38, 30)"  # --bad, as in the queue
    proof = page.locator('a[href*="/proof"]')
    assert proof.count() == 0 or "下载证明文件" in proof.inner_text()
    page.goto(f"{console.url}/assets/A4")
    facts = page.inner_text("dl.facts")
    assert "类型" in facts and "camera" not in facts, facts  # the asset type in words, as the report says it
    page.goto(f"{console.url}/dashboard")
    assert "期末所在月份" in page.inner_text("#visits thead")  # not "month": a statement counts periods overlapping it
    page.context.close()


def test_an_as_of_time_before_the_first_recording_says_nothing_was_recorded_yet(console) -> None:
    # empty charts under "as the ledger knew it" read as "no tickets then": the banner says why
    http = webkit.Http(console, "cust4")
    r = http.get("/queue?as_of=2020-01-01T00:00&lang=zh_CN")
    assert r.status_code in (200, 202) and "该时刻账本尚无记录" in r.text, r.text[:2000]
    r = http.get("/queue?lang=zh_CN")
    assert "该时刻账本尚无记录" not in r.text


def test_an_empty_queue_says_that_no_clock_is_running(console, browser) -> None:
    """A queue with no row said nothing at all: a manager could not tell "nothing runs" from a
    page that failed to load. Before the first recording nothing ran; today clocks run."""
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4", lang="zh_CN")
    assert _rows(page) and not page.is_visible("#empty")
    page.goto(console.url + "/queue?as_of=2020-01-01T00:00:00Z")
    page.wait_for_selector("#queue", timeout=60_000)  # the as-of page waits for its replay first
    assert _rows(page) == []
    assert page.is_visible("#empty") and page.inner_text("#empty") == "目前没有正在计时的时限。"
    page.context.close()
