"""Desk exports that must not be misread (issue 14, items 13 and 14): the date order of a CSV
export is decided from the whole file, never guessed; a ServiceNow export's state names, hold
reasons and priorities are read through a mapping file. Small hand-written exports here; the
real UCI log is read the same way in tests/test_desks_servicenow.py."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.ledger import open_ledger
from adapters.store import decode_stored, iter_log

ROOT = Path(__file__).resolve().parents[1]
CURRENT = ROOT / "contracts" / "servicenow-current-mapping.toml"
HEADER = "number,incident_state,sys_mod_count,opened_at,sys_updated_at,priority,reassignment_count"


def export(folder: Path, rows: list[str], name: str = "export.csv", header: str = HEADER) -> Path:
    path = folder / name
    text = "\n".join([header, *rows]) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return path


def incident(number: str, opened: str, *updates: tuple[str, str], priority: str = "3 - Moderate") -> list[str]:
    """The rows of one incident: (state, sys_updated_at) per update."""
    return [f"{number},{state},{i},{opened},{at},{priority},0" for i, (state, at) in enumerate(updates)]


def imported(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data), "import", "--format", "servicenow", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def facts(data: Path) -> list:
    if not (data / "events.sqlite").exists():
        return []
    return [decode_stored(r.topic, r.state) for r in iter_log(open_ledger(data))
            if not r.topic.startswith("calendar.")]


def opened_at(data: Path, ticket: str) -> str:
    (f,) = [f for f in facts(data) if type(f).__name__ == "TicketOpened" and f.id == ticket]
    return f.occurred_at.isoformat()


def position(data: Path) -> int:
    return open_ledger(data).position if (data / "events.sqlite").exists() else 0


# --- item 13: dates ---------------------------------------------------------------------------------

def test_a_month_first_export_is_read_month_first_when_one_date_proves_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # INC1's dates could be either order; INC2's 3/15 can only be 15 March: the file is month first
    rows = (incident("INC1", "3/1/2024 09:00", ("New", "3/1/2024 09:00"), ("Resolved", "3/2/2024 10:00"))
            + incident("INC2", "3/15/2024 09:00", ("New", "3/15/2024 09:00")))
    code, out, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows, "mdy.csv.gz")))
    assert code == 0, err
    assert opened_at(tmp_path / "data", "INC1") == "2024-03-01T12:00:00+00:00"  # 1 March 09:00 at UTC-3, not 3 January
    resolved = [f for f in facts(tmp_path / "data") if type(f).__name__ == "TicketResolved"]
    assert [f.occurred_at.isoformat() for f in resolved] == ["2024-03-02T13:00:00+00:00"]


def test_a_file_whose_dates_read_either_way_is_refused_whole_until_the_order_is_given(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = export(tmp_path, incident("INC1", "3/1/2024 09:00", ("New", "3/1/2024 09:00")), "ambiguous.csv")
    code, out, err = imported(capsys, data, str(path))
    assert code == 2
    assert err.count("\n") == 1, err  # one line: the file, the line, what is wrong, what would be right
    assert "ambiguous.csv: every date has its day and month at most 12 (e.g. line 2: opened_at '3/1/2024 09:00')" in err
    assert "--date-format dmy" in err and "mdy" in err and "nothing recorded" in err
    assert position(data) == 0  # not the contract, not the calendar: nothing

    code, _, err = imported(capsys, data, "--date-format", "mdy", str(path))
    assert code == 0, err
    assert opened_at(data, "INC1") == "2024-03-01T12:00:00+00:00"
    code, _, err = imported(capsys, tmp_path / "other", "--date-format", "dmy", str(path))
    assert code == 0, err
    assert opened_at(tmp_path / "other", "INC1") == "2024-01-03T12:00:00+00:00"


def test_a_file_writing_dates_both_day_first_and_month_first_is_refused_naming_both_lines(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = (incident("INC1", "29/2/2016 09:00", ("New", "29/2/2016 09:00"))
            + incident("INC2", "2/29/2016 09:00", ("New", "2/29/2016 09:00")))
    code, _, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows)))
    assert code == 2
    assert "both day first (line 2: opened_at '29/2/2016 09:00') and month first (line 3: opened_at '2/29/2016 09:00')" in err
    assert position(tmp_path / "data") == 0


@pytest.mark.parametrize("opened, later, expected", [
    ("2024-03-01 09:00:00", "2024-03-01 10:30:00", "2024-03-01T12:00:00+00:00"),  # ServiceNow's own ISO export
    ("2024-03-01T09:00", "2024-03-01T10:30", "2024-03-01T12:00:00+00:00"),
    ("2024-03-01T09:00:00+08:00", "2024-03-01T10:30:00+08:00", "2024-03-01T01:00:00+00:00"),  # an offset wins
    ("2024/3/1 09:00", "2024/3/1 10:30", "2024-03-01T12:00:00+00:00"),  # year first with slashes (Excel)
    ("2024-03-01 9:00", "2024-03-01 10:30", "2024-03-01T12:00:00+00:00"),  # a one-digit hour
    ("2024/3/1 9:00:00", "2024-03-01 10:30", "2024-03-01T12:00:00+00:00"),  # both: year first is never ambiguous
])
def test_iso_8601_times_are_read(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 opened: str, later: str, expected: str) -> None:
    rows = incident("INC1", opened, ("New", opened), ("Active", later))
    code, out, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows)))
    assert code == 0, err
    assert "refused 0" in out
    assert opened_at(tmp_path / "data", "INC1") == expected


def test_an_unreadable_time_is_refused_naming_the_files_format(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = incident("INC1", "29/2/2016 09:00", ("New", "29/2/2016 09:00"), ("Active", "yesterday"))
    code, _, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows)))
    assert code == 1  # the row refused, the rest recorded
    assert ("export.csv: line 3: missing or unreadable time: opened_at '29/2/2016 09:00', sys_updated_at "
            "'yesterday'; the file's times are D/M/YYYY HH:MM, day first (e.g. 29/2/2016 01:16)") in err


def test_a_file_none_of_whose_times_reads_records_nothing_not_even_its_contract(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = incident("INC1", "1st of March", ("New", "1st of March"))
    code, _, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows)))
    assert code == 2 and err.count("\n") == 1, err
    assert "no time in it is written in a format we read (line 2: opened_at '1st of March')" in err
    assert "ISO 8601" in err and "D/M/YYYY HH:MM" in err and "strftime pattern" in err
    assert position(tmp_path / "data") == 0
    # a format given that reads none of them: the same, naming the format given
    code, _, err = imported(capsys, tmp_path / "data", "--date-format", "iso",
                            str(export(tmp_path, incident("INC1", "1/3/2024 09:00", ("New", "1/3/2024 09:00")))))
    assert code == 2 and "no time in it reads as --date-format ISO 8601" in err
    assert position(tmp_path / "data") == 0


def test_a_strftime_pattern_reads_any_other_layout_and_a_bad_format_is_refused(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = incident("INC1", "01.03.2024 09.00", ("New", "01.03.2024 09.00"))
    path = export(tmp_path, rows)
    code, _, err = imported(capsys, tmp_path / "data", "--date-format", "%d.%m.%Y %H.%M", str(path))
    assert code == 0, err
    assert opened_at(tmp_path / "data", "INC1") == "2024-03-01T12:00:00+00:00"
    for bad, says in (("ymd", "--date-format 'ymd': not a date format; use auto, dmy, mdy, iso"),
                      ("%H:%M", "the pattern does not hold a year, a month and a day")):
        code, _, err = imported(capsys, tmp_path / "bad", "--date-format", bad, str(path))
        assert code == 2 and says in err, err
        assert position(tmp_path / "bad") == 0


def test_the_real_servicenow_log_is_decided_day_first_from_the_whole_file() -> None:
    from zoneinfo import ZoneInfo

    from adapters.desks.servicenow import ServiceNowMapping, scan

    log = Path("/work/shared/data/uci-incident-event-log/incident_event_log.csv.gz")
    if not log.exists():
        pytest.skip("UCI 498 log not available")
    found = scan(str(log), ServiceNowMapping.load(None), ZoneInfo("Etc/GMT+3"), None)
    assert found.dates.name == "dmy" and found.rows == 141_712
    assert found.times["29/2/2016 01:16"] == datetime.fromisoformat("2016-02-29T04:16:00+00:00")


# --- item 14: ServiceNow states through a mapping ---------------------------------------------------

CURRENT_HEADER = "number,state,hold_reason,sys_mod_count,opened_at,sys_updated_on,priority,reassignment_count"


def current_rows() -> list[str]:
    """An incident written with today's names: New, In Progress, On Hold (two reasons), Resolved, Closed."""
    at = ["2024-03-01 09:00:00", "2024-03-01 09:10:00", "2024-03-01 10:00:00", "2024-03-01 11:00:00",
          "2024-03-01 12:00:00", "2024-03-01 13:00:00", "2024-03-06 13:00:00"]
    steps = [("New", ""), ("In Progress", ""), ("On Hold", "Awaiting Caller"), ("On Hold", "Awaiting Vendor"),
             ("In Progress", ""), ("Resolved", ""), ("Closed", "")]
    return [f"INC9,{state},{hold},{i},{at[0]},{at[i]},2 - High,0" for i, (state, hold) in enumerate(steps)]


