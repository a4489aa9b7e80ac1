"""A scoped replay (`replay --customer | --contract | --tickets`, issue 15) reads only the events
its scope needs, yet its rows equal the same rows of a full replay at the same cut and
evaluation time. Generated: tickets sharing assets (downtime §9.7, repeats §9.9), replaced and
replacing units (§9.6), site-wide visits from other customers' assets at the same site (§9.8),
contract moves and corrections of a ticket's asset, on real SQLite and DuckDB files."""

from __future__ import annotations

import io
import itertools
import json
from contextlib import redirect_stderr, redirect_stdout
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from adapters.cli import main
from domain import events as ev
from replay.scope import ASSET_TABLES, TICKET_TABLES
from tests.viewkit import FAR_FUTURE, Kit, t

# asset -> (customer, contract, site): a contract binds one customer; buyer-000 holds two
# contracts (its assets move between them), and S1 holds assets of two customers
ASSETS = {"A1": ("buyer-000", "K-000", "S1"), "A2": ("buyer-000", "K-000", "S1"),
          "A3": ("buyer-001", "K-001", "S2"), "A5": ("buyer-002", "K-002", "S1")}
SEVERITY = {"K-000": "normal", "K-001": "general", "K-002": "normal", "K-010": "general"}
TICKET_STEPS = {
    "ack": (ev.TicketAcknowledged, {}), "arrive": (ev.TechnicianArrived, {"technician": "li"}),
    "repair_failed": (ev.RepairAttempted, {"fixed": False, "parts": [
        ev.PartLine(part="x", quantity=1, quoted_price_fen=333, cost_price_fen=101)]}),
    "resolve": (ev.TicketResolved, {}), "reopen": (ev.TicketReopened, {}),
}
ASSET_STEPS = ["visit_site", "visit_asset", "move", "to_contract", "accept"]
_n = itertools.count()


