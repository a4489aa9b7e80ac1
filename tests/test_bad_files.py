"""Files that are not what a command expects (another format, empty, binary, a folder, cut short)
and options that do not fit: one line naming the command, the file (and line) or option, what is
wrong and what would be right; exit 2; nothing recorded; never a traceback."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.ledger import open_ledger
from domain import events as ev

from .domainkit import Desk, ledger_with_one_ticket

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "contracts" / "volvo-mapping.toml"

SN_HEADER = "number,incident_state,sys_mod_count,opened_at,sys_updated_at,priority,reassignment_count\n"
SN_CSV = SN_HEADER + "INC1,New,0,1/3/2016 09:00,1/3/2016 09:00,3 - Moderate,0\n"
XES_HEAD = ('<?xml version="1.0" encoding="UTF-8" ?>\n'
            '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n')


def xes_trace(sr: str) -> str:
    events = "".join(
        f'\t\t<event>\n\t\t\t<string key="concept:name" value="{status}"/>\n'
        f'\t\t\t<string key="lifecycle:transition" value="{sub}"/>\n\t\t\t<string key="impact" value="Low"/>\n'
        f'\t\t\t<date key="time:timestamp" value="2012-01-02T{hour}:00:00+01:00"/>\n\t\t</event>\n'
        for status, sub, hour in (("Queued", "Awaiting Assignment", "09"), ("Completed", "Resolved", "10")))
    return f'\t<trace>\n\t\t<string key="concept:name" value="{sr}"/>\n{events}\t</trace>\n'


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """The words checked here are the English ones: the ledgers' contracts lie in China's zone,
    so without a language named the CLI would speak theirs, Chinese (README *Languages*)."""
    monkeypatch.setenv("TICKETLEDGER_LANG", "en")


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str]:
    """Exit code and stderr; a traceback fails the test (main lets it through)."""
    code = main(["--data-dir", str(data), *argv])
    return code, capsys.readouterr().err


def position(data: Path) -> int:
    ledger = open_ledger(data)
    try:
        return ledger.position
    finally:
        ledger.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A ledger holding a contract, an asset and a ticket, and (empty) views beside it."""
    from projections.apply import open_views

    folder = ledger_with_one_ticket(tmp_path / "data")
    open_views(folder / "views.duckdb").close()
    return folder


def refused(capsys: pytest.CaptureFixture[str], data: Path, argv: list[str], *says: str, one_line: bool = True) -> str:
    """Run a command that must be refused: exit 2, one line naming the command (`one_line=False`:
    DuckDB's `LINE n:` and caret may follow, as `sql` passes its error on whole), saying `says`,
    and the log as it was."""
    before = position(data)
    code, err = run(capsys, data, *argv)
    assert code == 2, err
    assert (err.count("\n") == 1 or not one_line) and err.startswith(f"ticketledger {argv[0]}: "), err
    for text in says:
        assert text in err, err
    assert position(data) == before
    return err


# --- files given to `import --format servicenow|xes` -------------------------------------------------

def _write(name: str, content: str | bytes, gz: bool = False) -> Callable[[Path], Path]:
    """A maker of the file `name` in a folder (gzip-compressed when `gz`)."""
    def make(folder: Path) -> Path:
        raw = content.encode() if isinstance(content, str) else content
        path = folder / name
        path.write_bytes(gzip.compress(raw) if gz else raw)
        return path
    return make


def _folder(folder: Path) -> Path:
    (folder / "exports").mkdir()
    return folder / "exports"


