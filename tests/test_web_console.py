"""The web console as its users meet it: a real headless Chromium against `ticketledger serve`,
beside a real follower and nats-server on a real ledger (tests/webkit.py)."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.web import queries
from adapters.web.scope import Scope
from domain import events as ev

from . import webkit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory):
    with webkit.running_console(tmp_path_factory.mktemp("console")) as c:
        yield c


browser = webkit.module_browser


def left_ms(page, key: str) -> float:
    return float(page.get_attribute(f'tr[data-key="{key}"] td.left', "data-ms"))


@pytest.mark.parametrize("user,sees,hidden", [
    ("sup4", ["T4-run|response", "T4-risk|response", "T4-wait|resolution"], ["T0-run|response"]),
    ("cust4", ["T4-run|response", "T4-wait|resolution"], ["T0-run|response", "T0-secret|response"]),
    ("arb0", ["T0-run|response", "T0-secret|response"], ["T4-run|response"]),
])
def test_each_role_signs_in_and_sees_its_queue_count_down(console, browser, user, sees, hidden) -> None:
    offsite: list[str] = []
    page = webkit.new_page(browser, console, offsite)
    webkit.sign_in(page, console, user)
    keys = page.eval_on_selector_all("#queue tbody tr", "rows => rows.map(r => r.dataset.key)")
    assert set(sees) <= set(keys), keys
    assert not set(hidden) & set(keys)
    running = sees[0]
    first = left_ms(page, running)
    page.wait_for_timeout(2100)
    assert 1500 < first - left_ms(page, running) < 3500, "the countdown did not move with the clock"
    if "T4-wait|resolution" in sees:  # a pausing wait is open: the countdown stands still
        paused = left_ms(page, "T4-wait|resolution")
        page.wait_for_timeout(1100)
        assert left_ms(page, "T4-wait|resolution") == paused
        assert "paused" in page.text_content('tr[data-key="T4-wait|resolution"] td.state')
    times = [left_ms(page, k) for k in keys]
    assert times == sorted(times), "the queue is not sorted by time left"
    assert offsite == []
    page.context.close()


def test_an_event_recorded_while_the_page_is_open_appears_without_reload(console, browser) -> None:
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4")
    page.wait_for_selector("#live.on", timeout=10_000)
    desk = webkit.NamedDesk("desk:live")
    # within 2 s of the relay; on a shared 2-core machine one try may lose the CPU for a while,
    # so the best of three new tickets counts (every try must still arrive)
    took = []
    for n in range(3):
        console.record([desk.open(f"T4-new{n}", "A4", webkit.iso(datetime.now(UTC) - timedelta(seconds=30)))])
        console.relay()
        relayed = time.monotonic()
        page.wait_for_selector(f'tr[data-key="T4-new{n}|response"]', timeout=10_000)
        took.append(time.monotonic() - relayed)
        if took[-1] < 2.0:
            break
    assert min(took) < 2.0, f"a new clock took {took} s to appear"
    n = len(took) - 1
    # an acknowledgement stops the response clock: the row leaves the queue, still without reload
    console.record([desk.fact(ev.TicketAcknowledged, f"T4-new{n}", webkit.iso(datetime.now(UTC)))])
    console.relay()
    page.wait_for_selector(f'tr[data-key="T4-new{n}|response"]', state="detached", timeout=10_000)
    # a clock that is breached from its first alert and still running comes in as overdue; when
    # it stops late, its breach alert takes it out of the queue
    console.record([desk.open("T4-overdue", "A4", webkit.iso(datetime.now(UTC) - timedelta(hours=2)))])
    console.relay()
    page.wait_for_selector('tr[data-key="T4-overdue|response"].breached', timeout=10_000)
    console.record([desk.fact(ev.TicketAcknowledged, "T4-overdue", webkit.iso(datetime.now(UTC)))])
    console.relay()
    page.wait_for_selector('tr[data-key="T4-overdue|response"]', state="detached", timeout=10_000)
    # another customer's new ticket never reaches this page
    console.record([desk.open("T0-new", "A0", webkit.iso(datetime.now(UTC)))])
    console.relay()
    page.wait_for_timeout(1500)
    assert page.query_selector('tr[data-key="T0-new|response"]') is None
    page.context.close()


def _marks(page, chart: str) -> list[str]:
    page.wait_for_selector(f'#chart-{chart}[data-rendered="yes"]', timeout=20_000)
    labels = page.eval_on_selector_all(f"#chart-{chart} svg [aria-roledescription][aria-label]",
                                       "els => els.map(e => e.getAttribute('aria-label'))")
    return [x for x in labels if ": " in x and "; " in x]  # the marks' own descriptions, not axes


def test_charts_render_with_the_numbers_of_the_views(console, browser) -> None:
    offsite: list[str] = []
    page = webkit.new_page(browser, console, offsite)
    complaints: list[str] = []  # what the browser's console says went wrong (a CSP refusal, a script error)
    page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    webkit.sign_in(page, console, "sup4")
    page.goto(f"{console.url}/dashboard")
    by_customer = _marks(page, "by-customer")
    want = console.views("""SELECT customer, clock, count(*) FILTER (WHERE state = 'breached')
                                / count(*) FILTER (WHERE state <> 'not_applicable')
                            FROM sla_clocks WHERE contract = 'K-004' GROUP BY ALL
                            HAVING count(*) FILTER (WHERE state <> 'not_applicable') > 0""")
    from replay.i18n import word

    drawn = {}
    for label in by_customer:
        fields = dict(part.split(": ", 1) for part in label.split("; "))
        drawn[(fields["customer"], fields["clock"])] = fields["breach rate"]
    assert drawn, by_customer
    assert {k: float(v.rstrip("%")) for k, v in drawn.items()} == {
        (cu, word("en", "clock", cl)): round(r * 100, 1) for cu, cl, r in want}
    assert any(r > 0 for *_, r in want), "the world should hold a breach"
    money = _marks(page, "money")
    assert money and all("¥" in m for m in money)
    for chart in ("by-month", "by-site", "visits"):
        page.wait_for_selector(f'#chart-{chart}[data-rendered="yes"]', timeout=20_000)
    assert offsite == [], "the dashboard asked another host for something"
    assert complaints == [], complaints
    page.context.close()


def test_the_ticket_page_is_the_dispute_report_that_explain_writes(console, browser, tmp_path: Path) -> None:
    import shutil

    desk = webkit.NamedDesk("desk:done")
    t0 = datetime.now(UTC) - timedelta(hours=5)
    console.record([desk.open("T4-done", "A4", webkit.iso(t0)),
                    desk.fact(ev.TicketAcknowledged, "T4-done", webkit.iso(t0 + timedelta(minutes=10))),
                    desk.fact(ev.TechnicianDispatched, "T4-done", webkit.iso(t0 + timedelta(minutes=20)), technician="li"),
                    desk.fact(ev.TechnicianArrived, "T4-done", webkit.iso(t0 + timedelta(minutes=90)), technician="li"),
                    desk.fact(ev.TicketResolved, "T4-done", webkit.iso(t0 + timedelta(hours=3)))])
    console.relay()
    console.wait_position(console.ledger.position)
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4")
    page.goto(f"{console.url}/tickets/T4-done")
    states = page.eval_on_selector_all("#clocks tbody tr", "rs => rs.map(r => r.dataset.clock + ':' + r.className)")
    frame = page.frame_locator("#report")
    shown = frame.locator("body").inner_text()
    snap = tmp_path / "views.duckdb"
    shutil.copy(console.data / "views-snapshot.duckdb", snap)
    done = webkit.cli(console.data, "--lang", "en", "explain", "T4-done", "--format", "html", "--views", str(snap),
                      "--out", str(tmp_path / "T4-done.html"))
    assert done.returncode == 0, done.stderr
    page.set_content((tmp_path / "T4-done.html").read_text())
    written = page.inner_text("body")

    def stable(text: str) -> str:  # the evaluation time moves with the follower; nothing else may differ
        return re.sub(r"evaluated at \S+ \S+", "", text)

    assert stable(shown) == stable(written)
    assert "response:met" in states and "arrival:met" in states
    page.context.close()


def test_a_customer_dashboard_is_the_same_query_filtered_to_that_customer(console) -> None:
    import duckdb

    con = duckdb.connect(str(console.data / "views-snapshot.duckdb"), read_only=True)
    try:
        customer = Scope("cust4", "customer", None, frozenset({"buyer-004"}))
        both = Scope("arb", "arbitrator", frozenset({"K-000", "K-004"}), None)
        assert queries.dashboard(con, customer, {}) == queries.dashboard(con, both, {"customer": "buyer-004"})
        assert queries.dashboard(con, both, {}) != queries.dashboard(con, customer, {})
    finally:
        con.close()


def _download(page, link: str, to: Path) -> Path:
    with page.expect_download() as info:
        page.click(link)
    info.value.save_as(to)
    return to


def test_statements_download_as_xlsx_with_the_same_totals(console, browser, tmp_path: Path) -> None:
    import openpyxl

    offsite: list[str] = []
    page = webkit.new_page(browser, console, offsite)
    webkit.sign_in(page, console, "cust4")
    page.goto(f"{console.url}/statements")
    rows = page.eval_on_selector_all("#statements tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    assert rows and {r[1] for r in rows} == {"buyer-004"}, rows  # only its own customer
    month, _customer, contract, tickets = rows[0][:4]
    row = '#statements tbody tr:nth-child(1) a[data-format="xlsx"]'
    xlsx = _download(page, row, tmp_path / "statement.xlsx")
    pdf = _download(page, row.replace("xlsx", "pdf"), tmp_path / "statement.pdf")
    # the statement as the page shows it: the HTML the console serves for the same month
    html = page.request.get(f"{console.url}/statements/buyer-004/{month}.html?contract={contract}")
    assert html.status == 200 and "buyer-000" not in html.text()
    # one contract's statement is named apart from the customer's whole one
    assert f'filename="statement-buyer-004-{contract}-{month}.html"' in html.headers["content-disposition"]
    page.set_content(html.text())
    breached, applicable = (int(x) for x in page.inner_text("table.summary tbody tr:nth-child(1) td").split(" / "))
    shown_pays = page.inner_text("table.summary tbody tr:nth-child(3) td")

    book = openpyxl.load_workbook(xlsx, data_only=True)
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2)}
    assert (summary["Clocks breached"], summary["Clocks applicable"]) == (breached, applicable)
    assert f"¥{summary['The customer pays']:,.2f}" == shown_pays
    money = [r for r in book["Money"].iter_rows(min_row=2, values_only=True) if r[0]]
    total = next(r for r in money if r[0] == "Total")
    assert total[3] == summary["The customer pays"] and total[4] == summary["Borne by the supplier (at quoted price)"]
    assert len([r for r in money if r[0] != "Total"]) == int(tickets)
    # and the views agree: a customer's statement counts its own clocks of that month
    ((views_breached, views_applicable),) = console.views(
        "SELECT count(*) FILTER (WHERE state = 'breached'), count(*) FILTER (WHERE state <> 'not_applicable') "
        "FROM sla_clocks WHERE customer = 'buyer-004' AND month = ?", [month])
    assert (breached, applicable) == (views_breached, views_applicable) and breached >= 1
    text = webkit.pdf_text(pdf)
    assert "buyer-004" in text and "buyer-000" not in text
    assert set(webkit.pdf_page_sizes(pdf)) == {webkit.A4_PTS}
    assert not offsite
    page.context.close()


def test_the_ticket_pdf_downloads_with_a4_pages(console, browser, tmp_path: Path) -> None:
    offsite: list[str] = []
    page = webkit.new_page(browser, console, offsite)
    webkit.sign_in(page, console, "cust4")
    page.goto(f"{console.url}/tickets/T4-late")
    pdf = _download(page, 'a[href$="/report.pdf"]', tmp_path / "T4-late.pdf")
    pages = webkit.pdf_text(pdf).split("\f")[:-1]
    assert pages and set(webkit.pdf_page_sizes(pdf)) == {webkit.A4_PTS}, webkit.pdf_page_sizes(pdf)
    assert "T4-late" in pages[0] and "buyer-000" not in "".join(pages)
    # the proof link is offered only when the ledger keeps a tree; the route says why it cannot
    r = page.request.get(f"{console.url}/tickets/T4-late/proof")
    assert r.status == 501 and "proofs not available on this ledger" in r.text()
    assert not offsite
    page.context.close()



def test_once_the_log_is_signed_a_ticket_proof_downloads_and_verifies_offline(console, browser, tmp_path: Path) -> None:
    # last in this module: it gives the console's ledger a log key, a tree and a checkpoint
    done = webkit.cli(console.data, "init")
    assert done.returncode == 0, done.stderr
    done = webkit.cli(console.data, "--lang", "en", "checkpoint")  # without --lang: the ledger's (Chinese)
    assert done.returncode == 0, done.stderr
    vkey = re.search(r"verifier key (\S+)", done.stderr).group(1)
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4")
    page.goto(f"{console.url}/tickets/T4-late")
    proof = _download(page, 'a[href*="/proof"]', tmp_path / "T4-late-proof.json")
    page.context.close()
    checked = webkit.cli(tmp_path / "no-data-here", "proof", "verify", str(proof), "--log-key", vkey)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "proof holds" in checked.stdout
    # one byte of a cited event changed: the customer's offline check names it
    ev = json.loads(proof.read_text())
    raw = bytearray(base64.b64decode(ev["events"][0]["stored_b64"]))
    raw[len(raw) // 2] ^= 0x01
    ev["events"][0]["stored_b64"] = base64.b64encode(bytes(raw)).decode()
    (tmp_path / "altered.json").write_text(json.dumps(ev))
    checked = webkit.cli(tmp_path / "no-data-here", "proof", "verify", str(tmp_path / "altered.json"), "--log-key", vkey)
    assert checked.returncode != 0 and str(ev["events"][0]["leaf"]["position"]) in checked.stdout, checked.stdout


def test_on_a_phone_the_pages_keep_the_screen_s_width_and_ids_stay_on_one_line(console, browser) -> None:
    offsite: list[str] = []
    page = webkit.new_page(browser, console, offsite)
    page.set_viewport_size({"width": 390, "height": 844})
    webkit.sign_in(page, console, "sup4")
    for path in ("/queue", "/dashboard"):
        page.goto(f"{console.url}{path}")
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, (path, wide)  # the page does not scroll sideways: its tables do
    page.goto(f"{console.url}/queue")
    link = page.locator("#queue tbody tr td:nth-child(2) a").first
    box, line = link.bounding_box(), page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#queue tbody td')).lineHeight)")
    assert box["height"] < 1.5 * line, box  # a ticket id on one line, not broken at its hyphens
    page.context.close()
