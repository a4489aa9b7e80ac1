"""The relay's options, for `ticketledger relay` and `python -m adapters.relay`: apart from the
relay itself, so that building the CLI's parser does not import the NATS client."""

from __future__ import annotations

import argparse

from domain.errors import N_

from .cli import positive_float, positive_int


def add_relay_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--follow", action="store_true", help=N_("keep following the log (Ctrl-C stops)"))
    p.add_argument("--batch", type=positive_int, default=1000, help=N_("log rows read per poll"))
    p.add_argument("--window", type=positive_int, default=256, help=N_("publishes in flight"))
    p.add_argument("--replicas", type=positive_int, default=1, help=N_("stream replicas when creating it (3 on a cluster)"))
    p.add_argument("--checkpoint-every", type=positive_int, default=1000, metavar="N",
                   help=N_("publish a signed checkpoint on CHECKPOINTS at least every N events (default 1000)"))
    p.add_argument("--checkpoint-seconds", type=positive_float, default=60.0, metavar="T",
                   help=N_("... or every T seconds when the log grew (default 60); a run also ends with one"))
    p.add_argument("--new-stream", action="store_true",
                   help=N_("the LEDGER stream on this server is a new one on purpose (another server, a restore): "
                        "record it as the ledger's stream instead of refusing it (TL-E180); say so to your customers"))
    p.add_argument("--no-proofs", action="store_true",
                   help=N_("with --follow: do not host the ticketledger-proofs NATS service nor collect cosignatures"))
