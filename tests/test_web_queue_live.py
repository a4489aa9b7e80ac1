"""Rows that reach the queue live (server-sent alerts) as a person sees them: written like the
rows the server rendered. The alerts are served to the page by the browser's router, so each
test says exactly what arrived; the page, its script and its console are real (tests/webkit.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.alerts import Alert
from adapters.web.app import _sse

from . import webkit

pytestmark = pytest.mark.slow


console = webkit.module_console
browser = webkit.module_browser


def _alert(ticket: str, deadline: datetime, state: str = "running") -> Alert:
    now = datetime.now(UTC).replace(microsecond=0)
    return Alert(customer="buyer-004", ticket=ticket, clock="resolution", state=state, n=1,
                 key=f"{ticket}:resolution:1:{state}", deadline=deadline, evaluated_at=now, breach_minutes=None,
                 contract="K-004", asset="A4", site="site-four", severity=None, technician=None,
                 paused_since=None, stopped_at=None)


def _queue_with(browser, console, alerts: list[Alert], lang: str = "zh_CN"):
    """The queue page of cust4, its live stream answering with these alerts."""
    page = webkit.new_page(browser, console, [])
    body = b"retry: 600000\n: connected\n\n" + b"".join(_sse(a) for a in alerts)
    page.route(re.compile(r".*/live\?.*"), lambda r: r.fulfill(
        status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}, body=body))
    webkit.sign_in(page, console, "cust4", lang)
    for a in alerts:
        page.wait_for_selector(f'tr[data-key="{a.ticket}|{a.clock}"]', timeout=10_000)
    return page


def test_a_live_deadline_at_the_end_of_a_day_is_that_day_s_24_00(console, browser) -> None:
    beijing = ZoneInfo("Asia/Shanghai")
    day = datetime.now(beijing).date() + timedelta(days=3)
    midnight = datetime(day.year, day.month, day.day, tzinfo=beijing) + timedelta(days=1)  # the end of `day`
    page = _queue_with(browser, console, [_alert("T4-day", midnight.astimezone(UTC)),
                                          _alert("T4-minute", (midnight + timedelta(minutes=1)).astimezone(UTC))])
    week = "一二三四五六日"  # the last day's weekday, as the server writes it (Texts.end, weekday=True)
    assert page.text_content('tr[data-key="T4-day|resolution"] td.deadline') == \
        f"{day.isoformat()} 周{week[day.weekday()]} 24:00"
    after = day + timedelta(days=1)
    assert page.text_content('tr[data-key="T4-minute|resolution"] td.deadline') == \
        f"{after.isoformat()} 周{week[after.weekday()]} 00:01"
    page.context.close()


def test_clocks_arriving_live_are_counted_and_an_overdue_one_is_styled_as_served_ones(console, browser) -> None:
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4", "zh_CN")
    served = int(page.get_attribute("#count", "data-total"))
    page.context.close()
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = [_alert(f"T4-live{n}", now + timedelta(hours=n + 1)) for n in range(4)]
    alerts.append(_alert("T4-liveover", now - timedelta(hours=2), state="breached"))
    page = _queue_with(browser, console, alerts)
    assert page.text_content("#count") == f"{served + 5} 个时限"
    # the served overdue row (T4-late's response) and the live one read alike: red and bold
    style = "el => [getComputedStyle(el).color, getComputedStyle(el).fontWeight]"
    page.wait_for_selector('tr[data-key="T4-liveover|resolution"].overdue', timeout=5_000)
    live = page.eval_on_selector('tr[data-key="T4-liveover|resolution"] td:first-child', style)
    assert live == page.eval_on_selector('tr[data-key="T4-late|response"] td:first-child', style)
    assert live != page.eval_on_selector('tr[data-key="T4-live0|resolution"] td:first-child', style)
    page.context.close()
