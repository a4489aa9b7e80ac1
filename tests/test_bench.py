"""The bench generator writes what the Ledger would have written, in time order, the same rows
for any number of worker processes; the rebuild bench measures prefixes of one ledger; the
honest naive fold folds every event through the domain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.ledger import open_ledger
from adapters.store import decode_stored, iter_log
from bench.generate import generate

ROWS = "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("gen")
    return d, generate(d, 6000, seed=4, chunk=1500, workers=0)


def test_same_rows_with_worker_processes(generated, tmp_path):
    d, stats = generated
    other = generate(tmp_path, 6000, seed=4, chunk=1500, workers=2)
    assert other["events"] == stats["events"] >= 6000
    a = sqlite3.connect(d / "events.sqlite").execute(ROWS).fetchall()
    b = sqlite3.connect(tmp_path / "events.sqlite").execute(ROWS).fetchall()
    assert a == b


def test_the_ledger_records_the_same_rows(generated, tmp_path):
    """Every generated fact, sent through the Ledger in log order, is accepted and stored as the
    very same row (originator, version, topic, state): the generator skips only the decisions."""
    d, _ = generated
    ledger = open_ledger(tmp_path)
    rows = sqlite3.connect(d / "events.sqlite").execute(ROWS).fetchall()
    facts = [decode_stored(r[3], r[4]) for r in rows]
    refused = []
    for i in range(0, len(facts), 500):
        refused += [o.error for o in ledger.execute_many(facts[i : i + 500]) if o.status != "recorded"]
    assert refused == []
    # the same rows; positions differ only inside a batch (the Ledger saves aggregate by aggregate)
    again = sqlite3.connect(tmp_path / "events.sqlite").execute(ROWS).fetchall()
    assert sorted(r[1:] for r in again) == sorted(r[1:] for r in rows)
    ledger.close()


def test_log_is_in_time_order_and_verifies(generated, capsys):
    from adapters.cli import main

    d, stats = generated
    ledger = open_ledger(d)
    last, tickets_before_assets, kinds = None, 0, set()
    seen_assets: set[str] = set()
    for row in iter_log(ledger):
        kind = row.topic.split(".")[0]
        if kind not in ("ticket", "asset"):
            continue
        kinds.add(kind)
        f = decode_stored(row.topic, row.state)
        # asset lives and tickets in one stream in desk recording time: every prefix is the ledger as it stood
        entry = f.source_recorded_at or f.occurred_at
        assert last is None or entry >= last, row.position
        last = entry
        if kind == "asset":
            seen_assets.add(f.id)
        elif type(f).__name__ == "TicketOpened":
            tickets_before_assets += f.asset_id not in seen_assets
    ledger.close()
    assert tickets_before_assets == 0 and kinds == {"ticket", "asset"}
    assert main(["--data-dir", str(d), "verify", "--no-stream"]) == 0
    assert "OK" in capsys.readouterr().out


def test_naive_folds_and_prefix_rebuild(generated):
    from bench import rebuild_bench as rb

    d, stats = generated
    path = str(d / "events.sqlite")
    honest = rb.child_naive(path, 4000)
    assert honest["events"] == 4000 and honest["aggregates"]["ticket"] > 0 and honest["aggregates"]["asset"] > 0
    assert sum(honest["verdicts"].values()) > 0
    simple = rb.child_naive_simple(path, 4000)
    assert simple["events"] == 4000
    scan = rb.child_scan(path, 3000)
    assert scan["events"] == 3000
    out = d / "prefix.duckdb"
    r = rb.child_rebuild(path, str(out), 3000)
    assert r["events"] == 3000
    assert 0 < r["load_seconds"] < r["seconds"]  # the load is timed apart from the views


def test_live_profile_applies_the_batches_to_a_copy_of_a_views_file(generated, tmp_path):
    """`live_bench --profile STORE --views FILE`: the batches after the file's prefix are applied to
    a copy, on file (how the 10M follower is measured without the 14 GB in-memory rebuild); the
    views file given is left as it was."""
    from datetime import UTC, datetime

    import duckdb

    from adapters.store_arrow import rebuild_from_store
    from bench.live_bench import profile

    d, _ = generated
    views, work = tmp_path / "prefix.duckdb", tmp_path / "work.duckdb"
    rebuild_from_store(d / "events.sqlite", views, datetime(2026, 3, 1, tzinfo=UTC), as_of_position=3000)
    r = profile(d, start=3000, batch=200, batches=3, views=views, work=work)
    assert r["batches"] == 3 and r["ledger_events"] == [3000, 3600] and len(r["cpu_ms_each"]) == 3
    assert any(t["sql"].startswith("COMMIT") for t in profile(d, start=3000, batch=200, batches=1, views=views,
                                                               work=work, top=200)["top"])
    for path, last in ((work, 3200), (views, 3000)):
        con = duckdb.connect(str(path), read_only=True)
        assert con.execute("SELECT max(position), count(*) FROM events").fetchall()[0] == (last, last)
        con.close()