def run(data: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--data-dir", str(data), *argv])
    return code, out.getvalue(), err.getvalue()


def _ledger(tmp: Path, steps: list[tuple[str, int, int, int, bool]]) -> tuple[Kit, dict]:
    """The ledger, and what the test knows of it: each ticket's assets, each asset's contracts."""
    k = Kit(tmp, years=(2025, 2026))
    from domain.terms import load_contract_file

    k.contract_file("contracts/seed-000.toml")
    k.contract_file("contracts/seed-001.toml")
    k.contract("K-002", load_contract_file("contracts/seed-000.toml")["terms"], customer="buyer-002")
    k.contract("K-010", load_contract_file("contracts/seed-001.toml")["terms"], customer="buyer-000")
    for aid, (customer, contract, site) in ASSETS.items():
        k.asset(aid, contract, customer=customer, asset_type="recorder", site=site, delivered="2025-06-01T10:00")
    known = {"tickets": {}, "contracts": {a: {c} for a, (_, c, _) in ASSETS.items()},
             "customer": {a: c for a, (c, _, _) in ASSETS.items()},
             "site": {a: s for a, (_, _, s) in ASSETS.items()}}
    at = t("2025-07-01T09:00")
    opened: list[str] = []
    assets = list(ASSETS)
    for i, (step, who, minutes, asset, flag) in enumerate(steps):
        at += timedelta(minutes=minutes)
        kw = {"command_id": f"s{next(_n)}", "occurred_at": at, "actor": "p"}
        aid = assets[asset % len(assets)]
        if step == "open" or (not opened and step in TICKET_STEPS):
            tid = f"T{i}"
            contract = sorted(known["contracts"][aid])[0]
            fact = ev.TicketOpened(**kw, id=tid, asset_id=aid, severity=SEVERITY[contract],
                                   fault_category="power", asset_down=flag)
        elif step == "replace":  # a new unit replaces one: it keeps the replaced unit's warranty (§9.6)
            new = f"R{i}"
            customer, contract, site = known["customer"][aid], sorted(known["contracts"][aid])[0], known["site"][aid]
            if flag:  # the replacing unit names what it replaces
                fact = ev.AssetRegistered(**kw, id=new, serial=f"SN-{new}", asset_type="recorder", customer_id=customer,
                                          site=site, contract_id=contract, replaces=aid)
            else:  # the replaced unit names what replaced it
                reg = ev.AssetRegistered(**{**kw, "command_id": f"s{next(_n)}"}, id=new, serial=f"SN-{new}",
                                         asset_type="recorder", customer_id=customer, site=site, contract_id=contract)
                k.ledger.execute_many([reg], now=FAR_FUTURE)
                fact = ev.AssetReplaced(**kw, id=aid, by_asset=new)
            out = k.ledger.execute_many([fact], now=FAR_FUTURE)
            if out[0].status == "recorded":
                assets.append(new)
                known["contracts"][new] = {contract}
                known["customer"][new] = customer
                known["site"][new] = site  # a replacing unit stands where the one it replaces stood
            continue
        elif step == "move":
            fact = ev.AssetMoved(**kw, id=aid, site="S2" if flag else "S1")
        elif step == "to_contract":  # a contract move
            target = "K-010" if flag else "K-000"
            fact = ev.AssetContractChanged(**kw, id=aid, contract_id=target)
        elif step == "visit_site":
            fact = ev.FollowUpDone(**kw, id=aid, kind="onsite", scope="site")
        elif step == "visit_asset":
            fact = ev.FollowUpDone(**kw, id=aid, kind="phone")
        elif step == "accept":
            fact = ev.AssetAccepted(**kw, id=aid)
        elif step == "correct_asset":  # the ticket was on another asset
            if not opened:
                continue
            tid = opened[who % len(opened)]
            fact = ev.FactCorrected(**kw, id=tid, corrects_version=1, changes={"asset_id": aid},
                                    reason="wrong asset")
        else:
            cls, extra = TICKET_STEPS[step]
            fact = cls(**kw, id=opened[who % len(opened)], **extra) if opened else None
            if fact is None:
                continue
        out = k.ledger.execute_many([fact], now=FAR_FUTURE)  # a refused step records nothing
        if out[0].status != "recorded":
            continue
        if step == "open" or isinstance(fact, ev.TicketOpened):
            opened.append(fact.id)
            known["tickets"][fact.id] = {fact.asset_id}
        elif step == "correct_asset":
            known["tickets"][fact.id].add(aid)
        elif step == "to_contract":
            known["contracts"][aid].add(fact.contract_id)
    return k, known


def _rows(path: Path, table: str, key: str, keys: set[str]) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[])) ORDER BY ALL",
                           [sorted(keys)]).fetchall()
    finally:
        con.close()


def _all_keys(path: Path, table: str, key: str) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute(f"SELECT DISTINCT {key} FROM {table}").fetchall()}
    finally:
        con.close()


step_st = st.tuples(st.sampled_from(["open", "open", "replace", "correct_asset", *TICKET_STEPS, *TICKET_STEPS,
                                     *ASSET_STEPS]),
                    st.integers(0, 5), st.integers(10, 6000), st.integers(0, 7), st.booleans())
scope_st = st.one_of(st.tuples(st.just("customer"), st.sampled_from(["buyer-000", "buyer-001", "buyer-002"])),
                     st.tuples(st.just("contract"), st.sampled_from(["K-000", "K-001", "K-010"])),
                     st.tuples(st.just("tickets"), st.integers(0, 50)))


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])  # no shrinking: each example records a real ledger
@given(steps=st.lists(step_st, min_size=4, max_size=26), scope=scope_st, cut=st.floats(0.3, 1),
       by=st.sampled_from(["position", "recorded"]), hours=st.integers(1, 24 * 60))
# each dependency once for sure (asset index: A1 0, A2 1, A3 2, A5 3, then replacing units)
@example(steps=[("open", 0, 60, 0, False), ("visit_site", 0, 600, 1, False), ("ack", 0, 30, 0, False)],
         scope=("tickets", 0), cut=1.0, by="position", hours=24 * 50)  # A2's site-wide visit covers A1
