"""Each shipped desk contract names a supplier a console user can be given.

The desk contracts named their supplier by a display name ("ServiceNow desk (UCI 498,
anonymised IT company)"), and a supplier user names a supplier id (A-Z a-z 0-9 _ -): an operator
who imported either real log could not add a supplier user at all (TL-E040 for any id, TL-E129
for the display name). Now each contract gives an id and keeps the name as `supplier_name`.
A slice of each real log is imported, the views rebuilt, and `users add --supplier` run.
"""

from __future__ import annotations

import io
import sys
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from adapters.cli import main

from .deskkit import UCI, uci_slice

ROOT = Path(__file__).resolve().parents[1]
XES = Path("/work/shared/data/bpic2013-volvo-incidents/BPI_Challenge_2013_incidents.xes.gz")


def cli(data: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["--data-dir", str(data), *args])
    finally:
        sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def imported(tmp_path: Path, desk: str) -> list[str]:
    if desk == "servicenow":
        if not UCI.exists():
            pytest.skip("UCI 498 log not available")
        return ["import", "--format", "servicenow", str(uci_slice(tmp_path / "slice.csv", 20))]
    if not XES.exists():
        pytest.skip("BPI 2013 log not available")
    return ["import", "--format", "xes", "--mapping", str(ROOT / "contracts" / "volvo-mapping.toml"),
            "--limit", "20", str(XES)]


@pytest.mark.parametrize("desk", ["servicenow", "volvo"])
def test_a_supplier_user_can_be_added_for_each_shipped_desk(tmp_path: Path, desk: str) -> None:
    contract = tomllib.loads((ROOT / "contracts" / f"desk-{desk}.toml").read_text())
    supplier = contract["supplier"]
    data = tmp_path / "data"
    code, out, err = cli(data, *imported(tmp_path, desk))
    assert code in (0, 1), (out, err)  # 1: some rows of the real log refused, the rest recorded
    assert cli(data, "views", "rebuild")[0] == 0
    code, out, err = cli(data, "users", "add", "op1", "--role", "supplier", "--supplier", supplier,
                         "--password-stdin", stdin="a long enough passphrase\n")
    assert code == 0 and f"supplier {supplier}" in out, (out, err)
    assert contract["terms"]["supplier_name"]  # the name people read stays in the contract
