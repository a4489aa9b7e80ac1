"""README's rule for `Ledger-Link`, as a reader without our code applies it: its worked example is
computed here from the README's own text, and the rule recomputes every link of a real stream."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

from adapters.nats_server import NatsServer
from adapters.relay import relay_all
from adapters.stream import STREAM, connect
from domain import hashchain
from tests import natskit

nats_single = natskit.nats_single
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def readme_link(previous: str, h: dict[str, str]) -> str:
    """The rule in README's words: UTF-8 fields joined by a literal `|`, SHA-256 in lowercase hex."""
    fields = (previous, h["Ledger-Position"], h["Ledger-Recorded-At"], h["Ledger-Originator"], h["Ledger-Version"],
              h["Ledger-Topic"], h["Ledger-Sha256"])
    return hashlib.sha256("|".join(fields).encode("utf-8")).hexdigest()


def test_the_worked_example_of_the_readme_is_the_chain_of_the_code() -> None:
    m = re.search(r"\n  (0{64}\|[^\n]+)\n  Ledger-Link = ([0-9a-f]{64})\n", README)
    assert m, "README's Ledger-Link example"
    material, link = m[1], m[2]
    prev, position, recorded_at, originator, version, topic, digest = material.split("|")
    assert prev == hashchain.GENESIS and digest == hashchain.state_digest(b'{"id":"T-1"}')
    assert hashlib.sha256(material.encode()).hexdigest() == link
    assert hashchain.link(prev, int(position), recorded_at, originator, int(version), topic, digest) == link


def test_the_readme_rule_recomputes_every_link_of_a_real_stream(tmp_path: Path, nats_single: NatsServer) -> None:
    ledger = natskit.make_ledger(tmp_path / "data", 3, ("acme", "beta"))
    relay_all(ledger, nats_single.url)
    ledger.close()

    async def headers() -> list[dict[str, str]]:
        nc = await connect(nats_single.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(STREAM)
            return [dict((await js.get_msg(STREAM, seq, direct=True)).headers or {})
                    for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        finally:
            await nc.close()

    got = asyncio.run(headers())
    assert len(got) > 10
    previous = "0" * 64
    for h in got:
        assert re.fullmatch(r"[0-9a-f]{32}", h["Ledger-Originator"]), h
        assert h["Nats-Expected-Stream"] == STREAM and h["Nats-Expected-Last-Sequence"].isdigit(), h
        assert readme_link(previous, h) == h["Ledger-Link"], h
        previous = h["Ledger-Link"]
