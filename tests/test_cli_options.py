"""Counts, positions, durations, event types and subject ids on the command line are refused
when they cannot mean anything (zero, negative, not a number, unknown type, a token no subject
can hold), before any work starts, naming what would be right."""

from __future__ import annotations

import pytest

from adapters.cli import main

BAD = [
    (["relay", "--batch", "0"], "--batch: '0': write a whole number above 0"),
    (["relay", "--window", "-1"], "--window: '-1': write a whole number above 0"),
    (["views", "follow", "--batch", "0"], "--batch: '0': write a whole number above 0"),
    (["views", "follow", "--snapshot-every", "-1"], "write a number of seconds above 0"),
    (["views", "follow", "--max-seconds", "nan"], "write a number of seconds above 0"),
    (["log", "--from", "-5"], "--from: '-5': write a whole number above 0"),
    (["log", "--limit", "0"], "--limit: '0': write a whole number above 0"),
    (["tail", "--from-position", "-4"], "--from-position: '-4': write a whole number above 0"),
    (["demo", "--tickets", "0"], "--tickets: '0': write a whole number above 0"),
    (["report", "sla", "--limit", "-3"], "--limit: '-3': write a whole number above 0"),
    (["tail", "--type", "Bogus"], "invalid choice: 'Bogus' (choose from 'AssetAccepted'"),
    (["tail", "--customer", "a.b"], "--customer is 1-64 characters of A-Z a-z 0-9 _ -"),
    (["nats", "customer-stream", "bad name/x"], "the customer is 1-64 characters of A-Z a-z 0-9 _ -"),
]


@pytest.mark.parametrize(("argv", "says"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_meaningless_numbers_are_refused_before_any_work(tmp_path, capsys, argv: list[str], says: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--data-dir", str(tmp_path / "data"), *argv])
    assert exit_.value.code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing created, nothing recorded
