"""Under the configuration of docs/nats-permissions.md the ledger's own user cannot empty the
stream (issue 16): `delete_stream("LEDGER")` and `update_stream(max_msgs=…)` are refused, as
are a purge and a message delete; the relay still publishes with that user, and only the
break-glass `ledger-admin` may change a stream. A real nats-server runs the block from the doc."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from adapters.cli.stream import PermissionRefused, refused_fast
from adapters.nats_server import NatsServer
from adapters.relay import relay_all
from adapters.stream import STREAM, ConnectOptions, connect

from .natskit import make_ledger

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "nats-permissions.md"
PASSWORDS = {"LEDGER_PASSWORD": "relay-pw-1", "LEDGER_ADMIN_PASSWORD": "admin-pw-2", "ACME_PASSWORD": "acme-pw-3"}
LEDGER = ConnectOptions(user="ledger", password=PASSWORDS["LEDGER_PASSWORD"])
ADMIN = ConnectOptions(user="ledger-admin", password=PASSWORDS["LEDGER_ADMIN_PASSWORD"])


def documented_configuration() -> str:
    """The server configuration block of docs/nats-permissions.md, without its store folder
    (the test's server gets its own)."""
    text = DOC.read_text()
    block = re.search(r"## Server configuration.*?```hcl\n(.*?)```", text, re.S)
    assert block, "docs/nats-permissions.md has no ```hcl block under ## Server configuration"
    return re.sub(r"^jetstream \{.*\}\n", "", block.group(1), flags=re.M)


@pytest.fixture
def documented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for k, v in PASSWORDS.items():
        monkeypatch.setenv(k, v)  # the server reads them from its environment
    conf = tmp_path / "nats.conf"
    conf.write_text(documented_configuration())
    with NatsServer(tmp_path / "nats", config_file=conf, log_file=tmp_path / "nats.log") as server:
        yield server


async def _as(url: str, who: ConnectOptions, action: str) -> str:
    errors: list[str] = []
    nc = await connect(url, who, errors=errors, max_reconnect_attempts=0)
    js = nc.jetstream(timeout=2.0)
    try:
        if action == "delete_stream":
            coro = js.delete_stream(STREAM)
        elif action == "update_stream max_msgs=10":
            cfg = (await js.stream_info(STREAM)).config
            cfg.max_msgs = 10
            coro = js.update_stream(cfg)
        elif action == "purge_stream":
            coro = js.purge_stream(STREAM)
        elif action == "delete_msg":
            coro = js.delete_msg(STREAM, 1)
        else:  # a harmless change, to show the admin may change streams at all
            cfg = (await js.stream_info(STREAM)).config
            cfg.description = "changed by the break-glass admin"
            coro = js.update_stream(cfg)
        try:
            result = await refused_fast(coro, errors)
            return f"ALLOWED {type(result).__name__}"
        except PermissionRefused as e:
            return f"refused: {e}"
    finally:
        await nc.close()


def as_user(url: str, who: ConnectOptions, action: str) -> str:
    return asyncio.run(_as(url, who, action))


async def _messages(url: str) -> int:
    nc = await connect(url, LEDGER)
    try:
        return int((await nc.jetstream().stream_info(STREAM)).state.messages)
    finally:
        await nc.close()


def test_the_ledger_user_cannot_delete_or_limit_the_stream(tmp_path: Path, documented: NatsServer) -> None:
    ledger = make_ledger(tmp_path / "data", 10)
    try:
        # the relay works under this user: it creates the stream and publishes every event
        assert relay_all(ledger, documented.url, options=LEDGER) == ledger.position
        held = ledger.position
    finally:
        ledger.close()

    for action in ("delete_stream", "update_stream max_msgs=10", "purge_stream", "delete_msg"):
        outcome = as_user(documented.url, LEDGER, action)
        assert outcome.startswith("refused") and "permissions violation" in outcome.lower(), (action, outcome)
    assert asyncio.run(_messages(documented.url)) == held  # nothing was lost

    # the break-glass admin may change a stream: the refusals above are the permissions' doing
    assert as_user(documented.url, ADMIN, "describe") == "ALLOWED StreamInfo"
