"""The live queue's updates: the follower's alerts (stream ALERTS, subjects
`alert.<customer>.<ticket>.<clock>`) relayed to browsers as server-sent events.

One ordered consumer per server reads ALERTS from a little before the server started and keeps
the last `keep` alerts; each browser's stream first replays those newer than the views its page
was drawn from (the alert's `evaluated_at` is later than the page's), then follows. Every alert
passes the viewer's Scope (`admits(customer, contract)`) and the page's filters before it is
sent: the stream shows a user nothing its queries would not.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ..alerts import Alert, decode_alert
from ..stream import ALERTS_STREAM, ConnectOptions, connect
from .scope import Scope

log = logging.getLogger("ticketledger.web")
# The follower unheard this long (no alert, no pull request waiting) counts as stopped: its idle
# re-evaluation comes every 30 s, and a pull request is out all the time it waits for events
FOLLOWER_SILENT = 30.0
WATCH_EVERY = 2.0  # seconds between looks at the follower's consumer


class AlertFeed:
    def __init__(self, url: str | None, options: ConnectOptions | None = None, keep: int = 20_000,
                 lookback: timedelta = timedelta(minutes=10)) -> None:
        self.url, self.options, self.lookback = url, options, lookback
        self.recent: collections.deque[Alert] = collections.deque(maxlen=keep)
        self.listeners: set[asyncio.Queue[Alert | None]] = set()
        self.task: asyncio.Task[None] | None = None
        self.connected = False
        self.received = 0
        # when the follower was last heard: an alert, or its pull request waiting on the ledger
        # stream's consumer (it always has one out while it waits for events); monotonic seconds
        self.follower_heard = time.monotonic()
        self.watcher: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.url is not None

    async def start(self) -> None:
        if self.url is not None:
            self.task = asyncio.create_task(self._run(), name="alerts")
            self.watcher = asyncio.create_task(self._watch_follower(), name="follower-watch")

    async def stop(self) -> None:
        for task in (self.task, self.watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for q in list(self.listeners):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)

    async def _on_nats(self, name: str, work: Callable[[Any], Awaitable[None]],
                       lost: Callable[[], None] = lambda: None) -> None:
        """`work(js)` on a connection of its own, again on a new one whenever NATS goes away or
        restarts (the alerts' reading and the follower's watch alike), `lost()` said each time."""
        assert self.url is not None
        while True:
            nc = None
            try:
                nc = await connect(self.url, self.options)
                await work(nc.jetstream())
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - NATS gone or restarting: try again shortly
                log.warning("%s: %s: %s; retrying", name, type(e).__name__, e)
                lost()
                await asyncio.sleep(1.0)
            finally:
                if nc is not None:
                    with contextlib.suppress(Exception):
                        await nc.close()

    async def _run(self) -> None:
        def lost() -> None:
            self.connected = False

        await self._on_nats("alerts", self._read_alerts, lost)

    async def _read_alerts(self, js: Any) -> None:
        from nats.js import api as jsapi
        from nats.js.errors import NotFoundError

        start = datetime.now(UTC) - self.lookback
        while True:  # the follower creates ALERTS on its first start
            try:
                await js.stream_info(ALERTS_STREAM)
                break
            except NotFoundError:
                await asyncio.sleep(1.0)
        sub = await js.subscribe(
            "alert.>", stream=ALERTS_STREAM, ordered_consumer=True, idle_heartbeat=5.0,
            config=jsapi.ConsumerConfig(deliver_policy=jsapi.DeliverPolicy.BY_START_TIME,
                                        opt_start_time=start.isoformat().replace("+00:00", "Z")))
        self.connected = True
        async for msg in sub.messages:
            try:
                alert = decode_alert(msg.data)
            except msgspec.DecodeError:  # not an alert of ours
                continue
            self.received += 1
            self.follower_heard = time.monotonic()
            self.recent.append(alert)
            for q in list(self.listeners):
                try:
                    q.put_nowait(alert)
                except asyncio.QueueFull:  # a browser that does not read: let it reconnect
                    self.listeners.discard(q)
                    with contextlib.suppress(asyncio.QueueFull):
                        q.put_nowait(None)

    def follower_silent(self) -> float | None:
        """Seconds since the follower was last heard, when that is FOLLOWER_SILENT or more
        (None: heard lately, or no NATS to hear it on)."""
        if not self.enabled:
            return None
        silent = time.monotonic() - self.follower_heard
        return silent if silent >= FOLLOWER_SILENT else None

    async def _watch_follower(self) -> None:
        """Every few seconds, whether `views follow` has a pull request waiting on its consumer
        of the ledger stream. The follower publishes alerts only when a clock changes, so an
        idle queue hears none: the waiting request is what says it still runs (a killed
        follower's expires within its wait, half a second). While NATS is away it is not heard."""
        from nats.js.errors import NotFoundError

        from ..follower import CONSUMER
        from ..stream import STREAM

        async def watch(js: Any) -> None:
            while True:
                with contextlib.suppress(NotFoundError):  # no follower started yet
                    info = await js.consumer_info(STREAM, CONSUMER)
                    if info.num_waiting:
                        self.follower_heard = time.monotonic()
                await asyncio.sleep(WATCH_EVERY)

        await self._on_nats("follower watch", watch)

    async def follow(self, scope: Scope, filters: Mapping[str, str], since: datetime | None) -> AsyncIterator[Alert]:
        """Alerts the viewer may see and its page's filters keep: the kept ones newer than
        `since` (the page's evaluation time), then each new one."""
        q: asyncio.Queue[Alert | None] = asyncio.Queue(maxsize=2000)
        self.listeners.add(q)
        try:
            for alert in list(self.recent):
                newer = since is None or alert.evaluated_at > since
                if newer and visible(alert, scope, filters):
                    yield alert
            while True:
                alert = await q.get()
                if alert is None:
                    return
                if visible(alert, scope, filters):
                    yield alert
        finally:
            self.listeners.discard(q)


def visible(alert: Alert, scope: Scope, filters: Mapping[str, str]) -> bool:
    """An alert the page may take: within the user's scope (the one check that keeps customers
    apart), and matching the page's filters on the fields an alert carries. A filter on a field
    it does not carry (the assignee) cannot be judged here: such alerts pass, and the page's
    script applies them only to the rows it already shows (a met clock leaves; it adds none),
    where dropping them froze those rows, and the countdown then turned a met clock breached."""
    if not scope.admits(alert.customer, alert.contract):
        return False
    return all(getattr(alert, k) == v for k, v in filters.items() if k in Alert.__struct_fields__)


def page_time(since: str | None) -> datetime | None:
    """The page's evaluation time as its script sends it (ISO, UTC with Z); None when missing or unreadable."""
    try:
        return datetime.fromisoformat(since).astimezone(UTC) if since else None
    except ValueError:
        return None
