"""Bad input to contract, calendar, person and data-folder handling: one clear line saying what
is wrong and what would be right, exit 2 (or 1 for a file of `contract add`), and nothing
recorded; a repeated contract command is "already recorded"."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.persons import PersonStore
from adapters.store import StoreConfig

from .conftest import CONTRACTS, PG_DSN

SEED = (CONTRACTS / "seed-004.toml").read_text()


def ledger_in(tmp_path: Path) -> Path:
    """An empty, initialised ledger (without the calendar years `init` also records)."""
    data = tmp_path / "data"
    Ledger.open(StoreConfig(data)).close()
    return data


def events(data: Path) -> int:
    db = sqlite3.connect(data / "events.sqlite")
    try:
        return db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    finally:
        db.close()


def contract_file(tmp_path: Path, name: str = "k.toml", *, id: str = "K-4", timezone: str | None = None,
                  resolution_hours: int = 36) -> Path:
    text = SEED.replace('id = "K-004"', f'id = "{id}"').replace("hours = 36 }", f"hours = {resolution_hours} }}")
    if timezone is not None:
        text = text.replace('name = "seed 004"\n', f'name = "seed 004"\ntimezone = "{timezone}"\n', 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def run(data: Path | str, *argv: str) -> int:
    return main(["--data-dir", str(data), *argv])


# --- 1. time zones, 2. contract ids ----------------------------------------------------------


def test_an_unknown_time_zone_is_refused_by_contract_add_amend_and_what_if_terms(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ledger_in(tmp_path)
    mars = contract_file(tmp_path, "mars.toml", timezone="Mars/Base")
    assert run(data, "contract", "add", str(mars)) == 1
    err = capsys.readouterr().err
    assert "'Mars/Base' is not an IANA time zone" in err and 'timezone = "Asia/Shanghai"' in err
    assert "nothing recorded" in err and events(data) == 0

    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    recorded = events(data)
    assert run(data, "contract", "amend", str(mars), "--effective-from", "2026-01-01T00:00+08:00") == 2
    err = capsys.readouterr().err
    assert "Mars/Base" in err and "Asia/Shanghai" in err and events(data) == recorded

    assert run(data, "replay", "--terms", str(mars), "--out", str(tmp_path / "r.duckdb")) == 2
    err = capsys.readouterr().err
    assert "'Mars/Base' is not an IANA time zone" in err and "Traceback" not in err
    # a what-if never rewrites the ledger's own views (it replaced every contract's terms, unmarked)
    assert run(data, "views", "rebuild", "--terms", str(contract_file(tmp_path))) == 2
    err = capsys.readouterr().err
    assert "a what-if goes to a file of its own" in err and "replay --terms" in err
    assert not (data / "views.duckdb").exists()


def test_a_contract_id_outside_the_id_rule_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path, id="K P/W"))) == 1
    err = capsys.readouterr().err
    assert "id 'K P/W' is not a valid id" in err and '1-64 ASCII letters, digits, "_" or "-"' in err
    assert events(data) == 0


# --- 3. repeated and clashing contract commands ----------------------------------------------


def test_the_same_contract_and_amendment_again_are_already_recorded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETLEDGER_LANG", "en")  # K-4 is in China's zone: said in Chinese unless asked
    data, k = ledger_in(tmp_path), contract_file(tmp_path)
    amended = contract_file(tmp_path, "amended.toml", resolution_hours=48)
    # an amendment of a contract not yet registered is bad input: refused in one line, exit 2
    assert run(data, "contract", "amend", str(amended), "--effective-from", "2026-01-01T00:00+08:00") == 2
    assert "ticketledger contract: TL-E040: " in capsys.readouterr().err
    assert run(data, "contract", "add", str(k)) == 0
    assert run(data, "contract", "add", str(k)) == 0
    assert "contract K-4: already recorded" in capsys.readouterr().out
    assert run(data, "contract", "amend", str(amended), "--effective-from", "2026-01-01T00:00+08:00") == 0
    recorded = events(data)
    capsys.readouterr()
    # the same instant written in another zone, with another reason: the same amendment
    assert run(data, "contract", "amend", str(amended), "--effective-from", "2025-12-31T16:00Z", "--reason", "again") == 0
    out, err = capsys.readouterr()
    assert "amendment: already recorded" in out and err == ""
    assert events(data) == recorded


def test_other_terms_from_the_time_of_an_existing_version_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETLEDGER_LANG", "en")  # K-4 is in China's zone: said in Chinese unless asked
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    at = "2026-01-01T00:00+08:00"
    assert run(data, "contract", "amend", str(contract_file(tmp_path, "a.toml", resolution_hours=48)), "--effective-from", at) == 0
    recorded = events(data)
    capsys.readouterr()
    assert run(data, "contract", "amend", str(contract_file(tmp_path, "b.toml", resolution_hours=24)), "--effective-from", at) == 1
    err = capsys.readouterr().err
    assert "contract K-4 already has other terms in force from 2026-01-01T00:00:00+08:00" in err
    assert "two versions cannot start at the same time" in err and "amend from another effective_from" in err
    assert events(data) == recorded


# --- 4. the data folder ---------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["log"], ["ticket", "show", "T1"], ["contract", "show", "K-4"], ["calendar", "show"],
                                  ["contract", "add", str(CONTRACTS / "seed-004.toml")],
                                  ["calendar", "record", "--years", "2025"], ["views", "rebuild"], ["explain", "T1"],
                                  ["attach", "T1", str(CONTRACTS / "seed-004.toml"), "--actor", "engineer:li"],
                                  ["replay", "--as-of-position", "3"],
                                  # reading only the views, they sent the user to `views rebuild` (TL-E030)
                                  ["report", "sla"], ["sql", "SELECT 1"], ["export", "--parquet", "/tmp/never"],
                                  ["statement", "--customer", "buyer-000", "--month", "2025-06", "--format",
                                   "html", "--out", "/tmp/never.html"]])
def test_a_folder_without_a_ledger_is_refused_and_not_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    typo = tmp_path / "ledger-dta"
    assert run(typo, *argv) == 2
    err = capsys.readouterr().err
    assert f"no ledger in {typo} (no such folder); run `ticketledger --data-dir {typo} init` first" in err
    assert not typo.exists()
    typo.mkdir()  # a folder, but no ledger in it
    assert run(typo, *argv) == 2
    err = capsys.readouterr().err
    assert f"TL-E010: no ledger in {typo}; run `ticketledger --data-dir {typo} init` first" in err
    assert list(typo.iterdir()) == []


def test_init_still_creates_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "new" / "data"
    assert run(data, "init") == 0 and (data / "events.sqlite").is_file()
    said = capsys.readouterr().out
    assert "calendar years recorded now: 2004-" in said and "[" not in said  # a run of years, not a Python list
    assert run(data, "log") == 0
    capsys.readouterr()
    assert run(data, "--json", "init") == 0  # again, for a program: what is there
    init = json.loads(capsys.readouterr().out)[0]
    assert init["log_key_made"] is False and init["verifier_key"] and init["position"] > 0


def test_an_empty_data_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (["log"], ["init"], ["person", "add", "--name", "王小明"]):
        assert main(["--data-dir=", *argv]) == 2
        assert "--data-dir is empty; name the data folder, e.g. --data-dir ./ledger-data" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    for argv in (["log"], ["init"], ["person", "add", "--name", "王小明"]):
        assert run(file, *argv) == 2
        assert f"--data-dir {file} is a file, not a folder" in capsys.readouterr().err
    assert file.read_text() == "not a folder"


def test_a_damaged_ledger_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.sqlite").write_bytes(b"garbage, not SQLite")
    assert run(data, "log") == 2
    err = capsys.readouterr().err
    assert f"cannot open the ledger {data / 'events.sqlite'}: file is not a database" in err
    assert "restore it from a backup" in err and "Traceback" not in err
    assert (data / "events.sqlite").read_bytes() == b"garbage, not SQLite"
    (data / "events.sqlite").unlink()
    (data / "events.sqlite").mkdir()
    assert run(data, "init") == 2
    assert f"{data / 'events.sqlite'} is a folder, not a ledger database" in capsys.readouterr().err


def test_a_folder_the_user_may_not_write_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = ledger_in(tmp_path)
    real = os.access
    # what os.access says for a read-only folder (as root it never says so, so it is stood in for)
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK and Path(p) == data else real(p, mode))
    assert run(data, "log") == 2
    err = capsys.readouterr().err
    assert f"cannot write to {data}: the ledger needs write access" in err and "fix the permissions" in err


def test_postgres_needs_no_ledger_file_in_the_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch, postgres_schema: str) -> None:
    """A guard: with TICKETLEDGER_POSTGRES the events are not in the folder, so none is asked for
    (the folder `init` makes holds evidence, the NATS store and the views)."""
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    assert run(tmp_path / "data", "init") == 0
    assert run(tmp_path / "data", "contract", "add", str(contract_file(tmp_path))) == 0
    assert not (tmp_path / "data" / "events.sqlite").exists()
    assert run(tmp_path / "data", "--json", "log") == 0
    assert "ContractRegistered" in capsys.readouterr().out


# --- 5. calendar years ---------------------------------------------------------------------------


@pytest.mark.parametrize(("years", "says"), [
    ("2026-2024", "the range runs backwards; write the earlier year first, --years 2024-2026"),
    ("0", "0 is not a calendar year; write a year such as 2026 or a range such as 2024-2026"),
    ("99999", "99999 is not a calendar year; write a year such as 2026"),
])
def test_calendar_years_backwards_or_out_of_range_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], years: str, says: str) -> None:
    data = ledger_in(tmp_path)
    assert run(data, "calendar", "record", "--years", years) == 2
    err = capsys.readouterr().err
    assert says in err and "Nothing recorded" in err
    assert events(data) == 0


# --- 6. personal data ------------------------------------------------------------------------------


def test_person_add_refuses_an_existing_ref_and_keeps_the_details(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert run(data, "person", "add", "--name", "王小明", "--phone", "+86 (010) 1380-0138", "--ref", "P-1") == 0
    assert run(data, "person", "add", "--name", "李四", "--phone", "13900139000", "--ref", "P-1") == 2
    err = capsys.readouterr().err
    assert "P-1 already exists; nothing changed" in err
    assert "Leave --ref out" in err and "`ticketledger erase-person P-1`, then add them again" in err
    assert PersonStore(data).get("P-1") == {"ref": "P-1", "name": "王小明", "phone": "+86 (010) 1380-0138"}


@pytest.mark.parametrize(("argv", "says"), [
    (["--name", "", "--ref", "P-2"], "--name is empty; give the reporter's name"),
    (["--name", "   ", "--ref", "P-2"], "--name is empty"),
    (["--name", "王小明", "--phone", "call me maybe", "--ref", "P-2"],
     "--phone 'call me maybe' is not a phone number; use digits, spaces, +, - and parentheses only"),
    (["--name", "王小明", "--ref", "bad ref/.."],
     '--ref \'bad ref/..\' is not a valid reference; a reference is 1-64 ASCII letters, digits, "_" or "-"'),
    (["--name", "王小明", "--ref", ""], "--ref '' is not a valid reference"),
])
def test_person_add_refuses_bad_details_and_stores_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    data = tmp_path / "data"
    assert run(data, "person", "add", *argv) == 2
    assert says in capsys.readouterr().err
    for ref in ("P-2", "bad ref/..", ""):
        assert PersonStore(data).get(ref) is None


def test_reading_or_erasing_persons_in_a_missing_folder_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "ledger-dta"
    assert run(typo, "erase-person", "P-1") == 2
    assert f"no data folder {typo}; check --data-dir for a typo. Nothing erased" in capsys.readouterr().err
    assert run(typo, "person", "show", "P-1") == 2
    assert not typo.exists()


def test_an_imported_amendment_from_the_time_of_another_version_is_refused_too(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from adapters.ledger import open_ledger
    from domain import events as ev
    from domain.terms import load_contract_file

    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    ledger = open_ledger(data)
    try:
        at = datetime(2026, 1, 1, tzinfo=UTC)

        def amendment(name: str, hours: int) -> ev.ContractAmended:
            terms = load_contract_file(str(contract_file(tmp_path, name, resolution_hours=hours)))["terms"]
            return ev.ContractAmended(command_id=f"amend-{name}", id="K-4", occurred_at=at, actor="desk:x",
                                      channel="import", effective_from=at, terms=terms)

        first, second = ledger.execute_many([amendment("a.toml", 48)]), ledger.execute_many([amendment("b.toml", 24)])
        assert first[0].status == "recorded" and second[0].status == "refused"
        assert "two versions cannot start at the same time" in second[0].error
    finally:
        ledger.close()


def test_contract_show_says_what_each_amendment_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    amended = contract_file(tmp_path, "amended.toml", resolution_hours=48)
    assert run(data, "contract", "amend", str(amended), "--effective-from", "2026-01-01T00:00+08:00") == 0
    capsys.readouterr()
    assert run(data, "--lang", "en", "contract", "show", "K-4") == 0
    out = capsys.readouterr().out
    assert "normal resolution: 36 hours → 48 hours" in " ".join(out.split()), out
    assert run(data, "contract", "show", "K-4", "--json") == 0
    versions = json.loads(capsys.readouterr().out)
    assert versions[0]["changes"] == []
    assert {"before": 36, "after": 48} in [{k: c[k] for k in ("before", "after")} for c in versions[1]["changes"]]
    assert all(c["term"].endswith("resolution.target.hours") for c in versions[1]["changes"])


def test_contract_show_numbers_versions_as_the_views_do_when_amended_out_of_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An amendment recorded after a later one keeps its recorded number: the number `contract
    show` prints is the one the views (and so explain and the reports) cite, with the same date."""
    import duckdb

    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    for name, hours, start, reason in (("a.toml", 48, "2026-01-01T00:00+08:00", "slower"),
                                       ("b.toml", 24, "2025-06-01T00:00+08:00", "faster")):
        assert run(data, "contract", "amend", str(contract_file(tmp_path, name, resolution_hours=hours)),
                   "--effective-from", start, "--reason", reason) == 0
    assert run(data, "views", "rebuild") == 0
    capsys.readouterr()
    assert run(data, "contract", "show", "K-4", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["reason"]) for v in shown] == [(1, ""), (3, "faster"), (2, "slower")]
    con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    try:
        held = dict(con.execute("SELECT version, json_extract(terms, '$.clocks') FROM terms").fetchall())
    finally:
        con.close()
    assert all(json.loads(held[v["version"]]) == v["terms"]["clocks"] for v in shown)
    assert run(data, "--lang", "en", "contract", "show", "K-4") == 0
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert any(line.startswith("3 2025-06-01 00:00") and "faster" in line and "36 hours → 24 hours" in line for line in lines), lines
    assert any(line.startswith("2 2026-01-01 00:00") and "slower" in line and "24 hours → 48 hours" in line for line in lines), lines


