"""Recorded text is shown as recorded, never obeyed (issue 14, item 5): a NUL, an ANSI escape, a
carriage return, a newline or a bidi override in an actor, a technician or a description is
printed as a visible escape in tables (`ticket show`, `log`) and in the dispute reports; the
Markdown report also passes no raw HTML, link or image through. The texts come from a ledger
recorded before control characters were refused (tests/oldlog.py), and from free text that
may still hold markup."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig
from domain import events as ev
from replay.printable import printable

from .domainkit import Desk, local
from .oldlog import record_the_old_way

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ANSI = "desk\x1b[2J\x1b[31m"
BIDI = "li\u202etnemyap"
FORGED = "wang\r\n     9  TicketClosed  2025-10-01T10:00:00+08:00  boss"
MARKUP = ("<img src=x onerror=alert(1)> [click](javascript:alert(1)) ![logo](https://evil.example/x.png) "
          "<script>alert(2)</script> <https://evil.example>")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("printable") / "data"
    desk = Desk()
    app = Ledger.open(StoreConfig(folder))
    try:
        outcomes = app.execute_many([desk.contract("000"), desk.asset("A1"),
                                     desk.open("T1", "A1", "2025-10-01T09:00", description=MARKUP)], now=NOW)
        assert {o.status for o in outcomes} == {"recorded"}
        record_the_old_way(app, [
            ("ticket", ev.TicketAcknowledged(command_id="old-1", id="T1", occurred_at=local("2025-10-01T09:05"),
                                             actor=ANSI, customer="buyer-000")),
            ("ticket", ev.TechnicianDispatched(command_id="old-2", id="T1", occurred_at=local("2025-10-01T09:30"),
                                               actor="desk", customer="buyer-000", technician=BIDI)),
            ("ticket", ev.TechnicianArrived(command_id="old-3", id="T1", occurred_at=local("2025-10-01T11:00"),
                                            actor=FORGED, customer="buyer-000", technician="li\x00")),
        ])
    finally:
        app.close()
    assert main(["--data-dir", str(folder), "views", "rebuild", "--at", "2026-11-01T00:00+08:00"]) == 0
    return folder


def run(data: Path, *args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--data-dir", str(data), *args]) == 0
    return out.getvalue()


def test_printable_shows_controls_bidi_and_line_breaks_as_visible_escapes() -> None:
    assert printable(ANSI) == "desk\\x1b[2J\\x1b[31m"
    assert printable(BIDI) == "li\\u202etnemyap"
    assert printable("a\r\nb\tc\x00\x7f\x85\u2028") == "a\\r\\nb\\tc\\x00\\x7f\\x85\\u2028"
    assert printable("故障 café — ok") == "故障 café — ok"


def test_ticket_show_and_log_print_one_line_per_row_with_visible_escapes(data: Path) -> None:
    for out in (run(data, "ticket", "show", "T1"), run(data, "log", "--limit", "10")):
        assert "\x1b" not in out and "\u202e" not in out and "\x00" not in out and "\r" not in out
    show = run(data, "ticket", "show", "T1")
    assert "desk\\x1b[2J" in show and "li\\u202etnemyap" in show and "wang\\r\\n" in show
    # the newline forged no row: the forged text stays on its fact's line
    lines = show.splitlines()
    assert any("wang\\r\\n" in line and "boss" in line for line in lines)
    assert not any(line.lstrip().startswith("9  TicketClosed") for line in lines)


def test_ticket_show_words_each_fact_s_fields_as_the_dispute_report_does(data: Path) -> None:
    show = run(data, "--lang", "zh_CN", "ticket", "show", "T1")
    assert "故障等级: " in show and "设备: " in show  # field names in words, not `severity=normal`
    assert not re.search(r"\b(severity|asset_id|labour_fen|fault_category)\b", show)


def test_the_markdown_report_passes_no_html_link_or_image_through(data: Path) -> None:
    md = run(data, "--lang", "en", "explain", "T1", "--format", "md")
    assert "\x1b" not in md and "\u202e" not in md and "\x00" not in md
    html = MarkdownIt("commonmark").enable("table").render(md)  # raw HTML allowed, as most viewers do
    assert "<img" not in html and "<script" not in html and "javascript:" not in re.sub(r">[^<]*<", "><", html)
    assert not re.search(r'<a href="(?!evidence|\.\.)', html), "a link came from recorded text"
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, as text
    assert "desk\\x1b[2J" in html and "li\\u202etnemyap" in html
    timeline = html.split("<h2>Timeline</h2>")[1].split("</table>")[0]
    assert timeline.count("<tr>") == 1 + 4  # the header and the four events: the newline forged no row


def test_the_html_report_shows_escapes_and_markup_as_text(data: Path) -> None:
    page = run(data, "explain", "T1", "--format", "html")
    assert "\x1b" not in page and "\u202e" not in page and "\x00" not in page
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "desk\\x1b[2J" in page and "li\\u202etnemyap" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
