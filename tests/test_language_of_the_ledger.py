"""Without --lang or TICKETLEDGER_LANG, what a command says about a contract, or about a ledger
whose contracts all lie in China's zone, is Chinese (README *Languages*), though the system locale
is English (tests run with LANG=C.UTF-8): outcomes of `contract add`/`amend`, `import`'s summary
and refusals, and the errors of `explain`/`statement --views`, `contract show --version`,
`proof verify` of a Chinese report and `report totals --json`'s views-behind line (reviewer's
words item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain import events as ev
from domain.terms import load_contract_file

from .disputekit import recorded, run
from .domainkit import CONTRACTS, Desk, contract_toml


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """K-001 (Asia/Shanghai) with one ticket, and its views."""
    data = tmp_path_factory.mktemp("zh") / "data"
    desk = Desk()
    recorded(data, [
        desk.contract("001"),
        desk.asset("A-1", contract="K-001", customer="buyer-001", at="2025-03-01T10:00"),
        desk.open("T-1", "A-1", "2025-04-04T10:00", severity="general"),
        desk.fact(ev.TicketResolved, "T-1", "2025-04-04T15:30", summary="重启"),
    ])
    code, out = run(data, "views", "rebuild", "--at", "2025-05-01T00:00:00+08:00")
    assert code == 0, out
    return data


def test_errors_about_the_views_and_a_contract_s_versions_are_said_in_chinese(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(data, "explain", "T-1", "--views", str(data.parent / "none.duckdb"))[0] == 2
    assert "视图文件" in capsys.readouterr().err
    assert run(data, "statement", "--customer", "buyer-004", "--month", "2025-04",
               "--views", str(data / "views.duckdb"), "--out", str(data.parent / "s.html"))[0] == 2
    err = capsys.readouterr().err
    assert "视图文件" in err and "只含其范围" in err and "no " not in err
    assert run(data, "contract", "show", "K-001", "--version", "0")[0] == 2
    assert "合同 K-001 没有第 0 版；它的版本为 1" in capsys.readouterr().err
    assert run(data, "ticket", "show", "T-NOPE")[0] == 2
    assert "TL-E040: 没有工单 T-NOPE" in capsys.readouterr().err


def test_proof_verify_says_in_the_report_s_language_that_a_markdown_report_carries_no_proof(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md = data.parent / "r.md"
    assert run(data, "explain", "T-1", "--out", str(md))[0] == 0
    capsys.readouterr()
    assert run(None, "proof", "verify", str(md), "--log-key", "x")[0] == 2
    assert "此文件不附带证明" in capsys.readouterr().err


def test_proof_verify_says_in_a_statement_workbook_s_language_that_it_carries_no_proof(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The finance officer checking a statement's XLSX is told in the workbook's language."""
    for lang, said in (("zh_CN", "此文件不附带证明"), ("en", "this file carries no proof")):
        xlsx = data.parent / f"s-{lang}.xlsx"
        assert run(data, "--lang", lang, "statement", "--customer", "buyer-001", "--month", "2025-04",
                   "--out", str(xlsx))[0] == 0
        capsys.readouterr()
        assert run(None, "proof", "verify", str(xlsx), "--log-key", "x")[0] == 2
        assert said in capsys.readouterr().err


def test_contract_add_amend_and_import_say_their_outcomes_in_chinese(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contract = {**load_contract_file(str(CONTRACTS / "seed-001.toml")), "id": "K-901"}
    file = tmp_path / "k901.toml"
    file.write_text(contract_toml(contract))
    code, out = run(data, "contract", "add", str(file))
    assert code == 0 and "合同 K-901：已记录" in out, out
    code, out = run(data, "contract", "amend", str(file), "--effective-from", "2025-06-01T00:00:00+08:00")
    assert code == 0 and "合同 K-901 的修订：已记录" in out, out
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")
    capsys.readouterr()
    code, out = run(data, "import", str(bad))
    assert code == 2 and "读取 1，已记录 0" in out, out
    assert "缺少必填字段 type" in capsys.readouterr().err
    # the log has grown past the views: the warning is the report's language, with --json too
    assert run(data, "--json", "report", "totals")[0] == 0
    assert "视图停在位置" in capsys.readouterr().err


def test_a_ledger_without_views_speaks_its_contracts_language_and_zone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No views file: the contracts' zone is read from the store, not taken as UTC."""
    data = tmp_path / "data"
    desk = Desk()
    recorded(data, [desk.contract("001"),
                    desk.asset("A-1", contract="K-001", customer="buyer-001", at="2025-03-01T10:00")])
    assert not (data / "views.duckdb").exists()
    capsys.readouterr()
    code, out = run(data, "log", "--limit", "1")
    assert code == 0 and "北京时间" in out and "UTC" not in out, out


def test_a_replay_scope_the_ledger_does_not_hold_is_refused_in_chinese(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(data, "replay", "--customer", "nobody", "--out", str(tmp_path / "a.duckdb"))[0] == 2
    err = capsys.readouterr().err
    assert "TL-E042" in err and "账本中没有采购方 'nobody'" in err and "no customer" not in err, err
    assert run(data, "replay", "--contract", "K-999", "--out", str(tmp_path / "b.duckdb"))[0] == 2
    err = capsys.readouterr().err
    assert "TL-E042" in err and "K-999" in err and "no contract" not in err, err
