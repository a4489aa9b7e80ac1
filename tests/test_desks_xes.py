"""XES desk import on a slice of the real Volvo IT (BPI 2013) log, checked against DuckDB
queries on the flat CSV beside it (one row per XES event, in XES order)."""

from __future__ import annotations

from argparse import Namespace
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from adapters.desks import FORMATS
from adapters.ledger import open_ledger
from adapters.store import decode_stored, iter_log

DATA = Path("/work/shared/data/bpic2013-volvo-incidents")
XES = DATA / "BPI_Challenge_2013_incidents.xes.gz"
FLAT = DATA / "BPI_Challenge_2013_incidents_flat.csv.gz"
MAPPING = Path(__file__).resolve().parents[1] / "contracts" / "volvo-mapping.toml"
pytestmark = pytest.mark.skipif(not XES.exists(), reason="BPI 2013 log not available")
N = 2000

KIND = """CASE st
  WHEN 'Queued/Awaiting Assignment' THEN 'new'
  WHEN 'Accepted/In Progress' THEN 'active' WHEN 'Accepted/Assigned' THEN 'active'
  WHEN 'Accepted/Wait - User' THEN 'wait:user' WHEN 'Accepted/Wait - Customer' THEN 'wait:customer'
  WHEN 'Accepted/Wait - Vendor' THEN 'wait:vendor' WHEN 'Accepted/Wait - Implementation' THEN 'wait:other'
  WHEN 'Accepted/Wait' THEN 'wait:other'
  WHEN 'Completed/In Call' THEN 'resolved' WHEN 'Completed/Resolved' THEN 'resolved'
  WHEN 'Completed/Closed' THEN 'closed' WHEN 'Completed/Cancelled' THEN 'cancelled' END"""
WORK = "('new','active','wait:user','wait:customer','wait:vendor','wait:other')"


def args(data_dir: Path, limit: int) -> Namespace:
    return Namespace(file=str(XES), mapping=str(MAPPING), contract=None, timezone=None, limit=limit,
                     batch=1000, data_dir=str(data_dir), json=True)


def expected(limit: int) -> dict:
    con = duckdb.connect()
    con.execute("SET threads TO 1")  # keep file order for row_number()
    con.execute(f"""
        CREATE TABLE raw AS SELECT row_number() OVER () AS line, "case:concept:name" AS sr,
          "concept:name" || '/' || "lifecycle:transition" AS st, impact, "org:group" AS grp,
          CAST("time:timestamp" AS TIMESTAMPTZ) AS t
        FROM read_csv('{FLAT}', all_varchar = true, header = true)""")
    con.execute(f"CREATE TABLE inc AS SELECT sr FROM raw GROUP BY sr ORDER BY min(line) LIMIT {limit}")
    con.execute(f"CREATE TABLE r AS SELECT *, {KIND} AS kind FROM raw WHERE sr IN (SELECT sr FROM inc)")
    q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    refused = dict(con.execute("SELECT st, count(*) FROM r WHERE kind IS NULL GROUP BY st").fetchall())
    con.execute("""CREATE TABLE v AS SELECT *, lag(kind) OVER w AS p, lag(impact) OVER w AS pi,
          lag(grp) OVER w AS pg, row_number() OVER w AS k
        FROM r WHERE kind IS NOT NULL WINDOW w AS (PARTITION BY sr ORDER BY line)""")
    # the ticket stays ended (closed/cancelled) through rows that do not reopen it
    live = f"NOT (p IN ('closed','cancelled') AND kind NOT IN {WORK})"
    counts = {
        "TicketOpened": q("SELECT count(DISTINCT sr) FROM v"),
        "TicketResolved": q("SELECT count(*) FROM v WHERE kind = 'resolved' AND (p IS NULL OR p IN "
                            f"{WORK})"),
        "TicketClosed": q("SELECT count(*) FROM v WHERE kind = 'closed' AND p = 'resolved'"),
        "TicketCancelled": q(f"SELECT count(*) FROM v WHERE kind IN ('closed','cancelled') AND (p IS NULL OR p IN {WORK})"),
        "TicketReopened": q(f"SELECT count(*) FROM v WHERE p IN ('resolved','closed') AND kind IN {WORK}"),
        "WaitStarted": q("SELECT count(*) FROM v WHERE kind LIKE 'wait:%' AND (p IS NULL OR p <> kind)"),
        "WaitEnded": q("SELECT count(*) FROM v WHERE p LIKE 'wait:%' AND p <> kind"),
        "TicketAcknowledged": q(f"SELECT count(DISTINCT sr) FROM v WHERE kind IN {WORK} AND kind <> 'new'"),
        "SeverityChanged": q(f"SELECT count(*) FROM v WHERE pi IS NOT NULL AND pi <> impact AND {live}"),
        "TicketReassigned": q(f"SELECT count(*) FROM v WHERE pg IS NOT NULL AND pg <> grp AND {live}"),
        "ContractRegistered": 1,
        "AssetRegistered": 1,
    }
    reopened = q(f"SELECT count(DISTINCT sr) FROM v WHERE p IN ('resolved','closed') AND kind IN {WORK}")
    resolved_by_impact = dict(con.execute(f"""
        WITH fin AS (SELECT sr, arg_max(impact, line) AS imp FROM v GROUP BY sr)
        SELECT lower(imp), count(*) FROM fin WHERE sr IN
          (SELECT sr FROM v WHERE kind = 'resolved' AND (p IS NULL OR p IN {WORK})) GROUP BY 1""").fetchall())
    paused = q("""
        WITH c AS (SELECT *, sum(CASE WHEN p IS NULL OR p <> kind THEN 1 ELSE 0 END) OVER
                     (PARTITION BY sr ORDER BY line) AS island FROM v),
             isl AS (SELECT sr, island, any_value(kind) AS kind, min(t) AS start FROM c GROUP BY ALL),
             n AS (SELECT *, lead(start) OVER (PARTITION BY sr ORDER BY island) AS stop FROM isl)
        SELECT sum(epoch(stop) - epoch(start)) FROM n WHERE kind LIKE 'wait:%' AND stop IS NOT NULL""")
    open_waits = q("""SELECT count(*) FROM (SELECT sr, arg_max(kind, line) AS last FROM v GROUP BY sr)
                      WHERE last LIKE 'wait:%'""")
    return {"refused": refused, "counts": counts, "reopened": reopened, "open_waits": open_waits,
            "resolved_by_impact": resolved_by_impact, "paused_seconds": paused}


