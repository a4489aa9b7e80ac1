"""`ticketledger witness`: what a customer runs to keep the log's operator honest (issue 16).
The logic is adapters/witness.py; this module reads the options and prints for people."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from domain.errors import N_, Phrase

from . import UserError
from .output import said, speak
from .stream import nats_options, options_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "witness",
        help=N_("follow the log's checkpoints, check each extends the last one accepted, cosign it (a customer runs this)"),
        description=N_("Follow the log's signed checkpoints on NATS (CHECKPOINTS, or LEDGER_<customer> with "
                    "--customer), check each with the log's verifier key and, for a larger tree, a consistency "
                    "proof from the checkpoint accepted last (asked of the ticketledger-proofs service that "
                    "`relay --follow` hosts); then cosign it (C2SP tlog-cosignature/v1, the witness's own key in "
                    "--state, made on the first run) and publish the cosignature on COSIGNATURES. A checkpoint "
                    "that is not an extension of the accepted one — a rewrite, a rollback, two heads at one "
                    "size — is an alarm: exit 2 with TL-E181, both signed notes and the proof kept in --state."),
    )
    p.add_argument("--log-key", required=True, metavar="KEY",
                   help=N_("the log's verifier key (NAME+HASH+BASE64, from the contract annex), or a file holding it"))
    p.add_argument("--state", required=True, metavar="DIR", help=N_("the witness's folder: its key, the checkpoint "
                   "accepted last, alarms' evidence"))
    p.add_argument("--customer", default=None, metavar="C",
                   help=N_("read checkpoints from LEDGER_<C> and ask proofs on proof.<C>.* (a customer-scoped user)"))
    p.add_argument("--name", default=None, help=N_("the witness key's name when it is made (default witness.<C>.<host>)"))
    p.add_argument("--once", action="store_true", help=N_("check the checkpoints published so far, then exit"))
    nats_options(p, "NATS (required: the log's NATS server, --nats-url or TICKETLEDGER_NATS_URL; the witness "
                    "starts none of its own)")
    p.set_defaults(func=cmd_witness)


def cmd_witness(args: argparse.Namespace) -> int:
    from domain import cosignature as cs

    from ..stream import NatsUnreachable
    from ..witness import (
        Alarm,
        NotTheLogKey,
        ProofUnavailable,
        WitnessState,
        default_name,
        run_witness,
    )
    from .tlog import log_verifier

    log = log_verifier(args.log_key)
    opts = options_of(args)
    if not opts.url:
        _ = speak()
        raise UserError(_("witness: name the log's NATS server with --nats-url (or "
                          "TICKETLEDGER_NATS_URL)"))
    if Path(args.state).exists() and not Path(args.state).is_dir():
        _ = speak()
        raise UserError(_("--state {state} is a file; name a folder for the witness's key and the checkpoint it "
                          "accepted last (created if missing), e.g. --state ./witness", state=args.state))
    try:
        state = WitnessState.open(Path(args.state), args.name or default_name(args.customer))
    except (OSError, cs.CosignatureError) as e:
        _ = speak()
        raise UserError(_("--state {state}: {error}", state=args.state, error=said(e))) from None
    _ = speak()
    if state.made_now:
        print(_("witness key made in {path} (mode 0600; keep it secret)", path=Path(args.state) / "witness.key"),
              file=sys.stderr)
    print(_("witness verifier key: {key}", key=state.witness.verifier.vkey), file=sys.stderr, flush=True)

    def say(m: Phrase) -> None:
        print(m.said(_), flush=True)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        return await run_witness(state, log, opts.url or "", opts, customer=args.customer, once=args.once,
                                 stop=stop, say=say)

    try:
        n = asyncio.run(main())
    except (Alarm, NotTheLogKey) as e:
        raise UserError(said(e), code=e.code) from None
    except (ProofUnavailable, NatsUnreachable) as e:
        raise UserError(said(e), code="TL-E060") from None
    except Exception as e:  # noqa: BLE001 - a NATS refusal (permissions, no such stream) in one line
        _ = speak()
        raise UserError(_("NATS at {server}: {kind}: {error}",
                          server=opts.describe(), kind=type(e).__name__, error=said(e))) from None
    accepted = _("tree size {size}", size=_size(state.accepted)) if state.accepted else _("none yet")
    print(_("witness: {n} checkpoint(s) cosigned now; accepted: {accepted}", n=n, accepted=accepted))
    return 0


def _size(note: str | None) -> str:
    from domain import signed_note as sn

    return str(sn.parse_checkpoint(sn.parse(note or "").text).size)