@example(steps=[("accept", 0, 60, 2, False), ("open", 0, 60, 2, True), ("replace", 0, 600, 2, True),
                ("open", 0, 60, 4, False)],
         scope=("tickets", 1), cut=1.0, by="recorded", hours=24 * 400)  # R1 keeps A3's warranty, downtime too
@example(steps=[("open", 0, 60, 0, False), ("to_contract", 0, 60, 0, True), ("open", 0, 60, 0, False)],
         scope=("contract", "K-010"), cut=1.0, by="position", hours=24 * 3)  # A1 moved to K-010
@example(steps=[("open", 0, 60, 2, True), ("open", 0, 600, 0, True), ("correct_asset", 1, 60, 0, False)],
         scope=("customer", "buyer-000"), cut=1.0, by="position", hours=24 * 3)  # T0 was on A1 all along
@example(steps=[("open", 0, 60, 0, True), ("replace", 0, 600, 0, True), ("replace", 0, 600, 4, True),
                ("open", 0, 60, 5, False)],
         scope=("customer", "buyer-000"), cut=1.0, by="position", hours=24 * 30)  # R2 replaces R1, which replaced A1
def test_a_scoped_replay_has_the_same_rows_as_a_full_replay(tmp_path_factory, steps, scope, cut, by, hours):
    tmp = tmp_path_factory.mktemp("scoped")
    k, known = _ledger(tmp / "data", steps)
    data = tmp / "data"
    last = k.ledger.position
    k.ledger.close()
    position = max(1, int(cut * last))
    at = (t("2025-07-01T09:00") + timedelta(hours=hours)).isoformat()
    if by == "position":
        cut_args = ["--as-of-position", str(position)]
    else:
        from adapters.ledger import Ledger
        from adapters.store import StoreConfig, iter_log

        app = Ledger.open(StoreConfig(data))
        stamp = [r.recorded_at for r in iter_log(app) if r.position == position][0]
        app.close()
        cut_args = ["--as-of-recorded", stamp]
    kind, name = scope
    if kind == "tickets":
        tickets = sorted(known["tickets"])
        if not tickets:
            return
        chosen = {tickets[name % len(tickets)], tickets[(name * 7) % len(tickets)]}
        (tmp / "tickets.txt").write_text("# disputed\n" + "\n".join(sorted(chosen)) + "\n")
        scope_args = ["--tickets", str(tmp / "tickets.txt")]
        want_tickets = chosen
        want_assets = set().union(*(known["tickets"][x] for x in chosen))
    elif kind == "customer":
        scope_args = ["--customer", name]
        want_assets = {a for a, c in known["customer"].items() if c == name}
        want_tickets = {x for x, a in known["tickets"].items() if a & want_assets}
    else:
        scope_args = ["--contract", name]
        want_assets = {a for a, cs in known["contracts"].items() if name in cs}
        want_tickets = {x for x, a in known["tickets"].items() if a & want_assets}
    full, scoped = tmp / "full.duckdb", tmp / "scoped.duckdb"
    code, out, err = run(data, "--json", "replay", *cut_args, "--at", at, "--out", str(full))
    assert code == 0, err
    code, out, err = run(data, "--json", "replay", *cut_args, "--at", at, *scope_args, "--out", str(scoped))
    assert code == 0, err
    summary = json.loads(out)[0]
    assert summary["events"] <= json.loads(run(data, "--json", "replay", *cut_args, "--at", at, "--out",
                                               str(full))[1])[0]["events"]
    for table in TICKET_TABLES:
        # every row the scoped file holds is the full replay's, and the scope's tickets are all there
        keys = _all_keys(scoped, table, "ticket") | want_tickets
        assert _rows(scoped, table, "ticket", keys) == _rows(full, table, "ticket", keys), table
    for table in ASSET_TABLES:
        keys = _all_keys(scoped, table, "asset") | want_assets
        assert _rows(scoped, table, "asset", keys) == _rows(full, table, "asset", keys), table


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("small") / "data"
    k, _ = _ledger(data, [("open", 0, 60, 0, False), ("open", 0, 60, 2, False), ("ack", 0, 30, 0, False)])
    k.ledger.close()
    return data


