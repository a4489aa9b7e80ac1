"""What-if across contracts (issue 14 item 20), on a demo ledger (four seed contracts, 200
tickets): a terms file replaces only the contract it names unless --terms-for says otherwise,
the what-if counts the clocks that appeared, disappeared and changed verdict, and `diff`
starts with a per-table summary."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import duckdb
import pytest

from adapters.cli import main

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-06-01T00:00:00+08:00"


def run(data: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--lang", "en", "--data-dir", str(data), *argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("whatif") / "data"
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "demo", "--tickets", "200",
                           "--no-stream"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return data


@pytest.fixture(scope="module")
def as_recorded(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base") / "base.duckdb"
    assert run(demo, "replay", "--at", AT, "--out", str(out))[0] == 0
    return out


def clocks(path: Path, where: str = "true") -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT * EXCLUDE (evaluated_at) FROM sla_clocks WHERE {where} ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_a_contract_file_replaces_only_its_own_contract(demo: Path, as_recorded: Path, tmp_path: Path) -> None:
    # the repro: seed 001's own file dropped every clock of K-000's tickets and more
    out = tmp_path / "k001.duckdb"
    code, text, err = run(demo, "--json", "replay", "--terms", str(ROOT / "contracts/seed-001.toml"), "--at", AT,
                          "--out", str(out))
    assert code == 0, err
    what_if = json.loads(text)[0]["what_if"]
    assert (what_if["appeared"], what_if["disappeared"], what_if["changed_verdict"]) == (0, 0, 0)
    assert what_if["unchanged"] > 0 and json.loads(text)[0]["terms_for"] == "K-001"
    # its own terms again: nothing moved; the what-if holds K-001's scope, as the views hold it
    assert clocks(out, "contract = 'K-001'") == clocks(as_recorded, "contract = 'K-001'")
    assert {r[0] for r in clocks(out)} <= {r[0] for r in clocks(as_recorded)}


def test_a_changed_clause_counts_the_verdicts_it_changes(demo: Path, as_recorded: Path, tmp_path: Path) -> None:
    text = (ROOT / "contracts/seed-000.toml").read_text()
    looser = re.sub(r"target = \{ hours = \d+ \}", "target = { hours = 2000 }", text)
    assert looser != text
    terms = tmp_path / "k000-loose.toml"
    terms.write_text(looser)
    out = tmp_path / "loose.duckdb"
    code, printed, err = run(demo, "replay", "--terms", str(terms), "--at", AT, "--out", str(out))
    assert code == 0, err
    assert "clocks appeared" in printed and "changed verdict" in printed and "breached → met" in printed
    code, js, _ = run(demo, "--json", "replay", "--terms", str(terms), "--at", AT, "--out", str(out))
    what_if = json.loads(js)[0]["what_if"]
    assert what_if["changed_verdict"] > 0 and what_if["moves"].get("breached->met", 0) > 0
    # the other contracts keep their recorded terms: what of them the what-if's scope holds is the recorded row
    assert set(clocks(out, "contract <> 'K-000'")) <= set(clocks(as_recorded, "contract <> 'K-000'"))
    # and the count is the diff's: every changed K-000 verdict
    con = duckdb.connect()
    con.execute(f"ATTACH '{out}' AS w (READ_ONLY)")
    con.execute(f"ATTACH '{as_recorded}' AS b (READ_ONLY)")
    changed = con.execute("SELECT count(*) FROM w.sla_clocks w JOIN b.sla_clocks b USING (ticket, clock) "
                          "WHERE w.state <> b.state").fetchall()[0][0]
    assert changed == what_if["changed_verdict"]


def test_terms_for_every_contract_must_be_asked_and_says_what_disappeared(demo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.toml"
    bare.write_text("\n".join(line for line in (ROOT / "contracts/seed-001.toml").read_text().splitlines()
                              if not line.startswith("id = ")))
    code, _, err = run(demo, "replay", "--terms", str(bare), "--at", AT, "--out", str(tmp_path / "x.duckdb"))
    assert code == 2 and "TL-E043" in err and "--terms-for" in err
    code, _, err = run(demo, "replay", "--terms", str(bare), "--terms-for", "K-404", "--at", AT,
                       "--out", str(tmp_path / "x.duckdb"))
    assert code == 2 and "TL-E043" in err and "K-404" in err and "K-000" in err
    assert not (tmp_path / "x.duckdb").exists()
    code, js, err = run(demo, "--json", "replay", "--terms", str(bare), "--terms-for", "*", "--at", AT,
                        "--out", str(tmp_path / "all.duckdb"))
    assert code == 0, err
    what_if = json.loads(js)[0]["what_if"]
    # seed 001's terms on every contract: the clocks other contracts have and seed 001 lacks go
    assert what_if["disappeared"] > 0 and json.loads(js)[0]["terms_for"] == "every contract"


def test_diff_starts_with_a_per_table_summary(demo: Path, as_recorded: Path, tmp_path: Path) -> None:
    text = (ROOT / "contracts/seed-000.toml").read_text()
    terms = tmp_path / "tight.toml"
    terms.write_text(re.sub(r"target = \{ hours = \d+ \}", "target = { hours = 1 }", text))
    out = tmp_path / "tight.duckdb"
    assert run(demo, "replay", "--terms", str(terms), "--at", AT, "--out", str(out))[0] == 0
    code, printed, _ = run(demo, "diff", str(as_recorded), str(out))
    assert code == 1
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:4] == ["table", "changed", "only", "in"])
    assert header <= 3  # after the A = / B = lines, before any row
    summary = {line.split()[0]: [int(x.replace(",", "")) for x in line.split()[1:4]]
               for line in lines[header + 2:header + 7]}
    assert set(summary) == {"sla_clocks", "liability", "visit_periods", "warranty", "replacement_obligations"}
    code, js, _ = run(demo, "--json", "diff", str(as_recorded), str(out), "--table", "sla_clocks")
    rows = json.loads(js)
    assert summary["sla_clocks"] == [sum(r["change"] == c for r in rows) for c in ("changed", "only_in_a", "only_in_b")]
    assert summary["sla_clocks"][0] > 0


def test_diff_limit_cuts_the_rows_listed_never_the_counts(demo: Path, as_recorded: Path, tmp_path: Path) -> None:
    # the reviewer's repro: `diff --limit 3` printed `sla_clocks 0 3 0` and `15 row(s) differ`
    terms = tmp_path / "tight.toml"
    terms.write_text(re.sub(r"target = \{ hours = \d+ \}", "target = { hours = 1 }",
                            (ROOT / "contracts/seed-000.toml").read_text()))
    out = tmp_path / "tight.duckdb"
    assert run(demo, "replay", "--terms", str(terms), "--at", AT, "--out", str(out))[0] == 0

    def counts(printed: str) -> tuple[list[str], str]:
        lines = printed.splitlines()
        header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["table", "changed"])
        return lines[header + 2:header + 7], lines[-1]

    code, whole, _ = run(demo, "diff", str(as_recorded), str(out))
    code_cut, cut, _ = run(demo, "diff", str(as_recorded), str(out), "--limit", "1")
    assert code == code_cut == 1
    (summary, total), (summary_cut, total_cut) = counts(whole), counts(cut)
    assert summary_cut == summary
    n = total.split()[0]
    assert total == f"{n} row(s) differ" and total_cut.startswith(f"{n} row(s) differ; ")
    assert "(--limit 1 per table)" in total_cut
    code, js, _ = run(demo, "--json", "diff", str(as_recorded), str(out), "--table", "sla_clocks", "--limit", "1")
    assert code == 1 and len(json.loads(js)) == 1


def views_evaluated_at(data: Path) -> str:
    con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    try:
        return f"{con.execute('SELECT max(evaluated_at) FROM checkpoint').fetchall()[0][0]:%Y-%m-%dT%H:%M:%S}"
    finally:
        con.close()


def test_a_what_if_without_at_is_evaluated_when_the_ledgers_views_are(demo: Path, tmp_path: Path) -> None:
    # the reviewer's repro: with no --at the what-if was evaluated at the wall clock, months after
    # the views `report` reads, so its figures compared with nothing the manager had
    out = tmp_path / "same.duckdb"
    code, js, err = run(demo, "--json", "replay", "--terms", str(ROOT / "contracts/seed-001.toml"), "--out", str(out))
    assert code == 0, err
    summary = json.loads(js)[0]
    assert summary["evaluated_at"].startswith(views_evaluated_at(demo)) and summary["evaluation"] == "views"
    code, printed, err = run(demo, "replay", "--terms", str(ROOT / "contracts/seed-001.toml"), "--out", str(out))
    assert code == 0, err
    assert "evaluation time: the evaluation time of the ledger's views, so its figures compare with `report`" in printed
    # --at still says when
    code, js, err = run(demo, "--json", "replay", "--terms", str(ROOT / "contracts/seed-001.toml"), "--at", AT,
                        "--out", str(out))
    assert json.loads(js)[0]["evaluation"] == "at" and json.loads(js)[0]["evaluated_at"].startswith("2026-05-31T16:00")


def test_the_what_if_and_its_comparison_hold_the_same_tickets(demo: Path, tmp_path: Path) -> None:
    # the reviewer's repro: an unscoped what-if held all four contracts and its `.as-recorded`
    # comparison only the one named, so `diff` of the two listed thousands of rows "only in B"
    terms = tmp_path / "k000-loose.toml"
    terms.write_text(re.sub(r"target = \{ hours = \d+ \}", "target = { hours = 2000 }",
                            (ROOT / "contracts/seed-000.toml").read_text()))
    out = tmp_path / "loose.duckdb"
    code, js, err = run(demo, "--json", "replay", "--terms", str(terms), "--at", AT, "--out", str(out))
    assert code == 0, err
    what_if = json.loads(js)[0]["what_if"]
    code, printed, _ = run(demo, "--json", "diff", what_if["against"], str(out))
    rows = json.loads(printed)
    assert code == 1 and not [r for r in rows if r["change"] != "changed"]
    assert json.loads(js)[0]["scope"].startswith("contract K-000: ")
    assert sum(r["table"] == "sla_clocks" and "state" in r["columns"] for r in rows) == what_if["changed_verdict"] > 0
    code, printed, _ = run(demo, "replay", "--terms", str(terms), "--at", AT, "--out", str(out))
    assert "only the contracts the terms replace are replayed" in printed


def totals(data: Path, *views: str) -> dict[str, dict]:
    code, js, err = run(data, "--json", "report", "totals", *views)
    assert code == 0, err
    return {r["contract"]: r for r in json.loads(js)}


def test_a_what_if_says_what_it_costs(demo: Path, tmp_path: Path) -> None:
    # the reviewer's repro: the what-if printed only clock counts; the money took `report totals
    # --views` on each file. Now the summary has each liability total, as recorded -> what-if
    terms = tmp_path / "k000-loose.toml"
    terms.write_text(re.sub(r"target = \{ hours = \d+ \}", "target = { hours = 2000 }",
                            (ROOT / "contracts/seed-000.toml").read_text()))
    out = tmp_path / "loose.duckdb"
    code, js, err = run(demo, "--json", "replay", "--terms", str(terms), "--out", str(out))
    assert code == 0, err
    (money,) = json.loads(js)[0]["what_if"]["totals"]
    recorded = totals(demo)["K-000"]  # the ledger's own views: the what-if is evaluated when they are
    what_if = totals(demo, "--views", str(out))["K-000"]
    assert money["contract"] == "K-000" and money["supplier"] == recorded["supplier"]
    for key in ("losses_supplier_liable_fen", "customer_pays_fen", "supplier_pays_fen"):
        assert money["as_recorded"][key] == recorded[key] and money["what_if"][key] == what_if[key]
        assert money["change"][key] == what_if[key] - recorded[key]
    assert money["change"]["losses_supplier_liable_fen"] < 0  # fewer breaches: fewer losses owed
    code, printed, err = run(demo, "replay", "--terms", str(terms), "--out", str(out))
    assert code == 0, err
    owed = next(line for line in printed.splitlines() if "losses supplier owes" in line)
    assert owed.split()[:2] == ["K-000", recorded["supplier"]]
    yuan = [f"¥{money[k]['losses_supplier_liable_fen'] / 100:,.2f}" for k in ("as_recorded", "what_if")]
    change = money["change"]["losses_supplier_liable_fen"]
    assert owed.split()[-3:] == [*yuan, f"-¥{-change / 100:,.2f}"]
    rows = [line.rstrip() for line in printed.splitlines() if line.startswith("K-000 ")]
    assert len({len(line) for line in rows}) == 1, rows  # the changes right-aligned, as every amount
