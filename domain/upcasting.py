"""Old event versions stay readable forever (SPEC §6): upcasters, one step per version.

To add version N+1 of an event type:
  1. change its Struct in domain/events.py and set `version: ClassVar[int] = N+1` and `v: int = N+1`;
  2. add a function here that turns a version-N dict into a version-N+1 dict, registered
     under (type name, N) in UPCASTERS;
  3. nothing in projections: the views parse each fact once at the load, after this upcast
     (projections/facts.py), so their typed columns follow the new version at the next rebuild;
  4. add a test that records version-N events and reads them back (tests/test_upcasting.py).
Stored events are never rewritten; every reader (the store, the stream consumers, the
views) upgrades on read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _ticket_opened_v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
    """v1 called the asset-down flag `down`; v2 calls it `asset_down`."""
    d = dict(d)
    d["asset_down"] = d.pop("down", False)
    d["v"] = 2
    return d


def _fact_corrected_v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
    """v1 kept a corrected time in the zone it was written in (`+08:00` beside `Z` everywhere
    else); v2 holds it in UTC, as commands normalise it since (issue 14 item 21). Upcast on read
    so a ledger recorded before stays readable and reads like one recorded today."""
    from .events import time_field_names, utc_value

    d = dict(d)
    changes = d.get("changes")
    if isinstance(changes, dict):
        d["changes"] = {k: utc_value(v) if k in time_field_names() else v for k, v in changes.items()}
    d["v"] = 2
    return d


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("TicketOpened", 1): _ticket_opened_v1_to_v2,
    ("FactCorrected", 1): _fact_corrected_v1_to_v2,
}



def current_version(type_name: str) -> int:
    """The version the fact's Struct declares (domain.events), the one home of versions."""
    from .events import FACT_TYPES

    return FACT_TYPES[type_name].version


def upcast(type_name: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    while version < current_version(type_name):
        data = UPCASTERS[(type_name, version)](data)
        version += 1
    return data


def upcast_state(type_name: str, version: int, state: bytes) -> bytes:
    """Stored JSON of any version -> JSON of the current version (untouched when current)."""
    if version >= current_version(type_name):
        return state
    return msgspec.json.encode(upcast(type_name, version, msgspec.json.decode(state)))