def test_an_amendment_that_changes_nothing_is_said_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    capsys.readouterr()
    assert run(data, "--lang", "en", "contract", "amend", str(contract_file(tmp_path, "same.toml")),
               "--effective-from", "2026-01-01T00:00+08:00") == 0
    out = capsys.readouterr().out
    assert "no term changed: the terms are those of version 1, in force before 2026-01-01 00:00" in out, out
    assert run(data, "--lang", "en", "contract", "amend", str(contract_file(tmp_path, "b.toml", resolution_hours=24)),
               "--effective-from", "2026-03-01T00:00+08:00") == 0
    assert "no term changed" not in capsys.readouterr().out


def test_contract_show_prints_a_versions_terms_with_their_clauses(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The terms a supplier's manager checks (each clock's target per severity with its clause,
    who pays, the losses clause, the tolerance) read in the table, not only in --json."""
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    assert run(data, "contract", "amend", str(contract_file(tmp_path, "b.toml", resolution_hours=24)),
               "--effective-from", "2026-01-01T00:00+08:00") == 0
    capsys.readouterr()

    def shown(*argv: str) -> list[str]:
        assert run(data, *argv) == 0
        return [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]

    newest = shown("--lang", "en", "contract", "show", "K-4")
    assert any(line.endswith("normal resolution: 36 hours → 24 hours") for line in newest), newest
    assert "terms of version 2 (in force from 2026-01-01 00:00 Beijing time)" in newest, newest
    assert any(line.startswith("normal resolution 24 hours around the clock (7×24) waiting for the customer")
               and line.endswith("原文第9行 普通设备维修或更换不超过36小时") for line in newest), newest
    assert any(line.startswith("normal response 1 hour around the clock (7×24)") and line.endswith("原文第15行 1小时内作出电话响应")
               for line in newest), newest
    assert any(line.startswith("1 before acceptance") and "原文第2行 设备交付正常使用前所发生的所有费用均由我公司承担" in line
               for line in newest), newest
    assert any(line.startswith("late entries:") for line in newest), newest
    signed = shown("--lang", "zh_CN", "contract", "show", "K-4", "--version", "1")
    assert "第 1 版条款（签订时）" in signed, signed
    assert any(line.startswith("普通 故障解决 36 小时 全天候（7×24）") for line in signed), signed
    assert run(data, "contract", "show", "K-4", "--version", "3") == 2
    assert "TL-E040" in capsys.readouterr().err


def test_an_amendment_before_a_later_version_says_until_when_it_applies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Amended from 2026-01-01, then from 2025-06-01: the second change lasts only until the first
    one's date, which keeps its own terms; a manager who meant it to last is told to amend that too."""
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    assert run(data, "--lang", "en", "contract", "amend", str(contract_file(tmp_path, "a.toml", resolution_hours=48)),
               "--effective-from", "2026-01-01T00:00+08:00") == 0
    assert "applies until" not in capsys.readouterr().out
    assert run(data, "--lang", "en", "contract", "amend", str(contract_file(tmp_path, "b.toml", resolution_hours=24)),
               "--effective-from", "2025-06-01T00:00+08:00") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("contract K-4 amendment: applies until 2026-01-01 00:00 Beijing time, when version 2 (recorded earlier) "
            "comes into force with its own terms") in out, out


def test_contract_show_says_a_payer_rule_change_in_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An amendment of who pays printed the whole rule list as JSON in the changes column."""
    data = ledger_in(tmp_path)
    assert run(data, "contract", "add", str(contract_file(tmp_path))) == 0
    amended = contract_file(tmp_path, "paid.toml")
    amended.write_text(amended.read_text().replace('coverage = "warranty"\ncauses = ["*"]\nparts = "free"',
                                                   'coverage = "warranty"\ncauses = ["*"]\nparts = "cost"', 1))
    assert run(data, "contract", "amend", str(amended), "--effective-from", "2026-01-01T00:00+08:00") == 0
    capsys.readouterr()
    assert run(data, "--lang", "en", "contract", "show", "K-4") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "payer rules changed (the terms below list them)" in out and '"coverage"' not in out, out