def test_current_servicenow_state_names_import_through_the_shipped_mapping(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = export(tmp_path, current_rows(), header=CURRENT_HEADER)
    code, out, err = imported(capsys, tmp_path / "data", "--mapping", str(CURRENT), str(path))
    assert code == 0, err
    got = [(type(f).__name__, getattr(f, "reason", None)) for f in facts(tmp_path / "data") if f.id == "INC9"]
    assert got == [("TicketOpened", None), ("TicketAcknowledged", None), ("WaitStarted", "user"),
                   ("WaitEnded", "user"), ("WaitStarted", "vendor"), ("WaitEnded", "vendor"),
                   ("TicketResolved", None), ("TicketClosed", None)]
    opened = next(f for f in facts(tmp_path / "data") if type(f).__name__ == "TicketOpened")
    assert opened.severity == "high"


def test_an_unknown_state_is_refused_listing_the_names_the_mapping_knows(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = incident("INC1", "29/2/2016 09:00", ("New", "29/2/2016 09:00"), ("In Progress", "29/2/2016 10:00"))
    code, _, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows)))
    assert code == 1
    assert ("line 3: unknown status 'In Progress' (incident_state): --mapping contracts/servicenow-mapping.toml "
            "(the default) knows 'New', 'Active', 'Awaiting User Info'") in err
    assert "map it in the mapping's [state] table" in err
    # the default mapping, given by name, reads the UCI names as before
    code, _, err = imported(capsys, tmp_path / "again", "--mapping", str(ROOT / "contracts/servicenow-mapping.toml"),
                            str(export(tmp_path, incident("INC1", "29/2/2016 09:00", ("Active", "29/2/2016 10:00")))))
    assert code == 0, err


