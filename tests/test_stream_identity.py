"""The stream is the ledger's independent copy only while it is the same stream (issue 16).

An operator who moves the `nats/` folder away, deletes the LEDGER stream, lets it drop its
first messages or seals it used to pass `verify` ("not compared … OK") and could re-relay
into a fresh stream. Now `relay` refuses to publish into it and `verify` fails, both with
TL-E180, naming what changed; `verify --no-stream` still checks the store alone.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from adapters.cli import main
from adapters.nats_server import NatsServer
from adapters.stream import STREAM, connect, stream_config

from .natskit import make_ledger, nats_single, ticket_facts  # noqa: F401 - fixture


def cli(data: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--data-dir", str(data), *args])
    return code, out.getvalue(), err.getvalue()


def ledger_of(data: Path, tickets: int = 5) -> int:
    ledger = make_ledger(data, tickets)
    try:
        return int(ledger.position)
    finally:
        ledger.close()


async def _on_stream(url: str, action: str) -> None:
    nc = await connect(url)
    try:
        js = nc.jetstream(timeout=10)
        if action == "delete":
            await js.delete_stream(STREAM)
        elif action == "recreate":
            await js.add_stream(stream_config())
        elif action == "limit":
            cfg = (await js.stream_info(STREAM)).config
            cfg.max_msgs = 3
            await js.update_stream(cfg)
        elif action == "seal":
            cfg = (await js.stream_info(STREAM)).config
            cfg.sealed = True
            await js.update_stream(cfg)
    finally:
        await nc.close()


def on_stream(url: str, action: str) -> None:
    asyncio.run(_on_stream(url, action))


def test_moving_the_nats_folder_away_fails_verify_and_stops_the_relay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ledger_of(data)
    assert cli(data, "relay")[0] == 0  # the self-started server keeps the stream in data/nats
    code, out, err = cli(data, "--lang", "en", "verify")
    assert code == 0 and "stream:" in out and "OK" in out, (out, err)

    shutil.move(data / "nats", tmp_path / "elsewhere")
    code, out, err = cli(data, "--lang", "en", "verify")
    assert code == 2 and "OK" not in out
    assert "TL-E180" in err and "no stream LEDGER found" in err and "verify --no-stream" in err, err
    # the relay does not start a fresh copy in its place
    code, out, err = cli(data, "--lang", "en", "relay")
    assert code == 2 and "TL-E180" in err and "refusing to publish" in err, err
    # each command says its own way out: relay has no --no-stream (TL-E001), verify has
    assert "relay --new-stream" in err and "--no-stream" not in err, err
    code, out, err = cli(data, "--lang", "en", "verify")
    assert code == 2 and "TL-E180" in err
    # the store alone still verifies, when asked for explicitly
    code, out, err = cli(data, "--lang", "en", "verify", "--no-stream")
    assert code == 0 and "not compared" in out
    # the folder back (in place of the empty store the refused relay's server left): accepted again
    shutil.rmtree(data / "nats")
    shutil.move(tmp_path / "elsewhere", data / "nats")
    assert cli(data, "--lang", "en", "verify")[0] == 0


def test_a_store_with_events_and_no_stream_anywhere_fails_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ledger_of(data, tickets=1)
    code, out, err = cli(data, "verify")
    assert code == 2 and "TL-E180" in err and "the store holds" in err, err
    code, out, err = cli(data, "--lang", "zh_CN", "verify")  # the finding in the reader's language
    assert code == 2 and "TL-E180" in err and "找不到流 LEDGER，但存储中有" in err and "--no-stream 只校验存储" in err, err
    assert cli(data, "verify", "--no-stream")[0] == 0


def test_a_deleted_and_recreated_stream_is_refused(tmp_path: Path, nats_single: NatsServer) -> None:  # noqa: F811
    data, url = tmp_path / "data", nats_single.url
    events = ledger_of(data)
    assert cli(data, "relay", "--nats-url", url)[0] == 0
    assert cli(data, "verify", "--nats-url", url)[0] == 0

    on_stream(url, "delete")
    code, out, err = cli(data, "verify", "--nats-url", url)
    assert code == 2 and "TL-E180" in err and "no stream LEDGER found" in err and "recorded it" in err, err

    on_stream(url, "recreate")  # a fresh stream of the same name and configuration
    code, out, err = cli(data, "relay", "--nats-url", url)
    assert code == 2 and "TL-E180" in err and "deleted and made again" in err, err
    code, out, err = cli(data, "verify", "--nats-url", url)
    assert code == 2 and "deleted and made again" in err
    # nothing was re-published into the impostor
    nc_count = asyncio.run(_count(url))
    assert nc_count == 0 < events


async def _count(url: str) -> int:
    nc = await connect(url)
    try:
        return int((await nc.jetstream().stream_info(STREAM)).state.messages)
    finally:
        await nc.close()


def test_a_stream_that_dropped_its_first_messages_or_was_sealed_is_refused(tmp_path: Path) -> None:
    for action, says in (("limit", ("max_msgs=3", "messages were dropped from its start")),
                         ("seal", ("is sealed",))):
        data = tmp_path / action / "data"
        with NatsServer(tmp_path / action / "nats") as server:
            ledger_of(data)
            assert cli(data, "relay", "--nats-url", server.url)[0] == 0
            on_stream(server.url, action)
            for command in ("relay", "verify"):
                code, out, err = cli(data, command, "--nats-url", server.url)
                assert code == 2 and "TL-E180" in err, (action, command, err)
                for s in says:
                    assert s in err, (action, command, err)


def test_a_relay_behind_the_store_is_a_finding_not_a_refusal(tmp_path: Path, nats_single: NatsServer) -> None:  # noqa: F811
    """The stream holding fewer events than the store: verify fails (exit 1) naming the first
    position the stream lacks; the relay then catches up into the same stream."""
    data, url = tmp_path / "data", nats_single.url
    ledger_of(data, tickets=2)
    assert cli(data, "relay", "--nats-url", url)[0] == 0
    from adapters.ledger import open_ledger

    app = open_ledger(data)
    assert all(o.status == "recorded" for o in app.execute_many(ticket_facts(1, prefix="L")))
    app.close()
    code, out, err = cli(data, "verify", "--nats-url", url)
    assert code == 1 and "stream ends before position" in out, (out, err)
    assert cli(data, "relay", "--nats-url", url)[0] == 0
    assert cli(data, "verify", "--nats-url", url)[0] == 0


def test_the_stream_identity_is_recorded_in_the_store(tmp_path: Path, nats_single: NatsServer) -> None:  # noqa: F811
    from adapters.ledger import open_ledger
    from adapters.stream_guard import recorded

    data = tmp_path / "data"
    ledger_of(data)
    assert cli(data, "relay", "--nats-url", nats_single.url)[0] == 0
    app = open_ledger(data)
    try:
        known = recorded(app, STREAM)
        assert known is not None and known.first_seq == 1 and known.messages == app.position
        assert known.created.endswith("Z")
    finally:
        app.close()


def test_an_operator_moves_to_a_new_stream_on_purpose(tmp_path: Path) -> None:
    """A new server on purpose: `relay --new-stream` records it once (and republishes the log);
    from then on it is the guarded stream again."""
    data = tmp_path / "data"
    events = ledger_of(data)
    with NatsServer(tmp_path / "old") as old:
        assert cli(data, "relay", "--nats-url", old.url)[0] == 0
    with NatsServer(tmp_path / "new") as new:
        code, out, err = cli(data, "relay", "--nats-url", new.url)
        assert code == 2 and "TL-E180" in err
        code, out, err = cli(data, "relay", "--nats-url", new.url, "--new-stream")
        assert code == 0 and f"relayed {events} events" in out, out + err
        assert cli(data, "verify", "--nats-url", new.url)[0] == 0
        on_stream(new.url, "seal")
        assert "TL-E180" in cli(data, "relay", "--nats-url", new.url)[2]