def stored_facts(data_dir: Path) -> list:
    return [decode_stored(row.topic, row.state) for row in iter_log(open_ledger(data_dir))]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    data_dir = tmp_path_factory.mktemp("xes")
    return data_dir, FORMATS["xes"](open_ledger(data_dir), args(data_dir, N))


def test_slice_matches_duckdb_on_the_flat_csv(imported: tuple[Path, object]) -> None:
    data_dir, summary = imported
    exp = expected(N)
    facts = stored_facts(data_dir)
    types = Counter(type(f).__name__ for f in facts)
    assert dict(types) == {k: v for k, v in exp["counts"].items() if v}
    assert summary.tickets == N
    assert summary.recorded == len(facts)
    assert dict(summary.refused_by_reason) == {"unmapped status": sum(exp["refused"].values())}
    assert set(exp["refused"]) == {"Unmatched/Unmatched"}
    assert all(w.startswith("trace 1-") and " event " in w for w, _ in summary.refused)

    by_ticket: dict[str, list] = defaultdict(list)
    for f in facts:
        by_ticket[f.id].append(f)
    tickets = {k: fs for k, fs in by_ticket.items() if type(fs[0]).__name__ == "TicketOpened"}
    assert sum(any(type(f).__name__ == "TicketReopened" for f in fs) for fs in tickets.values()) == exp["reopened"]
    resolved: Counter[str] = Counter()
    paused, still_waiting = 0.0, 0
    for fs in tickets.values():
        sev, open_wait = fs[0].severity, {}
        for f in fs:
            name = type(f).__name__
            if name == "SeverityChanged":
                sev = f.severity
            elif name == "WaitStarted":
                open_wait[f.reason] = f.occurred_at
            elif name == "WaitEnded":
                paused += (f.occurred_at - open_wait.pop(f.reason)).total_seconds()
        still_waiting += len(open_wait)
        if any(type(f).__name__ == "TicketResolved" for f in fs):
            resolved[sev] += 1
    assert dict(resolved) == exp["resolved_by_impact"]
    assert paused == exp["paused_seconds"]
    assert still_waiting == exp["open_waits"]
    # ids and times straight from the XES: the first trace opens at its first event
    first = tickets["1-364285768"]
    assert first[0].occurred_at.isoformat() == "2010-03-31T14:59:42+00:00"  # 16:59:42+02:00
    assert first[0].command_id == "volvo-1-364285768-open"
    assert first[0].actor == "V30"  # the support team, not the owner's name


def test_reimport_and_overlapping_export_record_only_what_is_new(tmp_path: Path) -> None:
    small = FORMATS["xes"](open_ledger(tmp_path), args(tmp_path, 1000))
    bigger = FORMATS["xes"](open_ledger(tmp_path), args(tmp_path, N))
    assert bigger.already_recorded == small.recorded - 1  # the contract is not re-sent
    again = FORMATS["xes"](open_ledger(tmp_path), args(tmp_path, N))
    assert again.recorded == 0 and again.already_recorded == small.recorded + bigger.recorded - 1
    assert len(stored_facts(tmp_path)) == small.recorded + bigger.recorded
