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
    assert main(["--data-dir", str(d), "--lang", "en", "verify", "--no-stream"]) == 0
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


def test_half_cut_holds_the_same_events_as_of_position_and_of_recorded_time(generated):
    """The suite measures one full replay for both cuts: P and T must select the same prefix."""
    from bench.audit_bench import half_cut

    d, stats = generated
    store = d / "events.sqlite"
    p, t = half_cut(store, stats["events"])
    con = sqlite3.connect(store)
    by_time = con.execute("SELECT max(position), count(*) FROM ledger_chain WHERE recorded_at <= ?", [t]).fetchone()
    half_time = con.execute("SELECT recorded_at FROM ledger_chain WHERE position = ?", [stats["events"] // 2]).fetchone()
    assert by_time == (p, p) and half_time == (t,) and p >= stats["events"] // 2


def test_tlog_build_copies_a_prefix_without_tree(generated, tmp_path, capsys):
    from adapters.cli import main
    from bench.tlog_bench import copy_prefix

    d, _ = generated
    copy_prefix(d / "events.sqlite", tmp_path, 4000)
    con = sqlite3.connect(tmp_path / "events.sqlite")
    assert con.execute("SELECT count(*), count(tree) FROM ledger_chain").fetchone() == (4000, 0)
    assert con.execute(ROWS + " LIMIT 4000").fetchall() == sqlite3.connect(d / "events.sqlite").execute(
        ROWS + " LIMIT 4000").fetchall()
    con.close()
    assert main(["--data-dir", str(tmp_path), "--lang", "en", "verify", "--no-stream", "--no-evidence"]) == 0
    assert "OK" in capsys.readouterr().out


def test_web_latency_counts_events_never_applied_as_lower_bounds():
    """A saturated follower's last events never reach the views during the run: they count with
    the time they had waited, instead of vanishing from the percentiles."""
    from bench.web_bench import _censored

    recorded = {p: f"2026-01-01T00:00:{p:02d}.000000Z" for p in range(1, 11)}
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    seen = [(t0 + 5.5, 5)]  # positions 1..5 applied at 5.5 s; 6..10 never
    lat, unreached = _censored(seen, recorded, stopped=t0 + 60)
    assert unreached == 5 and len(lat) == 10
    assert sorted(lat)[-1] == (60 - 6) * 1000  # position 6 had waited 54 s when the bench stopped


def test_suite_prints_each_slot_and_the_total_beside_the_target():
    from bench.__main__ import SLOTS, slot_rows

    results = {"slot_seconds": {s: 10.0 for s in SLOTS}, "generate": {"cached": True, "seconds": 200.0},
               "fresh_clone_seconds_estimate": 320.0}
    rows = slot_rows(results, 120.0, 10_000_000)
    assert [r["slot"] for r in rows] == [*SLOTS, "total"]
    assert "generating took 200 s" in rows[0]["wall"]
    assert "5.3 min" in rows[-1]["wall"] and rows[-1]["share"].endswith("yes") and "15 min" in rows[-1]["share"]
    partial = slot_rows({"slot_seconds": {"web": 900.0}}, 900.0, 10_000_000)
    assert "not measured" in partial[-1]["share"]


def test_side_by_side_runs_the_sides_chunks_in_turn_and_sums_each_sides_seconds():
    from bench.interleave import side_by_side

    ran: list[str] = []

    def side(name: str, seconds: list[float]):
        for s in seconds:
            ran.append(name)
            yield s

    spent = side_by_side({"tree": side("tree", [1.0, 2.0, 3.0]), "plain": side("plain", [10.0])})
    assert spent == {"tree": 6.0, "plain": 10.0}
    assert ran == ["tree", "plain", "tree", "tree"]  # each turn in the other order; a side done drops out


def test_the_round_of_the_median_ratio_is_kept_whole():
    from bench.interleave import median_round

    rounds = [{"ratio": 0.9, "tree": 90}, {"ratio": 0.5, "tree": 50}, {"ratio": 0.7, "tree": 70}]
    assert median_round(rounds, lambda r: r["ratio"]) == {"ratio": 0.7, "tree": 70}