def test_a_refused_row_is_written_in_the_readers_language(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = incident("INC1", "29/2/2016 09:00", ("New", "29/2/2016 09:00"), ("In Progress", "29/2/2016 10:00"))
    code = main(["--lang", "zh_CN", "--data-dir", str(tmp_path / "data"), "import", "--format", "servicenow",
                 str(export(tmp_path, rows))])
    out = capsys.readouterr()
    assert code == 1
    # where, what is wrong and what would be right, and the count by kind, all in Chinese
    assert ("export.csv：第 3 行：未知状态 'In Progress'（incident_state）：--mapping "
            "contracts/servicenow-mapping.toml (the default) 只认识 'New', 'Active'") in out.err
    assert "请在映射文件的 [state] 表中映射它" in out.err
    assert "拒绝       1  未知状态" in out.out
    # programs still read the English
    code = main(["--lang", "zh_CN", "--json", "--data-dir", str(tmp_path / "json"), "import", "--format",
                 "servicenow", str(export(tmp_path, rows))])
    assert "line 3" in capsys.readouterr().out


def test_an_unmapped_hold_reason_is_refused_listing_the_mapped_ones(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = current_rows()
    rows[2] = rows[2].replace("Awaiting Caller", "Awaiting Godot")
    code, _, err = imported(capsys, tmp_path / "data", "--mapping", str(CURRENT),
                            str(export(tmp_path, rows, header=CURRENT_HEADER)))
    assert code == 1
    assert "line 4: unmapped hold reason 'Awaiting Godot' (hold_reason, state 'On Hold')" in err
    assert "'Awaiting Caller', 'Awaiting Change'" in err


@pytest.mark.parametrize("text, says", [
    ('[state]\n"New" = "opened"\n', "[state] 'New' maps to 'opened'; use one of new, active, resolved"),
    ('[state]\n"On Hold" = "wait"\n[hold_reason]\n"Awaiting Caller" = "caller"\n',
     "[hold_reason] 'Awaiting Caller' maps to 'caller'; use one of customer, other, parts"),
    ('[columns]\nstatus = "state"\n[state]\n"New" = "new"\n', "[columns] status: not a column we read"),
    ('date_format = "ydm"\n[state]\n"New" = "new"\n', "date_format 'ydm': not a date format"),
    ('prefix = "sn"\n', "no [state] table"),
    ('[state\n', "not valid TOML"),
])
def test_a_servicenow_mapping_that_cannot_be_used_is_refused_in_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, says: str) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(text)
    path = export(tmp_path, incident("INC1", "29/2/2016 09:00", ("New", "29/2/2016 09:00")))
    code, _, err = imported(capsys, tmp_path / "data", "--mapping", str(mapping), str(path))
    assert code == 2 and err.count("\n") == 1 and f"--mapping {mapping}" in err and says in err, err
    assert position(tmp_path / "data") == 0


def test_a_mapping_waiting_on_a_hold_reason_column_the_file_lacks_is_refused(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    header = CURRENT_HEADER.replace("hold_reason,", "")
    rows = [r.replace(",Awaiting Caller,", ",").replace(",Awaiting Vendor,", ",").replace(",,", ",")
            for r in current_rows()]
    code, _, err = imported(capsys, tmp_path / "data", "--mapping", str(CURRENT),
                            str(export(tmp_path, rows, header=header)))
    assert code == 2 and "takes the wait reason of 'On Hold' from the column 'hold_reason', which the file lacks" in err
    assert position(tmp_path / "data") == 0


# --- review: a column whose absence loses facts ------------------------------------------------------

NO_RC = "number,incident_state,sys_mod_count,opened_at,sys_updated_at,priority"


def test_a_file_without_reassignment_count_is_refused_naming_the_column_and_the_mapping_key(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = [r.rsplit(",", 1)[0] for r in incident("INC1", "1/3/2016 09:00", ("New", "1/3/2016 09:00"),
                                                    ("Active", "13/3/2016 10:00"))]
    code, _, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows, header=NO_RC)))
    assert code == 2 and position(tmp_path / "data") == 0
    assert "'reassignment_count'" in err and "optional_columns" in err and "[columns] reassignment_count" in err


