"""What people read: every marked message has its Chinese translation, amounts in yuan, times in
the contract's zone, a period's end at 24:00 of its last day (replay/i18n.py)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from replay.i18n import LOCALE_DIR, resolve_lang, texts, word

ROOT = Path(__file__).resolve().parent.parent
# the keywords of `make i18n` (Makefile: I18N_KEYWORDS)
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "NP_": ((1, "c"), 2), "plural": (1, 2)}


def marked_messages() -> set[tuple[str | None, str]]:
    found = set()
    for package in ("domain", "projections", "replay", "adapters"):
        # the web console's templates too (babel.cfg: [jinja2: **/templates/**.html])
        for _file, _line, message, _comments, context in extract_from_dir(
                ROOT / package, [("**.py", "python"), ("**/templates/**.html", "jinja2")], keywords=KEYWORDS):
            first = message[0] if isinstance(message, tuple) else message
            found.add((context, first))
    return found


def test_every_message_marked_for_people_has_its_chinese_translation() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "ticketledger.po").open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    translated = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m.string
                  for m in catalog if m.id}
    missing = sorted((c or "", m) for c, m in marked_messages() if not translated.get((c, m)))
    assert not missing, f"run `make i18n` and translate these in the zh_CN catalog: {missing}"
    for (_context, msgid), text in translated.items():
        # a translation names exactly the fields of its message (a missing or misspelt one fails
        # at format time, in front of the reader)
        string = text if isinstance(text, str) else text[0]
        assert set(re.findall(r"{(\w+)}", string)) == set(re.findall(r"{(\w+)}", msgid)), msgid


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_amounts_are_yuan_with_two_decimals_in_both_languages(lang: str) -> None:
    t = texts(lang)
    assert t.money(113000) == "¥1,130.00"
    assert t.money(5) == "¥0.05"
    assert t.money(-1234) == "-¥12.34"
    assert t.money(None) == ""


def test_a_period_ending_at_local_midnight_is_written_as_24_00_of_its_last_day() -> None:
    t = texts("en")
    # 2025-10-09T16:00Z is midnight in Beijing: the warranty runs to the end of 9 October there
    assert t.end(datetime(2025, 10, 9, 16, 0, tzinfo=UTC), "Asia/Shanghai") == "2025-10-09 24:00"
    assert t.end("2025-10-09T16:00:00Z", "Asia/Shanghai", zone=True) == "2025-10-09 24:00 Beijing time"
    assert t.time("2025-10-09T16:00:00Z", "Asia/Shanghai") == "2025-10-10 00:00"  # a start stays 00:00
    assert t.end("2025-10-09T10:30:00Z", "Asia/Shanghai") == "2025-10-09 18:30"  # close of business


def test_times_are_local_with_the_zone_named_in_the_reader_s_language() -> None:
    reported = "2025-06-19T03:59:01Z"
    assert texts("zh_CN").time(reported, "Asia/Shanghai", zone=True) == "2025-06-19 11:59 北京时间"
    assert texts("en").time(reported, "Asia/Shanghai", zone=True) == "2025-06-19 11:59 Beijing time"
    assert texts("en").time(reported, "Europe/Berlin") == "2025-06-19 05:59"
    # DuckDB hands back naive UTC timestamps
    assert texts("en").time(datetime(2025, 6, 19, 3, 59), "Asia/Shanghai") == "2025-06-19 11:59"
    # a desk's fixed-offset zone: Etc/GMT+3 is three hours behind UTC (POSIX signs), and its CLDR
    # label "Unknown Region (GMT+3) Time" read the other way put every time 6 h off
    assert texts("en").time(reported, "Etc/GMT+3", zone=True) == "2025-06-19 00:59 UTC−03:00"
    assert texts("zh_CN").zone_name("Etc/GMT-8") == "UTC+08:00"


def test_durations_in_hours_and_minutes_rounded_to_the_minute() -> None:
    assert texts("en").duration(341.6) == "5 h 42 min"
    assert texts("zh_CN").duration(341.6) == "5 小时 42 分钟"
    assert texts("en").duration(45) == "45 min"
    assert texts("en").duration(60 * 1234) == "1,234 h (51 d 10 h)"
    assert texts("en").duration(-90) == "-1 h 30 min"
    # a breach of 20 seconds is a breach: it does not read "breached by 0 min"
    assert texts("en").duration(20 / 60) == "under 1 min"
    assert texts("zh_CN").duration(20 / 60) == "不足 1 分钟"
    assert texts("en").duration(0) == "0 min"


def test_durations_from_two_days_drop_zero_parts_and_keep_the_sign_on_both_forms() -> None:
    assert texts("zh_CN").duration(72 * 60 + 36) == "72 小时 36 分钟（3 天 36 分钟）"
    assert texts("en").duration(48 * 60 + 5) == "48 h 5 min (2 d 5 min)"
    assert texts("en").duration(49 * 60 + 5) == "49 h 5 min (2 d 1 h 5 min)"
    assert texts("zh_CN").duration(-(48 * 60 + 5)) == "-48 小时 5 分钟（-2 天 5 分钟）"


def test_codes_of_the_views_are_words_of_the_reader_s_language() -> None:
    assert word("zh_CN", "clock", "arrival") == "到达现场"
    assert word("en", "clock", "arrival") == "on-site arrival"
    assert word("zh_CN", "state", "at_risk") == "临近超时"
    assert word("zh_CN", "coverage", "warranty") == "质保期内"
    assert word("zh_CN", "clock", "something_new") == "something_new"  # unknown codes shown as they are


def test_language_asked_for_then_the_contract_s_then_the_system_s() -> None:
    assert resolve_lang("en", timezone="Asia/Shanghai") == "en"
    assert resolve_lang(None, timezone="Asia/Shanghai", environ={"LANG": "en_US.UTF-8"}) == "zh_CN"
    assert resolve_lang(None, timezone="Europe/Berlin", environ={"LANG": "en_US.UTF-8"}) == "en"
    assert resolve_lang(None, environ={"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert resolve_lang(None, environ={"LC_ALL": "C"}) == "en"
    assert resolve_lang(None, environ={}) == "en"
    with pytest.raises(ValueError, match="zh_CN or en"):
        resolve_lang("fr")


def test_a_contract_s_periods_as_its_terms_write_them() -> None:
    assert texts("en").period(36, "hours") == "36 hours"
    assert texts("en").period(1, "hours") == "1 hour"
    assert texts("zh_CN").period(3, "working_days") == "3 个工作日"
    assert texts("zh_CN").period(12, "months") == "12 个月"
    assert texts("en").period(None, "hours") == ""


def test_the_compiled_catalog_kept_beside_the_po_follows_an_edited_po(tmp_path: Path) -> None:
    # the .po is compiled once and the bytes kept in __pycache__ (i18n._compiled); an edit of the
    # .po must be read at once, not the old compiled catalog
    import io
    import os

    from babel.support import Translations

    from replay.i18n import DOMAIN, _compiled

    po = tmp_path / "ticketledger.po"
    text = (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "ticketledger.po").read_text(encoding="utf-8")
    po.write_text(text, encoding="utf-8")
    first = _compiled(po, "zh_CN")
    assert [p.name for p in (tmp_path / "__pycache__").iterdir()] == [
        f"ticketledger.{po.stat().st_size}-{po.stat().st_mtime_ns}.mo"]
    assert _compiled(po, "zh_CN") == first  # read back, the same bytes
    msgid = next(m.id for m in read_po(io.BytesIO(text.encode()), locale="zh_CN")
                 if m.id and isinstance(m.id, str) and m.string and not m.context)
    was = Translations(io.BytesIO(first), domain=DOMAIN).gettext(msgid)
    edited = text.replace(f'msgstr "{was}"', 'msgstr "EDITED"', 1)
    assert edited != text
    po.write_text(edited, encoding="utf-8")
    os.utime(po, ns=(po.stat().st_atime_ns, po.stat().st_mtime_ns + 1_000_000))
    assert Translations(io.BytesIO(_compiled(po, "zh_CN")), domain=DOMAIN).gettext(msgid) == "EDITED"
    assert len(list((tmp_path / "__pycache__").iterdir())) == 1  # the earlier .po's compiled bytes went


def test_a_list_reads_as_a_list_in_each_language() -> None:
    assert texts("zh_CN").listing(["已超时 3", "达标 40", "不适用 2"]) == "已超时 3、达标 40和不适用 2"
    assert texts("en").listing(["breached 3", "met 40"]) == "breached 3 and met 40"


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _parsers(child)


def test_every_help_text_reads_in_chinese_and_a_help_page_is_chinese_under_lang_zh(
        capsys: pytest.CaptureFixture[str]) -> None:
    from adapters.cli import build_parser, main
    from replay.i18n import texts

    zh = texts("zh_CN")
    untranslated = sorted({a.help for p in _parsers(build_parser()) for a in p._actions
                           if a.help and a.help is not argparse.SUPPRESS and zh(a.help) == a.help}
                          | {p.description for p in _parsers(build_parser()) if p.description
                             and zh(p.description) == p.description})
    assert not untranslated, f"mark these with N_ and translate them (`make i18n`): {untranslated}"
    with pytest.raises(SystemExit):
        main(["--lang", "zh_CN", "report", "--help"])
    page = capsys.readouterr().out
    assert page.startswith("用法：ticketledger report") and "\n选项:\n" in page, page[:300]  # argparse adds the colon
    assert zh("only the rows of this customer id, e.g. buyer-001") in page
    with pytest.raises(SystemExit):
        main(["--lang", "en", "report", "--help"])
    assert "only the rows of this customer id, e.g. buyer-001" in capsys.readouterr().out


def test_a_clock_past_its_deadline_is_called_timed_out_not_breach_of_contract() -> None:
    """违约 is the legal word for a breach of contract; a clock past its deadline is 超时 (as the
    reports, the console and the statement call it), so a Chinese reader never takes a late
    response for a finding that the contract was broken."""
    with open(LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "ticketledger.po", "rb") as f:
        catalog = read_po(f)
    wrong = [m.id for m in catalog if m.id and "违约" in str(m.string)
             and not re.search(r"contract|liabilit", str(m.id), re.I)]
    assert not wrong, wrong
    _ = texts("zh_CN")
    said = _("wrote {out} ({size} bytes, {lang}): {customer} {month}, {breached} of {applicable} clocks breached, "
             "{tickets}, {restatements}; log position {position}, evaluated at {evaluated}",
             out="s.html", size="1", lang="zh_CN", customer="C", month="2025-10", breached=3, applicable=9,
             tickets="2", restatements="0", position=7, evaluated="—")
    assert "9 个时限中 3 个超时" in said, said


def test_what_statement_wrote_counts_one_restatement_in_the_singular() -> None:
    """"1 restatements" read wrong: the counts of the line are plural forms (words item 7)."""
    from adapters.cli.documents import RESTATEMENTS, TICKETS

    en = texts("en")
    assert en.plural(*RESTATEMENTS, 1) == "1 restatement" and en.plural(*RESTATEMENTS, 2) == "2 restatements"
    assert en.plural(*TICKETS, 1) == "1 ticket" and texts("zh_CN").plural(*TICKETS, 36) == "36 张工单"


def test_no_space_after_a_full_width_bracket_before_chinese() -> None:
    """`于 … 02:01（来源服务台）记录`: the space a template keeps after a time goes when the time
    ends in a full-width bracket (it read `（来源服务台） 记录`); after a plain time it stays."""
    from replay.i18n import texts

    message = "“{event}” at {occurred}, recorded {recorded} (log position {position})"
    zh = texts("zh_CN")(message, event="工程师到场", occurred="2025-09-29 21:38",
                        recorded="2025-10-03 02:01（来源服务台）", position=200)
    assert "于 2025-10-03 02:01（来源服务台）记录（日志位置 200）" in zh, zh
    plain = texts("zh_CN")(message, event="工程师到场", occurred="2025-09-29 21:38", recorded="2025-10-03 02:01",
                           position=200)
    assert "于 2025-10-03 02:01 记录" in plain, plain


def test_a_table_column_of_durations_stays_in_hours() -> None:
    """`report summary`'s breach totals read `18,525 小时 43 分钟（771 天 21 小时 43 分钟）` per row,
    the widest column of the table: a column compares hours; the days are for sentences."""
    from adapters.cli.output import cell
    from replay.i18n import texts

    zh = texts("zh_CN")
    assert cell(zh, "duration", 18525 * 60 + 43) == "18,525 小时 43 分钟"
    assert zh.duration(18525 * 60 + 43) == "18,525 小时 43 分钟（771 天 21 小时 43 分钟）"
