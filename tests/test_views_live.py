"""Rebuild and live are one code path (§4): any split of the log into batches, applied with
moving evaluation times and then re-evaluated at T, equals one full rebuild at T; two rebuilds
are identical. Also: analysts read a published snapshot while a writer holds the views (§7)."""

from __future__ import annotations

import itertools
from datetime import UTC, timedelta
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from adapters.store_arrow import store_batches
from domain import events as ev
from projections import apply_batch, open_views, publish_snapshot, reevaluate
from projections.schema import VIEW_TABLES
from tests.viewkit import FAR_FUTURE, Kit, t

STEPS = ["ack", "dispatch", "arrive", "wait", "unwait", "severity", "consent", "repair_failed", "resolve",
         "reopen", "cancel", "remote_fix", "spare", "cause_human", "down_visit"]
_n = itertools.count()


def _record(k: Kit, scripts: list[list[tuple[str, int]]]) -> None:
    for i, script in enumerate(scripts):
        tid, at = f"T{i}", t("2025-07-01T09:00") + timedelta(hours=5 * i)
        facts: list[ev.Fact] = [ev.TicketOpened(command_id=f"o{next(_n)}", id=tid, occurred_at=at, actor="p",
                                                asset_id="A1" if i % 2 else "A2", severity="normal",
                                                fault_category="power", asset_down=i % 3 == 0)]
        for step, minutes in script:
            at += timedelta(minutes=minutes)
            kw = {"command_id": f"s{next(_n)}", "id": tid, "occurred_at": at, "actor": "p"}
            facts.append({
                "ack": lambda kw=kw: ev.TicketAcknowledged(**kw),
                "dispatch": lambda kw=kw: ev.TechnicianDispatched(**kw, technician="li"),
                "arrive": lambda kw=kw: ev.TechnicianArrived(**kw, technician="li"),
                "wait": lambda kw=kw: ev.WaitStarted(**kw, reason="customer"),
                "unwait": lambda kw=kw: ev.WaitEnded(**kw, reason="customer"),
                "severity": lambda kw=kw: ev.SeverityChanged(**kw, severity="major"),
                "consent": lambda kw=kw: ev.DeadlineExtended(**kw, clock="resolution", add_minutes=600, consented_by="b"),
                "repair_failed": lambda kw=kw: ev.RepairAttempted(**kw, fixed=False, parts=[
                    ev.PartLine(part="x", quantity=1, quoted_price_fen=333, cost_price_fen=101, consumable=True)]),
                "resolve": lambda kw=kw: ev.TicketResolved(**kw),
                "reopen": lambda kw=kw: ev.TicketReopened(**kw),
                "cancel": lambda kw=kw: ev.TicketCancelled(**kw),
                "remote_fix": lambda kw=kw: ev.RemoteFixAttempted(**kw, fixed=True),
                "spare": lambda kw=kw: ev.SpareUnitLent(**kw, spare_serial="SP"),
                "cause_human": lambda kw=kw: ev.FaultCauseDetermined(**kw, cause="human"),
                "down_visit": lambda kw=kw: ev.FollowUpDone(**{**kw, "id": "A1"}, kind="onsite", scope="site"),
            }[step]())
        for f in facts:  # one at a time: a refused step (e.g. arrival before dispatch) records nothing
            k.ledger.execute_many([f], now=FAR_FUTURE)


def _snapshot(con) -> dict[str, list]:
    return {tb: con.execute(f"SELECT * FROM {tb} ORDER BY ALL").fetchall() for tb in ("events", *VIEW_TABLES)}


scripts_st = st.lists(st.lists(st.tuples(st.sampled_from(STEPS), st.integers(1, 2000)), max_size=8),
                      min_size=1, max_size=4)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])  # no shrinking: each example records a real ledger
@given(scripts=scripts_st, cuts=st.lists(st.floats(0, 1), max_size=3), data=st.data())
def test_live_batches_in_any_split_equal_one_rebuild(tmp_path_factory, scripts, cuts, data):
    at = data.draw(st.sampled_from(["2025-07-01T20:00", "2025-07-03T12:00", "2025-09-01T00:00"]))
    _live_equals_rebuild(tmp_path_factory.mktemp("live"), scripts, cuts, at)


