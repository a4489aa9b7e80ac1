"""The ticket page's paused column as a person reads it: the time between a resolution and its
reopening is not a pause (counting rule 9.1); it is said apart, as the dispute report says it
(replay/explanations.py pause_parts, target_adjusted). A reviewer found T-s7n3000-001124 of the
demo with "54 小时 41 分钟（2 天 6 小时 41 分钟）" paused and no wait recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import events as ev

from . import webkit

pytestmark = pytest.mark.slow


console = webkit.module_console
browser = webkit.module_browser


def _paused_cells(console, browser, ticket: str, lang: str) -> dict[str, str]:
    page = webkit.new_page(browser, console, [])
    webkit.sign_in(page, console, "cust4", lang)
    page.goto(f"{console.url}/tickets/{ticket}")
    cells = page.eval_on_selector_all("#clocks tbody tr", "rows => Object.fromEntries(rows.map(r => "
                                      "[r.dataset.clock, r.cells[5].innerText.trim()]))")
    page.context.close()
    return cells


def test_the_time_between_a_resolution_and_its_reopening_is_not_shown_as_paused(console, browser) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    desk = webkit.NamedDesk("desk:reopen")
    at = lambda minutes: webkit.iso(now - timedelta(minutes=minutes))  # noqa: E731
    console.record([desk.open("T4-reo", "A4", at(300)),
                    desk.fact(ev.TicketAcknowledged, "T4-reo", at(295)),
                    desk.fact(ev.TicketResolved, "T4-reo", at(240)),
                    desk.fact(ev.TicketReopened, "T4-reo", at(60))])
    console.relay()
    console.wait_position(console.ledger.position)
    cells = _paused_cells(console, browser, "T4-reo", "zh_CN")
    assert cells["resolution"] == "3 小时（解决至重新开启之间，不计）", cells
    assert _paused_cells(console, browser, "T4-reo", "en")["resolution"] == \
        "3 h between a resolution and its reopening, not counted"
