"""Contract terms beyond their bounds are refused when they come in (issue 14, item 3): every period
at most 100 years (or the same in a smaller unit), a schedule's `every` above 0, opening hours
that are times of day, in order and not empty; each refusal names the term and what would be
right, and nothing is recorded. Each of these contracts was accepted before, and every
`views rebuild` of its ledger then failed or counted clocks that never end."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.store import StoreConfig
from domain import events as ev
from domain.terms import load_contract_file

from .domainkit import CONTRACTS, Desk, changed_terms, contract_toml

SEED = load_contract_file(str(CONTRACTS / "seed-004.toml"))


def with_terms(**changes: Any) -> dict[str, Any]:
    return {**SEED, "terms": changed_terms(SEED["terms"], **changes)}


BAD_TERMS = [  # (the terms, what the refusal says is wrong, what it says would be right)
    (with_terms(clocks__normal__resolution__target={"hours": 10**18}),
     "clocks.normal.resolution.target.hours is 1,000,000,000,000,000,000", "at most 876,600"),
    (with_terms(clocks__normal__resolution__target={"minutes": 2**64 - 1}),
     "clocks.normal.resolution.target.minutes is 18,446,744,073,709,551,615", "at most 52,596,000"),
    (with_terms(warranty__default={"years": 10**9}), "warranty.default.years is 1,000,000,000", "at most 100"),
    (with_terms(schedules__0__every={"months": 0}), "schedules[0].every is {months = 0}", "at least 1 months"),
    (with_terms(clocks__normal__resolution__max_extension={"hours": 10**12}),
     "clocks.normal.resolution.max_extension.hours is 1,000,000,000,000", "at most 876,600"),
    (with_terms(calendars={"office": {"kind": "business_hours", "hours": [["25:00", "09:00"]]}},
                clocks__normal__response={"target": {"hours": 1}, "calendar": "office"}),
     "calendars.office.hours[0][0] is '25:00'", 'a time of day from "00:00" to "23:59", or "24:00" for its end'),
    (with_terms(calendars={"office": {"kind": "business_hours", "hours": [["17:00", "09:00"]]}}),
     "calendars.office.hours[0] ['17:00', '09:00'] is reversed", "a range from an earlier to a later time of day"),
    (with_terms(calendars={"office": {"kind": "business_hours", "hours": [["09:00", "09:00"]]}}),
     "calendars.office.hours[0] ['09:00', '09:00'] is empty", "a range from an earlier to a later time of day"),
    (with_terms(calendars={"office": {"kind": "business_hours", "hours": [["09:00", "12:00"], ["11:00", "17:00"]]}}),
     "calendars.office.hours[1] ['11:00', '17:00'] overlaps", "in order of the day and not overlapping"),
    (with_terms(repeat={"threshold": 0}), "repeat.threshold is 0", "at least 1"),
]


@pytest.mark.parametrize("data, wrong, right", BAD_TERMS, ids=[w.split(" ")[0] for _, w, _ in BAD_TERMS])
def test_contract_add_refuses_terms_beyond_their_bounds(tmp_path: Path, data: dict, wrong: str, right: str) -> None:
    folder = tmp_path / "d"
    assert main(["--data-dir", str(folder), "init"]) == 0
    path = tmp_path / "k.toml"
    path.write_text(contract_toml(data), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--data-dir", str(folder), "contract", "add", str(path)])
    assert code == 1
    message = err.getvalue()
    assert f"contract add {path}: TL-E102: {path} [terms]: {wrong}" in message and right in message, message
    assert "nothing recorded from this file" in message
    app = Ledger.open(StoreConfig(folder))
    try:
        assert app.contract(SEED["id"]) is None
    finally:
        app.close()


@pytest.mark.parametrize("data, wrong, right", BAD_TERMS[:5], ids=[w.split(" ")[0] for _, w, _ in BAD_TERMS[:5]])
def test_an_amendment_beyond_the_bounds_is_refused_through_the_api(ledger: Ledger, data: dict, wrong: str,
                                                                     right: str) -> None:
    desk = Desk()
    assert ledger.execute_many([desk.contract("004")])[0].status == "recorded"
    before = ledger.position
    amended = desk.fact(ev.ContractAmended, "K-004", "2025-06-01T00:00", terms=data["terms"],
                        effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    (outcome,) = ledger.execute_many([amended], now=datetime(2026, 11, 1, tzinfo=UTC))
    assert outcome.status == "refused" and wrong in outcome.error and right in outcome.error, outcome
    assert outcome.error.startswith(f"ContractAmended K-004 (command {amended.command_id}): ")
    assert ledger.position == before


def test_a_what_if_file_beyond_the_bounds_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    assert main(["--data-dir", str(folder), "init"]) == 0
    path = tmp_path / "what-if.toml"
    path.write_text(contract_toml(BAD_TERMS[0][0]), encoding="utf-8")
    err = io.StringIO()
    with redirect_stderr(err):
        assert main(["--data-dir", str(folder), "replay", "--terms", str(path), "--out", str(tmp_path / "w.duckdb")]) == 2
    assert BAD_TERMS[0][1] in err.getvalue()
