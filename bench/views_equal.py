"""Are two checkouts' views of one store identical? (issue 15: typed facts must change no figure)

  build:   python -m bench.views_equal build STORE OUT.duckdb [--upto N] [--at ISO]
           (run with each checkout's own interpreter, from its folder): rebuild the views of
           the store's first N positions at one evaluation time, then keep `late_entries` (a
           view over `events`) as a table, so that two files compare table by table.
  compare: python -m bench.views_equal compare A.duckdb B.duckdb
           every view table both ways with EXCEPT ALL; exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

TABLES = ("sla_clocks", "clock_inputs", "sla_summary", "warranty", "visit_periods", "first_time_fix",
          "repeat_failures", "replacement_obligations", "liability", "liability_totals", "terms", "terms_clocks",
          "terms_calendars", "terms_warranty", "terms_payer", "terms_schedules", "calendar_years", "calendar_days",
          "calendar_segments", "beyond_bounds", "late_entries_kept")


def build(store: str, out: str, upto: int | None, at: datetime) -> None:
    import duckdb

    from adapters.store_arrow import rebuild_from_store

    stats = rebuild_from_store(store, out, at, as_of_position=upto)
    con = duckdb.connect(out)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE OR REPLACE TABLE late_entries_kept AS SELECT * FROM late_entries")
    con.close()
    print({k: stats[k] for k in ("events", "seconds", "load_seconds")})


def compare(a: str, b: str) -> int:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    bad = 0
    for t in TABLES:
        n = con.execute(f"SELECT count(*) FROM a.{t}").fetchall()[0][0]
        only_a = con.execute(f"SELECT count(*) FROM (SELECT * FROM a.{t} EXCEPT ALL SELECT * FROM b.{t})").fetchall()[0][0]
        only_b = con.execute(f"SELECT count(*) FROM (SELECT * FROM b.{t} EXCEPT ALL SELECT * FROM a.{t})").fetchall()[0][0]
        print(f"{t:26} rows {n:>10,}  only in A {only_a:>6}  only in B {only_b:>6}")
        bad += only_a + only_b
    print("IDENTICAL" if not bad else f"DIFFERENT: {bad} rows")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("store")
    b.add_argument("out")
    b.add_argument("--upto", type=int)
    b.add_argument("--at", default="2026-03-01T00:00:00+00:00")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    a = p.parse_args(argv)
    if a.cmd == "build":
        build(a.store, a.out, a.upto, datetime.fromisoformat(a.at).astimezone(UTC))
        return 0
    return compare(a.a, a.b)


if __name__ == "__main__":
    sys.exit(main())