def _cut_gzip(folder: Path) -> Path:
    path = folder / "cut.xes.gz"
    whole = gzip.compress((XES_HEAD + "".join(xes_trace(f"SR-{i}") for i in range(300)) + "</log>\n").encode())
    path.write_bytes(whole[: len(whole) // 2])
    return path


BINARY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # a picture, say
JSONL = '{"type": "TicketAcknowledged", "id": "T1"}\n'
CUT = XES_HEAD + xes_trace("SR-1")[:150]
OTHER_CSV = "case:concept:name,org:group,impact,concept:name,time:timestamp\nSR-1,G1,Low,Queued,2012-01-02\n"


@pytest.mark.parametrize("argv, make, says", [
    (["--format", "servicenow"], _write("export.jsonl", JSONL),
     ["line 1: not a ServiceNow incident audit log", "without --format", "give a ServiceNow incident audit log (CSV"]),
    (["--format", "servicenow"], _write("flat.csv", OTHER_CSV),
     ["flat.csv: line 1: not a ServiceNow", "case:concept:name", "CSV with the columns number, incident_state"]),
    (["--format", "servicenow"], _write("empty.csv", ""), ["empty.csv is empty", "give a ServiceNow"]),
    (["--format", "servicenow"], _write("log.csv", BINARY), ["log.csv: line 1 is not UTF-8", "binary", "in UTF-8"]),
    (["--format", "servicenow"], _write("log.csv.gz", BINARY, gz=True), ["log.csv.gz: line 1 is not UTF-8"]),
    (["--format", "servicenow"], _write("log.csv.gz", SN_CSV),
     ["log.csv.gz: not gzip data although its name ends in .gz", "give a ServiceNow incident audit log"]),
    (["--format", "servicenow"], _folder, ["exports is a folder", "name the file to import"]),
    (["--format", "servicenow", "--contract", "K-NOPE"], _write("sn.csv", SN_CSV),
     ["--contract K-NOPE: no such contract", "give a contract id the ledger holds or a contract file"]),
    (["--format", "servicenow", "--contract", str(MAPPING)], _write("sn.csv", SN_CSV),
     ["--contract", "missing `id`", "a contract file has id, supplier, customer and [terms]"]),
    (["--format", "servicenow", "--timezone", "Mars/Base"], _write("sn.csv", SN_CSV),
     ["--timezone Mars/Base: unknown time zone", "IANA name such as Etc/GMT+3"]),
    (["--format", "xes"], _write("log.xes", XES_HEAD + xes_trace("SR-1") + "</log>"),
     ["--format xes needs --mapping FILE.toml", "contracts/volvo-mapping.toml"]),
    (["--format", "xes", "--mapping", str(MAPPING)], _write("sn.csv", SN_CSV),
     ["sn.csv: not a well-formed XES log: line 1", "looks like a CSV", "give an XES event log"]),
    (["--format", "xes", "--mapping", str(MAPPING)], _write("export.jsonl", JSONL),
     ["export.jsonl: not a well-formed XES log: line 1", "looks like JSON"]),
    (["--format", "xes", "--mapping", str(MAPPING)], _write("empty.xes", ""),
     ["empty.xes: not a well-formed XES log: the file is empty", "give an XES event log"]),
    (["--format", "xes", "--mapping", str(MAPPING)], _write("log.xes", BINARY),
     ["log.xes: not a well-formed XES log: the file is binary data"]),
    (["--format", "xes", "--mapping", str(MAPPING)], _write("cut.xes", CUT),
     [f"cut.xes: not a well-formed XES log: line {CUT.count(chr(10)) + 1}: ", "</log>", "give an XES event log"]),
    (["--format", "xes", "--mapping", str(MAPPING)], _cut_gzip,
     ["cut.xes.gz: the gzip data is cut short or damaged", "copy or download the file again"]),
    (["--format", "xes", "--mapping", "nope.toml"], _write("log.xes", XES_HEAD + "</log>"),
     ["--mapping nope.toml: no such file", "give the mapping TOML"]),
    (["--format", "xes", "--mapping", str(ROOT / "contracts")], _write("log.xes", XES_HEAD + "</log>"),
     ["contracts is a folder", "name the mapping TOML file"]),
    (["--format", "xes", "--mapping", "MAPPING:prefix = \"x"], _write("log.xes", XES_HEAD + "</log>"),
     ["broken.toml: not valid TOML", "a mapping is written like contracts/volvo-mapping.toml"]),
    (["--format", "xes", "--mapping", "MAPPING:prefix = \"x\"\ncontract_file = \"desk-volvo.toml\"\n"],
     _write("log.xes", XES_HEAD + "</log>"), ["broken.toml: missing 'ticket'", "under [attributes]"]),
    (["--format", "xes", "--mapping", "MAPPING:prefix = \"x\"\ncontract_file = \"nope.toml\"\n"
      "[attributes]\nticket = \"concept:name\"\nstatus = \"concept:name\"\n"],
     _write("log.xes", XES_HEAD + "</log>"), ["contract_file 'nope.toml': no such file beside the mapping",
                                              "give --contract ID|FILE"]),
], ids=["jsonl as servicenow", "other csv", "empty", "binary", "binary gzip", "not gzip", "folder",
        "unknown contract", "mapping as contract", "unknown zone", "xes without mapping", "csv as xes",
        "jsonl as xes", "empty xes", "binary xes", "cut xes", "cut gzip", "missing mapping", "mapping folder",
        "broken toml", "mapping without ticket", "mapping contract missing"])
def test_a_file_a_desk_import_cannot_read_is_one_line_and_records_nothing(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, argv: list[str],
        make: Callable[[Path], Path], says: list[str]) -> None:
    argv = list(argv)
    if argv[-1].startswith("MAPPING:"):  # a mapping file written for the case
        broken = tmp_path / "broken.toml"
        broken.write_text(argv[-1].removeprefix("MAPPING:"))
        argv[-1] = str(broken)
    refused(capsys, data, ["import", *argv, str(make(tmp_path))], *says)


def test_an_xes_log_cut_short_after_many_traces_records_none_of_them(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    """The end of a plain log is checked while its layout is scanned, before the first batch."""
    cut = tmp_path / "cut.xes"
    cut.write_text(XES_HEAD + "".join(xes_trace(f"SR-{i}") for i in range(50)) + xes_trace("SR-50")[:90])
    refused(capsys, data, ["import", "--format", "xes", "--mapping", str(MAPPING), "--batch", "1", str(cut)],
            f"cut.xes: not a well-formed XES log: line {cut.read_text().count(chr(10)) + 1}: ",
            "does not end with its closing </log> tag")


def test_an_xes_error_inside_a_trace_names_its_line_in_the_file(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    """A trace lxml reads as a part of the log (here an entity) names the line in the file, not in the part."""
    traces = [xes_trace(f"SR-{i}") for i in range(5)]
    traces[3] = traces[3].replace('value="Low"', 'value="Low &nope; <"', 1)
    log = tmp_path / "log.xes"
    log.write_text(XES_HEAD + "".join(traces) + "</log>\n")
    line = (XES_HEAD + "".join(traces)).splitlines().index(next(ln for ln in traces[3].splitlines() if "&nope;" in ln))
    refused(capsys, data, ["import", "--format", "xes", "--mapping", str(MAPPING), str(log)],
            f"log.xes: not a well-formed XES log: line {line + 1}: ")


# --- files and options given to `import` (JSON Lines) -----------------------------------------------

@pytest.mark.parametrize("make, says", [
    (_folder, ["exports is a folder", "name the file to import"]),
    (_write("export.jsonl", BINARY), ["export.jsonl: line 1 is not UTF-8", "give a JSON Lines file"]),
    (_write("export.jsonl", (JSONL * 2).encode() + "café\n".encode("latin-1")),
     ["export.jsonl: line 3 is not UTF-8"]),
    (_write("fake.gz", JSONL), ["fake.gz: not gzip data although its name ends in .gz", "give a JSON Lines file"]),
], ids=["folder", "binary", "latin-1 line", "not gzip"])
def test_a_file_import_cannot_read_as_json_lines_is_one_line(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, make: Callable[[Path], Path],
        says: list[str]) -> None:
    refused(capsys, data, ["import", str(make(tmp_path))], *says)


def test_a_toml_file_given_to_import_is_one_line_not_one_refusal_per_line(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    refused(capsys, data, ["import", str(MAPPING)],
            "volvo-mapping.toml does not look like JSON Lines: none of its first 20 lines is a JSON object",
            "looks like TOML", "Give one command per line as JSON (docs/schemas/commands.json)")
    # broken JSON objects are still bad lines of a JSON Lines file, each reported with its number
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"type": "TicketAcknowledged", "id": "T1"\n' * 25)
    code, err = run(capsys, data, "import", str(broken))
    # every line refused, nothing recorded: exit 2, as for a file refused as a whole (item 17)
    assert code == 2 and "broken.jsonl: line 1: not valid JSON" in err and "broken.jsonl: line 25: not valid" in err


@pytest.mark.parametrize("argv, says", [
    (["--contract", "K-000"], ["--contract does not apply to --format jsonl", "--contract, --timezone and --limit "
                                                                              "apply to --format servicenow and xes"]),
    (["--timezone", "UTC", "--limit", "5"], ["--timezone, --limit do not apply to --format jsonl"]),
    (["--format", "xes", "--mapping", str(MAPPING), "--date-format", "dmy"],
     ["--date-format does not apply to --format xes", "--date-format to servicenow only (XES times are ISO 8601)"]),
], ids=["contract", "timezone and limit", "date format"])
def test_options_that_do_not_apply_to_the_format_are_refused(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, argv: list[str], says: list[str]) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text(ev.encode(Desk().asset("A2")).decode() + "\n")
    refused(capsys, data, ["import", *argv, str(export)], *says)


# --- contract and terms files -------------------------------------------------------------------

TERMS_COMMANDS = {"replay": ["replay", "--terms", "FILE", "--out", "OUT"],
                  "contract": ["contract", "amend", "FILE", "--effective-from", "2026-01-01T00:00+08:00"]}


@pytest.mark.parametrize("command", TERMS_COMMANDS)
@pytest.mark.parametrize("kind, says, zh", [
    ("missing", "no file {file}", "没有文件 {file}"),
    ("folder", "{file} is a folder; name a contract file (TOML or JSON", "{file} 是文件夹；请指定合同文件"),
    ("not toml", "{file}: not valid TOML: ", "{file}：不是有效的 TOML："),
])
def test_a_terms_file_that_cannot_be_read_gets_the_missing_file_words_of_every_command(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, command: str, kind: str, says: str,
        zh: str) -> None:
    # the reviewer's repro: `replay --terms /tmp/nope.toml` printed `TL-E040: [Errno 2] No such file …`
    terms = tmp_path / "terms.toml"
    if kind == "folder":
        terms.mkdir()
    elif kind == "not toml":
        terms.write_text("x = \n")
    argv = [a.replace("FILE", str(terms)).replace("OUT", str(tmp_path / "r.duckdb")) for a in TERMS_COMMANDS[command]]
    code = {"replay": "TL-E122", "contract": "TL-E102"}[command]
    err = refused(capsys, data, [*argv, "--lang", "en"], says.format(file=terms))
    assert err.startswith(f"ticketledger {command}: {code}: ") and "Errno" not in err
    err = refused(capsys, data, [*argv, "--lang", "zh_CN"], zh.format(file=terms))
    assert err.startswith(f"ticketledger {command}: {code}: ") and "Errno" not in err


def test_contract_add_names_each_file_it_cannot_read_with_a_code(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    before = position(data)
    missing = tmp_path / "missing.toml"
    code, err = run(capsys, data, "--lang", "zh_CN", "contract", "add", str(missing))
    assert code == 1 and err == f"contract add {missing}：TL-E102：没有文件 {missing}；未从此文件记录任何内容\n"
    code, err = run(capsys, data, "--lang", "en", "contract", "add", str(missing))
    assert code == 1 and err == f"contract add {missing}: TL-E102: no file {missing}; nothing recorded from this file\n"
    assert position(data) == before


# --- views files ------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["report", "sla", "--views", "VIEWS"],
    ["sql", "SELECT 1", "--views", "VIEWS"],
    ["explain", "T1", "--views", "VIEWS"],
    ["diff", "VIEWS", "DATA/views.duckdb"],
    ["diff", "DATA/views.duckdb", "VIEWS"],
], ids=["report", "sql", "explain", "diff a", "diff b"])
@pytest.mark.parametrize("kind", ["text", "folder", "other duckdb"])
def test_a_views_file_that_is_not_one_is_named(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, argv: list[str], kind: str) -> None:
    import duckdb

    views = tmp_path / "notes.duckdb"
    if kind == "text":
        views.write_text("not a database\n")
    elif kind == "folder":
        views.mkdir()
    else:
        duckdb.connect(str(views)).close()
    argv = [a.replace("VIEWS", str(views)).replace("DATA", str(data)) for a in argv]
    says = {"text": "notes.duckdb is not a views database (DuckDB): not a DuckDB file at all",
            "folder": "notes.duckdb is a folder, not a views database (DuckDB)",
            "other duckdb": "notes.duckdb is a DuckDB database but not a views database"}[kind]
    refused(capsys, data, argv, says, "name a file written by `views rebuild`")


def test_sql_refuses_an_empty_query_and_reads_only_the_views(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    refused(capsys, data, ["sql", ""], "the query is empty", 'ticketledger sql "SELECT')
    refused(capsys, data, ["sql", " -- nothing"], "holds no SQL statement", "write e.g.")
    target = tmp_path / "copied.csv"
    refused(capsys, data, ["sql", f"COPY (SELECT 1) TO '{target}'"], "`sql` reads the views only",
            "`export --parquet DIR` writes the tables")
    assert not target.exists()
    refused(capsys, data, ["sql", f"SELECT * FROM read_csv('{ROOT / 'pyproject.toml'}')"], "reads the views only",
            "\nLINE 1: SELECT * FROM read_csv(", one_line=False)
    assert main(["--data-dir", str(data), "sql", "SELECT count(*) AS n FROM checkpoint"]) == 0
    assert "n" in capsys.readouterr().out
    parquet = tmp_path / "parquet"  # export still writes: only `sql` is closed to files
    assert main(["--data-dir", str(data), "export", "--parquet", str(parquet)]) == 0
    assert (parquet / "sla_clocks.parquet").exists()
    capsys.readouterr()  # its stderr says the views are behind the log, as report's would
    import duckdb  # every table and view of the views file, not a chosen list

    with duckdb.connect(str(data / "views.duckdb"), read_only=True) as con:
        held = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = 'main'").fetchall()}
    assert {p.stem for p in parquet.glob("*.parquet")} == held and "late_entries" in held
    refused(capsys, data, ["export", "--parquet", "/proc/no-such-folder"], "TL-E033",
            "cannot create the folder")  # the place cannot be made: one line, no traceback


# --- files commands write ----------------------------------------------------------------------------

def test_explain_out_a_folder_is_refused_and_a_missing_folder_created(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    views = str(data / "views.duckdb")
    refused(capsys, data, ["explain", "T1", "--views", views, "--out", str(tmp_path)],
            f"--out {tmp_path} is a folder; name a file in it, e.g. {tmp_path / 'T1.md'}")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    refused(capsys, data, ["explain", "T1", "--views", views, "--out", str(blocker / "T1.md")],
            f"{blocker} is a file, not a folder")
    out = tmp_path / "reports" / "2026" / "T1.html"
    assert main(["--data-dir", str(data), "views", "rebuild"]) == 0  # views holding T1's clocks, to report from
    assert main(["--data-dir", str(data), "explain", "T1", "--views", views, "--format", "html", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"<!DOCTYPE html>")


def test_replay_out_never_overwrites_a_file_that_is_not_a_views_file(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    refused(capsys, data, ["replay", "--as-of-position", "2", "--out", str(tmp_path)],
            "is a folder; name a file in it")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me\n")
    refused(capsys, data, ["replay", "--as-of-position", "2", "--out", str(notes)],
            "notes.txt exists and is not a views file (DuckDB)", "name a new file")
    assert notes.read_text() == "keep me\n"
    refused(capsys, data, ["replay", "--as-of-position", "2", "--out", str(data / "views.duckdb")],
            "is the ledger's own views; name another file")
    out = tmp_path / "asof" / "pos.duckdb"  # a missing folder is created; a views file replay wrote is replaced
    for pos in ("2", "3"):
        assert main(["--data-dir", str(data), "--json", "replay", "--as-of-position", pos, "--out", str(out)]) == 0
        assert json.loads(capsys.readouterr().out)[0]["last_position"] == int(pos)


def test_schema_out_must_be_a_folder_it_can_write(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    refused(capsys, data, ["schema", "--out", str(notes)], "names a file; --out is the folder", "e.g. docs/schemas")
    refused(capsys, data, ["schema", "--out", str(notes / "schemas")], "cannot write there", "name a folder you can write")
    refused(capsys, data, ["schema", "--out", str(tmp_path / "new" / "TicketOpened.json")], "names a file")
    assert not (tmp_path / "new").exists()


def test_views_follow_timings_in_a_folder_is_refused_before_any_server_starts(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    refused(capsys, data, ["views", "follow", "--timings", str(tmp_path), "--max-seconds", "1"],
            f"--timings {tmp_path} is a folder; name a file in it, e.g. {tmp_path / 'timings.jsonl'}")
    assert not (data / "nats").exists() or not os.listdir(data / "nats")


# --- a UTF-8 BOM (Excel's "CSV UTF-8") is not part of the first line -------------------------------

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_a_bom_before_a_servicenow_csv_is_dropped(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   gz: bool) -> None:
    path = _write("sn.csv.gz" if gz else "sn.csv", BOM + SN_CSV.encode(), gz)(tmp_path)
    code, err = run(capsys, tmp_path / "data", "import", "--format", "servicenow", "--date-format", "dmy",
                    str(path))
    assert code == 0, err
    assert position(tmp_path / "data") > 0


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_a_bom_before_json_lines_is_dropped(capsys: pytest.CaptureFixture[str], tmp_path: Path, gz: bool) -> None:
    desk = Desk()
    text = "\n".join(ev.encode(f).decode() for f in (desk.contract("000"), desk.asset("A1"))) + "\n"
    path = _write("c.jsonl.gz" if gz else "c.jsonl", BOM + text.encode(), gz)(tmp_path)
    code, err = run(capsys, tmp_path / "data", "import", str(path))
    assert code == 0, err
    assert position(tmp_path / "data") > 2


# --- a GBK/GB18030 file (a Chinese Windows export) is not called binary ------------------------------

GBK_CSV = SN_HEADER + "INC1,New,0,1/3/2016 09:00,1/3/2016 09:00,3 - Moderate,0\n" + \
    "INC2,New,0,1/3/2016 09:00,1/3/2016 09:00,3 - Moderate,0,网络故障\n"


@pytest.mark.parametrize("name, argv, content", [
    ("sn.csv", ["--format", "servicenow"], GBK_CSV),
    ("c.jsonl", [], '{"type": "TicketAcknowledged", "id": "工单1"}\n'),
], ids=["csv", "jsonl"])
def test_a_gbk_file_is_said_to_look_like_gbk_with_the_command_converting_it(
        capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, name: str, argv: list[str],
        content: str) -> None:
    path = _write(name, content.encode("gbk"))(tmp_path)
    err = refused(capsys, data, ["import", *argv, str(path)], "looks like GBK/GB18030",
                  f"iconv -f GB18030 -t UTF-8 {path} > {path}.utf8.{name.rsplit('.', 1)[1]}")
    assert "binary" not in err
