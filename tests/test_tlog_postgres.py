"""The transparency log on the PostgreSQL recorder (issue 16): the key comes from
TICKETLEDGER_LOG_KEY_FILE (no data folder of the events' own), checkpoints are signed, proofs
verify, and `verify` checks the tree; an older PostgreSQL ledger gets its tree built in batches."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.ledger import Ledger
from adapters.ledger_tree import LedgerTree
from adapters.store import StoreConfig
from domain import merkle
from domain import signed_note as sn
from domain.proofs import unb64

from .conftest import PG_DSN
from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def run(data: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--data-dir", str(data), *argv])
    return code, out.getvalue()


def test_checkpoints_and_proofs_on_postgres(postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    key = tmp_path / "secrets" / "ledger-log.key"
    monkeypatch.setenv("TICKETLEDGER_LOG_KEY_FILE", str(key))
    data = tmp_path / "data"
    code, out = run(data, "init")
    assert code == 0 and str(key) in out and key.stat().st_mode & 0o777 == 0o600
    assert not (data / "log.key").exists()
    vkey = sn.Verifier.parse(out.split("contract annex: ")[1].split()[0])
    desk = Desk()
    app = Ledger.open(StoreConfig(data, PG_DSN, postgres_schema))
    app.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    for i in range(0, 40, 8):
        app.execute_many([desk.open(f"T{j}", "A1", "2025-10-01T09:00") for j in range(i, i + 8)], now=NOW)
    app.close()
    code, out = run(data, "checkpoint", "--json")
    assert code == 0
    cp = json.loads(out)
    note, _ = sn.open_note(cp["note"], [vkey])
    head = sn.parse_checkpoint(note.text)
    code, out = run(data, "prove", "inclusion", "30")
    p = json.loads(out)
    assert code == 0 and p["tree_size"] == head.size and p["checkpoint"] == cp["note"]
    merkle.verify_inclusion(p["leaf_index"], p["tree_size"], unb64(p["leaf_hash"]),
                            [unb64(h) for h in p["hashes"]], head.root)
    code, out = run(data, "prove", "consistency", "5")
    c = json.loads(out)
    assert code == 0
    merkle.verify_consistency(5, head.size, [unb64(h) for h in c["hashes"]], unb64(c["old_root"]), head.root)
    code, out = run(data, "--lang", "en", "verify", "--no-stream")
    assert code == 0 and "1 signed checkpoint(s)" in out, out


def test_an_older_postgres_ledger_is_built_in_batches(postgres_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.ledger_tree as lt
    from tests import rfc9162
    from tests.test_ledger_tree import leaves_apart, older_ledger, record

    monkeypatch.setattr(lt, "BUILD_BATCH", 7)
    config = StoreConfig(Path("/nonexistent"), PG_DSN, postgres_schema)
    desk = Desk()
    app = older_ledger(config, desk, range(20), batch=3)
    record(app, desk, range(20, 23))  # recorded while the tree is not built
    tree = LedgerTree(app)
    assert tree.build() == 25 and tree.is_complete()
    record(app, desk, range(23, 30), batch=2)
    assert tree.root(32) == rfc9162.mth(leaves_apart(app))
    app.close()
