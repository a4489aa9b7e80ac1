"""A minimal ticketledger stream consumer (SPEC §6): react to tickets being resolved.

    export TICKETLEDGER_NATS_URL=nats://127.0.0.1:4222     # e.g. from `ticketledger nats serve`
    python docs/consumer_example.py --from-position 1

What a consumer of ours relies on:
  * subjects `ledger.<customer>.<aggregate>.<id>.<EventType>`: filter with wildcards,
    e.g. `ledger.*.ticket.*.TicketResolved` or `ledger.acme.>`;
  * the payload is the event's JSON (docs/schemas/<Type>.v<N>.json); the header
    `Ledger-Schema-Version` says which version was stored, and `decode_stored` upgrades
    old versions to the current one;
  * `Ledger-Position` / `Ledger-Recorded-At` are the ledger's own position and recording
    time: remember the last position you handled and restart from it (never from NATS's
    own sequence, which differs in a customer's stream);
  * a message that is not a valid ledger event is reported and skipped, never fatal.

Without the ticketledger package, decode the payload with any JSON library and check
`Ledger-Schema-Version` yourself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from adapters.stream import ConnectOptions, connect, find_start_seq, read_events


async def main(url: str, from_position: int, follow: bool) -> None:
    nc = await connect(url, ConnectOptions.from_env())  # credentials from TICKETLEDGER_NATS_*
    js = nc.jetstream()
    start = await find_start_seq(js, "LEDGER", position=from_position)

    def garbage(seq: int, subject: str, reason: str) -> None:
        print(f"skipping stream sequence {seq} on {subject}: {reason}", file=sys.stderr)

    async for event in read_events(js, subject="ledger.*.ticket.*.TicketResolved", start_seq=start,
                                   follow=follow, on_garbage=garbage):
        if event.withheld:  # too large for one message (recorded before the size bound): headers only
            print(f"position {event.position}: payload withheld ({event.withheld}); its sha256 is {event.sha256}")
            continue
        fact = event.fact  # domain.events.TicketResolved, current version
        print(f"position {event.position}: ticket {fact.id} of {fact.customer} resolved "
              f"at {fact.occurred_at.isoformat()} ({fact.summary!r})")
        # ... notify, bill, update a dashboard; store event.position as your checkpoint
    await nc.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("TICKETLEDGER_NATS_URL", "nats://127.0.0.1:4222"))
    p.add_argument("--from-position", type=int, default=1)
    p.add_argument("--follow", action="store_true")
    a = p.parse_args()
    asyncio.run(main(a.url, a.from_position, a.follow))
