"""Service desk adapters: a desk's own export in, ticket facts out (issue 8, docs/desks.md).

`SOURCES[name](ledger, args, on_bytes) -> Source` checks the whole export first (its layout,
its time format, its rows: a file refused as a whole records nothing) and gives the stream of
`(where, fact | problem)` items that `ticketledger import --format NAME` feeds to the batched
`adapters.importer.import_items`. `FORMATS[name](ledger, args)` runs the whole import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import N_, Phrase

from ..importer import ImportInputError, Item, Source, import_items
from .common import Desk, DeskSummary

OnBytes = Callable[[int], None] | None


def zone_said(args: Any, desk: Desk, tz: ZoneInfo) -> Phrase:
    """Whose zone the desk's times without an offset were read in: a Chinese desk read in a
    contract's Etc/GMT+3 is 11 hours off, and only this line says so before the reports do."""
    if getattr(args, "timezone", None):
        return Phrase(N_("{zone} (--timezone)"), zone=tz.key)
    return Phrase(N_("{zone} (contract {contract}'s zone; --timezone sets the desk's own)"), zone=tz.key,
                  contract=desk.contract_id)


def _zone(args: Any, desk: Desk) -> ZoneInfo:
    """The desk's zone: --timezone, else its contract's."""
    name = getattr(args, "timezone", None)
    try:
        return ZoneInfo(name or desk.terms.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        what = f"--timezone {name}" if name else f"contract {desk.contract_id}: timezone {desk.terms.timezone}"
        raise ImportInputError(N_("{what}: unknown time zone; use an IANA name such as Etc/GMT+3 or "
                          "Europe/Brussels"), what=what) from None


def _desk(ledger: Any, args: Any, mapping_path: str, prefix: str, channel: str, contract_file: str) -> Desk:
    """The desk's contract: --contract, else the mapping's contract_file, beside the mapping."""
    contract, source = getattr(args, "contract", None), "--contract"
    if not contract:
        contract = str(Path(mapping_path).resolve().parent / contract_file)
        source = f"--mapping {mapping_path}: contract_file"
        if not Path(contract).is_file():
            raise ImportInputError(N_("{source} {contract_file}: no such file beside the mapping "
                              "({contract}); put the contract there or give --contract ID|FILE"),
                              source=source, contract_file=repr(contract_file), contract=contract)
    return Desk.load(ledger, prefix, channel, contract, contract_file, source)


def _setup_first(desk: Desk, items: Iterable[Item]) -> Iterator[Item]:
    """The desk's own records (its contract) just before the first fact of the file: a file that
    gives no fact, every row refused, records nothing, the contract included."""
    pending = desk.setup()
    for where, item in items:
        if pending and not isinstance(item, str):
            yield from pending
            pending = []
        yield where, item


def servicenow_source(ledger: Any, args: Any, on_bytes: OnBytes = None) -> Source:
    from .servicenow import DEFAULT_MAPPING, ServiceNowMapping, read_servicenow, scan

    mapping_path = getattr(args, "mapping", None)
    mapping = ServiceNowMapping.load(mapping_path)
    desk = _desk(ledger, args, mapping_path or str(DEFAULT_MAPPING), mapping.prefix, mapping.channel,
                 mapping.contract_file)
    tz = _zone(args, desk)
    limit = getattr(args, "limit", None)
    found = scan(args.file, mapping, tz, getattr(args, "date_format", None), limit, on_bytes)
    summary = DeskSummary()
    items = read_servicenow(args.file, mapping, found, desk, tz, summary, limit=limit)
    return Source(_setup_first(desk, items), summary, found.rows, zone_said(args, desk, tz))


def xes_source(ledger: Any, args: Any, on_bytes: OnBytes = None) -> Source:
    from .xes import Mapping, read_xes, scan

    if not getattr(args, "mapping", None):
        raise ImportInputError(N_("--format xes needs --mapping FILE.toml: which attributes are the "
                          "ticket, the status and the time (e.g. contracts/volvo-mapping.toml)"))
    mapping = Mapping.load(args.mapping)
    desk = _desk(ledger, args, args.mapping, mapping.prefix, mapping.channel, mapping.contract_file)
    tz = _zone(args, desk)
    limit = getattr(args, "limit", None)
    found = scan(args.file, limit, on_bytes)
    summary = DeskSummary()
    items = read_xes(args.file, mapping, found, desk, tz, summary, limit=limit)
    return Source(_setup_first(desk, items), summary, found.rows, zone_said(args, desk, tz))


SOURCES = {"servicenow": servicenow_source, "xes": xes_source}


def run(name: str, ledger: Any, args: Any, progress: Callable[[int], None] | None = None,
        before_first_batch: Callable[[list[Any]], None] | None = None) -> DeskSummary:
    """The whole import of a desk's export (the Python API; the CLI adds progress and the calendar)."""
    source = SOURCES[name](ledger, args)
    import_items(ledger, source.items, batch_size=getattr(args, "batch", 1000) or 1000, progress=progress,
                 summary=source.summary, before_first_batch=before_first_batch)
    assert isinstance(source.summary, DeskSummary)
    return source.summary


FORMATS = {name: functools.partial(run, name) for name in SOURCES}  # FORMATS[name](ledger, args)
