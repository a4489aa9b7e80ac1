"""Labels people read beside the figures say what the figures are (arbitrator review)."""

from __future__ import annotations

from replay.i18n import word


def test_visit_kind_words_name_the_mode_not_the_obligation():
    # the statement prints "巡检 · <kind>": a kind that says 回访 made an inspection a follow-up
    for obligation in ("follow_up", "inspection"):
        row = f"{word('zh_CN', 'obligation', obligation)} · {word('zh_CN', 'visit_kind', 'onsite')}"
        assert row == {"follow_up": "回访 · 上门", "inspection": "巡检 · 上门"}[obligation]
    assert word("zh_CN", "visit_kind", "phone") == "电话"
