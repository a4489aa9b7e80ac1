"""The queue as the supplier's service-desk dispatcher meets it (issue: dispatcher review): who a
ticket is assigned to, the weekday of a deadline, the calendar a clock counts on and whether it
counts now, a state that turns as its countdown passes its at-risk point and zero, and a page
that says so when its data stopped being current. A real headless Chromium against `serve`, a
real follower and nats-server (tests/webkit.py); the follower is stopped by the last test."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import events as ev
from domain.terms import load_contract_file

from . import webkit
from .domainkit import CONTRACTS

pytestmark = pytest.mark.slow
STALE_AFTER = 3  # serve --stale-after: the follower publishes its snapshot every 0.5 s here
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory):
    with webkit.running_console(tmp_path_factory.mktemp("dispatcher"), hostile=False,
                                serve_args=("--stale-after", str(STALE_AFTER))) as c:
        yield c


browser = webkit.module_browser


def _recorded(console, facts: list[ev.Fact]) -> None:
    """Recorded, relayed and in the follower's snapshot."""
    console.record(facts)
    console.relay()
    console.wait_position(console.ledger.position)


def _queue(browser, console, user: str = "sup4", lang: str = "en", live: bool = True, query: str = ""):
    page = webkit.new_page(browser, console, [])
    if not live:  # no alert reaches the page: what it shows is the page's own doing
        page.route(re.compile(r".*/live\?.*"), lambda r: r.fulfill(
            status=200, headers={"Content-Type": "text/event-stream"}, body=b"retry: 600000\n: connected\n\n"))
    webkit.sign_in(page, console, user, lang)
    if query:
        page.goto(f"{console.url}/queue?{query}")
    return page


def _state(page, key: str) -> str:
    return page.text_content(f'tr[data-key="{key}"] td.state .word')


def test_the_assignee_is_in_the_queue_its_filter_and_the_ticket_page(console, browser) -> None:
    desk = webkit.NamedDesk("desk:assign")
    now = datetime.now(UTC)
    _recorded(console, [desk.fact(ev.TicketReassigned, "T4-run", webkit.iso(now - timedelta(minutes=2)), assignee="eng-li"),
                        desk.fact(ev.TicketReassigned, "T4-run", webkit.iso(now - timedelta(minutes=1)), assignee="eng-wu")])
    page = _queue(browser, console)
    assert page.text_content('tr[data-key="T4-run|response"] td.assignee') == "eng-wu"  # the latest
    assert page.text_content('tr[data-key="T4-risk|response"] td.assignee') == ""
    page.select_option("select[name=assignee]", "eng-wu")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*assignee=eng-wu.*"))
    keys = page.eval_on_selector_all("#queue tbody tr", "rows => rows.map(r => r.dataset.key)")
    assert keys and {k.split("|")[0] for k in keys} == {"T4-run"}, keys
    assert page.text_content("#count") == f"{len(keys)} clocks"
    page.goto(f"{console.url}/queue?assignee=eng-wu&clock=response")
    assert page.text_content("#count") == "1 clock"  # not "1 clocks"
    page.goto(f"{console.url}/tickets/T4-run")
    assert page.text_content("#assignee") == "eng-wu"
    page.goto(f"{console.url}/tickets/T4-risk")
    assert page.text_content("#assignee") == "not assigned"
    # another customer's user does not see buyer-004's assignee among its filter's values
    other = _queue(browser, console, "cust0")
    assert "eng-wu" not in other.eval_on_selector_all("select[name=assignee] option", "os => os.map(o => o.value)")
    page.context.close()
    other.context.close()


