"""A report or statement from what-if views (`replay --terms`) is a hypothesis, and says so on every
page; `proof verify` says its events are proven but its verdict is hypothetical (reviewer's item 1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .disputekit import EVALUATED, TICKET, dispute_ledger, run

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"


@pytest.fixture(scope="module")
def what_if(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A signed dispute ledger, and views under K-000's terms with resolution 36 h → 72 h."""
    root = tmp_path_factory.mktemp("whatif")
    data = dispute_ledger(root / "data")
    code, out = run(data, "init")
    assert code == 0, out
    vkey = out.split("verifier key for the contract annex: ")[1].split()[0]
    assert run(data, "checkpoint")[0] == 0
    text = (CONTRACTS / "seed-000.toml").read_text()
    terms = root / "k000-72h.toml"
    terms.write_text(text.replace("resolution = { target = { hours = 36 }", "resolution = { target = { hours = 72 }"))
    views = root / "w.duckdb"
    code, out = run(data, "replay", "--terms", str(terms), "--at", EVALUATED, "--out", str(views))
    assert code == 0, out
    return {"data": data, "key": vkey, "views": views, "root": root,
            "sha256": hashlib.sha256(terms.read_bytes()).hexdigest()}


def explain(w: dict, fmt: str, *extra: str) -> str:
    out = w["root"] / f"r.{fmt}"
    code, said = run(w["data"], "--lang", "zh_CN", "explain", TICKET, "--views", str(w["views"]), "--format", fmt,
                     "--out", str(out), *extra)
    assert code == 0, said
    return out.read_text()


def test_a_what_if_report_says_on_every_page_whose_terms_it_used(what_if: dict) -> None:
    banner = f"假设计算（what-if）：条款来自文件 k000-72h.toml（sha256 {what_if['sha256']}），并非合同记录的条款"
    html = explain(what_if, "html")
    assert banner in html
    assert "@top-center{content:" in html and "假设计算" in html.split("@top-center{content:")[1][:40]  # every page
    assert "<title>争议报告（假设计算，what-if）" in html
    # the recorded version is not cited as the terms used, nor the contract's 36 h clause as the promise
    assert "第 1 版（报修时有效）" not in html and "并非记录的第 1 版" in html
    row = html.split('data-clock="resolution"')[1].split("</tr>")[0]
    assert "72 小时" in row and "取代合同记录的条款：36 小时 «原文第87行 36小时内解决完毕»" in row
    md = explain(what_if, "md")
    assert md.splitlines()[0].startswith("# 争议报告（假设计算") and banner in md
    doc = json.loads(explain(what_if, "json"))
    assert doc["what_if"]["file"] == "k000-72h.toml" and doc["what_if"]["sha256"] == what_if["sha256"]
    assert doc["what_if_said"] == banner


def test_proof_verify_says_the_verdict_of_a_what_if_report_is_hypothetical(what_if: dict) -> None:
    explain(what_if, "html")
    code, out = run(None, "--lang", "zh_CN", "proof", "verify", str(what_if["root"] / "r.html"),
                    "--log-key", what_if["key"])
    assert code == 0, out
    first, last = out.splitlines()[0], out.splitlines()[-1]
    assert "假设计算" in first and "HYPOTHETICAL" in first and "k000-72h.toml" in first
    assert "事件已证明" in last and "结论是假设计算" in last
    code, out = run(None, "proof", "verify", str(what_if["root"] / "r.html"), "--log-key", what_if["key"], "--json")
    assert json.loads(out)["hypothetical"]["terms_file"] == "k000-72h.toml"


def test_a_report_under_the_recorded_terms_is_not_marked(what_if: dict, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert run(what_if["data"], "--lang", "zh_CN", "explain", TICKET, "--at", EVALUATED, "--out", str(out))[0] == 0
    assert "假设计算" not in out.read_text() and "第 1 版（报修时有效）" in out.read_text()
    code, said = run(None, "--lang", "zh_CN", "proof", "verify", str(out), "--log-key", what_if["key"])
    assert code == 0 and "假设" not in said


def test_a_statement_from_what_if_views_is_marked_on_every_page(what_if: dict) -> None:
    html = what_if["root"] / "s.html"
    code, out = run(what_if["data"], "--lang", "zh_CN", "statement", "--customer", "buyer-000", "--month",
                    "2025-07", "--views", str(what_if["views"]), "--out", str(html))
    assert code == 0, out
    text = html.read_text()
    assert 'class="whatif"' in text and "条款来自文件 k000-72h.toml" in text and "@top-center{content:" in text
