"""The CLI as a person meets it in a terminal 100 columns wide, and as a script meets it in a pipe.

Every case runs the real command in a subprocess on the demo's synthetic year: tables fit the
width (Chinese measured as two cells each), times are local, durations `5 h 42 min`, amounts in
yuan, a cut table says so, CSV parses, a closed pipe ends without a traceback, progress shows on
a terminal and not in a pipe, and Chinese and English state the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 100
ENV = {**{k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "TICKETLEDGER_LANG")},
       "LANG": "C.UTF-8", "COLUMNS": str(WIDTH)}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("terminal") / "data"
    done = run(folder, "demo", "--tickets", "200", "--no-stream")
    assert done.returncode == 0, done.stderr
    return folder


def run(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), *args], cwd=ROOT,
                          env=env or ENV, capture_output=True, text=True, timeout=120)


def table_lines(text: str) -> list[str]:
    """The lines of the table: from the header rule's line before to the line before the notes
    below it (columns left out, 'showing')."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    end = next((i for i, line in enumerate(lines) if i > rule and cell_len(line) != cell_len(lines[rule])), len(lines))
    return lines[rule - 1:end]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("view", ["sla", "liability", "visits", "summary", "totals"])
def test_every_report_fits_100_columns_in_both_languages(data: Path, view: str, lang: str) -> None:
    done = run(data, "--lang", lang, "report", view)
    assert done.returncode == 0, done.stderr
    widths = {cell_len(line) for line in table_lines(done.stdout)}
    # every line of the table is as wide as the others (CJK counted as two cells) and fits
    assert len(widths) == 1 and widths.pop() <= WIDTH, done.stdout
    # ids whole, never folded over lines (columns on the right are left out instead, and said)
    rows = json.loads(run(data, "report", view, "--json", "--limit", "200").stdout)
    key = next((k for k in ("ticket", "asset", "contract") if k in rows[0]), None)
    assert key is None or all(r[key] in done.stdout for r in rows if r[key]), done.stdout


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_terminal_leaves_columns_out_and_says_so_rather_than_fold_ids(data: Path, width: int) -> None:
    done = run(data, "--lang", "en", "report", "sla", env={**ENV, "COLUMNS": str(width)})
    lines = table_lines(done.stdout)
    assert {cell_len(line) for line in lines} <= set(range(width + 1))
    tickets = {r["ticket"] for r in json.loads(run(data, "report", "sla", "--json", "--limit", "50").stdout)}
    assert all(t in done.stdout for t in tickets)  # whole on their line
    assert "left out to fit" in done.stdout and "breach" in done.stdout.split("left out to fit")[1]


