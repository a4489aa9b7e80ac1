"""A live batch rewrites only what it can change (projections.recompute), yet after EVERY batch
the views equal a full rebuild of the same events at that batch's evaluation time: tickets of
shared assets (repeat failures, replacement, coverage), down tickets still open (downtime
extends the warranty up to the evaluation time), site-scoped visits covering the site's other
assets, moves, a replacement unit that keeps the replaced unit's warranty, and evaluation times
crossing days (visit periods turn due, then missed)."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pyarrow as pa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from adapters.store_arrow import store_batches
from domain import events as ev
from projections import apply_batch, open_views, reevaluate
from projections.schema import VIEW_TABLES
from tests.viewkit import FAR_FUTURE, Kit, t

TICKET_STEPS = ["ack", "dispatch", "arrive", "repair_failed", "repair_fixed", "resolve", "reopen", "cancel",
                "cause_human", "severity"]
ASSET_STEPS = ["visit_site", "visit_asset", "move", "accept"]
ASSETS = ["A1", "A2", "A3", "A4"]
SEVERITIES = {"K-000": ("normal", "urgent"), "K-001": ("general", "major")}  # (opened with, changed to)
CONTRACT = {"A1": "K-000", "A2": "K-000", "A3": "K-001"}
ASSET_FACTS = {"visit_site": (ev.FollowUpDone, {"kind": "onsite", "scope": "site"}),
               "visit_asset": (ev.FollowUpDone, {"kind": "phone"}), "accept": (ev.AssetAccepted, {})}
TICKET_FACTS = {
    "ack": (ev.TicketAcknowledged, {}), "dispatch": (ev.TechnicianDispatched, {"technician": "li"}),
    "arrive": (ev.TechnicianArrived, {"technician": "li"}),
    "repair_failed": (ev.RepairAttempted, {"fixed": False, "parts": [
        ev.PartLine(part="x", quantity=1, quoted_price_fen=333, cost_price_fen=101)]}),
    "repair_fixed": (ev.RepairAttempted, {"fixed": True, "labour_fen": 5000}),
    "resolve": (ev.TicketResolved, {}), "reopen": (ev.TicketReopened, {}), "cancel": (ev.TicketCancelled, {}),
    "cause_human": (ev.FaultCauseDetermined, {"cause": "human"}),
}
_n = itertools.count()


def _ledger(tmp, steps: list[tuple[str, int, int, int, bool]]) -> Kit:
    k = Kit(tmp, years=(2025, 2026))
    k.contract_file("contracts/seed-000.toml")  # schedules, repeat failures of recorders
    k.contract_file("contracts/seed-001.toml")  # warranty extended by downtime
    k.asset("A1", "K-000", customer="buyer-000", asset_type="recorder", site="S1",
            delivered="2025-06-01T10:00", accepted="2025-06-02T10:00")
    k.asset("A2", "K-000", customer="buyer-000", asset_type="recorder", site="S1", delivered="2025-06-01T10:00")
    k.asset("A3", "K-001", customer="buyer-001", site="S2", delivered="2025-06-01T10:00",
            accepted="2025-06-03T10:00")
    at = t("2025-07-01T09:00")
    opened: list[tuple[str, str]] = []  # ticket, contract
    for i, (step, who, minutes, asset, flag) in enumerate(steps):
        at += timedelta(minutes=minutes)
        kw = {"command_id": f"s{next(_n)}", "occurred_at": at, "actor": "p"}
        if step == "open" or not opened and step in TICKET_STEPS:
            tid, aid = f"T{i}", ASSETS[asset % 3]
            opened.append((tid, CONTRACT[aid]))
            out = k.ledger.execute_many([ev.TicketOpened(
                **kw, id=tid, asset_id=aid, severity=SEVERITIES[CONTRACT[aid]][0], fault_category="power",
                asset_down=flag)], now=FAR_FUTURE)
            assert out[0].status == "recorded", out
            continue
        elif step == "replace":  # A4 replaces A1 and keeps its warranty (§9.6)
            fact = ev.AssetRegistered(**kw, id="A4", serial="SN-A4", asset_type="recorder", customer_id="buyer-000",
                                      site="S1", contract_id="K-000", replaces="A1")
        elif step == "move":
            fact = ev.AssetMoved(**kw, id=ASSETS[asset], site="S2" if flag else "S1")
        elif step in ASSET_STEPS:
            cls, extra = ASSET_FACTS[step]
            fact = cls(**kw, id=ASSETS[asset], **extra)
        elif step == "severity":
            tid, contract = opened[who % len(opened)]
            fact = ev.SeverityChanged(**kw, id=tid, severity=SEVERITIES[contract][1])
        else:
            cls, extra = TICKET_FACTS[step]
            fact = cls(**kw, id=opened[who % len(opened)][0], **extra)
        k.ledger.execute_many([fact], now=FAR_FUTURE)  # a refused step records nothing
    return k


def _tables(con) -> dict[str, list]:
    return {tb: con.execute(f"SELECT * FROM {tb} ORDER BY ALL").fetchall() for tb in ("events", *VIEW_TABLES)}


step_st = st.tuples(st.sampled_from(["open", "replace", *TICKET_STEPS, *TICKET_STEPS, *ASSET_STEPS]),
                    st.integers(0, 5), st.integers(10, 6000), st.integers(0, 3), st.booleans())


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])  # no shrinking: each example records a real ledger
@given(steps=st.lists(step_st, min_size=3, max_size=24), cuts=st.lists(st.floats(0, 1), min_size=1, max_size=4),
       hours=st.lists(st.integers(1, 24 * 40), min_size=5, max_size=5))
def test_after_every_live_batch_the_views_equal_a_rebuild_at_its_time(tmp_path_factory, steps, cuts, hours):
    k = _ledger(tmp_path_factory.mktemp("inc"), steps)
    log = pa.concat_tables(list(store_batches(k.ledger)))
    bounds = sorted({0, log.num_rows, *(int(c * log.num_rows) for c in cuts)})
    # evaluation times from inside the recorded period to weeks after it, increasing
    at = t("2025-07-01T09:00")
    live = open_views(None)
    for (a, b), h in zip(itertools.pairwise(bounds), itertools.accumulate(sorted(hours)), strict=False):
        ev_at = at + timedelta(hours=h)
        apply_batch(live, log.slice(a, b - a), ev_at, consumer="follow")
        full = open_views(None)
        apply_batch(full, log.slice(0, b), ev_at)
        want, got = _tables(full), _tables(live)
        for tb in want:
            assert got[tb] == want[tb], f"{tb} after the batch ending at row {b}, evaluated at {ev_at}"
        full.close()


# --- each dependency on its own: the first batch, then a second batch (or only the timer) that
# does not name the rows that must change; after each, live == rebuild at that time.

def _kit(tmp) -> Kit:
    return _ledger(tmp, [])


def _live_then(k: Kit, first_at: str, then_at: str, *, cut: tuple[str, str] | None = None):
    """Apply the log up to the first event of type `cut[0]` on `cut[1]` at `first_at`, then the
    rest at `then_at` (no cut: only the timer runs then); after each, compare with a rebuild."""
    log = pa.concat_tables(list(store_batches(k.ledger)))
    ids = [json.loads(s)["id"] for s in log.column("state").to_pylist()]
    types = [topic.split(".")[1] for topic in log.column("topic").to_pylist()]
    n = next(i for i, (ty, id_) in enumerate(zip(types, ids, strict=True)) if (ty, id_) == cut) if cut else log.num_rows
    live = open_views(None)
    apply_batch(live, log.slice(0, n), t(first_at), consumer="follow")
    _same_as_rebuild(live, log.slice(0, n), t(first_at))
    if cut:
        apply_batch(live, log.slice(n), t(then_at), consumer="follow")
    else:
        reevaluate(live, t(then_at), consumer="follow")
    _same_as_rebuild(live, log, t(then_at))
    return live


def _same_as_rebuild(live, log: pa.Table, at) -> None:
    full = open_views(None)
    apply_batch(full, log, at)
    want, got = _tables(full), _tables(live)
    for tb in want:
        assert got[tb] == want[tb], f"{tb} at {at}"


def _do(k: Kit, *facts: ev.Fact) -> None:
    out = k.ledger.execute_many(list(facts), now=FAR_FUTURE)
    assert all(o.status == "recorded" for o in out), out


def test_a_down_ticket_left_open_extends_the_warranty_as_time_passes(tmp_path):
    k = _kit(tmp_path)
    _do(k, k.f(ev.TicketOpened, "T1", "2025-07-01T10:00", asset_id="A3", severity="general",
               fault_category="power", asset_down=True),
        k.f(ev.FollowUpDone, "A1", "2025-07-03T10:00", kind="phone"))  # an event elsewhere
    live = _live_then(k, "2025-07-02T10:00", "2025-07-06T10:00", cut=("FollowUpDone", "A1"))
    (down,) = live.execute("SELECT downtime_minutes FROM warranty WHERE asset = 'A3'").fetchall()[0]
    assert down == 5 * 24 * 60  # down from 07-01 10:00 to the evaluation time, 07-06 10:00


def test_the_timer_alone_moves_downtime_and_visit_periods(tmp_path):
    k = _kit(tmp_path)
    _do(k, k.f(ev.TicketOpened, "T1", "2025-07-01T10:00", asset_id="A3", severity="general",
               fault_category="power", asset_down=True))
    live = _live_then(k, "2025-07-02T10:00", "2025-10-02T10:00")
    statuses = {s for (s,) in live.execute("SELECT DISTINCT status FROM visit_periods WHERE asset = 'A1'").fetchall()}
    assert "missed" in statuses  # monthly inspections passed with no visit


def test_a_site_scoped_visit_covers_the_other_assets_of_the_site(tmp_path):
    k = _kit(tmp_path)
    _do(k, k.f(ev.FollowUpDone, "A1", "2025-06-05T10:00", kind="onsite", scope="site"))
    live = _live_then(k, "2025-06-04T10:00", "2025-06-06T10:00", cut=("FollowUpDone", "A1"))
    got = live.execute("SELECT status FROM visit_periods WHERE asset = 'A2' AND one_off").fetchall()
    assert got == [("done",)]  # A2's one-off follow-up, done by the visit recorded on A1


def test_a_replacement_keeps_the_warranty_the_replaced_unit_gets_later(tmp_path):
    k = _kit(tmp_path)
    _do(k, k.f(ev.AssetRegistered, "A4", "2025-06-10T10:00", serial="SN-A4", asset_type="recorder",
               customer_id="buyer-000", site="S1", contract_id="K-000", replaces="A2"),
        k.f(ev.AssetAccepted, "A2", "2025-06-20T10:00"))  # A2 accepted only now
    live = _live_then(k, "2025-06-15T10:00", "2025-06-21T10:00", cut=("AssetAccepted", "A2"))
    ends = dict(live.execute("SELECT asset, warranty_end FROM warranty WHERE asset IN ('A2', 'A4')").fetchall())
    assert ends["A4"] == ends["A2"] is not None


def test_a_second_failure_makes_the_first_tickets_replacement_due(tmp_path):
    k = _kit(tmp_path)
    for tid, day in (("T1", "01"), ("T2", "10")):
        at = f"2025-07-{day}T"
        _do(k, k.f(ev.TicketOpened, tid, at + "10:00", asset_id="A1", severity="normal", fault_category="power"),
            k.f(ev.TicketAcknowledged, tid, at + "10:10"),
            k.f(ev.TechnicianDispatched, tid, at + "10:20", technician="li"),
            k.f(ev.TechnicianArrived, tid, at + "11:00", technician="li"),
            k.f(ev.RepairAttempted, tid, at + "12:00", fixed=False),
            k.f(ev.TicketResolved, tid, at + "13:00"))
    live = _live_then(k, "2025-07-05T10:00", "2025-07-11T10:00", cut=("TicketOpened", "T2"))  # names only T2
    assert live.execute("SELECT bool_and(final) FROM sla_clocks WHERE ticket = 'T1'").fetchall() == [(True,)]
    due = dict(live.execute("SELECT ticket, replacement_due FROM liability").fetchall())
    assert due == {"T1": True, "T2": True}


def test_the_timer_crossing_local_midnight_turns_a_period_due(tmp_path):
    # 23:30 -> 00:30 in Asia/Shanghai is 15:30 -> 16:30 on the same UTC day: the periods to
    # rescan follow the contract's local day, not the UTC date
    k = _kit(tmp_path)
    log = pa.concat_tables(list(store_batches(k.ledger)))
    probe = open_views(None)
    apply_batch(probe, log, t("2025-07-01T12:00"))
    (start,) = probe.execute("SELECT min(start) FROM visit_periods WHERE asset = 'A1' AND status = 'upcoming' "
                             "AND start > DATE '2025-07-02'").fetchall()[0]
    eve = (start - timedelta(days=1)).isoformat()
    live = _live_then(k, f"{eve}T23:30", f"{start.isoformat()}T00:30")
    got = live.execute("SELECT status FROM visit_periods WHERE asset = 'A1' AND start = ?", [start]).fetchall()
    assert got and {s for (s,) in got} == {"due"}
