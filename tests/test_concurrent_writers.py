"""Two writers on one ledger at once (issue 14 item 7): two imports whose files share the same
contract lines both record their files; the shared commands are "already recorded" for whichever
came second, never a crash, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.ledger import Ledger, Outcome
from adapters.store import StoreConfig, iter_log
from domain import events as ev

from .conftest import PG_DSN
from .domainkit import Desk

CLI = [sys.executable, "-m", "adapters.cli"]
ROOT = Path(__file__).resolve().parents[1]


def desk_file(path: Path, contract: str, name: str, tickets: int) -> int:
    """One desk's export: the shared contract line, its own asset and `tickets` tickets."""
    shared = msgspec.structs.replace(Desk("desk:shared").contract("000"), id=contract, command_id=f"register-{contract}")
    desk = Desk(f"desk:{name}")
    facts: list[ev.Fact] = [desk.asset(f"A-{name}", contract=contract)]
    facts += [desk.open(f"T-{name}-{i}", f"A-{name}", "2025-10-01T09:00") for i in range(tickets)]
    facts = [shared, *(_renamed(f, name) for f in facts)]
    path.write_text("\n".join(ev.encode(f).decode() for f in facts) + "\n", encoding="utf-8")
    return len(facts)


def _renamed(fact: ev.Fact, desk: str) -> ev.Fact:
    """Each desk's command ids are its own (Desk numbers them from 1)."""
    return msgspec.structs.replace(fact, command_id=f"{desk}-{fact.command_id}")


def two_imports_at_once(data: Path, files: list[Path], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Both files imported by two real processes started together, each in one batch (one
    read-decide-save), so that each decides before the other has saved."""
    procs = [subprocess.Popen([*CLI, "--data-dir", str(data), "--json", "import", str(f), "--batch", "100000"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for f in files]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_two_imports_sharing_contract_lines_both_record_their_files(tmp_path: Path, store: str,
                                                                    request: pytest.FixtureRequest) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETLEDGER_POSTGRES")}
    config = StoreConfig(tmp_path / "data")
    if store == "postgres":
        schema = request.getfixturevalue("postgres_schema")
        env |= {"TICKETLEDGER_POSTGRES": PG_DSN, "TICKETLEDGER_POSTGRES_SCHEMA": schema}
        config = StoreConfig(tmp_path / "data", PG_DSN, schema)
    events = 0
    for trial in range(3):  # before the fix, the second writer crashed in nearly every trial
        files = [tmp_path / f"north-{trial}.jsonl", tmp_path / f"south-{trial}.jsonl"]
        lines = [desk_file(f, f"K-{trial}", f.stem, tickets=1500) for f in files][0]
        runs = two_imports_at_once(config.data_dir, files, env)
        for r in runs:
            assert r.returncode == 0, r.stderr[-2000:]
            assert "Traceback" not in r.stderr, r.stderr[-2000:]
        # the shared contract line is recorded by one import and already recorded for the other
        summaries = [msgspec.json.decode(r.stdout)[0] for r in runs]
        assert sorted((d["read"], d["recorded"], d["already_recorded"], d["refused"]) for d in summaries) == [
            (lines, lines - 1, 1, 0), (lines, lines, 0, 0)]
        events += 2 * lines - 1
    ledger = Ledger.open(config)
    try:
        # and the official calendar years, which the first import into the ledger records (once)
        rows = list(iter_log(ledger))
        assert sum(1 for r in rows if not r.topic.startswith("calendar.")) == events
        years = [r.originator_id for r in rows if r.topic.startswith("calendar.")]
        assert years and len(years) == len(set(years))
    finally:
        ledger.close()


class RacingLedger(Ledger):
    """A Ledger whose first save waits until the other writer has decided too: the race of two
    importers, made certain instead of likely."""

    name = "ledger"  # the same tables as the Ledger's (the library names them after the class)
    race: threading.Barrier

    def save(self, *aggregates: Any, **kwargs: Any) -> Any:
        if not getattr(self, "_raced", False):
            self._raced = True
            self.race.wait(timeout=30)
        return super().save(*aggregates, **kwargs)


def test_a_writer_that_lost_the_race_decides_again_against_what_the_winner_recorded(
        store_config: StoreConfig) -> None:
    shared = Desk("desk:shared").contract("000")
    north, south = Desk("desk:north"), Desk("desk:south")
    batches = {
        "north": [shared, *(_renamed(f, "n") for f in (north.asset("A1"), north.open("T1", "A1", "2025-10-01T09:00")))],
        # the same asset and ticket ids under other command ids: the loser's are refused as such
        "south": [shared, *(_renamed(f, "s") for f in (south.asset("A1", site="site-2"),
                                                       south.open("T1", "A1", "2025-10-01T10:00"),
                                                       south.open("T2", "A1", "2025-10-01T10:00")))],
    }
    RacingLedger.race = threading.Barrier(2)
    results: dict[str, list[Outcome]] = {}
    errors: list[BaseException] = []

    apps = {name: RacingLedger(env=store_config.env()) for name in batches}  # two writers, one store

    def write(name: str) -> None:
        try:
            results[name] = apps[name].execute_many(batches[name])
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)
        finally:
            apps[name].close()

    threads = [threading.Thread(target=write, args=(n,)) for n in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    statuses = {n: [o.status for o in results[n]] for n in results}
    if statuses["north"] == ["recorded"] * 3:  # north won the race
        assert statuses["south"] == ["already_recorded", "refused", "refused", "recorded"]
        assert "asset A1 is already registered" in results["south"][1].error
        assert "ticket T1 is already open" in results["south"][2].error
    else:  # south won: north's asset and ticket collide with south's
        assert statuses["south"] == ["recorded"] * 4
        assert statuses["north"] == ["already_recorded", "refused", "refused"]
        assert "asset A1 is already registered" in results["north"][1].error
    ledger = Ledger.open(store_config)
    try:
        assert sum(1 for _ in iter_log(ledger)) == 4
    finally:
        ledger.close()


def test_writers_opening_an_empty_postgresql_schema_at_once_all_open_it(tmp_path: Path, postgres_schema: str) -> None:
    """Two imports started together on a new PostgreSQL schema both create the tables."""
    config = StoreConfig(tmp_path / "data", PG_DSN, postgres_schema)
    start, errors = threading.Barrier(4), []

    def open_it() -> None:
        start.wait(timeout=30)
        try:
            Ledger.open(config).close()
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
