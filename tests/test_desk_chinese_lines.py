"""A Chinese reader's import and rebuild lines hold no English words of ours (review of the desks)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from adapters.cli import main

ROOT = Path(__file__).resolve().parents[1]
XES_HEAD = ('<?xml version="1.0" encoding="UTF-8" ?>\n'
            '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n')


def zh(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--lang", "zh_CN", "--data-dir", str(data), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_cut_xes_log_is_said_in_chinese(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = ('<trace><string key="concept:name" value="SR-1"/><event><string key="concept:name" value="Queued"/>'
             '<date key="time:timestamp" value="2012-01-02T09:00:00+01:00"/></event></trace>\n')
    (tmp_path / "cut.xes").write_text(XES_HEAD + trace * 3)
    code, _, err = zh(capsys, tmp_path / "data", "import", "--format", "xes", "--mapping",
                      str(ROOT / "contracts" / "volvo-mapping.toml"), str(tmp_path / "cut.xes"))
    assert code == 2 and "</log>" in err
    assert "the log does not end" not in err and "truncated" not in err


def test_a_mapping_error_says_the_hold_reason_kind_in_chinese(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text('[state]\n"On Hold" = "wiat"\n')
    (tmp_path / "x.csv").write_text("number\n")
    code, _, err = zh(capsys, tmp_path / "data", "import", "--format", "servicenow", "--mapping",
                      str(tmp_path / "m.toml"), str(tmp_path / "x.csv"))
    assert code == 2 and "wiat" in err
    assert "the reason from" not in err


def test_the_import_summary_and_its_progress_lines_are_chinese_with_separators(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.jsonl").write_text("{}\n" * 1234)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # the progress lines are written on a terminal
    code, out, err = zh(capsys, tmp_path / "data", "import", str(tmp_path / "c.jsonl"))
    assert code == 2
    assert "读取 1,234" in out and "拒绝 1,234" in out
    assert "检查 c.jsonl" in err and "导入 c.jsonl" in err
    assert not any(w in err for w in (" bytes ", " rows ", "check c.jsonl", "import c.jsonl"))


def test_the_rebuild_summary_names_the_views_tables_in_words(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    assert main(["--data-dir", str(tmp_path / "data"), "init"]) == 0
    code, out, _ = zh(capsys, tmp_path / "data", "views", "rebuild")
    assert code == 0 and "服务时限计时" in out
    assert "sla_clocks" not in out and "visit_periods" not in out
