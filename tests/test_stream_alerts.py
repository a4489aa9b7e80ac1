"""Alerts (SPEC §6): clock state changes on alert.<customer>.<ticket>.<clock> in stream ALERTS,
each once even when a follower publishes the same change again after a crash."""

from __future__ import annotations

import asyncio

from adapters.nats_server import NatsServer
from adapters.stream import connect, ensure_alert_stream, publish_alerts
from tests import natskit

nats_single = natskit.nats_single


def test_alerts_published_once(nats_single: NatsServer) -> None:
    changes = [{"customer": "acme", "ticket": f"T{i}", "clock": "response", "state": "breached",
                "key": f"T{i}:response:breached:2025-03-01T09:00:00Z"} for i in range(20)]

    async def go() -> tuple[int, int, int, list[str]]:
        nc = await connect(nats_single.url)
        js = nc.jetstream()
        await ensure_alert_stream(js)
        first = await publish_alerts(js, changes)
        again = await publish_alerts(js, changes[5:])  # a restarted follower re-publishing
        info = await js.stream_info("ALERTS")
        last = await js.get_msg("ALERTS", info.state.last_seq, direct=True)
        await nc.close()
        return first, again, info.state.messages, [last.subject]

    first, again, messages, subjects = asyncio.run(go())
    assert (first, again, messages) == (20, 0, 20)
    assert subjects == ["alert.acme.T19.response"]
