"""The billing clerk's month: every customer's statement at once (`statement --all`), the customers
listed (`statement --list`), an unknown customer refused naming those the views hold, and a file
name whose suffix says no statement format refused (review of the statement run, items 2, 4, 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain import events as ev

from .disputekit import recorded, run
from .domainkit import Desk


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three contracts: buyer-000 (K-000) and buyer-001 (K-001) each with a ticket in May 2025,
    buyer-002 (K-002) with an asset and no ticket."""
    data = tmp_path_factory.mktemp("run") / "data"
    desk = Desk()
    facts: list[ev.Fact] = [desk.contract("000"), desk.contract("001"), desk.contract("002")]
    for n in ("000", "001", "002"):
        facts.append(desk.asset(f"A-{n}", contract=f"K-{n}", customer=f"buyer-{n}", at="2025-03-01T10:00"))
    for n, severity in (("000", "normal"), ("001", "general")):  # each contract's own word
        facts += [desk.open(f"T-{n}", f"A-{n}", "2025-05-06T10:00", severity=severity),
                  desk.fact(ev.TicketAcknowledged, f"T-{n}", "2025-05-06T10:20")]
    recorded(data, facts)
    code, out = run(data, "views", "rebuild", "--at", "2025-06-01T00:00:00+08:00")
    assert code == 0, out
    return data


def test_all_writes_each_customer_s_statement_as_the_console_names_it(data: Path) -> None:
    out_dir = data.parent / "month"
    code, said = run(data, "--json", "statement", "--all", "--month", "2025-05", "--out-dir", str(out_dir),
                     "--format", "html", "--format", "xlsx")
    assert code == 0, said
    result = json.loads(said)[0]
    names = sorted(Path(w["file"]).name for w in result["written"])
    assert names == ["statement-buyer-000-K-000-2025-05.html", "statement-buyer-000-K-000-2025-05.xlsx",
                     "statement-buyer-001-K-001-2025-05.html", "statement-buyer-001-K-001-2025-05.xlsx"]
    assert all(Path(w["file"]).stat().st_size == w["bytes"] > 0 for w in result["written"])
    assert [(s["customer"], s["contract"]) for s in result["skipped"]] == [("buyer-002", "K-002")]
    assert result["failed"] == []
    # the same document `statement --customer` writes
    one = data.parent / "one.html"
    assert run(data, "statement", "--customer", "buyer-001", "--contract", "K-001", "--month", "2025-05",
               "--out", str(one))[0] == 0
    assert (out_dir / "statement-buyer-001-K-001-2025-05.html").read_bytes() == one.read_bytes()


def test_all_says_what_failed_writes_the_rest_and_exits_non_zero(data: Path, capsys: pytest.CaptureFixture[str]
                                                                 ) -> None:
    out_dir = data.parent / "blocked"
    (out_dir / "statement-buyer-000-K-000-2025-05.html").mkdir(parents=True)  # a folder where the file goes
    capsys.readouterr()
    code, said = run(data, "--lang", "en", "statement", "--all", "--month", "2025-05", "--out-dir", str(out_dir),
                     "--format", "html")
    err = capsys.readouterr().err
    assert code == 1
    assert "failed buyer-000 K-000 html:" in err
    assert f"wrote {out_dir / 'statement-buyer-001-K-001-2025-05.html'}" in said
    assert "skipped buyer-002 K-002: no facts in 2025-05" in said
    assert "2025-05: 1 file written in" in said and "1 customer and contract without facts" in said
    assert said.rstrip().endswith("1 failed")


def test_all_refuses_a_month_not_begun_and_speaks_the_ledger_s_language(data: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """As a single statement is refused for a month after the views' evaluation time, so is the
    month's run, in the contracts' language (Chinese here, the system locale English)."""
    out_dir = data.parent / "future"
    code, _ = run(data, "statement", "--all", "--month", "2030-01", "--out-dir", str(out_dir))
    err = capsys.readouterr().err
    assert code == 2 and "TL-E041" in err and "该月尚未开始" in err and not out_dir.exists()


def test_list_names_the_customers_and_contracts(data: Path) -> None:
    code, said = run(data, "--json", "statement", "--list", "--month", "2025-05")
    assert code == 0, said
    assert [(r["customer"], r["contract"], r["facts_in_month"]) for r in json.loads(said)] == [
        ("buyer-000", "K-000", True), ("buyer-001", "K-001", True), ("buyer-002", "K-002", False)]
    code, said = run(data, "--lang", "zh_CN", "statement", "--list", "--month", "2025-05")
    assert code == 0 and said.split()[:5] == ["采购方", "采购方名称", "合同", "供应商", "本月有无记录"], said


def test_an_unknown_customer_is_refused_naming_the_customers_held(data: Path, capsys: pytest.CaptureFixture[str]
                                                                  ) -> None:
    out = data.parent / "nobody.html"
    code, _ = run(data, "--lang", "en", "statement", "--customer", "nobody", "--month", "2025-05", "--out", str(out))
    err = capsys.readouterr().err
    assert code == 2 and "TL-E040" in err
    assert "the views hold 3 customers: buyer-000, buyer-001, buyer-002" in err and not out.exists()


@pytest.mark.parametrize("name", ["x.docx", "noext", "x.pdf.bak"])
def test_a_file_name_that_says_no_statement_format_is_refused(data: Path, capsys: pytest.CaptureFixture[str],
                                                              name: str) -> None:
    out = data.parent / name
    code, _ = run(data, "--lang", "en", "statement", "--customer", "buyer-000", "--month", "2025-05",
                  "--out", str(out))
    err = capsys.readouterr().err
    assert code == 2 and "TL-E001" in err and ".html, .htm, .pdf, .xlsx" in err and not out.exists()
    # --format says what the name does not
    assert run(data, "statement", "--customer", "buyer-000", "--month", "2025-05", "--out", str(out),
               "--format", "html")[0] == 0
    assert out.read_bytes().startswith(b"<!DOCTYPE html>") or b"<html" in out.read_bytes()[:200]


@pytest.mark.parametrize(("argv", "says"), [
    (["--customer", "buyer-000", "--all", "--month", "2025-05", "--out-dir", "d"], "--customer --all: name one"),
    (["--all", "--month", "2025-05"], "--all needs --out-dir"),
    (["--all", "--month", "2025-05", "--out-dir", "d", "--out", "x.html"], "--out with --all"),
])
def test_one_customer_every_customer_or_the_list(data: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                                 says: str) -> None:
    code, _ = run(data, "--lang", "en", "statement", *argv)
    err = capsys.readouterr().err
    assert code == 2 and "TL-E001" in err and says in err