def test_a_deadline_has_its_weekday_and_the_column_says_calendar_time(console, browser) -> None:
    page = _queue(browser, console)
    assert page.text_content("#queue thead th") == "calendar time to the deadline"
    row = page.query_selector('tr[data-key="T4-run|response"]')
    deadline = datetime.fromtimestamp(int(row.get_attribute("data-deadline")) / 1000, BEIJING)
    assert row.query_selector("td.deadline").text_content() == deadline.strftime("%Y-%m-%d %a %H:%M")
    assert row.query_selector("td.clock .cal").text_content() == "7×24"
    zh = _queue(browser, console, lang="zh_CN")
    weekday = "一二三四五六日"[deadline.weekday()]
    assert zh.text_content('tr[data-key="T4-run|response"] td.deadline') == \
        deadline.strftime("%Y-%m-%d") + f" 周{weekday} " + deadline.strftime("%H:%M")
    page.goto(f"{console.url}/tickets/T4-run")
    assert deadline.strftime("%Y-%m-%d %a %H:%M") in page.text_content('#clocks tr[data-clock="response"]')
    page.context.close()
    zh.context.close()


def test_a_clock_on_business_hours_says_its_hours_and_that_it_is_not_counting_now(console, browser) -> None:
    now = datetime.now(BEIJING)
    # an opening window that is not now: two hours on (or from 01:00, late in the day)
    start = now.replace(minute=0) + timedelta(hours=2)
    if start.date() != now.date() or start.hour > 21:
        start = now.replace(hour=1, minute=0)
    hours = [start.strftime("%H:%M"), (start + timedelta(hours=1)).strftime("%H:%M")]
    d = load_contract_file(str(CONTRACTS / "seed-004.toml"))
    terms = {**d["terms"], "calendars": {"office": {"kind": "business_hours", "hours": [hours]}}}
    terms["clocks"] = {sev: {name: {**clock, "calendar": "office"} for name, clock in clocks.items()}
                       for sev, clocks in terms["clocks"].items()}
    desk = webkit.NamedDesk("desk:office")
    _recorded(console, [
        ev.ContractRegistered(command_id="desk:office-k9", id="K-009", occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
                              actor="desk:office", supplier=d["supplier"], customer_id="buyer-004", terms=terms),
        desk.asset("A9", contract="K-009", customer="buyer-004", site="site-nine"),
        desk.open("T9-office", "A9", webkit.iso(datetime.now(UTC) - timedelta(minutes=1)))])
    page = _queue(browser, console, live=False)
    row = 'tr[data-key="T9-office|response"]'
    assert page.text_content(f"{row} td.clock .cal") == f"business hours {hours[0]}–{hours[1]}"
    note = page.text_content(f"{row} td.state .cal.now")
    assert re.fullmatch(rf"not counting \(outside business hours\), resumes \d{{4}}-\d\d-\d\d \w{{3}} {hours[0]} · "
                        r"working time left 1 h", note), note
    assert page.text_content(f"{row} td.left") != "", "the calendar time to the deadline is still shown"
    page.goto(f"{console.url}/tickets/T9-office")  # the ticket page names each clock's calendar too
    assert page.text_content('#clocks tr[data-clock="response"] td.clock .cal') == f"business hours {hours[0]}–{hours[1]}"
    page.context.close()


def test_a_countdown_turns_its_state_at_risk_then_breached_in_the_browser(console, browser) -> None:
    desk = webkit.NamedDesk("desk:soon")
    now = datetime.now(UTC)
    # seed 004 answers within 1 h, at risk at 80 % (48 min): at risk in ~12 s; overdue in ~12 s
    _recorded(console, [desk.open("T4-soon-risk", "A4", webkit.iso(now - timedelta(minutes=48) + timedelta(seconds=12))),
                        desk.open("T4-soon-late", "A4", webkit.iso(now - timedelta(minutes=60) + timedelta(seconds=12)))])
    page = _queue(browser, console, live=False)  # no alert from the follower turns them
    risk, late = "T4-soon-risk|response", "T4-soon-late|response"
    assert _state(page, risk) == "running"
    assert _state(page, late) == "at risk"
    page.wait_for_selector(f'tr[data-key="{risk}"].at_risk', timeout=30_000)
    assert _state(page, risk) == "at risk"
    page.wait_for_selector(f'tr[data-key="{late}"].breached', timeout=30_000)
    assert _state(page, late) == "breached"
    assert page.text_content(f'tr[data-key="{late}"] td.left').startswith("overdue")
    assert "breached" in page.get_attribute(f'tr[data-key="{late}"]', "class")
    page.context.close()