def test_a_scope_naming_nothing_the_ledger_holds_is_refused_with_its_code(small: Path, tmp_path: Path) -> None:
    code, _, err = run(small, "replay", "--customer", "buyer-999", "--out", str(tmp_path / "a.duckdb"))
    assert code == 2 and "TL-E042" in err and "buyer-999" in err and "buyer-000" in err
    code, _, err = run(small, "replay", "--contract", "K-404", "--out", str(tmp_path / "b.duckdb"))
    assert code == 2 and "TL-E042" in err and "K-000" in err
    f = tmp_path / "tickets.txt"
    f.write_text("T0\n\nT-nope\n")
    code, _, err = run(small, "--lang", "en", "replay", "--tickets", str(f), "--out", str(tmp_path / "c.duckdb"))
    assert code == 2 and "TL-E042" in err and "line 3" in err and "T-nope" in err
    f.write_text("T0\nnot a ticket!\n")
    code, _, err = run(small, "replay", "--tickets", str(f), "--out", str(tmp_path / "d.duckdb"))
    assert code == 2 and "TL-E042" in err and "line 2" in err
    assert not any((tmp_path / n).exists() for n in ("a.duckdb", "b.duckdb", "c.duckdb", "d.duckdb"))


def test_the_scope_indexes_are_created_once(small: Path, tmp_path: Path) -> None:
    from adapters.ledger import open_ledger
    from adapters.store_scope import ensure_indexes

    app = open_ledger(small)
    try:
        ensure_indexes(app)
        assert ensure_indexes(app) == []  # idempotent: the second call creates nothing
    finally:
        app.close()


def test_a_scoped_replay_on_postgresql_has_the_full_replays_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 postgres_schema: str) -> None:
    from .conftest import PG_DSN

    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    data = tmp_path / "data"
    data.mkdir()
    # a site-wide visit on A2, a replacement of A3 (downtime kept), a contract move of A1
    k, known = _ledger(data, [("accept", 0, 60, 2, False), ("open", 0, 60, 0, True), ("visit_site", 0, 600, 1, False),
                              ("open", 0, 60, 2, True), ("replace", 0, 600, 2, True), ("open", 0, 60, 4, False),
                              ("to_contract", 0, 60, 0, True), ("open", 0, 60, 0, False), ("ack", 1, 30, 0, False)])
    k.ledger.close()
    at = "2026-08-01T00:00:00+08:00"
    full = tmp_path / "full.duckdb"
    assert run(data, "replay", "--at", at, "--out", str(full))[0] == 0
    for scope in (["--customer", "buyer-000"], ["--contract", "K-010"], ["--customer", "buyer-001"]):
        scoped = tmp_path / "scoped.duckdb"
        code, _, err = run(data, "replay", "--at", at, *scope, "--out", str(scoped))
        assert code == 0, err
        for table in TICKET_TABLES:
            keys = _all_keys(scoped, table, "ticket")
            assert keys and _rows(scoped, table, "ticket", keys) == _rows(full, table, "ticket", keys), (scope, table)
        for table in ASSET_TABLES:
            keys = _all_keys(scoped, table, "asset")
            assert _rows(scoped, table, "asset", keys) == _rows(full, table, "asset", keys), (scope, table)
        assert _all_keys(scoped, "warranty", "asset")
    # the indexes are the store's own, made once
    import psycopg

    with psycopg.connect(PG_DSN) as c:
        names = {r[0] for r in c.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                                         [postgres_schema]).fetchall()}
    assert {"ledger_scope_opened_asset", "ledger_scope_asset_site"} <= names


