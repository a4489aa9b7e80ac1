"""Service desk adapters: a desk's own export in, ticket facts out (issue 8, docs/desks.md).

`FORMATS[name](ledger, args, progress) -> DeskSummary` is what `ticketledger import
--format NAME` calls. Each adapter is a generator of `(where, fact | problem)` items fed to
the batched `adapters.importer.import_items`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..importer import ImportInputError, import_items
from .common import Desk, DeskSummary

Progress = Any


def _zone(args: Any, desk: Desk) -> ZoneInfo:
    """The desk's zone: --timezone, else its contract's."""
    name = getattr(args, "timezone", None)
    try:
        return ZoneInfo(name or desk.terms.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        what = f"--timezone {name}" if name else f"contract {desk.contract_id}: timezone {desk.terms.timezone}"
        raise ImportInputError(f"{what}: unknown time zone; use an IANA name such as Etc/GMT+3 or "
                               "Europe/Brussels") from None


def _run(ledger: Any, items: Any, summary: DeskSummary, args: Any, progress: Progress) -> DeskSummary:
    add: Callable[[int], None] | None = getattr(progress, "add", progress)
    import_items(ledger, items, batch_size=getattr(args, "batch", 1000) or 1000, progress=add, summary=summary)
    if not getattr(args, "json", False):
        print(f"desk rows {summary.rows:,}, tickets {summary.tickets:,}, rows implying no new fact "
              f"{summary.no_fact:,}", file=sys.stderr)
    return summary


def import_servicenow(ledger: Any, args: Any, progress: Progress = None) -> DeskSummary:
    from .servicenow import read_servicenow

    desk = Desk.load(ledger, "sn", "servicenow", getattr(args, "contract", None), "desk-servicenow.toml")
    tz = _zone(args, desk)
    summary = DeskSummary()
    items = read_servicenow(args.file, desk, tz, summary, limit=getattr(args, "limit", None))
    return _run(ledger, items, summary, args, progress)


def import_xes(ledger: Any, args: Any, progress: Progress = None) -> DeskSummary:
    from .xes import Mapping, read_xes

    if not getattr(args, "mapping", None):
        raise ImportInputError("--format xes needs --mapping FILE.toml: which attributes are the ticket, the "
                               "status and the time (e.g. contracts/volvo-mapping.toml)")
    mapping = Mapping.load(args.mapping)
    contract, source = getattr(args, "contract", None), "--contract"
    if not contract:
        contract = str(Path(args.mapping).resolve().parent / mapping.contract_file)
        source = f"--mapping {args.mapping}: contract_file"
        if not Path(contract).is_file():
            raise ImportInputError(f"{source} {mapping.contract_file!r}: no such file beside the mapping "
                                   f"({contract}); put the contract there or give --contract ID|FILE")
    desk = Desk.load(ledger, mapping.prefix, mapping.channel, contract, mapping.contract_file, source)
    tz = _zone(args, desk)
    summary = DeskSummary()
    items = read_xes(args.file, mapping, desk, tz, summary, limit=getattr(args, "limit", None))
    return _run(ledger, items, summary, args, progress)


FORMATS = {"servicenow": import_servicenow, "xes": import_xes}
