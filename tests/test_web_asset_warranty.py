"""The asset page says why its warranty ends when it does: downtime only where the contract
extends for it, and by the amount it did; the rest-day rule (art. 203) where that moved the end.
A reviewer found "extended by 66 h 32 min of downtime" on a contract that extends for none."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from adapters.web import queries
from adapters.web.app import ROLE_NAMES
from adapters.web.scope import Scope
from projections import open_views
from replay.i18n import LANGS, recorded_word, texts, word
from replay.printable import printable

CUSTOMER = Scope("cust", "customer", None, frozenset({"buyer-1"}))
BASE_END = datetime(2027, 2, 20, 16, 0)  # 2027-02-20 24:00 Beijing time, a Saturday


def _views(path: Path):
    con = open_views(str(path))
    con.executemany("INSERT INTO terms (contract, version, customer, warranty_extended_by_downtime, rest_day_rule) "
                    "VALUES (?, 1, 'buyer-1', ?, true)", [("K-plain", False), ("K-ext", True)])
    rows = [  # asset, contract, downtime minutes, warranty end as the views computed it
        ("A-same", "K-plain", 3992.467, datetime(2026, 2, 13, 16, 0), datetime(2026, 2, 13, 16, 0)),
        ("A-restday", "K-plain", 5126.483, BASE_END, BASE_END + timedelta(days=2)),
        ("A-ext", "K-ext", 90.0, datetime(2026, 3, 10, 16, 0), datetime(2026, 3, 10, 17, 30)),
    ]
    con.executemany("INSERT INTO warranty (asset, contract, contract_version, customer, downtime_minutes, base_end, "
                    "warranty_end) VALUES (?, ?, 1, 'buyer-1', ?, ?, ?)",
                    [(a, k, d, base, end) for a, k, d, base, end in rows])
    return con


def _page(con, asset: str, lang: str) -> str:
    env = Environment(loader=PackageLoader("adapters.web", "templates"), autoescape=select_autoescape(["html"]))
    t = texts(lang)
    data = queries.asset_page(con, CUSTOMER, asset)
    html = env.get_template("asset.html").render(
        _=t, t=t, lang=lang, langs=LANGS, user=None, word=functools.partial(word, lang),
        recorded=functools.partial(recorded_word, lang), p=printable, before_first="",
        tz="Asia/Shanghai", as_of="", csrf="", path="/assets", qs=lambda **_: "", keep="", keep_amp="",
        ms=str, role_names=ROLE_NAMES, filters={}, asset=asset, rtz="Asia/Shanghai", **data)
    return html


def _warranty_line(con, asset: str, lang: str) -> str:
    html = _page(con, asset, lang)
    start = html.index('id="warranty-end">') + len('id="warranty-end">')
    return html[start:html.index("</dd>", start)]


def test_the_asset_page_claims_no_downtime_extension_the_contract_does_not_give(tmp_path: Path) -> None:
    con = _views(tmp_path / "views.duckdb")
    assert _warranty_line(con, "A-same", "zh_CN") == "2026-02-13 24:00 北京时间"
    assert _warranty_line(con, "A-same", "en") == "2026-02-13 24:00 Beijing time"
    con.close()


def test_the_asset_page_names_the_rest_day_rule_when_it_moved_the_end(tmp_path: Path) -> None:
    con = _views(tmp_path / "views.duckdb")
    en = _warranty_line(con, "A-restday", "en")
    assert en.startswith("2027-02-22 24:00 Beijing time")
    assert "2027-02-20 24:00" in en and "rest day" in en and "art. 203" in en
    assert "downtime" not in en
    zh = _warranty_line(con, "A-restday", "zh_CN")
    assert "休息日" in zh and "停机" not in zh, zh
    assert "（" in zh and "(" not in zh.replace("(art.", ""), zh  # a Chinese note in full-width brackets
    con.close()


def test_the_asset_page_says_the_downtime_the_contract_added(tmp_path: Path) -> None:
    con = _views(tmp_path / "views.duckdb")
    assert _warranty_line(con, "A-ext", "en") == "2026-03-11 01:30 Beijing time (extended by 1 h 30 min of downtime)"
    assert "rest day" not in _warranty_line(con, "A-ext", "en")
    con.close()


def test_the_asset_page_shows_an_undetermined_payer_with_its_value_not_zero(tmp_path: Path) -> None:
    """A ticket no payer rule decides read "¥0.00 | ¥0.00" on the asset page, while the dashboard,
    the statement and the report said "payer undetermined, ¥185.00"."""
    con = _views(tmp_path / "v.duckdb")
    con.execute("INSERT INTO liability (ticket, asset, contract, customer, reported_at, coverage, cause, "
                "customer_pays_fen, supplier_pays_fen, parts_value_fen, labour_value_fen) VALUES "
                "('T-U', 'A-same', 'K-plain', 'buyer-1', '2025-04-04 02:00', 'pre_acceptance', 'quality', "
                "NULL, NULL, 8500, 10000)")
    html = _page(con, "A-same", "zh_CN")
    row = html[html.index("T-U"):]
    row = row[:row.index("</tr>")]
    assert "未确定：涉及配件和人工 ¥185.00" in row and "¥0.00" not in row, row