# the whole log, and a cut filtered row by row (occurrence time)
@pytest.mark.parametrize("cut", [[], ["--as-of-occurred", "2025-08-20T00:00:00+08:00"]])
def test_a_scoped_what_if_compares_against_the_scoped_replay_under_the_recorded_terms(tmp_path: Path,
                                                                                       cut: list[str]) -> None:
    """The comparison replay of a scoped what-if is the what-if's own events, read and loaded once,
    with their views computed under the terms as recorded beside the what-if's (projections.Twin):
    every table equals a scoped replay without --terms, and the what-if's verdicts are its own."""
    import re

    data = tmp_path / "data"
    k, _ = _ledger(data, [("open", 0, 60, 0, True), ("ack", 0, 30, 0, False), ("visit_site", 0, 600, 1, False),
                          ("open", 0, 60, 1, False), ("replace", 0, 600, 0, True), ("open", 0, 3000, 4, False),
                          ("arrive", 1, 3000, 0, False), ("resolve", 1, 600, 0, False)])
    k.ledger.close()
    text = Path("contracts/seed-000.toml").read_text()
    text = re.sub(r"target = \{ hours = (\d+) \}", lambda m: f"target = {{ hours = {200 * int(m.group(1))} }}", text)
    terms = tmp_path / "slower.toml"
    terms.write_text(text)
    at = ["--at", "2025-09-01T00:00:00+08:00", *cut]
    what_if, plain = tmp_path / "what_if.duckdb", tmp_path / "plain.duckdb"
    code, out, err = run(data, "--json", "replay", *at, "--customer", "buyer-000", "--terms", str(terms),
                         "--out", str(what_if))
    assert code == 0, err
    summary = json.loads(out)[0]
    assert run(data, "replay", *at, "--customer", "buyer-000", "--out", str(plain))[0] == 0
    base = Path(summary["what_if"]["against"])
    from projections.schema import VIEW_TABLES

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{plain}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{base}' AS b (READ_ONLY)")
        con.execute(f"ATTACH '{what_if}' AS w (READ_ONLY)")
        for table in (*VIEW_TABLES, "checkpoint", "terms", "events"):
            a = con.execute(f"SELECT * FROM a.{table} ORDER BY ALL").fetchall()
            assert a == con.execute(f"SELECT * FROM b.{table} ORDER BY ALL").fetchall(), table
        assert con.execute("SELECT count(*) FROM a.sla_clocks").fetchall()[0][0] > 0
        assert con.execute("SELECT bool_or(what_if) FROM w.terms").fetchall()[0][0]
        assert not con.execute("SELECT bool_or(what_if) FROM b.terms").fetchall()[0][0]
    finally:
        con.close()
    assert summary["what_if"]["changed_verdict"] > 0


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
@given(steps=st.lists(step_st, min_size=4, max_size=26), hours=st.integers(1, 24 * 60))
@example(steps=[("open", 0, 60, 0, True), ("accept", 0, 60, 0, False), ("to_contract", 0, 60, 0, True),
                ("move", 0, 60, 0, True), ("correct_asset", 0, 60, 1, False), ("replace", 0, 600, 0, True),
                ("arrive", 0, 60, 0, False), ("resolve", 0, 60, 0, False)], hours=24 * 5)
def test_a_clocks_only_replay_needs_no_asset_fact(tmp_path_factory, steps, hours) -> None:
    # a statement's restatements and a correction's effect replay the clocks alone, without the
    # assets' facts (projections.recompute.CLOCKS_READ): every clock row is the one a replay of
    # every fact gives
    from datetime import UTC

    from adapters.store import iter_log
    from projections import open_views, rebuild
    from projections.recompute import CLOCKS_READ
    from replay.asof import arrow_batches

    tmp = tmp_path_factory.mktemp("clocks")
    k, _ = _ledger(tmp / "data", steps)
    rows = list(iter_log(k.ledger))
    k.ledger.close()
    at = (t("2025-07-01T09:00") + timedelta(hours=hours)).astimezone(UTC)

    def clocks(rows: list) -> list[tuple]:
        con = open_views(None)
        try:
            rebuild(con, lambda: arrow_batches(rows), at, upto="clocks")
            return con.execute("SELECT * FROM sla_clocks ORDER BY ALL").fetchall()
        finally:
            con.close()

    assert any(r.topic.startswith("asset.") for r in rows)
    assert clocks([r for r in rows if r.topic.split(".", 1)[0] in CLOCKS_READ]) == clocks(rows)
