"""What one stream message may hold: the ledger refuses a command whose fact would not fit, when it
comes in (domain.base), so it needs these limits without the NATS client (adapters.stream, whose
import costs ~0.1-0.3 s that every command reading the store, explain included, would pay)."""

from __future__ import annotations

import os

from domain.errors import N_, Explained

DEFAULT_MAX_EVENT_BYTES = 1_048_576  # nats-server's default max_payload: headers and payload together
HEADER_ROOM = 4_096  # bytes kept for a message's headers (about 600 today, with room for more)


class ConfigurationError(Explained, ValueError):
    """A setting that cannot be used; the message names it and what would be right."""


def max_event_bytes() -> int:
    """TICKETLEDGER_MAX_EVENT_BYTES: the largest message (headers and stored JSON) the stream
    accepts. A command whose fact would not fit is refused when it comes in (domain.base)."""
    text = os.environ.get("TICKETLEDGER_MAX_EVENT_BYTES", "").strip()
    if not text:
        return DEFAULT_MAX_EVENT_BYTES
    if not text.isdigit() or int(text) <= 2 * HEADER_ROOM:
        raise ConfigurationError(N_("TICKETLEDGER_MAX_EVENT_BYTES={text}: write a number of bytes above "
                          "{least}, at most the NATS server's max_payload (default "
                          "{default})"), text=repr(text), least=f"{2 * HEADER_ROOM:,}",
                          default=f"{DEFAULT_MAX_EVENT_BYTES:,}")
    return int(text)