def test_a_page_filtered_by_assignee_takes_the_alerts_of_its_rows(console, browser) -> None:
    """Alerts carry no assignee: they were all dropped for a page filtered by one, whose rows then
    froze, and the countdown turned a clock answered minutes before at risk, then breached. The
    page now takes them for the rows it shows (an answered clock leaves) and adds none."""
    desk = webkit.NamedDesk("desk:assigned")
    now = datetime.now(UTC)
    _recorded(console, [desk.open("T4-mine", "A4", webkit.iso(now - timedelta(minutes=5))),
                        desk.fact(ev.TicketReassigned, "T4-mine", webkit.iso(now - timedelta(minutes=4)),
                                  assignee="eng-mine")])
    page = _queue(browser, console, query="assignee=eng-mine")
    key = "T4-mine|response"
    page.wait_for_selector(f'tr[data-key="{key}"]')
    page.wait_for_selector("#live.on", timeout=15_000)  # the stream is open
    _recorded(console, [desk.fact(ev.TicketAcknowledged, "T4-mine", webkit.iso(datetime.now(UTC)))])
    page.wait_for_selector(f'tr[data-key="{key}"]', state="detached", timeout=20_000)
    page.context.close()


def test_the_live_stream_stays_open_across_its_status_beats(console) -> None:
    """Each beat (5 s) says whether the data is current; it used to end the stream, so the page
    reconnected and showed "reconnecting…" at every beat."""
    import threading

    lines: list[str] = []
    stop = threading.Event()

    def read() -> None:
        with webkit.Http(console, "cust4").stream("/live") as r:
            for line in r.iter_lines():
                lines.append(line)
                if stop.is_set():
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(12)
    stop.set()
    statuses = [json.loads(b[6:]) for a, b in zip(lines, lines[1:], strict=False) if a == "event: status"]
    assert len(statuses) >= 3 and all(s == {"stale": False, "text": ""} for s in statuses), lines
    assert lines.count(": connected") == 1, lines


def _health(console) -> dict:
    with urllib.request.urlopen(console.url + "/healthz", timeout=5) as r:
        return json.loads(r.read())


def test_with_the_follower_stopped_every_page_says_the_data_is_not_current(console, browser) -> None:
    page = _queue(browser, console)
    page.wait_for_selector("#live.on", timeout=15_000)
    assert page.is_hidden("#stale")
    health = _health(console)
    assert health["live"] is True and health["stale"] is False and health["views_behind"] is None
    follower = console.procs[0]
    follower.send_signal(signal.SIGKILL)
    follower.wait(10)
    views = console.views("SELECT max(position) FROM checkpoint")[0][0]
    desk = webkit.NamedDesk("desk:urgent")
    console.record([desk.open("T4-urgent", "A4", webkit.iso(datetime.now(UTC)), severity="major")])
    console.relay()
    # within stale_after, a look (2 s) and a status event (5 s)
    page.wait_for_selector("#stale:not([hidden])", timeout=20_000)
    text = page.text_content("#stale")
    assert "Data not current" in text and f"The views are at position {views}, the log at {console.ledger.position}" in text
    assert page.text_content("#live") == "not live: data not current"
    assert page.query_selector('tr[data-key="T4-urgent|response"]') is None
    health = _health(console)
    assert health["live"] is False and health["stale"] is True
    assert health["views_behind"] == {"views_position": views, "log_position": console.ledger.position}
    for path in ("/queue", "/dashboard", "/statements", "/tickets/T4-run"):  # every page, as served
        page.goto(console.url + path)
        assert "Data not current" in page.text_content("#stale"), path
    # and once the follower is unheard for a while (no pull request on its consumer)
    deadline = time.monotonic() + 60
    while _health(console)["follower_silent_seconds"] is None:
        assert time.monotonic() < deadline, _health(console)
        time.sleep(1)
    page.goto(console.url + "/queue")
    assert "has not been heard from" in page.text_content("#stale")
    # a customer is told the data is not current, not which of the supplier's processes to check
    customer = _queue(browser, console, "cust0")
    said = customer.text_content("#stale")
    assert "Data not current" in said and "views follow" not in said and "position" not in said
    customer.context.close()
    page.context.close()


