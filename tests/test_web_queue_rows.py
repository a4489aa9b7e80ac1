"""The queue's rows as the server writes them: a deadline at local midnight (a day-counted
period's end) is that day's 24:00, as the ticket page and reports write it (Texts.end, art. 203)."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from jinja2 import Environment, PackageLoader, select_autoescape

from adapters.web.app import queue_row


def _row(deadline: datetime, lang: str = "zh_CN") -> str:
    env = Environment(loader=PackageLoader("adapters.web", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    console = SimpleNamespace(env=env)
    gen = SimpleNamespace(piece=lambda _key, compute: compute())
    r = {"ticket": "T-1", "clock": "resolution", "deadline": deadline, "evaluated_at": datetime(2026, 12, 8, 0, 0),
         "paused_since": None, "state": "running", "contract": "K-1", "customer": "buyer-1", "site": "s",
         "technician": "", "severity": "P2", "asset": "A-1", "seconds_left": 3600, "at_risk_at": None}
    html = str(queue_row(console, gen, lang, {"K-1": "Asia/Shanghai"}, {}, datetime(2026, 12, 8, 0, 0))(r, ""))
    start = html.index('class="deadline">') + len('class="deadline">')
    return html[start:html.index("</td>", start)]


def test_a_deadline_at_the_end_of_a_day_is_that_day_s_24_00() -> None:
    # 2026-12-11 16:00 UTC is 2026-12-12 00:00 Beijing time: the end of 2026-12-11
    assert _row(datetime(2026, 12, 11, 16, 0)) == "2026-12-11 周五 24:00"  # with the last day's weekday
    assert _row(datetime(2026, 12, 11, 16, 0), "en") == "2026-12-11 Fri 24:00"
    assert _row(datetime(2026, 12, 11, 16, 1)) == "2026-12-12 周六 00:01"
    assert _row(datetime(2026, 12, 11, 9, 30)) == "2026-12-11 周五 17:30"
