"""As of and what-if (SPEC §5): the views rebuilt from a cut of the log, or under other terms.

  - as of a recording time or a log position: only the events the ledger had recorded
    then — what it knew (a late-recorded arrival is absent, so its clock is breached as of
    then when the deadline had passed);
  - as of an occurrence time: the events that had occurred by then, whenever recorded;
  - as of the desk's own recording time (`--as-of-source-recorded`): what the desks knew then —
    an imported fact counts from its desk's recording time (`source_recorded_at`), any other
    fact from the ledger's. Contracts and calendar years always count: they are the terms the
    facts are judged by, not anyone's knowledge of the field (as of an occurrence time too); so
    do the placeholder assets an import registers for the desk's configuration items, which
    stand in for what the desk's tickets name and hold no fact of their own (SPEC §9.14);
  - what-if: the versions of the contract a terms file names (or of the contracts the user
    lists) replaced by its terms (§9.11);
  - scoped (replay.scope): only the events one customer, contract or set of tickets needs.

The cut is a filter over the log rows the CLI hands over; the rebuild is projections' own
(one code path with the live views), into a separate DuckDB file with the same tables, so
`sql`, `report`, `explain` and `diff` work on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from domain.errors import N_, Explained

from .i18n import Texts


@dataclass(frozen=True)
class Cut:
    """Which events a replay uses. Times are compared as the store writes them (UTC ISO)."""

    position: int | None = None
    recorded: datetime | None = None
    occurred: datetime | None = None
    source_recorded: datetime | None = None  # the desk's recording time, else the ledger's

    @property
    def recorded_text(self) -> str | None:
        return stamp(self.recorded) if self.recorded else None

    def evaluation_time(self) -> datetime | None:
        """As of a time, the views are evaluated at that time unless told otherwise."""
        return self.recorded or self.source_recorded or self.occurred

    def describe(self) -> str:
        parts = []
        if self.position is not None:
            parts.append(f"log position <= {self.position}")
        if self.recorded is not None:
            parts.append(f"recorded by {stamp(self.recorded)}")
        if self.occurred is not None:
            parts.append(f"occurred by {stamp(self.occurred)}")
        if self.source_recorded is not None:
            parts.append(f"known to the desk by {stamp(self.source_recorded)}")
        return " and ".join(parts) or "every event"

    def said(self, t: Texts, tz: str, *, scoped: bool = False) -> str:
        """`describe` for people: in their language, times in the contract's zone (JSON keeps
        `describe`, stable and in UTC). `scoped`: a replay of a scope's events, which is not every event."""
        parts = []
        if self.position is not None:
            parts.append(t(N_("log position up to {position}"), position=t.number(self.position)))
        if self.recorded is not None:
            parts.append(t(N_("recorded by {time}"), time=t.time(self.recorded, tz, zone=True, seconds=True)))
        if self.occurred is not None:
            parts.append(t(N_("occurred by {time}"), time=t.time(self.occurred, tz, zone=True, seconds=True)))
        if self.source_recorded is not None:
            parts.append(t(N_("known to the desk by {time}"),
                           time=t.time(self.source_recorded, tz, zone=True, seconds=True)))
        if not parts:
            return t(N_("the events the scope needs, whenever recorded")) if scoped else t(N_("every event"))
        said = parts[0]
        for part in parts[1:]:
            said = t(N_("{first} and {second}"), first=said, second=part)
        return said


def stamp(t: datetime) -> str:
    """A time in the store's recording-time format (UTC, microseconds, Z): comparable as text.
    A naive time is UTC, as the views hold their instants."""
    return (t.replace(tzinfo=UTC) if t.tzinfo is None else t).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Occurred(msgspec.Struct):
    occurred_at: str = ""
    source_recorded_at: str | None = None
    placeholder: bool = False


_occ = msgspec.json.Decoder(_Occurred)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def known_by(r: Any, t: datetime) -> bool:
    """Whether a log row counts as of the desk's recording time `t` (see the module's note)."""
    if r.topic.startswith(("contract.", "calendar.")):
        return True
    fact = _occ.decode(r.state)
    if fact.placeholder and r.topic.startswith("asset.AssetRegistered."):
        return True
    return _instant(fact.source_recorded_at or r.recorded_at) <= t


def cut(rows: Iterable[Any], c: Cut) -> Iterator[Any]:
    """The rows inside the cut, in log order. Contract and calendar facts always count as of
    an occurrence time (terms are data, not field events); as of a recording time or position
    they count only when recorded by then, like everything else."""
    rec = c.recorded_text
    occ = c.occurred.astimezone(UTC) if c.occurred else None
    src = c.source_recorded.astimezone(UTC) if c.source_recorded else None
    for r in rows:
        if c.position is not None and r.position > c.position:
            return
        if rec is not None and r.recorded_at > rec:
            return  # recording time never decreases along the log (§9.13)
        if occ is not None and not r.topic.startswith(("contract.", "calendar.")):
            t = _occ.decode(r.state).occurred_at
            if t and datetime.fromisoformat(t.replace("Z", "+00:00")) > occ:
                continue
        if src is not None and not known_by(r, src):
            continue
        yield r