def test_an_open_wait_on_a_clock_not_applicable_moves_with_the_evaluation_time(tmp_path):
    """Found by the property above: arrival is not applicable (fixed remotely), so a customer wait
    left open when the ticket was resolved is listed with its minutes so far; a follower's
    re-evaluation counts them to its new time, as a rebuild does (it had kept the batch's)."""
    script = [("arrive", 351), ("repair_failed", 299), ("remote_fix", 1303), ("wait", 181), ("resolve", 210)]
    _live_equals_rebuild(tmp_path, [script], [0.0], "2025-07-03T12:00")


def _live_equals_rebuild(folder, scripts, cuts, at_text):
    k = Kit(folder, years=(2025,))
    k.contract_file("contracts/seed-004.toml")
    k.asset("A1", "K-004", customer="buyer-004", accepted="2025-06-01T10:00")
    k.asset("A2", "K-004", customer="buyer-004", accepted="2025-06-01T10:00", site="S1")
    _record(k, scripts)
    log = pa.concat_tables(list(store_batches(k.ledger)))
    at = t(at_text)

    full = open_views(None)
    apply_batch(full, log, at)
    again = open_views(None)
    apply_batch(again, log, at)
    assert _snapshot(full) == _snapshot(again)

    live = open_views(None)
    bounds = sorted({0, log.num_rows, *(int(c * log.num_rows) for c in cuts)})
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        apply_batch(live, log.slice(a, b - a), at - timedelta(hours=len(bounds) - i), consumer="follow")
    reevaluate(live, at, consumer="follow")
    want, got = _snapshot(full), _snapshot(live)
    for tb in want:
        assert got[tb] == want[tb], tb


def test_snapshot_is_readable_while_the_writer_holds_the_views(tmp_path):
    import duckdb

    k = Kit(tmp_path, years=(2025,))
    k.contract_file("contracts/seed-004.toml")
    k.asset("A1", "K-004", customer="buyer-004", accepted="2025-06-01T10:00")
    k.ticket("T", "A1", "2025-07-01T09:00")
    writer = open_views(tmp_path / "views.duckdb")
    apply_batch(writer, pa.concat_tables(list(store_batches(k.ledger))), t("2025-07-01T12:00"), consumer="follow")
    publish_snapshot(writer, tmp_path / "views-snapshot.duckdb")
    reader = duckdb.connect(str(tmp_path / "views-snapshot.duckdb"), read_only=True)
    assert reader.execute("SELECT count(*) FROM sla_clocks").fetchall()[0][0] == 3
    from adapters.cli import main

    assert main(["--data-dir", str(tmp_path), "sql", "SELECT clock, state FROM sla_clocks"]) == 0
    writer.close()


def test_a_snapshot_once_opened_read_write_is_replaced_by_a_readable_one(tmp_path):
    """An analyst opened the snapshot read-write (a duckdb shell without -readonly) and wrote to it:
    its write-ahead log stayed beside it, and DuckDB refused every later copy with it, so `sql`,
    `report` and the console failed until someone deleted the file."""
    import subprocess
    import sys

    import duckdb

    k = Kit(tmp_path, years=(2025,))
    k.contract_file("contracts/seed-004.toml")
    k.asset("A1", "K-004", customer="buyer-004", accepted="2025-06-01T10:00")
    k.ticket("T1", "A1", "2025-07-01T09:00")
    log = pa.concat_tables(list(store_batches(k.ledger)))
    writer = open_views(tmp_path / "views.duckdb")
    snapshot = tmp_path / "views-snapshot.duckdb"
    try:
        apply_batch(writer, log, t("2025-07-01T12:00"), consumer="follow")
        publish_snapshot(writer, snapshot)
        analyst = ("import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); "
                   "c.execute(\"SET checkpoint_threshold = '1GB'\"); c.execute('DELETE FROM sla_clocks'); os._exit(0)")
        subprocess.run([sys.executable, "-c", analyst, str(snapshot)], check=True)
        assert Path(f"{snapshot}.wal").exists()
        reevaluate(writer, t("2025-07-01T13:00"))
        publish_snapshot(writer, snapshot)
        reader = duckdb.connect(str(snapshot), read_only=True)  # as `sql` and the console open it
        assert reader.execute("SELECT count(*) FROM sla_clocks").fetchall()[0][0] == 3
        reader.close()
    finally:
        writer.close()


