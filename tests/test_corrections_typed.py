"""Corrections (§3) on the typed columns of `events` (issue 15): the latest value each correction
gave a field, else the value recorded; a second correction arriving live after a first one reads
as a rebuild of all three facts does, parts and times included."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from adapters.cli.core import record_calendar
from adapters.ledger import Ledger
from adapters.store_arrow import store_batches
from domain import events as ev
from projections import apply_batch, open_views

from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)
AT = datetime(2026, 3, 1, tzinfo=UTC)


def line(quantity: int, price: int) -> dict[str, object]:
    return {"part": "board", "quantity": quantity, "quoted_price_fen": price, "cost_price_fen": price}


def test_a_second_correction_arriving_live_reads_as_a_rebuild(sqlite_ledger: Ledger, tmp_path) -> None:  # noqa: ANN001
    desk, ledger = Desk(), sqlite_ledger
    record_calendar(ledger, [2025])
    first = [desk.contract("000"), desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00"),
             desk.fact(ev.RepairAttempted, "T1", "2025-10-01T11:00", fixed=True, parts=[ev.PartLine(**line(2, 100))],
                       labour_fen=50),
             desk.fact(ev.FactCorrected, "T1", "2025-10-02T08:00", corrects_version=2, reason="two boards were three",
                       changes={"parts": [line(3, 100)], "occurred_at": "2025-10-01T02:30:00Z"})]
    second = desk.fact(ev.FactCorrected, "T1", "2025-10-03T08:00", corrects_version=2, reason="labour was 70",
                       changes={"labour_fen": 70})
    assert all(o.status == "recorded" for o in ledger.execute_many([*first, second], now=NOW))
    rows = pa.concat_tables(list(store_batches(ledger)))
    whole, live = open_views(tmp_path / "whole.duckdb"), open_views(tmp_path / "live.duckdb")
    try:
        apply_batch(whole, rows, AT)
        apply_batch(live, rows.slice(0, rows.num_rows - 1), AT, consumer="follow")
        apply_batch(live, rows.slice(rows.num_rows - 1), AT, consumer="follow")
        for sql in ("SELECT * FROM events ORDER BY position", "SELECT * FROM corrected_facts ORDER BY position",
                    "SELECT * EXCLUDE (evaluated_at) FROM liability ORDER BY ticket",
                    "SELECT * EXCLUDE (evaluated_at) FROM sla_clocks ORDER BY ALL"):
            assert whole.execute(sql).fetchall() == live.execute(sql).fetchall(), sql
        (fixed,) = whole.execute("SELECT occurred_at, labour_fen, parts::VARCHAR, corrected FROM events "
                                 "WHERE type = 'RepairAttempted'").fetchall()
        assert fixed[0] == datetime(2025, 10, 1, 2, 30) and fixed[1] == 70 and '"quantity":3' in fixed[2] and fixed[3]
        # what a user reads: the corrected parts (3 x 100 fen) and labour, from both corrections
        assert whole.execute("SELECT parts_value_fen, labour_value_fen FROM liability").fetchall() == [(300, 70)]
    finally:
        whole.close()
        live.close()
