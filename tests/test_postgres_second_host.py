"""A second host on one PostgreSQL schema signs with the schema's log key, never a new one.

Host A ran `init` on the schema and made the log key; host B, another data folder on the same
schema, ran `init` too and silently made a second key of another origin: its checkpoints were
signed by B, `checkpoint --list` showed both keys as current, and the customers' proofs failed
against the key in their contract annex (TL-E161). Now `init` refuses to make a key for a schema
whose log already has one, names that key and says to give its private file
(TICKETLEDGER_LOG_KEY_FILE); with that file it sets the folder up as a host of the ledger and says
so; another key is refused. Real PostgreSQL, the real CLI.
"""

from __future__ import annotations

import io
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from adapters import log_key
from adapters.cli import main
from adapters.ledger import Ledger
from adapters.ledger_tree import LedgerTree
from adapters.store import StoreConfig
from domain import signed_note as sn

from .conftest import PG_DSN


def cli(data: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--data-dir", str(data), *args])
    return code, out.getvalue(), err.getvalue()


def log_keys(data: Path, schema: str) -> list[str]:
    app = Ledger.open(StoreConfig(data, PG_DSN, schema))
    try:
        return [k.vkey for k in LedgerTree(app).log_keys() if k.retired_at is None]
    finally:
        app.close()


def test_a_second_host_gets_the_schema_s_log_key_or_nothing(
        tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETLEDGER_POSTGRES", PG_DSN)
    monkeypatch.setenv("TICKETLEDGER_POSTGRES_SCHEMA", postgres_schema)
    host_a, host_b = tmp_path / "hostA", tmp_path / "hostB"
    code, out, err = cli(host_a, "init")
    assert code == 0, err
    vkey = out.split("contract annex: ")[1].split()[0]

    # host B, nothing set up yet: the way in names the log key
    code, out, err = cli(host_b, "verify", "--no-stream")
    assert code == 2 and "TL-E010" in err and "set up this host's data folder" in err, err
    assert "TICKETLEDGER_LOG_KEY_FILE" in err, err

    # init without the key: refused, naming the schema's key; no key made, nothing signed
    code, out, err = cli(host_b, "init")
    assert code == 2 and "TL-E167" in err and vkey in err and "TICKETLEDGER_LOG_KEY_FILE" in err, (out, err)
    assert not (host_b / "log.key").exists() and "log key made now" not in out
    assert cli(host_b, "checkpoint")[0] == 2
    assert log_keys(host_a, postgres_schema) == [vkey]

    # another key given: refused too
    other = tmp_path / "other.key"
    log_key.write(other, sn.Signer.generate("ticketledger.local/other", b"\1" * 32))
    monkeypatch.setenv("TICKETLEDGER_LOG_KEY_FILE", str(other))
    code, out, err = cli(host_b, "init")
    assert code == 2 and "TL-E167" in err and "is not the key" in err and vkey in err, err
    assert log_keys(host_a, postgres_schema) == [vkey]

    # the schema's key, copied to host B: set up as a host, signing under the one key
    key_b = tmp_path / "secrets" / "log.key"
    key_b.parent.mkdir()
    shutil.copy(host_a / "log.key", key_b)
    monkeypatch.setenv("TICKETLEDGER_LOG_KEY_FILE", str(key_b))
    code, out, err = cli(host_b, "init")
    assert code == 0 and "set up as a host of that ledger" in out and vkey in out, (out, err)
    code, out, err = cli(host_b, "checkpoint")
    assert code == 0, err
    assert log_keys(host_a, postgres_schema) == [vkey]
    assert cli(host_b, "verify", "--no-stream")[0] == 0