def test_a_follower_after_a_rebuild_re_evaluates_only_what_its_own_last_batch_left(tmp_path):
    """Views rebuilt at T0, then followed: each batch re-evaluates the visit periods whose status can
    have changed since the views' last evaluation, the follower's previous batch, not since the
    rebuild (which re-evaluated every period of the months between, batch after batch)."""
    k = Kit(tmp_path, years=(2025,))
    k.contract_file("contracts/seed-004.toml")
    for i in range(12):
        k.asset(f"A{i}", "K-004", customer="buyer-004", accepted="2025-01-01T10:00", site=f"S{i}")
    rebuilt = k.ledger.position
    k.ticket("T1", "A0", "2025-10-01T09:00")
    k.ticket("T2", "A0", "2025-10-01T10:00")
    log = pa.concat_tables(list(store_batches(k.ledger)))
    views = open_views(None)
    apply_batch(views, log.slice(0, rebuilt), t("2025-02-01T00:00"))  # `views rebuild`'s consumer
    apply_batch(views, log.slice(rebuilt, 1), t("2025-10-01T09:30"), consumer="follow")
    apply_batch(views, log.slice(rebuilt + 1, 1), t("2025-10-01T10:30"), consumer="follow")
    # the last batch rewrote the periods of its ticket's asset at most, not the other eleven's
    assert set(views.execute("SELECT asset FROM _scope_visits").fetchall()) <= {("A0",)}
    last = t("2025-10-01T10:30").astimezone(UTC).replace(tzinfo=None)  # the views' times are naive UTC
    assert views.execute("SELECT DISTINCT evaluated_at FROM checkpoint").fetchall() == [(last,)]


def test_the_analysts_snapshot_holds_the_batches_committed_before_its_copy_began(tmp_path):
    """The snapshot is a copy of the checkpointed file's bytes: the batches committed before the copy
    began are all in it (they sat in the write-ahead log until the checkpoint), a batch committed
    while it is copied is not, and DuckDB's own checkpoints run again once the copy is done."""
    import duckdb

    from adapters.follower import Snapshots

    k = Kit(tmp_path, years=(2025,))
    k.contract_file("contracts/seed-004.toml")
    k.asset("A1", "K-004", customer="buyer-004", accepted="2025-06-01T10:00")
    k.ticket("T1", "A1", "2025-07-01T09:00")
    k.ticket("T2", "A1", "2025-07-02T09:00")
    log = pa.concat_tables(list(store_batches(k.ledger)))
    first = next(i for i, state in enumerate(log.column("state").to_pylist()) if '"T2"' in state)
    writer = open_views(tmp_path / "views.duckdb")
    threshold = writer.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0]
    snapshots = Snapshots(writer, tmp_path / "views-snapshot.duckdb", 0.0, print)
    try:
        apply_batch(writer, log.slice(0, first), t("2025-07-02T12:00"), consumer="follow")
        snapshots.poke(first)
        apply_batch(writer, log.slice(first), t("2025-07-02T12:00"), consumer="follow")
        snapshots.thread.join()
        reader = duckdb.connect(str(tmp_path / "views-snapshot.duckdb"), read_only=True)
        assert reader.execute("SELECT DISTINCT ticket FROM sla_clocks").fetchall() == [("T1",)]
        reader.close()
        assert writer.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0] == threshold
        # the next copy is due at once: not spaced by the last one's length and bytes (a first copy
        # slowed by a loaded machine spaced the next by four times its length, and this poke started none)
        snapshots.started = float("-inf")
        snapshots.poke(log.num_rows)
        snapshots.thread.join()
        assert snapshots.copies == 2
        reader = duckdb.connect(str(tmp_path / "views-snapshot.duckdb"), read_only=True)
        assert reader.execute("SELECT DISTINCT ticket FROM sla_clocks ORDER BY 1").fetchall() == [("T1",), ("T2",)]
        reader.close()
    finally:
        snapshots.close(log.num_rows, publish=False)
        writer.close()