ARROW_SCHEMA = pa.schema([
    ("position", pa.int64()), ("originator_id", pa.string()), ("originator_version", pa.int64()),
    ("topic", pa.string()), ("state", pa.string()), ("recorded_at", pa.string()),
])


def arrow_batches(rows: Iterable[Any], size: int = 50_000) -> Iterator[pa.Table]:
    """Log rows as the Arrow batches projections ingest (state as JSON text)."""
    cols: list[list[Any]] = [[] for _ in ARROW_SCHEMA.names]
    n = 0
    for r in rows:
        cols[0].append(r.position)
        cols[1].append(r.originator_id)
        cols[2].append(r.originator_version)
        cols[3].append(r.topic)
        cols[4].append(r.state.decode() if isinstance(r.state, bytes | bytearray | memoryview) else r.state)
        cols[5].append(r.recorded_at)
        n += 1
        if n >= size:
            yield pa.table(cols, schema=ARROW_SCHEMA)
            cols, n = [[] for _ in ARROW_SCHEMA.names], 0
    yield pa.table(cols, schema=ARROW_SCHEMA)  # the last (possibly empty) batch


def rebuild(rows: Iterable[Any], out: Any, *, evaluate_at: datetime | None,
            terms_override: Any = None, progress: Any = None, upto: str = "all", twin: Any = None) -> dict[str, Any]:
    """Rebuild views from `rows` into `out`: a DuckDB file (replaced if present), None (in
    memory), or an open views database (projections.rebuild_from_store; `upto`: the views computed,
    `twin`: the same events' views under other terms beside them)."""
    from projections.apply import rebuild_from_store

    return rebuild_from_store(lambda: arrow_batches(rows), out, evaluate_at, terms_override=terms_override,
                              progress=progress, upto=upto, twin=twin)


def load_terms(path: str) -> dict:
    """The [terms] of a contract file (TOML or JSON), validated by the domain's one definition."""
    return _read_terms(path)[1]


def _read_terms(path: str) -> tuple[str | None, dict]:
    from domain.terms import TermsError, read_contract_data, terms_from_command

    raw = read_contract_data(path)
    if not isinstance(raw, dict):
        raise TermsError(N_("{path}: give a contract file with [terms], or the terms themselves"), path=path)
    terms = raw.get("terms", raw)
    terms_from_command(terms, where=f"{path} [terms]")  # raises TermsError (a ValueError) naming the field
    named = raw.get("id") if "terms" in raw and isinstance(raw.get("id"), str) else None
    return named, terms


class NoContractNamed(Explained, ValueError):
    """A what-if terms file that names no contract, and no --terms-for."""


def load_what_if(path: str, terms_for: list[str] | None = None) -> Any:
    """What-if terms (projections.terms_flat.WhatIf): the file's [terms] for the contract it
    names (its `id`), or for the contracts `terms_for` lists ('*': every contract)."""
    from domain.terms import terms_from_mapping
    from projections.terms_flat import WhatIf

    named, terms = _read_terms(path)
    if terms_for:
        contracts = None if "*" in terms_for else frozenset(terms_for)
    elif named:
        contracts = frozenset([named])
    else:
        raise NoContractNamed(
            N_("{path} names no contract (no `id`), so it is not clear whose terms it "
                          "replaces; add --terms-for CONTRACT (repeatable), or --terms-for '*' "
                          "to replace every contract's terms"), path=path)
    file = Path(path)
    return WhatIf(terms_from_mapping(terms, f"{path} [terms]"), contracts, source=file.name,
                  sha256=hashlib.sha256(file.read_bytes()).hexdigest())


def what_if_in_views(con: Any) -> Any:
    """The what-if terms (projections.terms_flat.WhatIf) a views file was built under (`replay
    --terms`), read back from its terms tables, or None for views under the terms as recorded: a
    replay derived from such views (a statement's restatements, a correction's effect) is judged
    by the same terms as the rows it is compared with."""
    from domain.terms import terms_from_mapping
    from projections.terms_flat import WhatIf

    # SELECT *: views written before the terms file was recorded (what_if_file, what_if_sha256)
    # are read as they are, by a reader that may not add the columns (read-only)
    cur = con.execute("SELECT *, json(terms) AS terms_json FROM terms WHERE what_if ORDER BY contract, version")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if not rows:
        return None
    first = rows[0]
    source = first.get("what_if_file") or ""
    return WhatIf(terms_from_mapping(msgspec.json.decode(first["terms_json"]), f"{source} [terms]"),
                  frozenset(r["contract"] for r in rows), source=source, sha256=first.get("what_if_sha256") or "")