def test_report_sla_reads_as_local_time_whole_durations_and_words(data: Path) -> None:
    machine = json.loads(run(data, "report", "sla", "--state", "breached", "--limit", "1", "--json").stdout)[0]
    person = run(data, "--lang", "en", "report", "sla", "--state", "breached", "--limit", "1").stdout
    local = datetime.fromisoformat(machine["deadline"].replace("Z", "+00:00")).astimezone(UTC) + timedelta(hours=8)
    written = local.strftime("%Y-%m-%d %H:%M")
    if written.endswith("00:00"):  # local midnight ends the day before: its 24:00 (art. 203)
        written = (local - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    assert written in person, person
    assert "times in Beijing time" in person and "Z" not in person.split("\n", 1)[1]
    minutes = round(machine["breach_minutes"])
    h, m = divmod(minutes, 60)
    assert (f"{h:,} h {m} min" if h else f"{m} min") in person
    assert "breached" in person and not re.search(r"\d+\.\d+(?! ?%)", person.replace("¥", ""))
    chinese = run(data, "report", "sla", "--state", "breached", "--limit", "1").stdout  # the contract's language
    assert "已超时" in chinese and "北京时间" in chinese and "分钟" in chinese


def test_amounts_are_yuan_and_a_cut_table_says_how_many_rows_there_are(data: Path) -> None:
    rows = json.loads(run(data, "report", "liability", "--json").stdout)  # JSON: every row, fen
    assert len(rows) == 200 and all(isinstance(r["supplier_pays_fen"], int | None) for r in rows)
    person = run(data, "--lang", "en", "report", "liability", "--limit", "5").stdout
    # the reader's own --limit cut the table: raise it ("use --limit" told them to do what they had done)
    assert "showing 5 of 200 rows (raise --limit to see more)" in person and "use --limit" not in person
    first = rows[0]["supplier_pays_fen"] or 0
    assert f"¥{first // 100:,}.{first % 100:02d}" in person
    assert "显示 200 行中的 5 行" in run(data, "report", "liability", "--limit", "5").stdout
    # the table's own limit cut it: --limit, --json or --csv show more
    assert re.search(r"showing 200 of [\d,]+ rows \(use --limit / --json / --csv\)",
                     run(data, "--lang", "en", "report", "sla").stdout)


def test_csv_carries_every_column_raw_and_parses(data: Path) -> None:
    as_json = json.loads(run(data, "report", "sla", "--json").stdout)
    as_csv = list(csv.DictReader(io.StringIO(run(data, "report", "sla", "--csv").stdout)))
    assert len(as_csv) == len(as_json) > 200  # no table limit for programs
    assert list(as_csv[0]) == list(as_json[0])
    assert as_csv[0]["deadline"] == as_json[0]["deadline"] and as_csv[0]["deadline"].endswith("Z")
    assert as_csv[0]["clock"] == as_json[0]["clock"]  # codes, in every language
    sql = run(data, "--lang", "zh_CN", "sql", "SELECT clock, count(*) AS n FROM sla_clocks GROUP BY 1 ORDER BY 1",
              "--csv").stdout
    parsed = list(csv.reader(io.StringIO(sql)))
    assert parsed[0] == ["clock", "n"] and parsed[1][0] == "arrival"


def test_a_closed_pipe_ends_quietly(data: Path) -> None:
    cli = f"{sys.executable} -m adapters.cli --data-dir {data}"
    for command in ("report sla --csv", "report sla --limit 1000", "sql 'SELECT * FROM sla_clocks'"):
        done = subprocess.run(["bash", "-c", f"{cli} {command} | head -1; exit ${{PIPESTATUS[0]}}"], cwd=ROOT,
                              env=ENV, capture_output=True, text=True, timeout=120)
        assert done.returncode in (0, 141), done.stderr
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
        assert len(done.stdout.splitlines()) == 1


def run_on_a_terminal(data: Path, *args: str) -> str:
    """Run with stderr on a pseudo-terminal; what it drew there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), *args], cwd=ROOT,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    proc.wait(timeout=60)
    os.close(leader)
    return drawn.decode(errors="replace")


def test_progress_shows_on_a_terminal_and_never_in_a_pipe(data: Path) -> None:
    drawn = run_on_a_terminal(data, "--lang", "en", "verify", "--no-stream")
    events = json.loads(run(data, "verify", "--no-stream", "--json").stdout)["events"]
    assert f"/{events}" in drawn  # the bar: done/total
    assert re.search(rf"verify: {events:,} events in [\d.]+ s \([\d,]+/s\)", drawn), drawn  # the rate
    piped = run(data, "verify", "--no-stream")
    assert piped.returncode == 0 and piped.stderr == ""


def test_rebuild_replay_and_diff_show_two_phases_with_totals_on_a_terminal_and_nothing_in_a_pipe(
        data: Path, tmp_path: Path) -> None:
    """Issue 17: progress with total, rate and time left on `views rebuild`, `replay` and `diff`:
    the stored events loaded against their total, then the views' steps; none in a pipe."""
    import shutil

    own = tmp_path / "data"
    shutil.copytree(data, own)  # the module's views stay evaluated as the demo left them
    events = json.loads(run(own, "verify", "--no-stream", "--json").stdout)["events"]
    steps = r"computing views: 6 steps in [\d.]+ s \([\d,.]+/s\)"
    mid = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    now = datetime.now(UTC).isoformat()  # a recording time after now is refused (TL-E021)
    for argv, total in ((("views", "rebuild"), events),
                        (("replay", "--as-of-position", str(events // 2), "--out", str(tmp_path / "half.duckdb")),
                         events // 2),
                        (("replay", "--as-of-recorded", now, "--out", str(tmp_path / "rec.duckdb")), events),
                        (("replay", "--as-of-occurred", mid, "--out", str(tmp_path / "occ.duckdb")), events),
                        (("replay", "--as-of-source-recorded", mid, "--out", str(tmp_path / "src.duckdb")), events)):
        drawn = run_on_a_terminal(own, "--lang", "en", *argv)
        assert f"0/{total}" in drawn and "left" in drawn, (argv, drawn)  # the bar knew its total
        assert re.search(rf"loading events: {total:,} events in [\d.]+ s \([\d,.]+/s\)", drawn), (argv, drawn)
        assert re.search(steps, drawn), (argv, drawn)
        assert drawn.index("loading events:") < drawn.index("computing views:")  # load, then the views
        piped = run(own, *argv)
        assert piped.returncode == 0 and piped.stderr == "", (argv, piped.stderr)
    drawn = run_on_a_terminal(own, "--lang", "en", "diff", str(tmp_path / "half.duckdb"), str(tmp_path / "rec.duckdb"))
    assert "/5" in drawn and re.search(r"diff: 5 tables in [\d.]+ s", drawn), drawn
    piped = run(own, "diff", str(tmp_path / "half.duckdb"), str(tmp_path / "rec.duckdb"))
    assert piped.returncode == 1 and piped.stderr == ""


def test_chinese_and_english_state_the_same_numbers(data: Path) -> None:
    numbers = {}
    for lang in ("zh_CN", "en"):
        out = run(data, "--lang", lang, "report", "totals").stdout + run(data, "--lang", lang, "report", "summary",
                                                                        "--limit", "20").stdout
        numbers[lang] = sorted(re.findall(r"¥[\d,]+\.\d\d|\d+\.\d%", out))
    assert numbers["zh_CN"] == numbers["en"] and len(numbers["en"]) > 20


def test_chinese_tables_name_severities_and_what_a_summary_groups_by_in_chinese(data: Path) -> None:
    sla = run(data, "--lang", "zh_CN", "report", "sla", "--columns", "ticket,clock,severity,state").stdout
    summary = run(data, "--lang", "zh_CN", "report", "summary", "--limit", "500").stdout
    assert not re.findall(r"\b(normal|severe|urgent|technical_help|general|major)\b", sla + summary)
    assert not re.findall(r"^(contract|customer|month|severity|site|technician)\s", summary, re.M)
    assert "故障等级" in summary and re.search(r"^故障等级\s+(普通|一般|严重|紧急)", summary, re.M), summary


def test_a_replay_says_its_cut_and_scope_in_the_reader_s_language(data: Path, tmp_path: Path) -> None:
    said = run(data, "--lang", "zh_CN", "replay", "--as-of-position", "10", "--out", str(tmp_path / "p.duckdb")).stdout
    assert "日志位置 10 及以前" in said and "log position" not in said


def test_the_breaches_a_liability_row_cites_read_in_the_reader_s_words(data: Path) -> None:
    said = run(data, "--lang", "zh_CN", "report", "liability", "--columns", "ticket,breaches_cited",
               "--limit", "500").stdout
    assert re.search(r"(响应|远程解决|到达现场|故障解决|备用机) 超时 (\d+ 小时 )?\d+ 分钟", said), said[:2000]
    assert "breached by" not in said and " min (" not in said


def test_a_visit_period_ends_with_its_last_day_at_24_00_as_the_statement_writes_it(data: Path) -> None:
    said = run(data, "--lang", "en", "report", "visits", "--columns", "asset,start,end,status", "--limit", "5").stdout
    assert re.search(r"\d{4}-\d\d-\d\d\s+\d{4}-\d\d-\d\d 24:00", said), said


def test_a_report_for_a_customer_or_contract_the_views_do_not_hold_is_refused(data: Path) -> None:
    for argv in (("--customer", "nobody"), ("--contract", "K-999")):
        done = run(data, "--lang", "en", "report", "sla", *argv)
        assert done.returncode == 2 and f"TL-E040: no {argv[0][2:]} {argv[1]} in the views" in done.stderr
    assert run(data, "report", "sla", "--customer", "buyer-000", "--limit", "1").returncode == 0


def test_errors_carry_a_stable_code_in_the_user_s_language(data: Path, tmp_path: Path) -> None:
    done = run(data, "report", "sla", "--month", "2025/10")
    assert done.returncode == 2 and "ticketledger report: TL-E041: --month" in done.stderr
    done = run(tmp_path / "nothing", "log")
    assert done.returncode == 2 and "TL-E010: no ledger in" in done.stderr
    done = run(tmp_path / "nothing", "--lang", "zh_CN", "log")
    assert "TL-E010" in done.stderr and "没有账本" in done.stderr
    done = run(data, "report", "sla", "--limit", "0")
    assert done.returncode == 2 and "TL-E001" in done.stderr
    done = run(data, "report", "sla", env={**ENV, "TICKETLEDGER_LANG": "fr"})
    assert done.returncode == 2 and "TL-E002" in done.stderr
    # the contracts are in Beijing time: the ledger answers in Chinese unless told otherwise
    assert "TL-E040: 没有工单 nobody" in run(data, "ticket", "show", "nobody").stderr
    assert "TL-E040: no ticket nobody" in run(data, "--lang", "en", "ticket", "show", "nobody").stderr


def test_every_command_and_code_is_listed() -> None:
    from adapters.cli import build_parser
    from adapters.cli.errors import CODES, COMMAND_CODES

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(commands) <= set(COMMAND_CODES), set(commands) - set(COMMAND_CODES)
    readme = (ROOT / "README.md").read_text()
    for code in [*CODES, *(COMMAND_CODES[c] for c in commands)]:
        assert code in readme, f"README does not list {code}"


def test_the_demo_prints_commands_a_newcomer_can_run(data: Path) -> None:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "ticketledger"), "--lang", "en", "--data-dir", str(data),
                           "demo", "--tickets", "200", "--no-stream"], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    hints = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ") and "--data-dir" in line]
    assert hints and all(h.startswith(".venv/bin/ticketledger ") for h in hints)
    assert "(the end of the synthetic year)" in done.stdout
    for hint in hints[:3]:  # as printed, from where make demo runs
        ran = subprocess.run(["bash", "-c", hint], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, (hint, ran.stderr)


def test_a_stream_or_console_user_for_a_party_the_ledger_lacks_is_refused(data: Path) -> None:
    # a mistyped customer would give a stream that stays empty, or a user who sees nothing
    done = run(data, "--lang", "en", "nats", "customer-stream", "buyer-00")
    assert done.returncode == 2 and "TL-E042: no customer 'buyer-00' in the ledger" in done.stderr, done.stderr
    assert "customers include buyer-000" in done.stderr
    assert not (data / "nats").exists()  # refused before any server started
    users = data.parent / "users.toml"
    for scope in (["--role", "customer", "--customer", "buyer-00"], ["--role", "supplier", "--supplier", "nobody"],
                  ["--role", "arbitrator", "--contract", "K-000", "--contract", "K-9"]):
        done = subprocess.run([sys.executable, "-m", "adapters.cli", "--lang", "en", "--data-dir", str(data), "users",
                               "add", "eve", *scope, "--users", str(users), "--password-stdin"], cwd=ROOT, env=ENV,
                              input="a long enough password\n", capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "TL-E040: no " in done.stderr and "in the views" in done.stderr, done.stderr
    assert not users.exists()
    ok = subprocess.run([sys.executable, "-m", "adapters.cli", "--lang", "en", "--data-dir", str(data), "users", "add",
                         "eve", "--role", "customer", "--customer", "buyer-000", "--users", str(users),
                         "--password-stdin"], cwd=ROOT, env=ENV, input="a long enough password\n",
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and users.exists(), ok.stderr


def test_a_report_filter_is_applied_or_refused_never_dropped(data: Path) -> None:
    # `report summary --customer C` printed every customer's rates, `report totals --customer C`
    # every contract's: figures read as one customer's that were the whole ledger's
    import json

    whole = json.loads(run(data, "report", "summary", "--json").stdout)
    one = json.loads(run(data, "report", "summary", "--customer", "buyer-001", "--json").stdout)
    assert one and {(r["dimension"], r["key"]) for r in one} == {("customer", "buyer-001")} and len(one) < len(whole)
    totals = json.loads(run(data, "report", "totals", "--customer", "buyer-001", "--json").stdout)
    assert [r["contract"] for r in totals] == ["K-001"]
    done = run(data, "--lang", "en", "report", "summary", "--customer", "buyer-001", "--month", "2025-10")
    assert done.returncode == 2 and "TL-E041" in done.stderr and "one of contract, customer, site or month" in done.stderr
    done = run(data, "--lang", "en", "report", "totals", "--site", "anywhere")
    assert done.returncode == 2 and "--site does not apply to `report totals`" in done.stderr


def test_a_hint_names_the_cli_so_that_it_runs_pasted_where_it_was_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """From the repository the hint is `.venv/bin/ticketledger`; from a folder beside it (a ledger
    of one's own elsewhere) the absolute path, not a `../…` climb that reads as a typo."""
    from adapters.cli import runnable

    script = ROOT / ".venv" / "bin" / "ticketledger"
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(ROOT)
    assert runnable() == ".venv/bin/ticketledger"
    monkeypatch.chdir(ROOT / "tests")
    assert runnable() == str(script)
