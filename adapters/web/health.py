"""Whether the views the console shows are current, said on every page and by /healthz.

They are not when (a) the snapshot the console reads misses events the log held `stale_after`
seconds ago (its checkpoint position below the store's position then: a follower publishes a
copy every few seconds, so a shorter lag is its ordinary pace, not staleness), or (b) with NATS,
the follower has not been heard for `live.FOLLOWER_SILENT` seconds: then nothing re-evaluates
the clocks or alerts, even while no event comes in. A background thread looks every
LOOK_EVERY seconds, so a page never waits for the store.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from replay.i18n import Texts

from ..data_folder import Behind

log = logging.getLogger("ticketledger.web")

STALE_AFTER = 30.0  # seconds: `serve --stale-after`
LOOK_EVERY = 2.0  # seconds between looks at the store's and the views' positions


@dataclass(frozen=True)
class Freshness:
    behind: Behind | None  # the views miss what the log held stale_after seconds ago
    follower_silent: float | None  # seconds the follower has not been heard (past the limit)

    @property
    def stale(self) -> bool:
        return self.behind is not None or self.follower_silent is not None

    def said(self, _: Texts, *, operator: bool = True) -> str:
        """The banner's text in the reader's language ("" when current). `operator`: the supplier's
        users, who can act on it, are told what to check; a customer or arbitrator only that the
        data is not current (the server's processes are nothing they can see or start)."""
        if not self.stale:
            return ""
        if not operator:
            return _("Data not current: new tickets and events are not shown yet, and states are not updated; "
                     "the page will say when they are current again.")
        parts = [_("Data not current: new tickets and events are not shown, and states and alerts are not "
                   "updated; check that `views follow` and `relay --follow` are running.")]
        if self.follower_silent is not None:
            parts.append(_("The follower (`views follow`) has not been heard from for {seconds} s.",
                           seconds=_.number(int(self.follower_silent))))
        if self.behind is not None:
            parts.append(_("The views are at position {views}, the log at {log}.",
                           views=_.number(self.behind.views), log=_.number(self.behind.log)))
        return ("" if _.lang.startswith("zh") else " ").join(parts)  # no space after a full-width stop

    def as_json(self) -> dict[str, Any]:
        return {"stale": self.stale, "views_behind": self.behind.as_json() if self.behind else None,
                "follower_silent_seconds": int(self.follower_silent) if self.follower_silent is not None else None}


class Watch:
    """The console's view of its own freshness, kept current by a thread of its own."""

    def __init__(self, log_position: Callable[[], int], views_position: Callable[[], int | None],
                 follower_silent: Callable[[], float | None], stale_after: float = STALE_AFTER) -> None:
        self.log_position, self.views_position = log_position, views_position
        self.follower_silent, self.stale_after = follower_silent, stale_after
        # (monotonic time, the store's position then), oldest first, kept for stale_after seconds
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.behind: Behind | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> Freshness:
        return Freshness(self.behind, self.follower_silent())

    def look(self) -> None:
        """One look: the store's position, the views' and which of the store's is old enough."""
        now = time.monotonic()
        last = self.log_position()
        views = self.views_position()
        self.samples.append((now, last))
        old = None  # the store's position stale_after seconds ago (or the oldest look, at most that old)
        while self.samples and now - self.samples[0][0] >= self.stale_after:
            old = self.samples.popleft()[1]
        if old is not None:
            self.samples.appendleft((now - self.stale_after, old))  # still the position at that time
        if views is None or old is None:
            self.behind = None
            return
        self.behind = Behind(views, last) if views < old else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="freshness", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.look()
            except Exception as e:  # noqa: BLE001 - a store or views file unreadable a moment: look again
                log.warning("freshness: %s: %s", type(e).__name__, e)
            self._stop.wait(LOOK_EVERY)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
