"""The live follower against a real nats-server: rebuild == live, crash-safe, alerts once,
a deadline passing with no new event turns a clock to breached, analysts read beside it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import msgspec
import pytest

import projections
from adapters.follower import follow, snapshot_path, views_path
from adapters.ledger import Ledger, open_ledger
from adapters.relay import relay_all
from adapters.store_arrow import store_batches
from adapters.stream import ALERTS_STREAM, connect
from domain import events as ev

from . import natskit
from .domainkit import Desk

nats_single = natskit.nats_single  # a real nats-server per test

CLOCK_COLUMNS = "ticket, clock, state, deadline, stopped_at, breach_minutes, paused_minutes, extension_minutes"


def busy_ledger(data: Path, tickets: int, base: datetime) -> Ledger:
    """Seed 004 tickets: some met, some breached, a few still running at `base`."""
    from adapters.calendar_data import record_calendar

    ledger = open_ledger(data)
    record_calendar(ledger, [2025, 2026])
    desk = Desk()
    facts: list[ev.Fact] = [desk.contract("004"), desk.asset("A1", contract="K-004", customer="buyer-004")]
    for i in range(tickets):
        at = base - timedelta(hours=2 * tickets - 2 * i)
        t, iso = f"T{i}", lambda m, at=at: (at + timedelta(minutes=m)).isoformat()
        facts.append(desk.open(t, "A1", iso(0), severity="major" if i % 3 == 0 else "normal"))
        facts.append(desk.fact(ev.TicketAcknowledged, t, iso(30 if i % 4 else 90)))
        if i % 5 != 4:
            facts.append(desk.fact(ev.TechnicianDispatched, t, iso(60), technician="li"))
            facts.append(desk.fact(ev.TechnicianArrived, t, iso(100), technician="li"))
            facts.append(desk.fact(ev.TicketResolved, t, iso(200)))
    outcomes = ledger.execute_many(facts, now=base + timedelta(minutes=5))
    assert all(o.status == "recorded" for o in outcomes), [o for o in outcomes if o.status != "recorded"][:3]
    return ledger


def clock_rows(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT {CLOCK_COLUMNS} FROM sla_clocks ORDER BY ticket, clock").fetchall()
    finally:
        con.close()


def rebuilt_at(ledger: Ledger, tmp: Path, evaluated_at: datetime) -> list[tuple]:
    target = tmp / "rebuilt.duckdb"
    projections.rebuild_from_store(lambda: store_batches(ledger), target, evaluated_at)
    return clock_rows(target)


def follower_evaluated_at(data: Path) -> datetime:
    con = duckdb.connect(str(views_path(data)), read_only=True)
    try:
        t = con.execute("SELECT evaluated_at FROM checkpoint WHERE consumer = 'follow'").fetchall()[0][0]
    finally:
        con.close()
    return t.replace(tzinfo=UTC)


def alerts(url: str) -> list[dict]:
    async def read() -> list[dict]:
        nc = await connect(url)
        js = nc.jetstream()
        out = []
        try:
            info = await js.stream_info(ALERTS_STREAM)
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                m = await js.get_msg(ALERTS_STREAM, seq, direct=True)
                out.append(msgspec.json.decode(m.data))
        finally:
            await nc.close()
        return out

    return asyncio.run(read())


def test_follower_rows_equal_a_rebuild_at_its_evaluation_time(tmp_path: Path, nats_single) -> None:
    data = tmp_path / "data"
    ledger = busy_ledger(data, 40, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    stats = follow(data, nats_single.url, until_position=ledger.position, interval=3600)
    assert stats.last_position == ledger.position
    live = clock_rows(views_path(data))
    assert live and live == rebuilt_at(ledger, tmp_path, follower_evaluated_at(data))
    # The analysts' snapshot holds the same rows and opens read-only beside the follower.
    assert clock_rows(snapshot_path(data)) == live


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "no-fsync"])
def test_follower_killed_mid_batch_ends_like_a_rebuild_and_alerts_once(tmp_path: Path, nats_single, fsync: bool) -> None:
    """Also with --no-fsync: a killed process loses no commit (the OS holds what was written)."""
    data = tmp_path / "data"
    ledger = busy_ledger(data, 400, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    cmd = [sys.executable, "-m", "adapters.follower", str(data), nats_single.url, "--batch", "50", "--interval", "3600",
           "--until-position", str(ledger.position), *([] if fsync else ["--no-fsync"])]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    victim = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not views_path(data).exists():
        time.sleep(0.05)
    time.sleep(1.5)  # let it apply some batches, then kill it in the middle of the work
    assert "libjemalloc" in Path(f"/proc/{victim.pid}/maps").read_text()  # adapters/allocator.py
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    live = clock_rows(views_path(data))
    assert live == rebuilt_at(ledger, tmp_path, follower_evaluated_at(data))
    published = alerts(nats_single.url)
    keys = Counter(f"{a['ticket']}:{a['clock']}:{a['n']}" for a in published)
    assert published and max(keys.values()) == 1, "an alert was doubled"
    last_alert = {(a["ticket"], a["clock"]): a["state"] for a in published}
    live_state = {(t, c): s for t, c, s, *_ in live}
    # every clock a queue shows or an alert reader acts on was alerted, last with its live state
    assert {k for k, s in live_state.items() if s != "not_applicable"} <= set(last_alert), "an alert was lost"
    assert last_alert == {k: live_state[k] for k in last_alert}, "an alert was lost"


def test_a_deadline_passing_with_no_new_event_turns_the_clock_breached(tmp_path: Path, nats_single) -> None:
    from adapters.calendar_data import record_calendar

    data = tmp_path / "data"
    ledger = open_ledger(data)
    record_calendar(ledger, [2025, 2026])
    desk = Desk()
    now = datetime.now(UTC)
    ledger.execute_many([desk.contract("004"), desk.asset("A1", contract="K-004", customer="buyer-004"),
                         # seed 004 responds within 1 h: this deadline passes 20 s from now
                         desk.open("T1", "A1", (now - timedelta(minutes=60) + timedelta(seconds=20)).isoformat())])
    deadline = now + timedelta(seconds=20)
    relay_all(ledger, nats_single.url)
    follow(data, nats_single.url, until_position=ledger.position, interval=1)
    first = {c: s for t, c, s, *_ in clock_rows(views_path(data))}
    if datetime.now(UTC) < deadline - timedelta(seconds=1):  # a slow machine may already be past it
        assert first["response"] == "at_risk"
    # No new event arrives; the follower's timer alone must turn the clock.
    remaining = (deadline - datetime.now(UTC)).total_seconds()
    follow(data, nats_single.url, max_seconds=max(remaining, 0) + 6, interval=1)
    later = {c: s for t, c, s, *_ in clock_rows(views_path(data))}
    assert later["response"] == "breached"
    states = [a["state"] for a in alerts(nats_single.url) if a["clock"] == "response"]
    assert states == (["at_risk", "breached"] if first["response"] == "at_risk" else ["breached"])


def test_analysts_query_while_views_follow_runs(tmp_path: Path, nats_single) -> None:
    """§7: report, sql and a read-only DuckDB open all work beside a running follower (here one that
    commits without waiting for the disk, `--no-fsync`)."""
    data = tmp_path / "data"
    ledger = busy_ledger(data, 30, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    cli = [sys.executable, "-m", "adapters.cli", "--data-dir", str(data)]
    follower = subprocess.Popen([*cli, "views", "follow", "--nats-url", nats_single.url, "--interval", "1",
                                 "--max-seconds", "25", "--no-fsync"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not snapshot_path(data).exists():
            time.sleep(0.1)
        assert follower.poll() is None, follower.stderr.read() if follower.stderr else ""
        sql = subprocess.run([*cli, "--json", "sql", "SELECT count(*) AS n FROM sla_clocks"], capture_output=True,
                             text=True, timeout=60)
        assert sql.returncode == 0, sql.stderr
        assert msgspec.json.decode(sql.stdout)[0]["n"] > 0
        report = subprocess.run([*cli, "--json", "report", "sla", "--state", "breached"], capture_output=True,
                                text=True, timeout=60)
        assert report.returncode == 0, report.stderr
        assert all(r["state"] == "breached" for r in msgspec.json.decode(report.stdout))
        con = duckdb.connect(str(snapshot_path(data)), read_only=True)
        assert con.execute("SELECT count(*) FROM sla_clocks").fetchall()[0][0] > 0
        con.close()
        assert follower.poll() is None  # the follower kept running throughout
        assert "libjemalloc" in Path(f"/proc/{follower.pid}/maps").read_text()  # adapters/allocator.py
    finally:
        follower.terminate()
        follower.wait(30)


def test_analysts_first_snapshot_holds_everything_the_stream_held_when_the_follower_started(
        tmp_path: Path, nats_single) -> None:
    """An analyst is never shown an empty or partial snapshot of a ledger the follower has not
    caught up with yet: the first snapshot is published after the initial catch-up, even with
    small batches and a snapshot due every 50 ms (it was published after the first batch, or
    before any, and `sql` answered 0 clocks)."""
    data = tmp_path / "data"
    ledger = busy_ledger(data, 50, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    follower = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "views", "follow",
                                 "--nats-url", nats_single.url, "--batch", "25", "--snapshot-every", "0.05",
                                 "--interval", "3600", "--max-seconds", "60"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not snapshot_path(data).exists():
            assert time.monotonic() < deadline and follower.poll() is None, follower.stderr.read()
            time.sleep(0.01)
        con = duckdb.connect(str(snapshot_path(data)), read_only=True)
        try:
            first = con.execute("SELECT count(*), max(position) FROM events").fetchall()[0]
        finally:
            con.close()
        assert first == (ledger.position, ledger.position)
    finally:
        follower.terminate()
        follower.wait(30)


def test_rebuild_from_the_stream_equals_rebuild_from_the_store(tmp_path: Path, nats_single) -> None:
    data = tmp_path / "data"
    ledger = busy_ledger(data, 20, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    cli = [sys.executable, "-m", "adapters.cli", "--data-dir", str(data)]
    at = "2026-11-01T00:00:00+00:00"
    rows = {}
    for source in ("store", "nats"):
        out = subprocess.run([*cli, "views", "rebuild", "--from", source, "--at", at, "--nats-url", nats_single.url],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        rows[source] = clock_rows(views_path(data))
    assert rows["store"] and rows["nats"] == rows["store"]


def test_analysts_snapshot_catches_up_soon_after_the_last_event_while_the_follower_runs(tmp_path: Path,
                                                                                      nats_single) -> None:
    """The snapshot is copied at most every `snapshot_every` s; once events stop, the last state
    still reaches it (and the follower's own database has it from its commit)."""
    import threading

    data = tmp_path / "data"
    ledger = busy_ledger(data, 10, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    runner = threading.Thread(target=follow, args=(data, nats_single.url),
                              kwargs={"max_seconds": 20, "interval": 3600, "snapshot_every": 1.0})
    runner.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and snapshot_position(data) < ledger.position:
            time.sleep(0.1)
        desk = Desk()
        ledger.execute_many([desk.open("T-late", "A1", datetime.now(UTC).isoformat())])
        relay_all(ledger, nats_single.url)
        until = time.monotonic() + 5  # the cadence (1 s) plus a copy, on a busy machine
        while time.monotonic() < until and snapshot_position(data) < ledger.position:
            time.sleep(0.1)
        assert runner.is_alive(), "the follower stopped before the check"
        assert snapshot_position(data) == ledger.position
    finally:
        runner.join()


def snapshot_position(data: Path) -> int:
    try:
        con = duckdb.connect(str(snapshot_path(data)), read_only=True)
    except duckdb.Error:
        return 0  # not there yet, or being replaced
    try:
        return con.execute("SELECT coalesce(max(position), 0) FROM events").fetchall()[0][0]
    finally:
        con.close()


def test_an_alert_published_just_before_a_crash_is_numbered_on_after_the_restart(tmp_path: Path,
                                                                                  nats_single) -> None:
    """Killed after publishing a clock's alert but before the commit that records it, then restarted
    when the clock has moved on (here: resolved): the new state is that clock's next alert, not a
    second alert number 1 (which a reader counting a clock's alerts would take as a repeat)."""
    data, base = tmp_path / "data", datetime.now(UTC)
    ledger = busy_ledger(data, 5, base)  # T4 is left unresolved: its resolution clock runs
    relay_all(ledger, nats_single.url)
    follow(data, nats_single.url, until_position=ledger.position, interval=3600)
    first = {(a["ticket"], a["clock"]): a for a in alerts(nats_single.url)}
    assert first[("T4", "resolution")]["state"] in ("running", "at_risk") and first[("T4", "resolution")]["n"] == 1
    con = duckdb.connect(str(views_path(data)))
    # every alert published is recorded once the follower stops (the last pass's with no batch after it)
    assert {(t, c): (n, s) for t, c, n, s in con.execute("SELECT ticket, clock, alerts, state FROM alert_state")
            .fetchall()} == {k: (a["n"], a["state"]) for k, a in first.items()}
    # the table the follower makes carries its README description, as the schema's tables do
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'alert_state'").fetchall()[0][0]
    # the crash: the commit recording T4's alerts never happened
    con.execute("DELETE FROM alert_state WHERE ticket = 'T4'")
    con.close()
    resolved = ev.TicketResolved(command_id="resolve-T4", id="T4", occurred_at=base - timedelta(minutes=30),
                                 actor="desk:test")
    outcome = ledger.execute_many([resolved])[0]
    assert outcome.status == "recorded", outcome.error
    relay_all(ledger, nats_single.url)
    follow(data, nats_single.url, until_position=ledger.position, interval=3600)
    published = alerts(nats_single.url)
    keys = Counter(f"{a['ticket']}:{a['clock']}:{a['n']}" for a in published)
    assert max(keys.values()) == 1, keys.most_common(3)
    t4 = [(a["n"], a["state"]) for a in published if (a["ticket"], a["clock"]) == ("T4", "resolution")]
    assert t4[0][0] == 1 and t4[-1] == (2, clock_rows_state(data, "T4", "resolution"))
    # a clock whose state did not move since its alert went out is not published again
    assert [a["n"] for a in published if (a["ticket"], a["clock"]) == ("T4", "response")] == [1]


def clock_rows_state(data: Path, ticket: str, clock: str) -> str:
    con = duckdb.connect(str(views_path(data)), read_only=True)
    try:
        return con.execute("SELECT state FROM sla_clocks WHERE ticket = ? AND clock = ?", [ticket, clock]).fetchone()[0]
    finally:
        con.close()


def test_a_slow_snapshot_copy_spaces_the_next_so_copying_takes_at_most_a_quarter_of_the_time(tmp_path: Path) -> None:
    """The analysts' snapshot copies the whole views file: a fraction of a second on a small ledger,
    ~2 s for the ~1.3 GB of a 10M one. Copies then follow each other no closer than four times the
    last one's length, and write at most 16 MiB/s on average, so the follower's batches keep the
    CPU and readers (the console) are not sent a cold new copy every few seconds."""
    from adapters.follower import Snapshots, snapshot_spacing

    assert snapshot_spacing(2.0, 0.3, 20_000_000) == 2.0  # a small ledger: the cadence asked for
    assert snapshot_spacing(2.0, 40.0) == 160.0  # a copy that took long: at most a quarter of the time
    assert snapshot_spacing(2.0, 2.0, 1_330_000_000) == 1_330_000_000 / 2**24  # a 10M ledger's: ~79 s

    con = projections.open_views(tmp_path / "views.duckdb")
    snapshots = Snapshots(con, tmp_path / "views-snapshot.duckdb", 0.0, print)
    try:
        snapshots.poke(1)
        snapshots.thread.join()
        assert snapshots.copies == 1 and snapshots.took > 0
        snapshots.took = 3600.0  # as if that copy had taken an hour
        snapshots.poke(2)
        snapshots.thread.join()
        assert snapshots.copies == 1  # the next copy waits
        snapshots.took = snapshots.size = 0
        snapshots.poke(2)
        snapshots.thread.join()
        assert snapshots.copies == 2
        # a re-evaluation alone (same position, a later evaluation time) is news, spaced the same way
        later = datetime.now(UTC)
        snapshots.started, snapshots.took = float("-inf"), 0.0
        snapshots.poke(2)
        snapshots.thread.join()
        assert snapshots.copies == 2  # nothing moved
        snapshots.started, snapshots.took = time.monotonic(), 3600.0
        snapshots.poke(2, later)
        snapshots.thread.join()
        assert snapshots.copies == 2  # due, but spaced by the last copy's length
        snapshots.took = snapshots.size = 0
        snapshots.poke(2, later)
        snapshots.thread.join()
        assert snapshots.copies == 3 and snapshots.published == (2, later)
    finally:
        snapshots.close(2, publish=False)
        con.close()


def test_a_follower_started_on_old_views_brings_them_to_now_before_any_new_event(tmp_path: Path, nats_single) -> None:
    """Views rebuilt a month ago and nothing new on the stream: the follower re-evaluates them at its
    start, so a deadline that passed meanwhile shows as breached, and is alerted, without waiting
    for an event or for `--interval` (here an hour)."""
    data = tmp_path / "data"
    now = datetime.now(UTC)
    ledger = busy_ledger(data, 10, now - timedelta(days=30))
    projections.rebuild_from_store(lambda: store_batches(ledger), views_path(data), now - timedelta(days=29))
    running = {(t, c) for t, c, state, *_ in clock_rows(views_path(data)) if state in ("running", "at_risk")}
    relay_all(ledger, nats_single.url)
    stats = follow(data, nats_single.url, until_position=ledger.position, interval=3600)
    assert stats.applied == 0 and stats.reevaluations == 1
    evaluated = follower_evaluated_at(data)
    assert evaluated >= now - timedelta(seconds=5)
    assert clock_rows(views_path(data)) == rebuilt_at(ledger, tmp_path, evaluated)
    # ... and alerts what that found, with nothing behind it on the stream to contradict it
    assert running and running <= {(a["ticket"], a["clock"]) for a in alerts(nats_single.url) if a["state"] == "breached"}


def test_a_follower_of_a_large_ledger_reads_on_every_core_and_of_a_small_one_on_one() -> None:
    """A live batch on a small ledger is DuckDB's fixed cost per statement, which a second thread
    only adds to; on a large one its reads are scans of the log, which every core shortens."""
    from adapters.follower import MANY_EVENTS, duckdb_threads

    con = projections.open_views(None)
    try:
        assert duckdb_threads(con) == 1  # nothing followed yet
        con.execute("INSERT INTO checkpoint VALUES ('follow', ?, now(), ?)", [MANY_EVENTS - 1, MANY_EVENTS - 1])
        assert duckdb_threads(con) == 1
        con.execute("INSERT OR REPLACE INTO checkpoint VALUES ('follow', ?, now(), ?)", [MANY_EVENTS, MANY_EVENTS])
        assert duckdb_threads(con) == (os.cpu_count() or 1)
    finally:
        con.close()


def test_an_alert_published_before_its_times_said_z_is_still_read_as_utc() -> None:
    """An ALERTS stream keeps what earlier followers published (`"2025-04-24 04:33:55"`, naive UTC):
    the live queue reads those alerts at the same instants, not as undecodable messages it skips."""
    from adapters.alerts import decode_alert

    old = {"customer": "buyer-000", "ticket": "T-1", "clock": "arrival", "state": "breached", "n": 1,
           "key": "T-1:arrival:1:breached", "deadline": "2025-04-24 04:33:55",
           "evaluated_at": "2026-12-07 22:46:55.452076", "breach_minutes": 12.0, "contract": "K-000",
           "asset": "A-1", "site": "s", "severity": "urgent", "technician": None, "paused_since": None,
           "stopped_at": None}
    alert = decode_alert(msgspec.json.encode(old))
    assert alert.deadline == datetime(2025, 4, 24, 4, 33, 55, tzinfo=UTC)
    assert alert.evaluated_at == datetime(2026, 12, 7, 22, 46, 55, 452076, tzinfo=UTC)
    assert decode_alert(msgspec.json.encode(alert)) == alert
    with pytest.raises(msgspec.DecodeError):
        decode_alert(b'{"not": "an alert"}')


def test_alert_times_are_utc_instants_a_date_parser_cannot_read_as_local(tmp_path: Path, nats_single) -> None:
    """`"2025-04-24 04:33:55"` (no T, no Z) is local time to JavaScript's Date (8 h off in Beijing):
    every alert time is ISO 8601 with Z, the views' instant, and the payload is the published schema's."""
    import re

    from adapters.alerts import Alert

    data = tmp_path / "data"
    ledger = busy_ledger(data, 10, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    follow(data, nats_single.url, until_position=ledger.position, interval=3600)
    published = alerts(nats_single.url)
    views = {(t, c): (d, s) for t, c, _, d, s, *_ in clock_rows(views_path(data))}
    iso_z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
    assert {a["state"] for a in published} >= {"breached", "met"}
    for a in published:
        times = [a[k] for k in ("deadline", "evaluated_at", "paused_since", "stopped_at") if a[k] is not None]
        assert all(iso_z.fullmatch(t) for t in times), a
        alert = msgspec.json.decode(msgspec.json.encode(a), type=Alert)  # the schema's payload, times with zones
        deadline, stopped = views[(alert.ticket, alert.clock)]
        assert alert.deadline == (deadline and deadline.replace(tzinfo=UTC)), a
        assert alert.stopped_at == (stopped and stopped.replace(tzinfo=UTC)), a


def snapshot_clock(data: Path, ticket: str, clock: str) -> tuple[str, datetime] | None:
    """A clock's state in the analysts' snapshot and the snapshot's evaluation time (None while
    there is none, or it is being replaced)."""
    try:
        con = duckdb.connect(str(snapshot_path(data)), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute("SELECT state, evaluated_at FROM sla_clocks WHERE ticket = ? AND clock = ?",
                           [ticket, clock]).fetchone()
    finally:
        con.close()


def test_a_deadline_passing_in_a_quiet_period_reaches_the_analysts_snapshot(tmp_path: Path, nats_single) -> None:
    """No event after a clock's deadline: the follower's re-evaluation alone turns it breached, and
    the snapshot analysts and the console read shows it too (it was copied only when the log
    position moved, so a quiet period's breaches stayed out of it, even after the follower stopped)."""
    import threading

    from adapters.calendar_data import record_calendar

    data = tmp_path / "data"
    ledger = open_ledger(data)
    record_calendar(ledger, [2025, 2026])
    desk = Desk()
    deadline = datetime.now(UTC) + timedelta(seconds=12)  # seed 004 responds within 1 h
    ledger.execute_many([desk.contract("004"), desk.asset("A1", contract="K-004", customer="buyer-004"),
                         desk.open("T1", "A1", (deadline - timedelta(hours=1)).isoformat())])
    relay_all(ledger, nats_single.url)
    runner = threading.Thread(target=follow, args=(data, nats_single.url),
                              kwargs={"max_seconds": 40, "interval": 1, "snapshot_every": 0.2})
    runner.start()
    try:
        first = None
        until = time.monotonic() + 30
        while time.monotonic() < until and first is None:
            first = snapshot_clock(data, "T1", "response")
            time.sleep(0.1)
        assert first is not None, "no snapshot published"
        if datetime.now(UTC) < deadline - timedelta(seconds=1):  # a slow machine may already be past it
            assert first[0] == "at_risk"
        seen = first
        until = time.monotonic() + max((deadline - datetime.now(UTC)).total_seconds(), 0) + 10
        while time.monotonic() < until and (seen is None or seen[0] != "breached"):
            time.sleep(0.2)
            seen = snapshot_clock(data, "T1", "response") or seen
        assert runner.is_alive(), "the follower stopped before the check"
        assert seen[0] == "breached" and seen[1] > first[1], (first, seen)
    finally:
        runner.join()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stopped_follower_leaves_analysts_its_last_evaluation(tmp_path: Path, nats_single, stop: int) -> None:
    """Stopped (`kill`, a service manager, Ctrl-C), the follower publishes a last snapshot of what
    it holds: here re-evaluations since the first snapshot, with the next copy an hour away.
    SIGTERM killed it with the snapshot as old as its last copy; Ctrl-C published only when the
    log position had moved."""
    data = tmp_path / "data"
    ledger = busy_ledger(data, 5, datetime.now(UTC))
    relay_all(ledger, nats_single.url)
    follower = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "views", "follow",
                                 "--nats-url", nats_single.url, "--interval", "1", "--snapshot-every", "3600"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        until = time.monotonic() + 60
        while (first := snapshot_clock(data, "T0", "response")) is None:
            assert time.monotonic() < until and follower.poll() is None, follower.communicate()
            time.sleep(0.1)
        time.sleep(3)  # re-evaluations, no copy
        follower.send_signal(stop)
        out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, err
    assert "applied" in out, out
    last = snapshot_clock(data, "T0", "response")
    assert last is not None and last[1] > first[1]
    assert last[1] == follower_evaluated_at(data).replace(tzinfo=None)  # the follower's last evaluation
