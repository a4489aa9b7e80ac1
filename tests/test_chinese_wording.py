"""Chinese as a Chinese reader writes it (reviewer's item 6): counts with their measure word and
no '和' run into a number, no space after '。', and a scoped replay not called '全部事件'."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .disputekit import EVALUATED, TICKET, dispute_ledger, run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dispute_ledger(tmp_path_factory.mktemp("wording") / "data")


def test_a_scoped_replay_counts_its_clocks_and_does_not_call_its_events_all(data: Path) -> None:
    code, out = run(data, "--lang", "zh_CN", "replay", "--customer", "buyer-000", "--at", EVALUATED,
                    "--out", str(data.parent / "scoped.duckdb"))
    assert code == 0, out
    replayed = next(line for line in out.splitlines() if line.startswith("已重放"))
    assert "全部事件" not in replayed and "该范围所需的事件" in replayed
    clocks = next(line for line in out.splitlines() if line.startswith("时限："))
    assert re.fullmatch(r"时限：\S+ [\d,]+ 个(、\S+ [\d,]+ 个)+", clocks), clocks
    assert "和" not in clocks


def test_the_report_s_opening_sentences_have_no_space_after_the_full_stop(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    assert run(data, "--lang", "zh_CN", "explain", TICKET, "--at", EVALUATED, "--out", str(out))[0] == 0
    first = out.read_text().splitlines()[2]
    assert first.startswith("时间均为北京时间（Asia/Shanghai）。结论的评估时间为") and "。 " not in first