def test_a_mapping_marking_reassignment_count_optional_imports_and_says_reassignments_are_not(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    default = (ROOT / "contracts" / "servicenow-mapping.toml").read_text()
    mapping.write_text('optional_columns = ["reassignment_count"]\n' + default)
    rows = [r.rsplit(",", 1)[0] for r in incident("INC1", "1/3/2016 09:00", ("New", "1/3/2016 09:00"),
                                                    ("Active", "13/3/2016 10:00"))]
    code, out, _ = imported(capsys, tmp_path / "data", "--mapping", str(mapping), "--contract",
                            str(ROOT / "contracts" / "desk-servicenow.toml"), str(export(tmp_path, rows, header=NO_RC)))
    assert code == 0 and position(tmp_path / "data") > 0
    assert "reassignments (TicketReassigned) are not imported: the file has no column 'reassignment_count'" in out


def test_a_short_row_and_an_empty_number_are_refused_for_what_is_wrong_with_them(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = incident("INC1", "13/3/2016 09:00", ("New", "13/3/2016 09:00"), ("Active", "13/3/2016 10:00"))
    rows += ["INC1,Active,2,13/3/2016 09:00,13/3/2016 11:00", ",Active,0,13/3/2016 09:00,13/3/2016 11:00,3 - Moderate,0",
             rows[-1]]
    code, _, err = imported(capsys, tmp_path / "data", str(export(tmp_path, rows)))
    assert code == 1
    assert "line 4: wrong number of fields: row has 5 fields, the header 7" in err
    assert "line 5: missing ticket id: the number field is empty" in err


def test_the_names_of_the_date_formats_are_said_in_chinese(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = incident("INC1", "29/2/2016 09:00", ("New", "29/2/2016 09:00"), ("Active", "yesterday"))
    code = main(["--lang", "zh_CN", "--data-dir", str(tmp_path / "data"), "import", "--format", "servicenow",
                 str(export(tmp_path, rows))])
    err = capsys.readouterr().err
    assert code == 1 and "29/2/2016 01:16" in err
    assert "day first" not in err and "e.g." not in err


def test_reimporting_with_another_time_zone_says_the_rows_differ_from_the_earlier_import(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = export(tmp_path, incident("INC1", "13/3/2016 09:00", ("New", "13/3/2016 09:00"),
                                     ("Active", "13/3/2016 10:00")))
    assert imported(capsys, tmp_path / "data", str(path))[0] == 0
    before = position(tmp_path / "data")
    code, out, err = imported(capsys, tmp_path / "data", "--timezone", "Asia/Shanghai", str(path))
    assert code == 1 and position(tmp_path / "data") == before
    assert "differs from an earlier import" in err and "another --timezone or --mapping?" in err
    assert "the earlier facts are kept" in err and "new command id" not in err


def _compared(capsys: pytest.CaptureFixture[str], tmp_path: Path, log: bytes, name: str) -> tuple[int, str, str]:
    path = export(tmp_path, incident("INC1", "13/3/2016 09:00", ("New", "13/3/2016 09:00"),
                                     ("Resolved", "13/3/2016 10:00")))
    data = tmp_path / "data"
    assert imported(capsys, data, str(path))[0] == 0
    assert main(["--data-dir", str(data), "views", "rebuild"]) == 0
    capsys.readouterr()
    (tmp_path / name).write_bytes(log)
    code = main(["--lang", "zh_CN", "--data-dir", str(data), "report", "compare-sla", "--file", str(tmp_path / name)])
    out = capsys.readouterr()
    return code, out.out, out.err


LOG = ("number,priority,made_sla\n" + "INC1,3 - Moderate,true\n" +
       "".join(f"INC{n},3 - Moderate,false\n" for n in range(2, 1500))).encode()


def test_compare_sla_is_said_in_chinese_with_separated_numbers(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    code, out, _ = _compared(capsys, tmp_path, LOG, "log.csv")
    assert code == 0
    assert "混淆矩阵" in out and "一致率" in out and "无计时" in out and "1,498" in out and "100.0%" in out
    assert not any(w in out for w in ("breached", "no clock", "confusion matrix", "incidents", "agreement"))


def test_compare_sla_says_a_cut_gzip_is_cut(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    whole = gzip.compress(LOG * 20)
    code, _, err = _compared(capsys, tmp_path, whole[: len(whole) // 2], "log.csv.gz")
    assert code == 2 and "TL-E113" in err and "gzip 数据不完整" in err
    assert "IO Error" not in err and "LINE" not in err
